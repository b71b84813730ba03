"""Training reward models in three modes: standard, text-only and shortcut-aware.

    from shortcutlab.config import TrainConfig
from shortcutlab.run_folder import prepare_run_folder
    from shortcutlab.training import train

    summary = train(TrainConfig(mode="shortcut-aware", model="models/tiny-llava",
                                data="train.jsonl", output_dir="runs/sa"))

Parts -> loop -> driver, each module importing only the ones before it:
`setup.build(cfg) -> RunParts` (accelerator, records, `order.DataOrder`, branches,
collators, optimizer, schedule, metrics writer), `loop.Trainer(parts)` (forward,
objective, one optimizer step, evaluation), `run.run_training(trainer)` (resume, the
step loop, logs, checkpoints, export, summary). Leaves: `stats` (the per-step statistics
vector), `state` (checkpoint and metrics files), `branches` (model, freezing, LoRA/QLoRA,
the proxy branch), `export` (saving branches as RewardModel folders). The objective and
its statistics come from `shortcutlab.losses.pair_objective`.
"""

from __future__ import annotations

from typing import Any

from shortcutlab.config import TrainConfig
from shortcutlab.run_folder import prepare_run_folder

__all__ = ["TrainConfig", "train"]


def train(
    config: TrainConfig | dict[str, Any],
    *,
    command: list[str] | None = None,
    overwrite: bool = False,
) -> dict:
    """Run one training job and return its summary dict (losses, eval, output paths).

    `config` is a TrainConfig or a mapping of its fields; `command` is recorded in
    command.txt / run_info.json (the CLI passes its argv). Runs on whatever accelerate was
    given: a plain process (CPU or one GPU) or each process of `accelerate launch`.
    An output_dir holding a finished or different run is refused (ConfigError) unless
    `overwrite=True`, which clears it first (`shortcutlab.run_folder`).
    """
    from shortcutlab.training.loop import Trainer  # torch / accelerate: only when training
    from shortcutlab.training.run import run_training
    from shortcutlab.training.setup import build

    cfg = config if isinstance(config, TrainConfig) else TrainConfig.from_dict(config)
    cfg.validate()
    prepare_run_folder(cfg.to_dict(), overwrite=overwrite)
    return run_training(Trainer(build(cfg)), command)
