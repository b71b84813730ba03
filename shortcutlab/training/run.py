"""Driving a Trainer from its first (or resumed) step to the saved run folder.

Run folder: model/ (primary branch, a normal RewardModel folder: all inference needs),
proxy/ (shortcut-aware), config.yaml (resolved), command.txt, run_info.json, summary.json,
metrics.jsonl, tensorboard/, checkpoints/ (when save_steps > 0), sfc.jsonl (save_sfc).
"""

from __future__ import annotations

import json
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shortcutlab.errors import ConfigError
from shortcutlab.files import atomic_write_json, atomic_write_text
from shortcutlab.progress import Reporter
from shortcutlab.provenance import write_run_info
from shortcutlab.run_folder import RunFolder
from shortcutlab.training.branches import Branches, build_branches
from shortcutlab.training.export import export_branches
from shortcutlab.training.loop import Trainer, lr_now
from shortcutlab.training.setup import RunParts
from shortcutlab.training.state import (
    clear_stale_checkpoints,
    load_checkpoint,
    resolve_resume,
    save_checkpoint,
)
from shortcutlab.training.stats import accumulate, empty_window, stats_row


@dataclass
class RunLog:
    """What the driver keeps of a run for its summary: per-step rows and evaluations."""

    history: list[dict[str, Any]] = field(default_factory=list)
    evals: list[dict[str, Any]] = field(default_factory=list)


def write_run_files(parts: RunParts, command: list[str] | None) -> None:
    """config.yaml, command.txt and run_info.json (rank 0)."""
    if not parts.accelerator.is_main_process:
        return
    cfg, out = parts.cfg, parts.out
    cmd = list(command) if command is not None else ["python", *sys.argv]
    RunFolder(out).config.write_text(cfg.to_yaml(), encoding="utf-8")
    RunFolder(out).command.write_text(shlex.join(cmd) + "\n", encoding="utf-8")
    inputs = {"data": cfg.data}
    if cfg.eval_data:
        inputs["eval_data"] = cfg.eval_data
    write_run_info(
        out,
        command=cmd,
        inputs=inputs,
        config=cfg.to_dict(),
        seed=cfg.seed,
        extra={
            "processes": parts.world,
            "global_batch_records": parts.global_batch,
            "skipped": parts.skipped,  # --skip-invalid rows dropped from data, by reason
            "eval_skipped": parts.eval_skipped,
        },
    )


def trainer_state(parts: RunParts, step: int) -> dict[str, Any]:
    """The trainer_state.json of a checkpoint at global step `step`."""
    epoch = step // parts.steps_per_epoch
    return {
        "global_step": step,
        "epoch": epoch,
        "step_in_epoch": step % parts.steps_per_epoch,
        "seed": parts.cfg.seed,
        "n_records": len(parts.records),
        "global_batch": parts.global_batch,
        "total_steps": parts.total_steps,
        "data_order": parts.order.epoch_order(epoch),
    }


def resume_step(parts: RunParts) -> int:
    """Restore a checkpoint when asked; the global step to continue from."""
    path = resolve_resume(parts.cfg.resume, parts.out)
    if path is None:
        return 0
    state = load_checkpoint(parts.accelerator, path)
    for key in ("seed", "n_records", "global_batch", "total_steps"):
        ours = trainer_state(parts, 0)[key]
        if state.get(key) != ours:
            raise ConfigError(
                f"resume: checkpoint {path} has {key}={state.get(key)} but this run has "
                f"{ours}; resume with the same data, seed, batch sizes and step count, or "
                "drop --resume to start a fresh run (it replaces this folder's checkpoints)."
            )
    if state["data_order"] != parts.order.epoch_order(state["epoch"]):
        raise ConfigError(f"resume: {path} was trained in another record order.")
    return int(state["global_step"])


def _progress(parts: RunParts, start_step: int) -> Reporter:
    """Step progress on rank 0 when asked (a bar in a terminal, plain lines in a log)."""
    enabled = parts.cfg.progress and parts.accelerator.is_main_process
    what = f"train {parts.cfg.mode}"
    return Reporter(what, parts.total_steps, "steps", initial=start_step, enabled=enabled)


def run_training(trainer: Trainer, command: list[str] | None = None) -> dict[str, Any]:
    """Train from the first or resumed step; save; return the run summary."""
    parts, cfg = trainer.parts, trainer.cfg
    write_run_files(parts, command)
    start_step = resume_step(parts)
    if parts.accelerator.is_main_process:
        if start_step == 0 and not parts.cfg.resume:
            clear_stale_checkpoints(parts.out)
        _trim_metrics(RunFolder(parts.out).metrics, start_step)
    t0 = time.time()
    log = RunLog()
    window = empty_window()
    spe = parts.steps_per_epoch
    with _progress(parts, start_step) as bar:
        for step in range(start_step, parts.total_steps):
            stats = trainer.train_step(step)
            row = stats_row(stats, step + 1, (step + 1) / spe, 0.0, parts.proxy)
            log.history.append(row)
            window = accumulate(window, stats)
            done = step + 1
            if done % max(cfg.logging_steps, 1) == 0 or done == parts.total_steps:
                lr = lr_now(parts.scheduler)
                parts.writer.write(stats_row(window, done, done / spe, lr, parts.proxy))
                window = empty_window()
            bar.update(done, note=f"loss {row['loss']:.4f}")
            if parts.eval_records and cfg.eval_steps > 0 and done % cfg.eval_steps == 0:
                _log_eval(trainer, log, done)
            if cfg.save_steps > 0 and done % cfg.save_steps == 0:
                state = trainer_state(parts, done)
                save_checkpoint(parts.accelerator, parts.out, state, cfg.save_total_limit)
    return finish(trainer, log, start_step, round(time.time() - t0, 3))


def _trim_metrics(path: Path, start_step: int) -> None:
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


def _log_eval(trainer: Trainer, log: RunLog, step: int) -> dict[str, Any]:
    row = trainer.evaluate(step)
    log.evals.append(row)
    trainer.parts.writer.write(row)
    return row


def _full_module(parts: RunParts) -> Branches | None:
    """The trained Branches with full (unsharded) weights on rank 0.

    DDP / one process: the unwrapped module. FSDP / DeepSpeed shard the weights, so the
    full state dict is gathered (a collective: every rank calls it) and loaded into a
    fresh copy on rank 0. (The sharded path is not exercised by the CPU test suite.)
    """
    from accelerate.utils import DistributedType  # accelerate: heavy, imported when used

    acc = parts.accelerator
    if acc.distributed_type not in (DistributedType.FSDP, DistributedType.DEEPSPEED):
        return acc.unwrap_model(parts.model)
    state = acc.get_state_dict(parts.model)
    if not acc.is_main_process:
        return None
    module, _ = build_branches(parts.cfg)
    module.load_state_dict(state)
    return module


def _save_sfc(trainer: Trainer) -> None:
    """sfc.jsonl: every rank's per-pair SFC rows of the last epoch (rank 0 writes)."""
    from accelerate.utils import gather_object  # accelerate: heavy, imported when used

    parts = trainer.parts
    rows = gather_object(trainer.sfc_rows) if parts.world > 1 else trainer.sfc_rows
    if parts.accelerator.is_main_process:
        text = "".join(json.dumps(r) + "\n" for r in rows)
        RunFolder(parts.out).sfc.write_text(text, encoding="utf-8")


def finish(trainer: Trainer, log: RunLog, start_step: int, seconds: float) -> dict[str, Any]:
    """Final evaluation, model export, sfc.jsonl and the summary (returned on every rank)."""
    parts = trainer.parts
    final_eval = None
    if parts.eval_records:  # reuse the in-loop evaluation when it ran at the last step
        done = log.evals and log.evals[-1]["step"] == parts.total_steps
        final_eval = log.evals[-1] if done else _log_eval(trainer, log, parts.total_steps)
    acc = parts.accelerator
    acc.wait_for_everyone()
    module = _full_module(parts)
    saved: dict[str, str] = {}
    if acc.is_main_process:
        saved = export_branches(module, parts.cfg, parts.out)
    if parts.cfg.save_sfc and parts.proxy:
        _save_sfc(trainer)
    parts.writer.close()
    summary = _summary(parts, log, saved, start_step, final_eval, seconds)
    if acc.is_main_process:  # the file `train --json` prints
        atomic_write_json(RunFolder(parts.out).summary, summary)
    acc.wait_for_everyone()
    return summary


def _summary(
    parts: RunParts,
    log: RunLog,
    saved: dict[str, str],
    start_step: int,
    final_eval: dict[str, Any] | None,
    seconds: float,
) -> dict[str, Any]:
    """The dict `training.train` returns (the same on every rank)."""
    return {
        "output_dir": str(parts.out),
        "mode": parts.cfg.mode,
        "model_dir": saved.get("model", str(RunFolder(parts.out).model)),
        "proxy_dir": saved.get("proxy"),
        "steps": parts.total_steps,
        "start_step": start_step,
        "steps_per_epoch": parts.steps_per_epoch,
        "global_batch_records": parts.global_batch,
        "processes": parts.world,
        "records": len(parts.records),
        "records_without_pairs": parts.records_without_pairs,
        "skipped": dict(parts.skipped),
        "eval_skipped": dict(parts.eval_skipped),
        "trainable_parameters": parts.n_trainable,
        "parameters": parts.n_params,
        "train_losses": [r["loss"] for r in log.history],
        "final_train": log.history[-1] if log.history else None,
        "eval": final_eval,
        "eval_history": log.evals,
        "seconds": seconds,
    }
