"""Checkpoints, metrics and per-pair SFC files of a training run (rank 0 writes).

A checkpoint `output_dir/checkpoints/step-NNNNNN/` holds accelerate's state (model,
optimizer, LR scheduler, every process's RNG states) and `trainer_state.json` (global
step, epoch, step in epoch, seed and the epoch's data order). Resuming restores all of it
and skips the records already seen, so the next losses equal an uninterrupted run's.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import time
from pathlib import Path
from typing import Any

import torch

from shortcutlab.errors import ConfigError
from shortcutlab.files import atomic_write_text
from shortcutlab.run_folder import TRAINER_STATE as TRAINER_STATE
from shortcutlab.run_folder import RunFolder

log = logging.getLogger(__name__)


def checkpoint_dirs(output_dir: Path) -> list[Path]:
    """Complete checkpoints of a run, oldest first."""
    root = RunFolder(output_dir).checkpoints
    if not root.is_dir():
        return []
    found = [d for d in root.glob("step-*") if (d / TRAINER_STATE).is_file()]
    return sorted(found, key=lambda d: int(d.name.split("-")[1]))


def clear_stale_checkpoints(output_dir: Path) -> int:
    """A fresh run (no resume) in a folder that holds an earlier run's checkpoints removes
    them, with a warning; returns how many. Why: they belong to the run being replaced,
    and a later `--resume latest` would pick the newest of them (another run's state,
    refused or, worse, mixed with this run's steps)."""
    old = checkpoint_dirs(output_dir)
    if old:
        log.warning(
            "%s: this fresh run (no --resume) replaces the earlier run in this folder; "
            "removed its %d checkpoint(s) (newest %s).",
            output_dir,
            len(old),
            old[-1].name,
        )
        shutil.rmtree(RunFolder(output_dir).checkpoints)
    return len(old)


def resolve_resume(resume: str | None, output_dir: Path) -> Path | None:
    """The checkpoint folder to resume from ('latest' = newest in output_dir), or None."""
    if not resume:
        return None
    if resume == "latest":
        found = checkpoint_dirs(output_dir)
        return found[-1] if found else None  # nothing yet: start fresh
    path = Path(resume)
    if not (path / TRAINER_STATE).is_file():
        raise ConfigError(
            f"resume: {path} is not a checkpoint folder (no {TRAINER_STATE}). "
            "Pass output_dir/checkpoints/step-N or 'latest'."
        )
    return path


def save_checkpoint(accelerator: Any, output_dir: Path, state: dict, keep: int) -> Path:
    """Save accelerate state + trainer state; keep only the newest `keep` checkpoints."""
    path = RunFolder(output_dir).checkpoint(state["global_step"])
    accelerator.save_state(str(path))
    if accelerator.is_main_process:
        # written last and atomically: its presence marks the checkpoint complete, so a
        # kill mid-save (or mid-write of this file) never leaves a loadable half checkpoint
        atomic_write_text(path / TRAINER_STATE, json.dumps(state) + "\n")
        if keep > 0:
            for old in checkpoint_dirs(output_dir)[:-keep]:
                shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()
    return path


def load_checkpoint(accelerator: Any, path: Path) -> dict:
    """Restore accelerate state from `path`; return its trainer state."""
    accelerator.load_state(str(path))
    return json.loads((path / TRAINER_STATE).read_text())


class TensorState:
    """An objective's state across steps (GroupDRO's q), checkpointed with the model:
    accelerate `register_for_checkpointing` saves and restores it as {name: list}."""

    def __init__(self, name: str, value: torch.Tensor) -> None:
        self.name = name
        self.value = value

    def state_dict(self) -> dict[str, list[float]]:
        return {self.name: self.value.tolist()}

    def load_state_dict(self, state: dict[str, list[float]]) -> None:
        self.value = torch.tensor(state[self.name], dtype=self.value.dtype)


class MetricsWriter:
    """Appends metric rows to metrics.jsonl and TensorBoard (rank 0 only; no-op elsewhere)."""

    def __init__(self, output_dir: Path, *, enabled: bool, tensorboard: bool) -> None:
        self.enabled = enabled
        self.path = RunFolder(output_dir).metrics
        self.tb = None
        self.start = time.time()
        if enabled and tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.tb = SummaryWriter(str(RunFolder(output_dir).tensorboard))
            except ImportError:  # tensorboard not installed: jsonl only
                self.tb = None

    def write(self, row: dict[str, Any]) -> None:
        if not self.enabled:
            return
        row = {"time_s": round(time.time() - self.start, 3), **row}
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")
        if self.tb is not None:
            step = int(row.get("step", 0))
            for key, value in row.items():
                if key not in ("step", "split") and isinstance(value, int | float):
                    if math.isfinite(value):
                        self.tb.add_scalar(f"{row.get('split', 'train')}/{key}", value, step)

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a metrics.jsonl file (for tests, plots and the demo)."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]
