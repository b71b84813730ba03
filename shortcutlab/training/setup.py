"""Building a run: accelerator, records, branches, collators, optimizer and LR schedule."""

from __future__ import annotations

import logging
import math
from functools import partial
from typing import Any

import torch

from shortcutlab import distributed
from shortcutlab.config import TrainConfig

log = logging.getLogger(__name__)


def make_accelerator(cfg: TrainConfig) -> Any:
    """An Accelerator for this process (fresh state in a plain process, so repeated
    `train()` calls in one Python session do not inherit the previous run's settings)."""
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState, GradientState
    from accelerate.utils import DistributedDataParallelKwargs

    if not distributed.launched():
        AcceleratorState._reset_state(reset_partial_state=True)
        GradientState._reset_state()
    precision = "bf16" if cfg.bf16 else "fp16" if cfg.fp16 else "no"
    # text-only / proxy passes leave e.g. the projector without gradient: DDP must allow it
    ddp = DistributedDataParallelKwargs(find_unused_parameters=cfg.mode != "standard")
    return Accelerator(
        mixed_precision=precision,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        kwargs_handlers=[ddp],
    )


def make_collators(cfg: TrainConfig, processor: Any) -> tuple[Any, Any]:
    """(primary collator, proxy collator or None) for the mode."""
    from shortcutlab.modeling.batching import RewardCollator

    primary_text_only = cfg.text_only if cfg.mode == "text-only" else None
    primary = RewardCollator(processor, max_length=cfg.max_length, text_only=primary_text_only)
    if cfg.mode != "shortcut-aware":
        return primary, None
    if cfg.proxy == "image-only":
        proxy = RewardCollator(processor, max_length=cfg.max_length, drop_prompt=True)
    else:
        proxy = RewardCollator(processor, max_length=cfg.max_length, text_only=cfg.text_only)
    return primary, proxy


def make_optimizer(params: list[tuple[str, torch.nn.Parameter]], cfg: TrainConfig) -> Any:
    """AdamW; weight decay on matrices only (not on biases and norms), as HF Trainer does."""
    decay = [p for _, p in params if p.ndim >= 2]
    no_decay = [p for _, p in params if p.ndim < 2]
    groups = [
        {"params": decay, "weight_decay": cfg.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW([g for g in groups if g["params"]], lr=cfg.learning_rate)


def _warmup_factor(step: int, *, warmup: int, total: int, kind: str) -> float:
    """LR multiplier of step `step`: linear warmup, then constant / linear / cosine decay.

    The same formulas as transformers' schedules of these names (cosine: half a cycle).
    """
    if step < warmup:
        return float(step) / float(max(1, warmup))
    if kind == "constant_with_warmup":
        return 1.0
    progress = float(step - warmup) / float(max(1, total - warmup))
    if kind == "linear":
        return max(0.0, float(total - step) / float(max(1, total - warmup)))
    return max(0.0, 0.5 * (1.0 + math.cos(math.pi * progress)))  # cosine


NATIVE_SCHEDULES = ("cosine", "linear", "constant", "constant_with_warmup")


def make_scheduler(name: str, optimizer: Any, *, warmup: int, total: int) -> Any:
    """The LR schedule `name` (transformers.get_scheduler names).

    The common schedules are built here on torch's LambdaLR: importing
    `transformers.get_scheduler` imports peft and with it bitsandbytes, whose CPU backend
    prints a "Failed to load CPU gemm_4bit_forward" warning on every run that does not
    even quantize. Other names still go to transformers.
    """
    from torch.optim.lr_scheduler import LambdaLR

    if name == "constant":
        return LambdaLR(optimizer, lambda _: 1.0)
    if name in NATIVE_SCHEDULES:
        fn = partial(_warmup_factor, warmup=warmup, total=total, kind=name)
        return LambdaLR(optimizer, fn)
    from transformers import get_scheduler

    return get_scheduler(name, optimizer, num_warmup_steps=warmup, num_training_steps=total)


def setup_run(tr: Any) -> None:
    """Fill a Trainer with everything the loop needs."""
    from shortcutlab.training.branches import build_branches
    from shortcutlab.training.loop import check_steps, load_training_records, total_steps
    from shortcutlab.training.state import MetricsWriter

    cfg = tr.cfg
    tr.out.mkdir(parents=True, exist_ok=True)
    tr.accelerator = acc = make_accelerator(cfg)
    tr.rank, tr.world = acc.process_index, acc.num_processes
    torch.manual_seed(cfg.seed)
    tr.records, tr.records_without_pairs, tr.skipped = load_training_records(cfg.data, cfg)
    tr.eval_records, tr.eval_skipped = [], {}
    if cfg.eval_data:
        tr.eval_records, _, tr.eval_skipped = load_training_records(cfg.eval_data, cfg)
    tr.global_batch = cfg.per_device_train_batch_size * tr.world * cfg.gradient_accumulation_steps
    tr.steps_per_epoch = check_steps(len(tr.records), tr.global_batch, cfg.data)
    tr.total_steps = total_steps(cfg, tr.steps_per_epoch)
    tr.last_epoch = (tr.total_steps - 1) // tr.steps_per_epoch
    tr._orders, tr._truncated = {}, 0

    branches, processor = build_branches(cfg)
    tr.collator, tr.proxy_collator = make_collators(cfg, processor)
    named = [(n, p) for n, p in branches.named_parameters() if p.requires_grad]
    tr.n_trainable = sum(p.numel() for _, p in named)
    tr.n_params = sum(p.numel() for p in branches.parameters())
    optimizer = make_optimizer(named, cfg)
    warmup = int(round(cfg.warmup_ratio * tr.total_steps))
    tr.scheduler = make_scheduler(
        cfg.lr_scheduler_type, optimizer, warmup=warmup, total=tr.total_steps
    )
    tr.model, tr.optimizer = acc.prepare(branches, optimizer)
    tr.trainable = [p for p in tr.model.parameters() if p.requires_grad]
    acc.register_for_checkpointing(tr.scheduler)
    tr.output_writer = MetricsWriter(
        tr.out, enabled=acc.is_main_process, tensorboard=cfg.tensorboard
    )
