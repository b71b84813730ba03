"""Static per-pair weights from a fixed proxy's score table (JTT-style upweighting).

A proxy computed beforehand (a trained text-only RM's `shortcutlab score` table, or the
cheap-proxy table `shortcutlab audit` writes, `proxy_scores.jsonl`) scores every response
of the training records; a pair the proxy gets wrong (r(better) <= r(worse): ties are
wrong, as in Eq. 2) weighs `upweight` (lambda), every other pair 1. Training then
minimises mean(w L) / mean(w) (`objectives.pair_objective` with `pair_weights`), with no
second branch: it costs the same as standard training (Liu et al. 2021, "Just Train Twice").
(GroupDRO's q is an objective's state: `objectives`, kept by the trainer as a
`state.TensorState`.)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from shortcutlab.data.agreement import check_agreement
from shortcutlab.data.records import Record
from shortcutlab.errors import DataError
from shortcutlab.score_table import read_score_table

_SHOW = 5  # ids named in the error when the table does not cover the records


@dataclass(frozen=True)
class StaticPairWeights:
    """Pair weights keyed by (record id, better, worse) response indices."""

    weights: dict[tuple[str, int, int], float]
    source: str  # the table's path
    upweighted: int  # pairs the proxy gets wrong (weight lambda)

    def for_records(self, records: list[Record]) -> torch.Tensor:
        """(P,) weights of the records' pairs, in `losses.build_pair_index` order."""
        w = [self.weights[(r.id, b, x)] for r in records for b, x in r.pairs]
        return torch.tensor(w, dtype=torch.float32)


def load_static_weights(
    path: str | Path, upweight: float, records: list[Record]
) -> StaticPairWeights:
    """Read the proxy's score table and weigh each pair of `records` (lambda if wrong).

    Raises DataError naming the file, how many records it misses and the first few ids
    when the table does not score every response of a pair of the training records.
    """
    df = read_score_table(path)  # validated: id, response_index, reward
    rewards = {
        (str(i), int(k)): float(v)
        for i, k, v in zip(df["id"], df["response_index"], df["reward"], strict=True)
    }
    weights: dict[tuple[str, int, int], float] = {}
    missing: list[str] = []
    n_wrong = 0
    for rec in records:
        try:
            for better, worse in rec.pairs:
                wrong = rewards[(rec.id, better)] <= rewards[(rec.id, worse)]
                weights[(rec.id, better, worse)] = upweight if wrong else 1.0
                n_wrong += wrong
        except KeyError:
            missing.append(rec.id)
    if missing:
        raise DataError(
            f"the proxy score table does not score {len(missing)} of the {len(records)} "
            f"training records (first: {', '.join(repr(m) for m in missing[:_SHOW])}).",
            file=str(path),
            field="id",
            hint="static_weights needs one row per response of every training record "
            "(id, response_index, reward): score the training file itself with the proxy.",
            reason="static_weights_missing",
        )
    data_file = records[0].loc.file if records and records[0].loc else "the training data"
    check_agreement(records, df, data_file=data_file, table_file=path)  # same responses
    return StaticPairWeights(weights, str(path), n_wrong)
