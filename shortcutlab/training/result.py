"""`TrainResult`: what `training.train` returns (and `summary.json` holds), typed.

A leaf module (no torch): `import shortcutlab` exports it without loading the trainer.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


@dataclass
class TrainResult:
    """The summary of one training run, the same on every rank.

    `to_dict()` is `summary.json` (what `shortcutlab train --json` prints). Item access
    (`result["steps"]`, `result.get("proxy_dir")`) reads the same keys, for code written
    against the summary dict `train()` returned before.
    """

    output_dir: str
    mode: str
    model_dir: str  # the exported primary branch (what scoring loads)
    proxy_dir: str | None  # the exported proxy branch (shortcut-aware), else None
    steps: int  # optimizer steps of the whole run
    start_step: int  # the step this process started from (> 0 when resumed)
    steps_per_epoch: int
    global_batch_records: int
    processes: int
    records: int  # training records with at least one pair
    records_without_pairs: int
    skipped: dict[str, int]  # --skip-invalid rows dropped from data, by reason
    eval_skipped: dict[str, int]
    trainable_parameters: int
    parameters: int
    train_losses: list[float]  # the objective of every step this process ran
    final_train: dict[str, Any] | None  # the last step's metrics row
    eval: dict[str, Any] | None  # the final evaluation row (eval_data), else None
    eval_history: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0  # wall time of the step loop

    def to_dict(self) -> dict[str, Any]:
        """The summary as a plain dict (summary.json), keys in field order."""
        return dataclasses.asdict(self)

    def __getitem__(self, key: str) -> Any:
        if key not in self.__dataclass_fields__:
            raise KeyError(key)
        return getattr(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key) if key in self.__dataclass_fields__ else default
