"""The training loop of the three modes, on accelerate (CPU, one GPU, DDP/FSDP/DeepSpeed).

A batch is a list of records; every forward runs all K responses of each record in one
pass and reads all pairs' losses from the K rewards (`losses.build_pair_index`).
- standard:       loss = mean L over pairs (Eq. 1), images fed.
- text-only:      the same loss on inputs without the image (Eq. 3; `drop` or `blank`).
- shortcut-aware: primary branch (images) + proxy branch (text-only, or image-only App. F),
                  total = mean(SFC * L) + mean(L_t), SFC from detached losses (Eq. 5, 7).

Data order is owned here, not by a DataLoader: epoch e visits the records in
`randperm(n, seed + e)`; optimizer step s takes the next global batch
(per_device_train_batch_size x processes x gradient_accumulation_steps records), split into
micro-steps and then contiguously over ranks. Each micro-step's loss is scaled so the
accumulated, rank-averaged gradient is the gradient of the mean over all pairs of the
step: N processes give the same updates as one process with the same global batch, and
resuming only needs the step number.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any

import torch

from shortcutlab.config import TrainConfig
from shortcutlab.data.records import Record
from shortcutlab.errors import ConfigError, DataError, ModelError
from shortcutlab.losses import bradley_terry_loss, build_pair_index, shortcut_aware_loss

# per-step statistics, summed over micro-steps and ranks (min/max reduced separately)
STATS = (
    "objective",
    "loss",
    "correct",
    "ties",
    "pairs",
    "proxy_loss",
    "proxy_correct",
    "sfc_sum",
    "sfc_min",
    "sfc_max",
    "truncated",
)
S = {name: i for i, name in enumerate(STATS)}  # statistic name -> index
log = logging.getLogger(__name__)


def load_training_records(path: str, cfg: TrainConfig) -> tuple[list[Record], int, dict[str, int]]:
    """Records that have at least one pair: (records, n_without_pairs, skipped).

    `skipped` counts the rows `--skip-invalid` dropped, by reason ("missing_field": 2, ...),
    so the run can report them (summary, run_info.json) instead of losing them silently.
    """
    from shortcutlab.data.schemas import load_dataset_file

    result = load_dataset_file(
        path, schema=cfg.schema, skip_invalid=cfg.skip_invalid, image_root=cfg.image_root
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


class Trainer:
    """One run: model + proxy branches, optimizer, schedule, data order, logs, checkpoints."""

    def __init__(self, cfg: TrainConfig) -> None:
        from shortcutlab.training.setup import setup_run

        self.cfg = cfg
        self.out = Path(cfg.output_dir)
        setup_run(self)  # accelerator, data, branches, collators, optimizer, scheduler, logs
        self.share_images = True
        self.history: list[dict[str, float]] = []
        self.sfc_rows: list[dict[str, Any]] = []
        self.eval_results: list[dict[str, Any]] = []

    # ------------------------------------------------------------------ data order
    def step_records(self, step: int) -> tuple[list[list[Record]], int]:
        """This rank's micro-batches of global step `step`, and the step's pair count."""
        epoch, i = divmod(step, self.steps_per_epoch)
        order = self.epoch_order(epoch)
        g = self.global_batch
        step_ids = order[i * g : (i + 1) * g]
        b, w, r = self.cfg.per_device_train_batch_size, self.world, self.rank
        micro = []
        for m in range(self.cfg.gradient_accumulation_steps):
            chunk = step_ids[m * b * w : (m + 1) * b * w]
            micro.append([self.records[j] for j in chunk[r * b : (r + 1) * b]])
        n_pairs = sum(len(self.records[j].pairs) for j in step_ids)
        return micro, n_pairs

    def epoch_order(self, epoch: int) -> list[int]:
        """The seeded record order of one epoch (the same on every rank and on resume)."""
        if epoch not in self._orders:
            gen = torch.Generator().manual_seed(self.cfg.seed + epoch)
            self._orders = {epoch: torch.randperm(len(self.records), generator=gen).tolist()}
        return self._orders[epoch]

    # ------------------------------------------------------------------ forward
    def encode(self, collator: Any, records: list[Record]) -> dict[str, Any]:
        batch = collator.encode(records, share_images=self.share_images)
        self._truncated += batch.truncated
        return batch.to(self.accelerator.device).inputs

    def forward_losses(self, records: list[Record], model: Any) -> dict[str, torch.Tensor]:
        """Per-pair losses of the trained branch(es) for a list of records."""
        pidx = build_pair_index([r.pairs for r in records], [len(r.responses) for r in records])
        inputs = self.encode(self.collator, records)
        proxy_inputs = self.encode(self.proxy_collator, records) if self.proxy_collator else None
        with self.accelerator.autocast():
            try:
                rewards, proxy_rewards = model(inputs, proxy_inputs)
            except ModelError:
                if not self.share_images:
                    raise
                self.share_images = False  # e.g. multi-tile images: encode per row instead
                return self.forward_losses(records, model)
        pairs = pidx.pairs.to(rewards.device)
        out = {"pairs": pairs, "rewards": rewards, "loss": bradley_terry_loss(rewards, pairs)}
        if proxy_rewards is not None:
            out["proxy_rewards"] = proxy_rewards
            out["proxy_loss"] = bradley_terry_loss(proxy_rewards, pairs)
        return out

    def micro_step(self, records: list[Record], n_pairs_step: int, step: int) -> torch.Tensor:
        """Forward + backward of one micro-batch; returns its statistics (len(STATS),)."""
        out = self.forward_losses(records, self.model)
        loss = out["loss"]  # (P,)
        values: dict[str, float] = {}
        if "proxy_loss" in out:
            objective, weights = shortcut_aware_loss(
                loss,
                out["proxy_loss"],
                official_eps=self.cfg.sfc_official_eps,
                normalize=self.cfg.sfc_normalize,
            )  # weights: (P,) SFC, detached
            self._record_sfc(records, out, weights, step)
            proxy_margins = _margins(out["proxy_rewards"], out["pairs"])
            values.update(
                proxy_loss=out["proxy_loss"].detach().sum().item(),
                proxy_correct=(proxy_margins > 0).sum().item(),
                sfc_sum=weights.sum().item(),
                sfc_min=weights.min().item(),
                sfc_max=weights.max().item(),
            )
        else:
            objective = loss.mean()
        p_local = loss.numel()
        # scale: sum over this rank's pairs / all pairs of the step, x world (DDP averages
        # over ranks) x accumulation steps (accelerate divides each micro-loss by them)
        accum = self.cfg.gradient_accumulation_steps
        self.accelerator.backward(objective * (p_local * self.world * accum / n_pairs_step))
        margins = _margins(out["rewards"], out["pairs"])  # (P,)
        values.update(
            objective=objective.detach().double().item() * p_local,
            loss=loss.detach().sum().item(),
            correct=(margins > 0).sum().item(),
            ties=(margins == 0).sum().item(),
            pairs=p_local,
        )
        stats = torch.zeros(len(STATS), dtype=torch.float64)
        for name, value in values.items():
            stats[S[name]] = value
        return stats

    def _record_sfc(self, records: list[Record], out: dict, weights: torch.Tensor, step: int):
        """Keep per-pair SFC of the last epoch (pairs in build_pair_index order)."""
        if not (self.cfg.save_sfc and step // self.steps_per_epoch == self.last_epoch):
            return
        w, lm, lt = weights.tolist(), out["loss"].tolist(), out["proxy_loss"].tolist()
        p = 0
        for rec in records:
            for better, worse in rec.pairs:
                self.sfc_rows.append(
                    {
                        "id": rec.id,
                        "better": better,
                        "worse": worse,
                        "sfc": w[p],
                        "loss": lm[p],
                        "proxy_loss": lt[p],
                        "step": step + 1,
                    }
                )
                p += 1

    # ------------------------------------------------------------------ one optimizer step
    def train_step(self, step: int) -> torch.Tensor:
        """One optimizer step over the step's micro-batches (accelerate's accumulation, so
        DDP syncs and DeepSpeed steps only at the last micro-batch)."""
        micro, n_pairs = self.step_records(step)
        self.model.train()
        stats = []
        acc = self.accelerator
        for records in micro:
            with acc.accumulate(self.model):
                stats.append(self.micro_step(records, n_pairs, step))
                if acc.sync_gradients:
                    if self.cfg.max_grad_norm > 0:
                        acc.clip_grad_norm_(self.trainable, self.cfg.max_grad_norm)
                    self.optimizer.step()
                    self.scheduler.step()
                    self.optimizer.zero_grad(set_to_none=True)
        return self.reduce_stats(torch.stack(stats))

    def reduce_stats(self, per_micro: torch.Tensor) -> torch.Tensor:
        """Sum sums over micro-steps and ranks; min/max of SFC over all of them."""
        local = per_micro.sum(0)
        local[S["sfc_min"]] = per_micro[:, S["sfc_min"]].min()
        local[S["sfc_max"]] = per_micro[:, S["sfc_max"]].max()
        local[S["truncated"]] = self._truncated
        self._truncated = 0
        if self.world == 1:
            return local
        gathered = self.accelerator.gather(local.to(self.accelerator.device).unsqueeze(0)).cpu()
        total = gathered.sum(0)
        total[S["sfc_min"]] = gathered[:, S["sfc_min"]].min()
        total[S["sfc_max"]] = gathered[:, S["sfc_max"]].max()
        return total

    # ------------------------------------------------------------------ evaluation
    @torch.no_grad()
    def evaluate(self, step: int) -> dict[str, Any]:
        """Accuracy (Eq. 2, ties wrong) and loss of the trained branch(es) on eval_data."""
        self.model.eval()
        mine = self.eval_records[self.rank :: self.world]
        bs = self.cfg.per_device_eval_batch_size
        sums = torch.zeros(6, dtype=torch.float64)  # loss, correct, ties, pairs, p_loss, p_corr
        for i in range(0, len(mine), bs):
            out = self.forward_losses(mine[i : i + bs], self.model)
            margins = _margins(out["rewards"], out["pairs"])
            sums[:4] += torch.tensor(
                [
                    out["loss"].sum().item(),
                    (margins > 0).sum().item(),
                    (margins == 0).sum().item(),
                    margins.numel(),
                ],
                dtype=torch.float64,
            )
            if "proxy_loss" in out:
                sums[4] += out["proxy_loss"].sum().item()
                sums[5] += (_margins(out["proxy_rewards"], out["pairs"]) > 0).sum().item()
        if self.world > 1:
            sums = self.accelerator.reduce(sums.to(self.accelerator.device), "sum").cpu()
        n = max(sums[3].item(), 1.0)
        row = {
            "split": "eval",
            "step": step,
            "eval_loss": sums[0].item() / n,
            "eval_acc": sums[1].item() / n,
            "eval_ties": int(sums[2]),
            "eval_pairs": int(n),
        }
        if self.proxy_collator is not None:
            row["eval_proxy_loss"] = sums[4].item() / n
            row["eval_proxy_acc"] = sums[5].item() / n
        self.model.train()
        return row

    # ------------------------------------------------------------------ the run
    def fit(self) -> dict[str, Any]:
        from shortcutlab.training.run import run_loop

        return run_loop(self)


def stats_row(stats: torch.Tensor, step: int, epoch: float, lr: float, proxy: bool) -> dict:
    """Metrics of a window of steps from summed statistics."""
    s = dict(zip(STATS, stats.tolist(), strict=True))
    n = max(s["pairs"], 1.0)
    row = {
        "split": "train",
        "step": step,
        "epoch": round(epoch, 4),
        "lr": lr,
        "loss": s["objective"] / n,
        "acc": s["correct"] / n,
        "ties": int(s["ties"]),
        "pairs": int(s["pairs"]),
        "truncated": int(s["truncated"]),
    }
    if proxy:
        row.update(
            loss_mm=s["loss"] / n,
            proxy_loss=s["proxy_loss"] / n,
            proxy_acc=s["proxy_correct"] / n,
            sfc_mean=s["sfc_sum"] / n,
            sfc_min=s["sfc_min"],
            sfc_max=s["sfc_max"],
        )
    return row


def _margins(rewards: torch.Tensor, pairs: torch.Tensor) -> torch.Tensor:
    return (rewards[pairs[:, 0]] - rewards[pairs[:, 1]]).detach().float()


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


def lr_now(scheduler: Any) -> float:
    return float(scheduler.get_last_lr()[0])


def elapsed(start: float) -> float:
    return round(time.time() - start, 3)


def total_steps(cfg: TrainConfig, steps_per_epoch: int) -> int:
    if cfg.max_steps > 0:
        return cfg.max_steps
    return max(1, math.ceil(cfg.num_train_epochs * steps_per_epoch))
