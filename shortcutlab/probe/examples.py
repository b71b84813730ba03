"""The records whose reward a probe test moved most: what the HTML report shows per test.

`biggest_changes(battery, rewards, test, sd, k)` ranks a test's variant records by their
largest |reward change| over the responses the variant changed, in units of `sd` (the
card's reward sd on the original responses, `shortcutlab.probe.stats`), and returns the
top `k` with every response's reward before and after and the flipped preferences,
counted exactly as the card counts them (`stats`' per-record counts: image tests over
all C(K, 2) pairs, edit tests over the pairs (i, j != i) of each edited response).

Rewards come from `stats.reward_lookup` of the score tables; a test whose tables miss a
response raises the same DataError as `probe report` (naming the variant file).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from shortcutlab.data.records import Record
from shortcutlab.data.schemas import load_dataset_file
from shortcutlab.probe.battery import Battery, variant_rows
from shortcutlab.probe.stats import Rewards, edit_counts, image_counts, require_rewards

DEFAULT_K = 5


@dataclass
class Change:
    """One variant record and how its rewards moved (indices are response indices)."""

    variant_id: str
    base_id: str
    edited: list[int]  # responses the variant changed (every one for an image test)
    before: list[float]  # (K,) rewards of the original responses
    after: list[float]  # (K,) rewards with the variant (unchanged responses as before)
    moved_sd: float  # max |after - before| / sd over `edited`
    flips: int  # preferences that changed
    pairs: int  # preferences compared
    original: Record | None = None  # the base record (texts, image)
    variant: Record | None = None  # the variant record (edited texts, swapped image)
    deltas_sd: list[float] = field(default_factory=list)  # (K,) (after - before) / sd


def originals(battery: Battery) -> dict[str, Record]:
    """The battery's original records by id (image references kept, nothing decoded)."""
    recs = load_dataset_file(battery.original, images="ignore").records
    return {str(r.id): r for r in recs}


def biggest_changes(
    battery: Battery,
    rewards: Rewards,
    test: str,
    sd: float,
    k: int = DEFAULT_K,
    base: dict[str, Record] | None = None,
) -> list[Change]:
    """The `k` records of `test` whose reward moved most (ties: file order).

    Raises DataError (as `probe report` does) when the tables miss a response of the
    originals or of the test's variant file.
    """
    base = base if base is not None else originals(battery)
    every = {bid: list(range(len(r.responses))) for bid, r in base.items()}
    require_rewards(rewards, every, "original", str(battery.original))
    rows = variant_rows(battery, test)
    edited = {v: r["edited"] for v, r in rows.items()}
    require_rewards(rewards, edited, test, str(battery.file(test)))
    kind = battery.manifest["tests"][test]["kind"]
    unit = sd if sd == sd and sd > 0 else 1.0  # no sd (one response): raw reward units
    changes = []
    for vid, row in rows.items():
        bid = row["base_id"]
        r_o = np.array([rewards[bid][i] for i in every[bid]])  # (K,)
        r_v = r_o.copy()
        r_v[row["edited"]] = [rewards[vid][i] for i in row["edited"]]
        if kind == "image":
            counts = image_counts(r_o, r_v, [], unit)
            flips, pairs = counts[0], counts[1]
        else:
            counts = edit_counts(r_o, r_v, row["edited"], unit)
            flips, pairs = counts[3], counts[4]
        deltas = (r_v - r_o) / unit  # (K,)
        moved = float(np.max(np.abs(deltas[row["edited"]]))) if row["edited"] else 0.0
        changes.append(
            Change(vid, bid, row["edited"], r_o.tolist(), r_v.tolist(), moved, int(flips),
                   int(pairs), original=base.get(bid), deltas_sd=deltas.tolist())
        )  # fmt: skip
    top = sorted(changes, key=lambda c: -c.moved_sd)[:k]
    _attach_variants(battery, test, top)
    return top


def _attach_variants(battery: Battery, test: str, changes: list[Change]) -> None:
    """Each change's variant record, read from the test's file (images not decoded)."""
    wanted = {c.variant_id: c for c in changes}
    if not wanted:
        return
    for rec in load_dataset_file(battery.file(test), images="ignore").records:
        if str(rec.id) in wanted:
            wanted[str(rec.id)].variant = rec
