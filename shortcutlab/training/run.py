"""The run folder's bookkeeping files: what a run records before, during and after training.

Run folder: model/ (primary branch, a normal RewardModel folder: all inference needs),
proxy/ (shortcut-aware), config.yaml (resolved), command.txt, run_info.json, summary.json,
metrics.jsonl, tensorboard/, checkpoints/ (when save_steps > 0), sfc.jsonl (save_sfc).
Plain functions of explicit arguments; `trainer.Trainer` calls them (rank 0 writes).
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Any

from shortcutlab.config import TrainConfig
from shortcutlab.errors import ConfigError
from shortcutlab.files import atomic_write_text
from shortcutlab.provenance import write_run_info
from shortcutlab.run_folder import RunFolder
from shortcutlab.training.setup import RunData

RESUME_KEYS = ("seed", "n_records", "global_batch", "total_steps")  # must match to resume


def write_run_files(
    cfg: TrainConfig, out: Path, command: list[str] | None, extra: dict[str, Any]
) -> None:
    """config.yaml, command.txt and run_info.json (call on rank 0)."""
    cmd = list(command) if command is not None else ["python", *sys.argv]
    RunFolder(out).config.write_text(cfg.to_yaml(), encoding="utf-8")
    RunFolder(out).command.write_text(shlex.join(cmd) + "\n", encoding="utf-8")
    inputs = {"data": cfg.data}
    if cfg.eval_data:
        inputs["eval_data"] = cfg.eval_data
    write_run_info(
        out, command=cmd, inputs=inputs, config=cfg.to_dict(), seed=cfg.seed, extra=extra
    )


def trainer_state(data: RunData, seed: int, step: int) -> dict[str, Any]:
    """The trainer_state.json of a checkpoint at global step `step`."""
    spe = data.order.steps_per_epoch
    epoch = step // spe
    return {
        "global_step": step,
        "epoch": epoch,
        "step_in_epoch": step % spe,
        "seed": seed,
        "n_records": len(data.records),
        "global_batch": data.order.global_batch,
        "total_steps": data.total_steps,
        "data_order": data.order.epoch_order(epoch),
    }


def check_resumable(state: dict[str, Any], data: RunData, seed: int, path: Path) -> int:
    """The step to continue from, after checking the checkpoint is of this same run."""
    ours = trainer_state(data, seed, 0)
    for key in RESUME_KEYS:
        if state.get(key) != ours[key]:
            raise ConfigError(
                f"resume: checkpoint {path} has {key}={state.get(key)} but this run has "
                f"{ours[key]}; resume with the same data, seed, batch sizes and step count, or "
                "drop --resume to start a fresh run (it replaces this folder's checkpoints)."
            )
    if state["data_order"] != data.order.epoch_order(state["epoch"]):
        raise ConfigError(f"resume: {path} was trained in another record order.")
    return int(state["global_step"])


def trim_metrics(path: Path, start_step: int) -> None:
    """A fresh run starts a new metrics.jsonl; a resumed one keeps rows up to its step."""
    if not path.is_file():
        return
    keep = [
        line
        for line in path.read_text(encoding="utf-8").splitlines()
        if start_step > 0 and line.strip() and json.loads(line).get("step", 0) <= start_step
    ]
    # atomic: a kill during this rewrite must not lose the rows kept from before the resume
    atomic_write_text(path, "".join(line + "\n" for line in keep))


def write_sfc(out: Path, rows: list[dict[str, Any]]) -> None:
    """sfc.jsonl: per-pair SFC rows of the last epoch."""
    text = "".join(json.dumps(r) + "\n" for r in rows)
    RunFolder(out).sfc.write_text(text, encoding="utf-8")
