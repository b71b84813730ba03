"""Data order of a run: which records each rank trains on at each optimizer step.

Owned here, not by a DataLoader: epoch e visits the records in `randperm(n, seed + e)`;
optimizer step s takes the next global batch (per_device_train_batch_size x processes x
gradient_accumulation_steps records), split into micro-steps and then contiguously over
ranks. The order depends only on (seed, n, step), so resuming needs only the step number
and N processes see the same global batches as one process.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from shortcutlab.data.records import Record


@dataclass
class DataOrder:
    """The seeded step -> records map of one run, on one rank."""

    records: list[Record]
    seed: int
    per_device: int  # records per micro-batch on one rank
    accumulation: int  # micro-steps per optimizer step
    world: int
    rank: int
    steps_per_epoch: int
    _orders: dict[int, list[int]] = field(default_factory=dict, repr=False)

    @property
    def global_batch(self) -> int:
        """Records per optimizer step, over all micro-steps and ranks."""
        return self.per_device * self.world * self.accumulation

    def epoch_order(self, epoch: int) -> list[int]:
        """The seeded record order of one epoch (the same on every rank and on resume)."""
        if epoch not in self._orders:
            gen = torch.Generator().manual_seed(self.seed + epoch)
            self._orders = {epoch: torch.randperm(len(self.records), generator=gen).tolist()}
        return self._orders[epoch]

    def step_records(self, step: int) -> tuple[list[list[Record]], int]:
        """This rank's micro-batches of global step `step`, and the step's pair count."""
        epoch, i = divmod(step, self.steps_per_epoch)
        order = self.epoch_order(epoch)
        g = self.global_batch
        step_ids = order[i * g : (i + 1) * g]
        b, w, r = self.per_device, self.world, self.rank
        micro = []
        for m in range(self.accumulation):
            chunk = step_ids[m * b * w : (m + 1) * b * w]
            micro.append([self.records[j] for j in chunk[r * b : (r + 1) * b]])
        n_pairs = sum(len(self.records[j].pairs) for j in step_ids)
        return micro, n_pairs
