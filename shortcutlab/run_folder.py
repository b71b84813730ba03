"""The layout of a training run folder, and whether a new run may write into one.

`shortcutlab train --output runs/sa` writes a run folder; this module is the one place
that spells its names (a test checks no other module does):

    runs/sa/model/             the exported RewardModel (primary branch): all inference needs
    runs/sa/proxy/             the text-only proxy (shortcut-aware runs)
    runs/sa/config.yaml        the resolved TrainConfig
    runs/sa/command.txt        the command line
    runs/sa/run_info.json      provenance (`shortcutlab.provenance` owns its content)
    runs/sa/metrics.jsonl      one row per logged step / evaluation
    runs/sa/summary.json       what `train --json` prints; written last
    runs/sa/sfc.jsonl          per-pair SFC rows (save_sfc)
    runs/sa/probe/             the probe battery and the last step's probe report (probe_data)
    runs/sa/tensorboard/       TensorBoard events
    runs/sa/checkpoints/step-NNNNNN/trainer_state.json   resumable state (save_steps > 0)

Why a check before training: a run into a folder that holds another run used to
overwrite it piecemeal (a different mode and data in an old folder, TensorBoard events
of several runs accumulating, a stale proxy/ of an earlier shortcut-aware run that
`score` then announced). `prepare_run_folder` applies the convention every command
follows (docs/cli.md): a folder holding a finished or a different run is refused unless
`overwrite` (which clears the run's files); `resume` continues the same run.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from shortcutlab.errors import ConfigError

log = logging.getLogger(__name__)

MODEL = "model"  # the exported primary branch
PROXY = "proxy"  # the exported text-only proxy (shortcut-aware runs)
MODEL_CONFIG = "config.json"  # a loadable model folder's config (transformers' name)
CONFIG = "config.yaml"
COMMAND = "command.txt"
RUN_INFO = "run_info.json"  # same name as shortcutlab.provenance.RUN_INFO
METRICS = "metrics.jsonl"
SUMMARY = "summary.json"
SFC = "sfc.jsonl"
PROBE = "probe"  # a `shortcutlab probe` folder: battery, scores/, card.json
TENSORBOARD = "tensorboard"
CHECKPOINTS = "checkpoints"
TRAINER_STATE = "trainer_state.json"  # inside a checkpoint: marks it complete

# Files a run folder holds besides model/: their presence makes a folder a run folder.
RUN_MARKERS = (CONFIG, RUN_INFO, METRICS, COMMAND, CHECKPOINTS)
# Everything a run writes (what --overwrite clears; nothing else in the folder is touched).
RUN_ENTRIES = (MODEL, PROXY, *RUN_MARKERS, SUMMARY, SFC, TENSORBOARD, PROBE)
# Config fields that do not make a run different (where it is, how it reports, resuming).
SAME_RUN_IGNORES = ("output_dir", "resume", "progress")


@dataclass(frozen=True)
class RunFolder:
    """Paths inside one training run folder (`RunFolder("runs/sa").model`)."""

    root: Path

    def __init__(self, root: str | Path) -> None:
        object.__setattr__(self, "root", Path(root))

    @property
    def model(self) -> Path:
        return self.root / MODEL

    @property
    def proxy(self) -> Path:
        return self.root / PROXY

    @property
    def probe(self) -> Path:
        return self.root / PROBE

    @property
    def config(self) -> Path:
        return self.root / CONFIG

    @property
    def command(self) -> Path:
        return self.root / COMMAND

    @property
    def metrics(self) -> Path:
        return self.root / METRICS

    @property
    def summary(self) -> Path:
        return self.root / SUMMARY

    @property
    def sfc(self) -> Path:
        return self.root / SFC

    @property
    def tensorboard(self) -> Path:
        return self.root / TENSORBOARD

    @property
    def checkpoints(self) -> Path:
        return self.root / CHECKPOINTS

    def checkpoint(self, step: int) -> Path:
        """The checkpoint folder of global step `step`."""
        return self.checkpoints / f"step-{step:06d}"

    def markers(self) -> list[str]:
        """The run files present (empty: not a training run folder)."""
        return [m for m in RUN_MARKERS if (self.root / m).exists()]

    def entries(self) -> list[str]:
        """Everything a run writes that is present (what --overwrite would clear)."""
        return [e for e in RUN_ENTRIES if (self.root / e).exists()]

    def finished(self) -> bool:
        """A run completed here: its model was exported (or its summary written)."""
        return (self.model / MODEL_CONFIG).is_file() or self.summary.is_file()


def is_main_process() -> bool:
    """Rank 0 of `accelerate launch` (or a plain process): the one that clears files.

    Read from the launcher's environment so the check runs before any process group
    exists; every rank decides the same way (read-only) before rank 0 changes anything,
    and the accelerator's start-up is a barrier before any rank writes.
    """
    return os.environ.get("RANK", "0") == "0"


def prepare_run_folder(config: dict[str, Any], *, overwrite: bool = False) -> str:
    """Check `config["output_dir"]` before a training run writes into it; clear on overwrite.

    Returns what happens: 'fresh' (no run there), 'resume' (`config["resume"]` is set:
    the checkpoint checks in training/state.py apply), 'restart' (an unfinished run with
    the same options, e.g. killed before a checkpoint: started again, its TensorBoard
    events removed), 'overwrite' (the earlier run's files removed). Raises ConfigError
    (exit 2) for a folder holding a finished run, or a run with other options, unless
    `overwrite`; and for `overwrite` together with `resume`.
    """
    folder = RunFolder(config["output_dir"])
    resume = config.get("resume")
    if overwrite and resume:
        raise ConfigError(
            "--overwrite and --resume contradict each other: --resume continues the run in "
            f"{folder.root}, --overwrite deletes it. Pass one of them."
        )
    if not folder.root.is_dir() or not folder.entries():
        return "fresh"
    if overwrite:
        _clear(folder, folder.entries(), "--overwrite: removed the earlier run's")
        return "overwrite"
    if resume:
        return "resume"
    changed = _changed_options(folder, config)
    if folder.finished() or changed:
        raise ConfigError(_refusal(folder, changed))
    _clear(folder, [e for e in (TENSORBOARD, SFC) if (folder.root / e).exists()], "restart:")
    return "restart"


def _changed_options(folder: RunFolder, config: dict[str, Any]) -> list[str]:
    """'field: old -> new' for each option that differs from the run in the folder.

    A folder whose config.yaml is missing or unreadable holds a run of unknown options,
    which counts as different.
    """
    try:
        old = yaml.safe_load(folder.config.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        old = None
    if not isinstance(old, dict):
        return [f"{CONFIG}: missing or unreadable"]
    new = json.loads(json.dumps(config, default=str))  # tuples -> lists, as YAML reads them
    return [
        f"{key}: {old[key]!r} -> {new[key]!r}"
        for key in new
        if key in old and key not in SAME_RUN_IGNORES and old[key] != new[key]
    ]


def _refusal(folder: RunFolder, changed: list[str]) -> str:
    """One paragraph: what the folder holds, and the three ways on."""
    if folder.finished():
        what = "a finished training run"
        what += f" with other options ({'; '.join(changed[:4])})" if changed else ""
    else:
        what = f"an unfinished training run with other options ({'; '.join(changed[:4])})"
    return (
        f"{folder.root} already holds {what}. Refusing to mix two runs in one folder. "
        f"Pass --overwrite (overwrite=True) to replace it (removes its model/, proxy/, "
        f"checkpoints/, tensorboard/ and logs), --resume latest with its {folder.config} "
        "to continue it, or choose another --output."
    )


def _clear(folder: RunFolder, names: list[str], why: str) -> None:
    """Remove run entries (rank 0 only), with one log line naming them."""
    if not names or not is_main_process():
        return
    for name in names:
        path = folder.root / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    log.warning("%s: %s %s", folder.root, why, ", ".join(names))
