"""Training reward models in three modes: standard, text-only and shortcut-aware.

    from shortcutlab import TrainConfig, train

    result = train(TrainConfig(mode="shortcut-aware", model="models/tiny-llava",
                               data="train.jsonl", output_dir="runs/sa"))
    result.model_dir, result.eval, result.train_losses

`train(cfg)` is `trainer.Trainer(cfg).train()`: the Trainer sets the run up (accelerator,
records and `order.DataOrder` via `setup`, branches, collators, optimizer, schedule,
metrics writer), runs its step loop (resume, logs, evaluation, checkpoints) and saves
(`export`), returning a `result.TrainResult`. Leaves: `stats` (named per-step
statistics), `state` (checkpoint and metrics files, objective state), `run` (the run
folder's bookkeeping files), `branches` (model, freezing, LoRA/QLoRA, the proxy branch),
`export` (saving branches as RewardModel folders). Modes and objectives, with their
statistics, come from `shortcutlab.objectives`.
"""

from __future__ import annotations

from typing import Any

from shortcutlab.config import TrainConfig
from shortcutlab.run_folder import prepare_run_folder
from shortcutlab.training.result import TrainResult

__all__ = ["TrainConfig", "TrainResult", "train"]


def train(
    config: TrainConfig | dict[str, Any],
    *,
    command: list[str] | None = None,
    overwrite: bool = False,
) -> TrainResult:
    """Run one training job and return its `TrainResult` (losses, eval, output paths).

    `config` is a TrainConfig or a mapping of its fields; `command` is recorded in
    command.txt / run_info.json (the CLI passes its argv). Runs on whatever accelerate was
    given: a plain process (CPU or one GPU) or each process of `accelerate launch`.
    An output_dir holding a finished or different run is refused (ConfigError) unless
    `overwrite=True`, which clears it first (`shortcutlab.run_folder`).
    """
    from shortcutlab.training.trainer import Trainer  # torch / accelerate: only when training

    cfg = config if isinstance(config, TrainConfig) else TrainConfig.from_dict(config)
    cfg.validate()
    prepare_run_folder(cfg.to_dict(), overwrite=overwrite)
    return Trainer(cfg).train(command)
