"""The per-step statistics of a run: named values, reduced by their declared rule.

A run's statistics are the `objectives.Stat`s of its mode and objective
(`objectives.run_stats`): each has a name and a reduction (sum / min / max / last) over
micro-steps, ranks and logging windows. `StepStats` holds them as one float64 vector
(so one gather moves them between ranks) but reads and writes them by name only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch

from shortcutlab.objectives import Stat

Gather = Callable[[torch.Tensor], torch.Tensor]  # (1, n) this rank -> (world, n), CPU


class StepStats:
    """The statistics of one run (a fixed list of `Stat`s), reduced by name."""

    def __init__(self, stats: Sequence[Stat]) -> None:
        self.stats = tuple(stats)
        self.names = tuple(s.name for s in self.stats)
        self._index = {name: i for i, name in enumerate(self.names)}
        self._by = {
            rule: [i for i, s in enumerate(self.stats) if s.reduce == rule]
            for rule in ("min", "max", "last")
        }

    def __len__(self) -> int:
        return len(self.stats)

    def vector(self, values: Mapping[str, float]) -> torch.Tensor:
        """A (len(self),) float64 vector from named values (missing names stay 0)."""
        out = torch.zeros(len(self), dtype=torch.float64)
        for name, value in values.items():
            if name not in self._index:
                raise KeyError(f"statistic {name!r} is not one of this run's {self.names}")
            out[self._index[name]] = value
        return out

    def named(self, vector: torch.Tensor) -> dict[str, float]:
        """Name -> value of a (len(self),) vector."""
        return dict(zip(self.names, vector.tolist(), strict=True))

    def _combine(self, rows: torch.Tensor, keep: int) -> torch.Tensor:
        """(M, n) rows -> (n,): sums, min / max of the extremes, row `keep`'s `last`."""
        lo, hi, last = self._by["min"], self._by["max"], self._by["last"]
        out = rows.sum(0)
        out[lo] = rows[:, lo].min(0).values
        out[hi] = rows[:, hi].max(0).values
        out[last] = rows[keep, last]
        return out

    def reduce(
        self, per_micro: torch.Tensor, truncated: int, gather: Gather | None = None
    ) -> torch.Tensor:
        """One step's statistics from its micro-steps' (M, n) and, with `gather`, all ranks.

        Every rank holds the same `last` values (e.g. GroupDRO's q), so rank 0's is kept.
        """
        local = self._combine(per_micro, -1)  # the last micro-step's
        local[self._index["truncated"]] = truncated
        if gather is None:
            return local
        gathered = gather(local.unsqueeze(0))  # (world, n)
        return self._combine(gathered, 0)

    def empty(self) -> torch.Tensor:
        """The neutral window of `accumulate` (zeros; +inf / -inf for the extremes)."""
        window = torch.zeros(len(self), dtype=torch.float64)
        window[self._by["min"]], window[self._by["max"]] = float("inf"), float("-inf")
        return window

    def accumulate(self, window: torch.Tensor, stats: torch.Tensor) -> torch.Tensor:
        """Several steps' statistics (min / max for the extremes, the latest `last`)."""
        lo, hi, last = self._by["min"], self._by["max"], self._by["last"]
        out = window + stats
        out[lo] = torch.minimum(window[lo], stats[lo])
        out[hi] = torch.maximum(window[hi], stats[hi])
        out[last] = stats[last]
        return out

    def row(self, stats: torch.Tensor, step: int, epoch: float, lr: float) -> dict:
        """Metrics of a window of steps (per-pair means, counts, the objective's columns)."""
        s = self.named(stats)
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
        if "proxy_loss" in s:
            row.update(
                loss_mm=s["loss"] / n,
                proxy_loss=s["proxy_loss"] / n,
                proxy_acc=s["proxy_correct"] / n,
                sfc_mean=s["sfc_sum"] / n,
                sfc_min=s["sfc_min"],
                sfc_max=s["sfc_max"],
            )
        if s.get("weight_pairs", 0) > 0:  # reweight / groupdro / static weights
            row.update(
                weight_mean=s["weight_sum"] / s["weight_pairs"],
                weight_min=s["weight_min"],
                weight_max=s["weight_max"],
            )
        row.update({st.name: s[st.name] for st in self.stats if st.column})  # e.g. q0, q1
        return row
