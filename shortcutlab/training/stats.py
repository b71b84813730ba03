"""The per-step statistics vector of training: names, summing, reduction and metric rows.

A leaf module (torch only). One float64 vector of len(STATS) per micro-step holds the sums
`losses.pair_objective` reports (and the rows the collator truncated); micro-steps,
ranks and logging windows add up by summing, except the extremes of the SFC and of the
objectives' pair weights (min / max) and GroupDRO's q (the latest value).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch

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
    "weight_sum",  # reweight / groupdro / static weights: per-pair weights (losses.py)
    "weight_pairs",
    "weight_min",
    "weight_max",
    "q0",  # groupdro: group weights after the step (the latest, not summed)
    "q1",
)
S = {name: i for i, name in enumerate(STATS)}  # statistic name -> index
_LO = [S["sfc_min"], S["weight_min"]]  # reduced by min
_HI = [S["sfc_max"], S["weight_max"]]  # reduced by max
_LAST = [S["q0"], S["q1"]]  # the latest value


def stats_vector(values: Mapping[str, float]) -> torch.Tensor:
    """A (len(STATS),) float64 vector from named values (missing names stay 0)."""
    stats = torch.zeros(len(STATS), dtype=torch.float64)
    for name, value in values.items():
        stats[S[name]] = value
    return stats


def reduce_stats(
    per_micro: torch.Tensor,
    truncated: int,
    gather: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> torch.Tensor:
    """One step's statistics from its micro-steps' (M, len(STATS)) and, with `gather`, ranks.

    Sums over micro-steps (and over ranks: `gather` maps this rank's (1, len(STATS)) to
    all ranks' (world, len(STATS)) on the CPU); min / max of the extremes; q of the last
    micro-step (every rank holds the same q).
    """
    local = per_micro.sum(0)
    local[_LO] = per_micro[:, _LO].min(0).values
    local[_HI] = per_micro[:, _HI].max(0).values
    local[_LAST] = per_micro[-1, _LAST]
    local[S["truncated"]] = truncated
    if gather is None:
        return local
    gathered = gather(local.unsqueeze(0))  # (world, len(STATS))
    total = gathered.sum(0)
    total[_LO] = gathered[:, _LO].min(0).values
    total[_HI] = gathered[:, _HI].max(0).values
    total[_LAST] = gathered[0, _LAST]
    return total


def empty_window() -> torch.Tensor:
    """The neutral element of `accumulate` (zeros; +inf / -inf for the extremes)."""
    window = torch.zeros(len(STATS), dtype=torch.float64)
    window[_LO], window[_HI] = float("inf"), float("-inf")
    return window


def accumulate(window: torch.Tensor, stats: torch.Tensor) -> torch.Tensor:
    """Sum statistics of several steps (min / max for the extremes, the latest q)."""
    out = window + stats
    out[_LO] = torch.minimum(window[_LO], stats[_LO])
    out[_HI] = torch.maximum(window[_HI], stats[_HI])
    out[_LAST] = stats[_LAST]
    return out


def stats_row(stats: torch.Tensor, step: int, epoch: float, lr: float, proxy: bool) -> dict:
    """Metrics of a window of steps from summed statistics (per-pair means, counts)."""
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
    if s["weight_pairs"] > 0:  # reweight / groupdro / static weights
        row.update(
            weight_mean=s["weight_sum"] / s["weight_pairs"],
            weight_min=s["weight_min"],
            weight_max=s["weight_max"],
        )
    if s["q0"] + s["q1"] > 0:  # groupdro
        row.update(q0=s["q0"], q1=s["q1"])
    return row
