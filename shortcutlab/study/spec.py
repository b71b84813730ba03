"""What a study is: its environments, modes, seeds and options (`Study`), and `load_study`
(from a YAML file, a mapping or a Study).

A study names environments (name, train file, test file, optional `shift` test file),
the modes to compare (`standard`, `shortcut-aware`, `text-only`), a base model, seeds
and training options (any `TrainConfig` field). Text-only models (the SFD proxy,
Def. 3.1) are the `proxy/` branch of the shortcut-aware runs (trained jointly on the
same data, Eq. 7), unless `text-only` is listed in `modes` or `text_only_models: train`
is set: then separate `text-only` runs are trained (also when no shortcut-aware mode is
listed). The runner is `shortcutlab.study.run`.

`objectives` (default `[sfc]`, the paper's) lists the shortcut-aware objectives to train
(`TrainConfig.objective`, the names of `shortcutlab.objectives`; and `static`): each is
its own cell, labelled `shortcut-aware` for sfc and `shortcut-aware-OBJECTIVE` for the
others (runs, score files and result tables use the label; `objectives.cell_label`). An
old spelling (`shortcut-aware-poe`, ...) is read as its objective's name. The text-only
proxies come from the first dual-branch objective's runs (every one trains its proxy with
the same mean(L_t) term). `static` is JTT-style static upweighting (method card, "Beyond
the paper"): a standard run whose pairs the cheap text-only proxy gets wrong weigh
`upweight`; the proxy is `shortcutlab audit`'s cross-validated regression on the
environment's training file (`shortcutlab.study.proxies`), so the cell costs one standard
run and a few CPU seconds.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from shortcutlab import objectives
from shortcutlab.errors import ConfigError
from shortcutlab.objectives import STATIC, cell_label, label_mode

SA_MODE = objectives.SHORTCUT_AWARE
TEXT_MODE = objectives.TEXT_ONLY
MM_MODES = (objectives.STANDARD, SA_MODE)
DEFAULT_TRAIN = {"progress": False, "tensorboard": False}


_SET_BY_STUDY_HINTS = {
    "objective": " (list them in 'objectives').",
    "probe_data": " (set 'probe: true': each run probes its environment's test file).",
}


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
    objectives: list[str] = field(default_factory=lambda: ["sfc"])  # shortcut-aware cells
    upweight: float = 5.0  # lambda of the `static` objective's proxy-wrong pairs
    train: dict[str, Any] = field(default_factory=dict)  # TrainConfig fields
    score: dict[str, Any] = field(default_factory=lambda: {"batch_size": 32})
    n_boot: int = 1000
    length_unit: str = "words"
    probe: bool = False  # each run probes its environment's test file (train --probe-data)

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
        for key in ("mode", "model", "data", "output_dir", "seed", "objective", "probe_data"):
            if key in self.train:
                raise ConfigError(
                    f"study 'train' options may not set {key!r}; the study sets it"
                    + _SET_BY_STUDY_HINTS.get(key, ".")
                )
        self.objectives = [objectives.canonical(o) or o for o in self.objectives]
        methods = objectives.study_methods()
        bad = [o for o in self.objectives if o not in methods]
        if bad or not self.objectives or len(set(self.objectives)) != len(self.objectives):
            raise ConfigError(
                f"study objectives must be distinct names of {', '.join(methods)}; "
                f"got {self.objectives}."
            )
        if self.upweight <= 0:
            raise ConfigError(f"study upweight must be > 0, got {self.upweight}.")

    @property
    def proxy_from_runs(self) -> bool:
        """Whether text-only models come from the shortcut-aware runs' proxy/ folder
        (not when `text-only` is listed as a mode: then its runs are the text-only models)."""
        return (
            self.text_only_models == "proxy"
            and SA_MODE in self.modes
            and TEXT_MODE not in self.modes
            and self.proxy_objective is not None
        )

    @property
    def proxy_objective(self) -> str | None:
        """The first dual-branch objective: its runs' proxy/ are the text-only models."""
        return next((o for o in self.objectives if o in objectives.names()), None)

    @property
    def mm_labels(self) -> list[str]:
        """The multimodal cells' labels: the modes, shortcut-aware once per objective."""
        labels: list[str] = []
        for mode in dict.fromkeys(self.modes):
            if mode == SA_MODE:
                labels += [cell_label(o) for o in self.objectives]
            elif mode != TEXT_MODE:
                labels.append(mode)
        return labels

    @property
    def train_modes(self) -> list[str]:
        """Cell labels that get a training run per environment and seed (`label_mode`)."""
        labels = self.mm_labels
        if TEXT_MODE in self.modes or not self.proxy_from_runs:
            labels.append(TEXT_MODE)
        return labels

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_dir(out: Path, seed: int, label: str, env: str) -> Path:
    """The run folder of one (seed, cell label, environment) in a study's folder `out`."""
    return out / "runs" / f"s{seed}" / f"{label}__{env}"


__all__ = ["STATIC", "Study", "StudyEnv", "label_mode", "load_study", "run_dir"]  # + re-exports


def load_study(study: str | Path | dict[str, Any] | Study) -> Study:
    """A `Study` from a YAML file, a mapping or a Study; relative paths in a YAML file
    resolve against the file's folder."""
    if isinstance(study, Study):
        return study
    base = Path(".")
    if isinstance(study, (str, Path)):
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
    if isinstance(vals.get("train"), dict) and vals["train"].get("probe_edits"):
        vals["train"] = {**vals["train"], "probe_edits": resolve(vals["train"]["probe_edits"])}
    if "seeds" in vals and isinstance(vals["seeds"], int):
        vals["seeds"] = list(range(vals["seeds"]))
    return Study(base_model=str(local) if local.exists() else model, environments=envs, **vals)
