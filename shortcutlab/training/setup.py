"""Builders of a run's pieces: accelerator, records and data order (`RunData`),
collators, optimizer and LR schedule.

`trainer.Trainer.__init__` calls them in a fixed order (the RNG is seeded before the
model's head is initialised).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import torch
from torch.optim.lr_scheduler import LambdaLR, LRScheduler

from shortcutlab import distributed
from shortcutlab.config import TrainConfig
from shortcutlab.data.records import Record
from shortcutlab.data.schemas import load_dataset_file
from shortcutlab.errors import ConfigError, DataError
from shortcutlab.modeling.batching import RewardCollator
from shortcutlab.objectives import STANDARD, get_mode
from shortcutlab.training.order import DataOrder
from shortcutlab.training.weighting import StaticPairWeights, load_static_weights

if TYPE_CHECKING:  # accelerate is heavy to import; make_accelerator imports it when used
    from accelerate import Accelerator

log = logging.getLogger(__name__)


@dataclass
class RunData:
    """A run's records and the order it visits them in (built once by `load_run_data`)."""

    records: list[Record]  # training records with at least one pair
    records_without_pairs: int
    skipped: dict[str, int]  # --skip-invalid rows dropped from data, by reason
    eval_records: list[Record]
    eval_skipped: dict[str, int]
    order: DataOrder  # seeded record order, split into micro-steps and ranks
    total_steps: int
    static_weights: StaticPairWeights | None = None  # static_weights: fixed proxy's weights

    @property
    def last_epoch(self) -> int:
        """The epoch of the last step (its per-pair SFC is what save_sfc keeps)."""
        return (self.total_steps - 1) // self.order.steps_per_epoch


def make_accelerator(cfg: TrainConfig) -> Accelerator:
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
    ddp = DistributedDataParallelKwargs(find_unused_parameters=cfg.mode != STANDARD)
    return Accelerator(
        mixed_precision=precision,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        kwargs_handlers=[ddp],
    )


def make_collators(
    cfg: TrainConfig, processor: Any
) -> tuple[RewardCollator, RewardCollator | None]:
    """(primary collator, proxy collator or None) for the mode."""
    mode = get_mode(cfg.mode)
    primary_text_only = None if mode.images else cfg.text_only
    primary = RewardCollator(processor, max_length=cfg.max_length, text_only=primary_text_only)
    if not mode.proxy:
        return primary, None
    if cfg.proxy == "image-only":
        proxy = RewardCollator(processor, max_length=cfg.max_length, drop_prompt=True)
    else:
        proxy = RewardCollator(processor, max_length=cfg.max_length, text_only=cfg.text_only)
    return primary, proxy


def make_optimizer(
    params: list[tuple[str, torch.nn.Parameter]], cfg: TrainConfig
) -> torch.optim.Optimizer:
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


def make_scheduler(
    name: str, optimizer: torch.optim.Optimizer, *, warmup: int, total: int
) -> LRScheduler:
    """The LR schedule `name` (transformers.get_scheduler names).

    The common schedules are built here on torch's LambdaLR: importing
    `transformers.get_scheduler` imports peft and with it bitsandbytes, whose CPU backend
    prints a "Failed to load CPU gemm_4bit_forward" warning on every run that does not
    even quantize. Other names still go to transformers.
    """
    if name == "constant":
        return LambdaLR(optimizer, lambda _: 1.0)
    if name in NATIVE_SCHEDULES:
        fn = partial(_warmup_factor, warmup=warmup, total=total, kind=name)
        return LambdaLR(optimizer, fn)
    from transformers import get_scheduler

    return get_scheduler(name, optimizer, num_warmup_steps=warmup, num_training_steps=total)


def load_training_records(path: str, cfg: TrainConfig) -> tuple[list[Record], int, dict[str, int]]:
    """Records that have at least one pair: (records, n_without_pairs, skipped).

    Text-only training never reads image files (they may be absent). Otherwise images are
    decoded before any work when `check_images` or `skip_invalid` is set, so a truncated
    image cannot stop a run midway: it is an error now, or a counted skip.

    `skipped` counts the rows `--skip-invalid` dropped, by reason ("missing_field": 2, ...),
    so the run can report them (summary, run_info.json) instead of losing them silently.
    """
    uses_images = get_mode(cfg.mode).images  # text-only (drop / blank) reads no image file
    result = load_dataset_file(
        path,
        schema=cfg.schema,
        skip_invalid=cfg.skip_invalid,
        image_root=cfg.image_root,
        images="require" if uses_images else "ignore",
        # decoded up front: a bad image is skipped (counted) or an error before any work
        check_images=uses_images and (cfg.check_images or cfg.skip_invalid),
    )
    skipped = {k: int(v) for k, v in result.skipped.items() if v}
    if skipped:
        log.warning(
            "%s: skipped %d invalid rows (%s)",
            path,
            sum(skipped.values()),
            ", ".join(f"{k}: {v}" for k, v in sorted(skipped.items())),
        )
    usable = [r for r in result.records if r.pairs]
    if not usable:
        raise DataError(
            "no record has a preference pair to train on.",
            file=str(path),
            hint="pairwise data needs chosen/rejected; multi-response data needs scores "
            "with at least one strict difference.",
            reason="no_pairs",
        )
    return usable, len(result.records) - len(usable), skipped


def check_steps(n_records: int, global_batch: int, path: str) -> int:
    """Optimizer steps per epoch (the last partial global batch is dropped)."""
    steps = n_records // global_batch
    if steps == 0:
        raise ConfigError(
            f"{path}: {n_records} records with pairs is fewer than one global batch "
            f"({global_batch} = per-device batch x processes x accumulation steps). "
            "Lower per_device_train_batch_size or gradient_accumulation_steps."
        )
    return steps


def total_steps(cfg: TrainConfig, steps_per_epoch: int) -> int:
    """max_steps when set, else the epochs' steps (at least one)."""
    if cfg.max_steps > 0:
        return cfg.max_steps
    return max(1, math.ceil(cfg.num_train_epochs * steps_per_epoch))


def load_run_data(cfg: TrainConfig, world: int, rank: int) -> RunData:
    """Training and eval records, static weights and the data order of this rank."""
    records, without_pairs, skipped = load_training_records(cfg.data, cfg)
    eval_records: list[Record] = []
    eval_skipped: dict[str, int] = {}
    if cfg.eval_data:
        eval_records, _, eval_skipped = load_training_records(cfg.eval_data, cfg)
    static = None
    if cfg.static_weights:  # before the model loads: a table that misses records fails fast
        static = load_static_weights(cfg.static_weights, cfg.upweight, records)
    b, accum = cfg.per_device_train_batch_size, cfg.gradient_accumulation_steps
    order = DataOrder(
        records,
        seed=cfg.seed,
        per_device=b,
        accumulation=accum,
        world=world,
        rank=rank,
        steps_per_epoch=check_steps(len(records), b * world * accum, cfg.data),
    )
    return RunData(
        records=records,
        records_without_pairs=without_pairs,
        skipped=skipped,
        eval_records=eval_records,
        eval_skipped=eval_skipped,
        order=order,
        total_steps=total_steps(cfg, order.steps_per_epoch),
        static_weights=static,
    )
