"""Driving a Trainer from its first (or resumed) step to the saved run folder.

Run folder: model/ (primary branch, a normal RewardModel folder: all inference needs),
proxy/ (shortcut-aware), config.yaml (resolved), command.txt, run_info.json,
metrics.jsonl, tensorboard/, checkpoints/ (when save_steps > 0), sfc.jsonl (save_sfc).
"""

from __future__ import annotations

import json
import shlex
import sys
import time
from contextlib import nullcontext
from typing import Any

import torch

from shortcutlab.errors import ConfigError
from shortcutlab.training.loop import STATS, S, elapsed, lr_now, stats_row
from shortcutlab.training.state import load_checkpoint, resolve_resume, save_checkpoint


def write_run_files(tr: Any, command: list[str] | None) -> None:
    """config.yaml, command.txt and run_info.json (rank 0)."""
    if not tr.accelerator.is_main_process:
        return
    from shortcutlab.provenance import write_run_info

    cmd = list(command) if command is not None else ["python", *sys.argv]
    (tr.out / "config.yaml").write_text(tr.cfg.to_yaml(), encoding="utf-8")
    (tr.out / "command.txt").write_text(shlex.join(cmd) + "\n", encoding="utf-8")
    inputs = {"data": tr.cfg.data}
    if tr.cfg.eval_data:
        inputs["eval_data"] = tr.cfg.eval_data
    write_run_info(
        tr.out,
        command=cmd,
        inputs=inputs,
        config=tr.cfg.to_dict(),
        seed=tr.cfg.seed,
        extra={
            "processes": tr.world,
            "global_batch_records": tr.global_batch,
            "skipped": tr.skipped,  # --skip-invalid rows dropped from data, by reason
            "eval_skipped": tr.eval_skipped,
        },
    )


def trainer_state(tr: Any, step: int) -> dict[str, Any]:
    epoch = step // tr.steps_per_epoch
    return {
        "global_step": step,
        "epoch": epoch,
        "step_in_epoch": step % tr.steps_per_epoch,
        "seed": tr.cfg.seed,
        "n_records": len(tr.records),
        "global_batch": tr.global_batch,
        "total_steps": tr.total_steps,
        "data_order": tr.epoch_order(epoch),
    }


def resume_step(tr: Any) -> int:
    """Restore a checkpoint when asked; the global step to continue from."""
    path = resolve_resume(tr.cfg.resume, tr.out)
    if path is None:
        return 0
    state = load_checkpoint(tr.accelerator, path)
    for key in ("seed", "n_records", "global_batch", "total_steps"):
        ours = trainer_state(tr, 0)[key]
        if state.get(key) != ours:
            raise ConfigError(
                f"resume: checkpoint {path} has {key}={state.get(key)} but this run has "
                f"{ours}; resume with the same data, seed, batch sizes and step count."
            )
    if state["data_order"] != tr.epoch_order(state["epoch"]):
        raise ConfigError(f"resume: {path} was trained in another record order.")
    return int(state["global_step"])


def _progress(tr: Any, start: int) -> Any:
    if not (tr.cfg.progress and tr.accelerator.is_main_process):
        return nullcontext(None)
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("[bold]train[/] {task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeRemainingColumn(),
        transient=False,
    )


def run_loop(tr: Any, command: list[str] | None = None) -> dict[str, Any]:
    """Train from the first or resumed step; save; return the run summary."""
    write_run_files(tr, command)
    start_step = resume_step(tr)
    if tr.accelerator.is_main_process:
        _trim_metrics(tr.out / "metrics.jsonl", start_step)
    t0 = time.time()
    window = _empty_window()
    proxy = tr.proxy_collator is not None
    with _progress(tr, start_step) as bar:
        task = bar.add_task("", total=tr.total_steps, completed=start_step) if bar else None
        for step in range(start_step, tr.total_steps):
            stats = tr.train_step(step)
            row = stats_row(stats, step + 1, (step + 1) / tr.steps_per_epoch, 0.0, proxy)
            tr.history.append(row)
            window = _accumulate(window, stats)
            done = step + 1
            if done % max(tr.cfg.logging_steps, 1) == 0 or done == tr.total_steps:
                lr = lr_now(tr.scheduler)
                tr.output_writer.write(
                    stats_row(window, done, done / tr.steps_per_epoch, lr, proxy)
                )
                window = _empty_window()
            if bar:
                bar.update(task, completed=done, description=f"loss {row['loss']:.4f}")
            if tr.eval_records and tr.cfg.eval_steps > 0 and done % tr.cfg.eval_steps == 0:
                _log_eval(tr, done)
            if tr.cfg.save_steps > 0 and done % tr.cfg.save_steps == 0:
                save_checkpoint(
                    tr.accelerator, tr.out, trainer_state(tr, done), tr.cfg.save_total_limit
                )
    return finish(tr, start_step, elapsed(t0))


def _trim_metrics(path: Any, start_step: int) -> None:
    """A fresh run starts a new metrics.jsonl; a resumed one keeps rows up to its step."""
    if not path.is_file():
        return
    keep = [
        line
        for line in path.read_text(encoding="utf-8").splitlines()
        if start_step > 0 and line.strip() and json.loads(line).get("step", 0) <= start_step
    ]
    from shortcutlab.files import atomic_write_text

    # atomic: a kill during this rewrite must not lose the rows kept from before the resume
    atomic_write_text(path, "".join(line + "\n" for line in keep))


def _empty_window() -> torch.Tensor:
    window = torch.zeros(len(STATS), dtype=torch.float64)
    window[S["sfc_min"]], window[S["sfc_max"]] = float("inf"), float("-inf")
    return window


def _accumulate(window: torch.Tensor, stats: torch.Tensor) -> torch.Tensor:
    """Sum statistics of several steps (min / max for the SFC extremes)."""
    out = window + stats
    lo, hi = S["sfc_min"], S["sfc_max"]
    out[lo] = torch.minimum(window[lo], stats[lo])
    out[hi] = torch.maximum(window[hi], stats[hi])
    return out


def _log_eval(tr: Any, step: int) -> dict[str, Any]:
    row = tr.evaluate(step)
    tr.eval_results.append(row)
    tr.output_writer.write(row)
    return row


def _full_module(tr: Any) -> Any:
    """The trained Branches with full (unsharded) weights on rank 0.

    DDP / one process: the unwrapped module. FSDP / DeepSpeed shard the weights, so the
    full state dict is gathered (a collective: every rank calls it) and loaded into a
    fresh copy on rank 0. (The sharded path is not exercised by the CPU test suite.)
    """
    from accelerate.utils import DistributedType

    acc = tr.accelerator
    if acc.distributed_type not in (DistributedType.FSDP, DistributedType.DEEPSPEED):
        return acc.unwrap_model(tr.model)
    state = acc.get_state_dict(tr.model)
    if not acc.is_main_process:
        return None
    from shortcutlab.training.branches import build_branches

    module, _ = build_branches(tr.cfg)
    module.load_state_dict(state)
    return module


def finish(tr: Any, start_step: int, seconds: float) -> dict[str, Any]:
    """Final evaluation, model export, sfc.jsonl and the summary (returned on every rank)."""
    from shortcutlab.training.export import export_branches

    final_eval = None
    if tr.eval_records:  # reuse the in-loop evaluation when it ran at the last step
        done = tr.eval_results and tr.eval_results[-1]["step"] == tr.total_steps
        final_eval = tr.eval_results[-1] if done else _log_eval(tr, tr.total_steps)
    acc = tr.accelerator
    acc.wait_for_everyone()
    module = _full_module(tr)
    saved: dict[str, str] = {}
    if acc.is_main_process:
        saved = export_branches(module, tr.cfg, tr.out)
    if tr.cfg.save_sfc and tr.proxy_collator is not None:
        from accelerate.utils import gather_object

        rows = gather_object(tr.sfc_rows) if tr.world > 1 else tr.sfc_rows
        if acc.is_main_process:
            text = "".join(json.dumps(r) + "\n" for r in rows)
            (tr.out / "sfc.jsonl").write_text(text, encoding="utf-8")
    tr.output_writer.close()
    acc.wait_for_everyone()
    return {
        "output_dir": str(tr.out),
        "mode": tr.cfg.mode,
        "model_dir": saved.get("model", str(tr.out / "model")),
        "proxy_dir": saved.get("proxy"),
        "steps": tr.total_steps,
        "start_step": start_step,
        "steps_per_epoch": tr.steps_per_epoch,
        "global_batch_records": tr.global_batch,
        "processes": tr.world,
        "records": len(tr.records),
        "records_without_pairs": tr.records_without_pairs,
        "skipped": dict(tr.skipped),
        "eval_skipped": dict(tr.eval_skipped),
        "trainable_parameters": tr.n_trainable,
        "parameters": tr.n_params,
        "train_losses": [r["loss"] for r in tr.history],
        "final_train": tr.history[-1] if tr.history else None,
        "eval": final_eval,
        "eval_history": tr.eval_results,
        "seconds": seconds,
    }
