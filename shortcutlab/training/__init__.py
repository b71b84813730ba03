"""Training reward models in three modes: standard, text-only and shortcut-aware.

    from shortcutlab.config import TrainConfig
    from shortcutlab.training import train

    summary = train(TrainConfig(mode="shortcut-aware", model="models/tiny-llava",
                                data="train.jsonl", output_dir="runs/sa"))

Modules: `branches` (model, freezing, LoRA/QLoRA, the proxy branch), `setup` (accelerator,
optimizer, schedule), `loop` (data order, losses, one step, evaluation), `run` (the loop
driver, logs, checkpoints, summary), `state` (checkpoint and metrics files), `export`
(saving branches as RewardModel folders). Losses are in `shortcutlab.losses`.
"""

from __future__ import annotations

from typing import Any

from shortcutlab.config import TrainConfig

__all__ = ["TrainConfig", "train"]


def train(config: TrainConfig | dict[str, Any], *, command: list[str] | None = None) -> dict:
    """Run one training job and return its summary dict (losses, eval, output paths).

    `config` is a TrainConfig or a mapping of its fields; `command` is recorded in
    command.txt / run_info.json (the CLI passes its argv). Runs on whatever accelerate was
    given: a plain process (CPU or one GPU) or each process of `accelerate launch`.
    """
    from shortcutlab.training.loop import Trainer
    from shortcutlab.training.run import run_loop

    cfg = config if isinstance(config, TrainConfig) else TrainConfig.from_dict(config)
    cfg.validate()
    trainer = Trainer(cfg)
    return run_loop(trainer, command)
