"""A study: train reward models per environment and mode, score each on every test set,
then compute the generalization matrix (Fig. 1 / Table 5), SFD (Def. 3.1) and the rest.

A study names environments (name, train file, test file, optional `shift` test file),
the modes to compare (`standard`, `shortcut-aware`, `text-only`), a base model, seeds
and training options (any `TrainConfig` field). Everything is cached under `out_dir`:
each finished cell (one training run, one score table) writes a done-marker atomically,
holding a fingerprint of what produced it; a rerun skips every cell whose marker matches
and redoes only what is missing or changed. Diagnostics are recomputed each time (they
read score tables only and take seconds).

Text-only models (the SFD proxy, Def. 3.1) are the `proxy/` branch of the
shortcut-aware runs (trained jointly on the same data, Eq. 7), unless `text-only` is
listed in `modes` or `text_only_models: train` is set: then separate `text-only` runs are
trained (also when no shortcut-aware mode is listed).

Layout of out_dir:
    study.json                     the resolved study
    runs/s{seed}/{mode}__{env}/    training run folders (model/, proxy/, metrics.jsonl)
    scores/s{seed}/{mode}__{train_env}__{test_env}.jsonl  (diagnostics.matrix naming;
                                   mode `text-only` = the text-only models)
    scores/s{seed}/shift/...       the same models on each environment's shift split
    .done/                         one JSON done-marker per finished cell
    results/                       CSV / JSON / PNG written by `shortcutlab.study_report`

    summary = run_study("study.yaml", "out/study")
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from shortcutlab.errors import ConfigError

MM_MODES = ("standard", "shortcut-aware")
TEXT_MODE = "text-only"
DEFAULT_TRAIN = {"progress": False, "tensorboard": False}


@dataclass
class StudyEnv:
    """One environment: its training data, its i.i.d. test set, an optional shift test."""

    name: str
    train: str
    test: str
    shift: str | None = None


@dataclass
class Study:
    """What to train and compare (see the module docstring)."""

    base_model: str
    environments: list[StudyEnv]
    name: str = "study"
    modes: list[str] = field(default_factory=lambda: list(MM_MODES))
    text_only_models: str = "proxy"  # "proxy" (from shortcut-aware runs) or "train"
    seeds: list[int] = field(default_factory=lambda: [0])
    train: dict[str, Any] = field(default_factory=dict)  # TrainConfig fields
    score: dict[str, Any] = field(default_factory=lambda: {"batch_size": 32})
    n_boot: int = 1000
    length_unit: str = "words"

    def __post_init__(self) -> None:
        names = [e.name for e in self.environments]
        if len(names) < 1 or len(set(names)) != len(names):
            raise ConfigError(f"study environments need unique names, got {names}.")
        for n in names:
            if "__" in n or "/" in n:
                raise ConfigError(f"environment name {n!r} may not contain '__' or '/'.")
        bad = [m for m in self.modes if m not in (*MM_MODES, TEXT_MODE)]
        if bad or not self.modes:
            raise ConfigError(f"unknown study mode(s) {bad}; use {MM_MODES + (TEXT_MODE,)}.")
        if self.text_only_models not in ("proxy", "train"):
            raise ConfigError("text_only_models must be 'proxy' or 'train'.")
        if self.proxy_from_runs and self.train.get("proxy", "text-only") != "text-only":
            raise ConfigError(
                "an image-only proxy (App. F) is not a text-only model; set "
                "text_only_models: train to train text-only models for SFD."
            )
        for key in ("mode", "model", "data", "output_dir", "seed"):
            if key in self.train:
                raise ConfigError(f"study 'train' options may not set {key!r}; the study sets it.")

    @property
    def proxy_from_runs(self) -> bool:
        """Whether text-only models come from the shortcut-aware runs' proxy/ folder
        (not when `text-only` is listed as a mode: then its runs are the text-only models)."""
        return (
            self.text_only_models == "proxy"
            and "shortcut-aware" in self.modes
            and TEXT_MODE not in self.modes
        )

    @property
    def train_modes(self) -> list[str]:
        """Modes that get a training run per environment and seed."""
        modes = list(dict.fromkeys(self.modes))
        if not self.proxy_from_runs and TEXT_MODE not in modes:
            modes.append(TEXT_MODE)
        return modes

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_study(study: str | Path | dict[str, Any] | Study) -> Study:
    """A `Study` from a YAML file, a mapping or a Study; relative paths in a YAML file
    resolve against the file's folder."""
    if isinstance(study, Study):
        return study
    base = Path(".")
    if isinstance(study, (str, Path)):
        import yaml

        p = Path(study)
        if not p.is_file():
            raise ConfigError(f"{p}: study file not found.")
        try:
            raw = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{p}: not valid YAML ({exc}).") from None
        base = p.parent
    else:
        raw = dict(study)
    if not isinstance(raw, dict):
        raise ConfigError("a study is a mapping with base_model, environments, modes, ...")
    return _study_from_dict(raw, base)


def _study_from_dict(raw: dict[str, Any], base: Path) -> Study:
    known = {f for f in Study.__dataclass_fields__}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"unknown study key(s) {unknown}; known: {sorted(known)}.")
    for key in ("base_model", "environments"):
        if not raw.get(key):
            raise ConfigError(f"the study needs '{key}'.")

    def resolve(path: str | None) -> str | None:
        if path is None:
            return None
        p = Path(path).expanduser()
        return str(p if p.is_absolute() else (base / p))

    envs = []
    for i, e in enumerate(raw["environments"]):
        if not isinstance(e, dict) or not {"name", "train", "test"} <= set(e):
            raise ConfigError(
                f"environment #{i + 1} needs name, train and test (and optional shift)."
            )
        extra = set(e) - {"name", "train", "test", "shift"}
        if extra:
            raise ConfigError(f"environment {e['name']!r}: unknown key(s) {sorted(extra)}.")
        envs.append(
            StudyEnv(
                str(e["name"]), resolve(e["train"]), resolve(e["test"]), resolve(e.get("shift"))
            )
        )
    model = str(raw["base_model"])
    local = base / model
    vals = {k: v for k, v in raw.items() if k not in ("environments", "base_model")}
    if "seeds" in vals and isinstance(vals["seeds"], int):
        vals["seeds"] = list(range(vals["seeds"]))
    return Study(base_model=str(local) if local.exists() else model, environments=envs, **vals)


# ----------------------------------------------------------------------------- caching


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _file_digest(path: str | Path) -> str:
    """sha256 of a data file; of a folder: names, sizes and mtimes (cheap for big models)."""
    p = Path(path)
    if p.is_file():
        from shortcutlab.files import sha256_file as file_sha256

        return file_sha256(p)
    if p.is_dir():
        items = sorted(
            (str(f.relative_to(p)), f.stat().st_size, int(f.stat().st_mtime))
            for f in p.rglob("*")
            if f.is_file()
        )
        return _digest(items)
    return f"id:{path}"  # a Hub id


class Cells:
    """Done-markers: `.done/{key}.json` holding the fingerprint and result of a cell."""

    def __init__(self, out: Path) -> None:
        self.dir = out / ".done"
        self.ran: dict[str, int] = {"train": 0, "score": 0}

    def get(self, key: str, fingerprint: str) -> dict[str, Any] | None:
        p = self.dir / f"{key}.json"
        if not p.is_file():
            return None
        try:
            doc = json.loads(p.read_text())
        except json.JSONDecodeError:
            return None
        return doc if doc.get("fingerprint") == fingerprint else None

    def put(self, key: str, fingerprint: str, result: dict[str, Any]) -> None:
        from shortcutlab.files import atomic_write_text

        doc = {"fingerprint": fingerprint, "finished": time.time(), "result": result}
        atomic_write_text(self.dir / f"{key}.json", json.dumps(doc, indent=1, default=str) + "\n")


# ----------------------------------------------------------------------------- cells


@dataclass
class Model:
    """A trained model of the study: which run, where its folder is, how it is scored."""

    mode: str  # standard | shortcut-aware | text-only (incl. proxies)
    env: str
    seed: int
    path: Path
    fingerprint: str
    text_only: str | None = None


def _train_cell(study: Study, env: StudyEnv, mode: str, seed: int, out: Path, cells: Cells,
                base_fp: str, say: Any) -> dict[str, Any]:  # fmt: skip
    """Train one (mode, env, seed) run unless its done-marker matches; returns the marker."""
    from shortcutlab.config import TrainConfig

    run_dir = out / "runs" / f"s{seed}" / f"{mode}__{env.name}"
    values = {**DEFAULT_TRAIN, **study.train, "mode": mode, "model": study.base_model,
              "data": env.train, "output_dir": str(run_dir), "seed": seed}  # fmt: skip
    cfg = TrainConfig.from_dict(values, source=f"study train options ({mode}, {env.name})")
    fp_src = {k: v for k, v in cfg.to_dict().items() if k not in ("output_dir", "progress")}
    fp = _digest([fp_src, base_fp, _file_digest(env.train)])
    key = f"train__s{seed}__{mode}__{env.name}"
    done = cells.get(key, fp)
    if done is not None and (run_dir / "model").is_dir():
        return done
    if run_dir.exists():  # a crashed or outdated run: start it again
        shutil.rmtree(run_dir)
    from shortcutlab.training import train

    t0 = time.time()
    summary = train(cfg, command=["shortcutlab-study", study.name, key])
    cells.ran["train"] += 1
    result = {"model": str(run_dir / "model"), "proxy": summary.get("proxy_dir"),
              "seconds": round(time.time() - t0, 1), "steps": summary.get("steps")}  # fmt: skip
    cells.put(key, fp, result)
    say(
        f"trained {mode} on {env.name} (seed {seed}, {result['steps']} steps, "
        f"{result['seconds']} s)"
    )
    return cells.get(key, fp) or {"fingerprint": fp, "result": result}


def trained_models(study: Study, out: Path, cells: Cells, say: Any) -> list[Model]:
    """Train every missing run; the models to score (MM models and text-only models)."""
    base_fp = _file_digest(study.base_model)
    text_mode = study.train.get("text_only", "drop")
    models: list[Model] = []
    for seed in study.seeds:
        for env in study.environments:
            for mode in study.train_modes:
                done = _train_cell(study, env, mode, seed, out, cells, base_fp, say)
                res, fp = done["result"], done["fingerprint"]
                is_text = mode == TEXT_MODE
                models.append(Model(mode, env.name, seed, Path(res["model"]), fp,
                                    text_mode if is_text else None))  # fmt: skip
                if mode == "shortcut-aware" and study.proxy_from_runs:
                    if not res.get("proxy"):
                        raise ConfigError(f"shortcut-aware run {env.name} has no proxy/ folder.")
                    models.append(Model(TEXT_MODE, env.name, seed, Path(res["proxy"]),
                                        fp + "/proxy", text_mode))  # fmt: skip
    return models


def score_file(out: Path, m: Model, test_env: str, *, shift: bool = False) -> Path:
    """Where the scores of model `m` on `test_env` live (diagnostics.matrix naming)."""
    folder = out / "scores" / f"s{m.seed}" / ("shift" if shift else "")
    return folder / f"{m.mode}__{m.env}__{test_env}.jsonl"


def _score_cell(study: Study, m: Model, test: StudyEnv, out: Path, cells: Cells, say: Any,
                *, shift: bool) -> Path:  # fmt: skip
    """Score model `m` on a test set unless its done-marker matches."""
    from shortcutlab.scoring import score

    data = test.shift if shift else test.test
    path = score_file(out, m, test.name, shift=shift)
    opts = {**{"batch_size": 32}, **study.score, "text_only": m.text_only}
    fp = _digest([m.fingerprint, _file_digest(data), opts])
    key = f"score__s{m.seed}__{m.mode}__{m.env}__{test.name}" + ("__shift" if shift else "")
    if cells.get(key, fp) is not None and path.is_file():
        return path
    df = score(str(m.path), data, str(path), environment=test.name, overwrite=True, **opts)
    cells.ran["score"] += 1
    acc = (df.attrs.get("summary") or {}).get("accuracy") or {}
    cells.put(key, fp, {"file": str(path), "accuracy": acc.get("accuracy")})
    what = f"{test.name} shift" if shift else test.name
    say(
        f"scored {m.mode} ({m.env}, seed {m.seed}) on {what}: "
        f"acc {acc.get('accuracy', float('nan')):.3f}"
    )
    return path


def score_all(study: Study, models: list[Model], out: Path, cells: Cells, say: Any) -> None:
    """Every model on every environment's test set, and on its own environment's shift."""
    for m in models:
        for test in study.environments:
            _score_cell(study, m, test, out, cells, say, shift=False)
            if test.shift and test.name == m.env:
                _score_cell(study, m, test, out, cells, say, shift=True)


# ----------------------------------------------------------------------------- entry


def run_study(
    study_yaml_or_dict: str | Path | dict[str, Any] | Study,
    out_dir: str | Path,
    *,
    progress: bool = True,
) -> dict[str, Any]:
    """Train what is missing, score every model on every test set, write the diagnostics.

    Returns the summary dict also written to `out_dir/results/summary.json`: the accuracy
    matrices and their i.i.d./o.o.d. means per mode (mean and per seed), SFD of every
    o.o.d. cell, shift accuracies, correlations, length balance, the files written and
    `ran` ({"train": n, "score": n}: cells actually run this time; 0 on a cached rerun).
    """
    from shortcutlab.files import atomic_write_text
    from shortcutlab.study_report import write_results

    study = load_study(study_yaml_or_dict)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "study.json", json.dumps(study.to_dict(), indent=2) + "\n")
    say = _printer(progress)
    cells = Cells(out)
    models = trained_models(study, out, cells, say)
    score_all(study, models, out, cells, say)
    summary = write_results(study, out, say=say)
    summary["ran"] = dict(cells.ran)
    summary["scores_dir"] = str(out / "scores" / f"s{study.seeds[0]}")
    atomic_write_text(
        out / "results" / "summary.json", json.dumps(summary, indent=2, default=str) + "\n"
    )
    return StudySummary(summary)


class StudySummary(dict):
    """The study's summary dict; also `os.PathLike` naming the first seed's score folder,
    so `Path(run_study(...))` is a folder that `diagnostics.matrix` reads."""

    def __fspath__(self) -> str:
        return self["scores_dir"]


def _printer(progress: bool) -> Any:
    if not progress:
        return lambda msg: None
    from rich.console import Console

    console = Console(stderr=True)
    return lambda msg: console.print(f"[green]✓[/] {msg}", highlight=False)
