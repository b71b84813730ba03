"""Model cards: a Hub-format `README.md` for every exported reward model folder.

`write_model_card(model_dir)` writes `model_dir/README.md`: YAML front matter the Hub
reads (`library_name`, `base_model` when it is a Hub id, `tags`) and the sections a user
of the model needs: base model, mode and objective, the training data files and their
SHA-256, the training configuration, the evaluation numbers shortcutlab computed
(held-out accuracy from the run, plus any `results.json` / `*.summary.json` passed in,
e.g. from `shortcutlab sfd` or `score`; a `.md` file, e.g. `probe report`'s `card.md`,
is included as the shortcut card) and how to load and score it. Everything comes
from files the toolkit already writes; a missing file leaves its section out.

`export_model(model, to)` copies a model folder (a run folder means its `model/`) to
`to` and writes the card there: a folder a user can `push_to_hub` as is. Training's
export writes the card into its run's `model/` (`training/export.py`).

The run folder is read in one place, `read_run_folder`, so a change of the run-folder
layout touches only that function.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from shortcutlab.errors import ConfigError
from shortcutlab.files import atomic_write_text
from shortcutlab.modeling.loading import looks_like_path
from shortcutlab.modeling.source import REWARD_CONFIG, resolve_model_source
from shortcutlab.run_folder import MODEL, RUN_INFO, RunFolder

CARD = "README.md"


@dataclass
class RunFacts:
    """What a training run folder tells about its model (empty when there is no run)."""

    config: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, dict[str, Any]] = field(default_factory=dict)  # role -> path, sha256
    evaluation: dict[str, Any] = field(default_factory=dict)
    environment: dict[str, Any] = field(default_factory=dict)
    created: str | None = None


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def read_run_folder(run_dir: Path | None) -> RunFacts:
    """Config, data inputs, final evaluation and environment of a `train` run folder."""
    facts = RunFacts()
    if run_dir is None or not run_dir.is_dir():
        return facts
    run = RunFolder(run_dir)
    info = _read_json(run.root / RUN_INFO) or {}
    facts.inputs = info.get("inputs") or {}
    facts.environment = info.get("environment") or {}
    facts.created = info.get("created")
    if run.config.is_file():
        facts.config = yaml.safe_load(run.config.read_text(encoding="utf-8")) or {}
    else:
        facts.config = info.get("config") or {}
    summary = _read_json(run.summary) or {}
    evals = [r for r in _jsonl(run.metrics) if r.get("split") == "eval"]
    if summary.get("eval"):
        facts.evaluation = dict(summary["eval"])
    elif evals:  # training's export runs before summary.json is written
        facts.evaluation = {k: v for k, v in evals[-1].items() if k != "time_s"}
    return facts


def _jsonl(path: Path) -> list[dict[str, Any]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    return [json.loads(x) for x in lines if x.strip()]


def run_folder_of(model_dir: Path) -> Path | None:
    """The training run folder a model folder was exported into (its parent), if any."""
    parent = RunFolder(model_dir.resolve().parent)
    return parent.root if parent.markers() else None


def _front_matter(meta: dict[str, Any], facts: RunFacts) -> str:
    tags = ["shortcutlab", "reward-model", "vision-language"]
    if facts.config.get("mode"):
        tags.append(str(facts.config["mode"]))
    head: dict[str, Any] = {"library_name": "shortcutlab", "tags": tags}
    base = meta.get("base_model") or facts.config.get("model")
    if base and not looks_like_path(str(base)) and not Path(str(base)).exists():
        head["base_model"] = str(base)  # the Hub only accepts repo ids here
    return "---\n" + yaml.safe_dump(head, sort_keys=False) + "---\n"


def _objective(cfg: dict[str, Any], meta: dict[str, Any]) -> str:
    mode = cfg.get("mode", "unknown (no run folder)")
    lines = [f"- mode: `{mode}`"]
    if mode == "shortcut-aware":
        lines.append(f"- objective: `{cfg.get('objective', 'sfc')}` (proxy: {cfg.get('proxy')})")
    text_only = meta.get("text_only")
    inputs = f"text only (`{text_only}`)" if text_only else "image + prompt + response"
    lines.append(f"- inputs at scoring time: {inputs}")
    lines.append(f"- architecture: `{meta.get('arch')}`, head on the last non-padding token")
    return "\n".join(lines)


def _data(facts: RunFacts) -> str:
    if not facts.inputs:
        return "Not recorded (no `run_info.json` beside this model)."
    rows = ["| role | file | sha256 |", "|---|---|---|"]
    for role, item in facts.inputs.items():
        name = Path(str(item.get("path", ""))).name
        rows.append(f"| {role} | `{name}` | `{item.get('sha256')}` |")
    return "\n".join(rows)


def _scalars(obj: Any, prefix: str = "", depth: int = 0) -> list[tuple[str, Any]]:
    """(dotted name, number) pairs of a JSON object, two levels deep."""
    out: list[tuple[str, Any]] = []
    if isinstance(obj, dict) and depth < 2:
        for k, v in obj.items():
            out += _scalars(v, f"{prefix}{k}.", depth + 1)
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
        out.append((prefix.rstrip("."), obj))
    return out


def _evaluation(facts: RunFacts, results: list[Path]) -> str:
    parts = []
    if facts.evaluation:
        rows = [(k, v) for k, v in _scalars(facts.evaluation) if k != "split"]
        parts.append("Held-out evaluation at the end of training (Eq. 2 accuracy, ties wrong):\n")
        parts += [f"- {k}: {v:.4g}" if isinstance(v, float) else f"- {k}: {v}" for k, v in rows]
    for path in results:
        rows = _scalars(_read_json(path) or {})[:30]
        if rows:
            parts.append(f"\nFrom `{path.name}`:\n")
            parts += [f"- {k}: {v:.4g}" if isinstance(v, float) else f"- {k}: {v}" for k, v in rows]
    return "\n".join(parts) if parts else "No evaluation numbers were recorded with this model."


def _usage(name: str) -> str:
    return f"""```bash
pip install shortcutlab
shortcutlab score test.jsonl --model {name} -o scores.jsonl   # one reward per response
shortcutlab serve {name}                                      # HTTP reward server for RL
```

```python
from shortcutlab import score
from shortcutlab.rl import RewardFunction   # a TRL GRPOTrainer / RLOOTrainer reward_funcs entry

table = score("{name}", "test.jsonl").table   # one row per response
reward = RewardFunction("{name}")
```

The folder is a shortcutlab `RewardModel`: the VLM backbone (safetensors), its processor,
a linear head (`reward_head.safetensors`) and `{REWARD_CONFIG}`."""


def model_card(model_dir: Path, run_dir: Path | None = None, results: list[Path] = ()) -> str:
    """The card text for `model_dir` (facts from `run_dir` and `results` files)."""
    meta = _read_json(model_dir / REWARD_CONFIG) or {}
    facts = read_run_folder(run_dir)
    cfg = {k: v for k, v in facts.config.items() if k not in ("output_dir", "resume")}
    base = meta.get("base_model") or cfg.get("model") or "unknown"
    title = model_dir.resolve().name if model_dir.name != MODEL else "Reward model"
    sections = [
        _front_matter(meta, facts),
        f"# {title}\n",
        "A multimodal reward model trained with [shortcutlab](https://pypi.org/project/"
        "shortcutlab/): it scores (image, prompt, response) with one scalar; higher is better.\n",
        f"## Base model\n\n`{base}`\n",
        f"## Mode and objective\n\n{_objective(cfg, meta)}\n",
        f"## Training data\n\n{_data(facts)}\n",
    ]
    if cfg:
        dump = yaml.safe_dump(cfg, sort_keys=True).strip()
        sections.append(f"## Training configuration\n\n```yaml\n{dump}\n```\n")
    numbers = [Path(p) for p in results if Path(p).suffix != ".md"]
    sections.append(f"## Evaluation\n\n{_evaluation(facts, numbers)}\n")
    for card in (Path(p) for p in results if Path(p).suffix == ".md"):  # probe's card.md
        sections.append(f"## Shortcut card\n\n{card.read_text(encoding='utf-8').strip()}\n")
    sections.append(f"## How to load and score\n\n{_usage('MODEL_DIR_OR_HUB_ID')}\n")
    if facts.environment:
        env = ", ".join(f"{k} {v}" for k, v in facts.environment.items() if isinstance(v, str))
        sections.append(f"## Provenance\n\nTrained {facts.created or ''} with {env}.\n")
    return "\n".join(sections)


def write_model_card(
    model_dir: str | Path, run_dir: str | Path | None = None, results: list[Path] = ()
) -> Path:
    """Write `model_dir/README.md`; `run_dir` defaults to the run folder it sits in."""
    model_dir = Path(model_dir)
    run = Path(run_dir) if run_dir is not None else run_folder_of(model_dir)
    return atomic_write_text(model_dir / CARD, model_card(model_dir, run, list(results)))


def export_model(
    model: str | Path, to: str | Path, *, results: list[Path] = (), overwrite: bool = False
) -> Path:
    """Copy a model folder (a run folder: its `model/`) to `to` with its model card.

    Refuses a non-empty `to` unless `overwrite`. Returns the card's path.
    """
    src = Path(resolve_model_source(model))
    if not src.is_dir() or not (src / REWARD_CONFIG).is_file():
        raise ConfigError(f"{model}: not a shortcutlab reward model folder (no {REWARD_CONFIG}).")
    dest = Path(to)
    if dest.exists() and any(dest.iterdir()):
        if not overwrite:
            raise ConfigError(f"{dest} is not empty. Hint: pass --overwrite or another --to.")
        shutil.rmtree(dest)
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns(CARD), dirs_exist_ok=True)
    return write_model_card(dest, run_folder_of(src), [Path(p) for p in results])
