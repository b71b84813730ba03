"""One training step and one evaluation of the three modes, on a run's `RunParts`.

A batch is a list of records; every forward runs all K responses of each record in one
pass (by default one packed row per record: its prefix once, its K answers after, see
`modeling.packing`) and reads all pairs' losses from the K rewards
(`losses.build_pair_index`); the
objective and its statistics come from `losses.pair_objective`:
- standard:       loss = mean L over pairs (Eq. 1), images fed.
- text-only:      the same loss on inputs without the image (Eq. 3; `drop` or `blank`).
- shortcut-aware: primary branch (images) + proxy branch (text-only, or image-only App. F),
                  total = mean(SFC * L) + mean(L_t), SFC from detached losses (Eq. 5, 7).

Records come from the run's `DataOrder` (seeded, split into micro-steps and ranks). Each
micro-step's loss is scaled so the accumulated, rank-averaged gradient is the gradient of
the mean over all pairs of the step: N processes give the same updates as one process
with the same global batch, and resuming only needs the step number.
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from torch.optim.lr_scheduler import LRScheduler

from shortcutlab.data.records import Record
from shortcutlab.losses import (
    ObjectiveOptions,
    PairObjective,
    Reduce,
    build_pair_index,
    pair_objective,
)
from shortcutlab.modeling.batching import RewardCollator
from shortcutlab.modeling.forward import with_shared_images
from shortcutlab.modeling.signals import PrefixSharingUnsupported
from shortcutlab.training.setup import RunParts
from shortcutlab.training.stats import reduce_stats, stats_vector
from shortcutlab.training.weighting import GroupWeights

log = logging.getLogger(__name__)
_EVAL_SUMS = ("loss", "correct", "ties", "pairs", "proxy_loss", "proxy_correct")


class Trainer:
    """Owns the step of one run: forward, objective, backward, optimizer step, evaluation.

    State kept across steps: whether the model shares image encodings and packs each
    record into one row (`prefix_sharing`; off for good on `PrefixSharingUnsupported`,
    logged once), the rows truncated since the last step, the per-pair SFC rows of the
    last epoch (`save_sfc`) and, for objective groupdro, the group weights q
    (checkpointed with the model).
    """

    def __init__(self, parts: RunParts) -> None:
        self.parts = parts
        self.cfg = parts.cfg
        self.share_images = True  # off for good once the model raises SharedImageUnsupported
        self.pack = self.cfg.prefix_sharing  # off for good on PrefixSharingUnsupported
        self.sfc_rows: list[dict[str, Any]] = []
        self._truncated = 0
        cfg = self.cfg
        self.options = ObjectiveOptions(
            objective=cfg.objective,
            official_eps=cfg.sfc_official_eps,
            normalize=cfg.sfc_normalize,
            focal_gamma=cfg.focal_gamma,
            dro_eta=cfg.dro_eta,
        )
        self.groups: GroupWeights | None = None
        if parts.proxy and cfg.objective == "groupdro":
            self.groups = GroupWeights()
            parts.accelerator.register_for_checkpointing(self.groups)  # restored on resume

    # ------------------------------------------------------------------ forward
    def encode(self, collator: RewardCollator, records: list[Record], share: bool) -> dict:
        """Model inputs of `records` on this rank's device (counts truncated rows).

        With packing on (and shared images, which it needs) each row carries its record's
        position (`pack_groups`), so `RewardModel.forward` runs one packed row per record.
        """
        batch = collator.encode(records, share_images=share)
        self._truncated += batch.truncated
        if share and self.pack:
            batch.inputs["pack_groups"] = torch.tensor([i for i, _ in batch.index])
        return batch.to(self.parts.accelerator.device).inputs

    def forward(
        self, records: list[Record], share: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(rewards (N,), proxy rewards (N,) or None) of the trained branch(es)."""
        p = self.parts
        inputs = self.encode(p.collator, records, share)
        proxy_inputs = self.encode(p.proxy_collator, records, share) if p.proxy else None
        with p.accelerator.autocast():
            return p.model(inputs, proxy_inputs)

    def objective(
        self, records: list[Record], reduce: Reduce | None = None, *, training: bool = True
    ) -> PairObjective:
        """Losses, objective and statistics of one list of records (Eq. 1, 3, 5, 7, and the
        other mitigations); `reduce` sums weight and group totals over the step's ranks.
        Evaluation (`training=False`) needs no static weights: eval records have none."""
        pidx = build_pair_index([r.pairs for r in records], [len(r.responses) for r in records])
        rewards, proxy_rewards = self._rewards(records)
        static = self.parts.static_weights if training else None
        return pair_objective(
            rewards,
            proxy_rewards,
            pidx.pairs.to(rewards.device),
            options=self.options,
            pair_weights=static.for_records(records) if static else None,
            group_q=self.groups.q if self.groups else None,
            reduce=reduce,
        )

    def _rewards(self, records: list[Record]) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Both branches' rewards; a model that cannot pack or share images stops asking."""
        try:
            (rewards, proxy), self.share_images = with_shared_images(
                lambda share: self.forward(records, share), self.share_images
            )  # e.g. multi-tile images: encode per row from now on
        except PrefixSharingUnsupported as exc:  # raised before the backbone runs
            log.warning("prefix sharing off (%s); training one row per response", exc)
            self.pack = False
            return self._rewards(records)
        return rewards, proxy

    # ------------------------------------------------------------------ one optimizer step
    def micro_step(self, records: list[Record], n_pairs_step: int, step: int) -> torch.Tensor:
        """Forward + backward of one micro-batch; returns its statistics (len(STATS),)."""
        out = self.objective(records, self._reduce if self.parts.world > 1 else None)
        if out.group_q is not None:  # GroupDRO: q after this micro-batch (the same on all ranks)
            self.groups.q = out.group_q
        if out.sfc is not None:
            self._record_sfc(records, out, step)
        p_local = out.loss.numel()
        # scale: sum over this rank's pairs / all pairs of the step, x world (DDP averages
        # over ranks) x accumulation steps (accelerate divides each micro-loss by them)
        accum = self.cfg.gradient_accumulation_steps
        scale = p_local * self.parts.world * accum / n_pairs_step
        self.parts.accelerator.backward(out.objective * scale)
        return stats_vector(out.stats)

    def _record_sfc(self, records: list[Record], out: PairObjective, step: int) -> None:
        """Keep per-pair SFC of the last epoch (pairs in build_pair_index order)."""
        if not (self.cfg.save_sfc and step // self.parts.steps_per_epoch == self.parts.last_epoch):
            return
        w, lm, lt = out.sfc.tolist(), out.loss.tolist(), out.proxy_loss.tolist()
        p = 0
        for rec in records:
            for better, worse in rec.pairs:
                row = {"id": rec.id, "better": better, "worse": worse, "sfc": w[p]}
                self.sfc_rows.append({**row, "loss": lm[p], "proxy_loss": lt[p], "step": step + 1})
                p += 1

    def train_step(self, step: int) -> torch.Tensor:
        """One optimizer step over the step's micro-batches (accelerate's accumulation, so
        DDP syncs and DeepSpeed steps only at the last micro-batch); summed statistics."""
        p = self.parts
        micro, n_pairs = p.order.step_records(step)
        p.model.train()
        stats = []
        acc = p.accelerator
        for records in micro:
            with acc.accumulate(p.model):
                stats.append(self.micro_step(records, n_pairs, step))
                if acc.sync_gradients:
                    if self.cfg.max_grad_norm > 0:
                        acc.clip_grad_norm_(p.trainable, self.cfg.max_grad_norm)
                    p.optimizer.step()
                    p.scheduler.step()
                    p.optimizer.zero_grad(set_to_none=True)
        truncated, self._truncated = self._truncated, 0
        gather = None if p.world == 1 else self._gather
        return reduce_stats(torch.stack(stats), truncated, gather)

    def _reduce(self, local: torch.Tensor) -> torch.Tensor:
        """A float64 vector summed over all ranks, on the CPU (weight and group totals)."""
        acc = self.parts.accelerator
        return acc.reduce(local.to(acc.device), "sum").cpu()

    def _gather(self, local: torch.Tensor) -> torch.Tensor:
        """All ranks' (world, len(STATS)) statistics on the CPU."""
        acc = self.parts.accelerator
        return acc.gather(local.to(acc.device)).cpu()

    # ------------------------------------------------------------------ evaluation
    @torch.no_grad()
    def evaluate(self, step: int) -> dict[str, Any]:
        """Accuracy (Eq. 2, ties wrong) and loss of the trained branch(es) on eval_data."""
        p = self.parts
        p.model.eval()
        mine = p.eval_records[p.rank :: p.world]
        bs = self.cfg.per_device_eval_batch_size
        sums = torch.zeros(len(_EVAL_SUMS), dtype=torch.float64)  # summed _EVAL_SUMS
        for i in range(0, len(mine), bs):
            stats = self.objective(mine[i : i + bs], training=False).stats
            sums[:4] += torch.tensor([stats[k] for k in _EVAL_SUMS[:4]], dtype=torch.float64)
            if p.proxy:
                sums[4] += stats["proxy_loss"]
                sums[5] += stats["proxy_correct"]
        if p.world > 1:
            sums = p.accelerator.reduce(sums.to(p.accelerator.device), "sum").cpu()
        n = max(sums[3].item(), 1.0)
        row = {
            "split": "eval",
            "step": step,
            "eval_loss": sums[0].item() / n,
            "eval_acc": sums[1].item() / n,
            "eval_ties": int(sums[2]),
            "eval_pairs": int(n),
        }
        if p.proxy:
            row["eval_proxy_loss"] = sums[4].item() / n
            row["eval_proxy_acc"] = sums[5].item() / n
        p.model.train()
        return row


def lr_now(scheduler: LRScheduler) -> float:
    """The current learning rate of the first parameter group."""
    return float(scheduler.get_last_lr()[0])
