"""Definition 3.1, Shortcut-Failure Degradation (SFD), from two score tables.

A text-only (proxy) RM trained on the same data splits a test set's pairs into the
*shortcut-success* subset (proxy strictly right: r_t(a+) > r_t(a-)) and the
*shortcut-fail* subset (proxy wrong; a proxy tie counts as wrong, i.e. fail). Then

    SFD = Acc_MM(success) - Acc_MM(fail)        (in points, Eq. 2 accuracy on each)

A large SFD means the MM-RM is right mostly where the text shortcut is right: it relies
on the shortcut. The paper reports 14.2 to 57.5 (mean 39.5) for standard MM-RMs.
The interval resamples records (ids), keeping a record's pairs together.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shortcutlab.data.schemas import load_dataset_file
from shortcutlab.data.subsets import NO_GROUP
from shortcutlab.data.writing import WRITE_LAYOUTS, write_records, write_table
from shortcutlab.diagnostics.accuracy import (
    DEFAULT_CONFIDENCE,
    DEFAULT_N_BOOT,
    AccuracyResult,
    bootstrap_interval,
    correct_and_ties,
    group_counts,
    pairwise_accuracy,
)
from shortcutlab.diagnostics.tables import align_score_tables, pairs_table, with_reward
from shortcutlab.errors import DataError


@dataclass
class SFDResult:
    """Def. 3.1 on one test set. `sfd`, `ci_low`, `ci_high` are in points (0-100)."""

    name: str
    sfd: float
    ci_low: float
    ci_high: float
    success: AccuracyResult  # MM-RM accuracy on the shortcut-success subset
    fail: AccuracyResult  # MM-RM accuracy on the shortcut-fail subset
    mm: AccuracyResult  # MM-RM accuracy on all pairs
    proxy: AccuracyResult  # proxy accuracy on all pairs (= success share)
    pairs: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)

    def to_dict(self) -> dict[str, Any]:
        """Flat row: sizes and accuracies (fractions) plus SFD (points)."""
        return {
            "name": self.name,
            "sfd": self.sfd,
            "sfd_ci_low": self.ci_low,
            "sfd_ci_high": self.ci_high,
            "n_pairs": self.mm.n_pairs,
            "n_success": self.success.n_pairs,
            "n_fail": self.fail.n_pairs,
            "proxy_ties": self.proxy.n_ties,
            "acc_success": self.success.accuracy,
            "acc_success_ci": [self.success.ci_low, self.success.ci_high],
            "acc_fail": self.fail.accuracy,
            "acc_fail_ci": [self.fail.ci_low, self.fail.ci_high],
            "acc_mm": self.mm.accuracy,
            "acc_proxy": self.proxy.accuracy,
            "mm_ties": self.mm.n_ties,
        }


def split_pairs(mm: pd.DataFrame, proxy: pd.DataFrame, **align_kw: Any) -> pd.DataFrame:
    """Pairs of the test set with both rewards and the Def. 3.1 subset of each.

    Returns columns id, better_index, worse_index, r_better, r_worse (MM-RM),
    p_better, p_worse (proxy), proxy_correct (bool, strict) and subset
    ("shortcut_success" | "shortcut_fail"). Pairs come from the MM table's labels or
    preference scores (both tables must agree on them; see `align_score_tables`).
    """
    aligned = align_score_tables(mm, proxy, names=("mm", "proxy"), **align_kw)
    # the aligned table keeps the MM table's labels, so label errors name the MM file
    mm_file = align_kw.get("files", (None, None))[0]
    pairs = pairs_table(with_reward(aligned, "mm"), file=mm_file)
    ppairs = pairs_table(with_reward(aligned, "proxy"), file=mm_file)
    pairs["p_better"] = ppairs["r_better"].to_numpy()
    pairs["p_worse"] = ppairs["r_worse"].to_numpy()
    pairs["proxy_correct"] = pairs["p_better"] > pairs["p_worse"]
    pairs["subset"] = np.where(pairs["proxy_correct"], "shortcut_success", "shortcut_fail")
    return pairs


def sfd(
    mm: pd.DataFrame,
    proxy: pd.DataFrame,
    *,
    name: str = "test",
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = 0,
    confidence: float = DEFAULT_CONFIDENCE,
    files: tuple[str | None, str | None] = (None, None),
) -> SFDResult:
    """Def. 3.1 SFD of an MM-RM given its and a proxy RM's score tables on one test set."""
    pairs = split_pairs(mm, proxy, files=files)
    if pairs.empty:
        raise DataError(
            "the score tables give no pairs (no chosen/rejected labels and no strict "
            "preference_score differences).",
            file=files[0],
            reason="no_pairs",
        )
    kw = {"n_boot": n_boot, "seed": seed, "confidence": confidence}
    succ = pairs["proxy_correct"].to_numpy()
    proxy_pairs = pairs[["id", "better_index", "worse_index"]].assign(
        r_better=pairs["p_better"], r_worse=pairs["p_worse"]
    )
    res_s = pairwise_accuracy(pairs[succ], **kw)
    res_f = pairwise_accuracy(pairs[~succ], **kw)
    lo, hi = _sfd_interval(pairs, **kw)
    return SFDResult(
        name=name,
        sfd=100.0 * (res_s.accuracy - res_f.accuracy),
        ci_low=lo,
        ci_high=hi,
        success=res_s,
        fail=res_f,
        mm=pairwise_accuracy(pairs, **kw),
        proxy=pairwise_accuracy(proxy_pairs, **kw),
        pairs=pairs,
    )


def _sfd_interval(
    pairs: pd.DataFrame, *, n_boot: int, seed: int, confidence: float
) -> tuple[float, float]:
    """Record-resampled percentile interval of SFD in points."""
    correct, _ = correct_and_ties(pairs)
    succ = pairs["proxy_correct"].to_numpy()
    # per pair: [mm right & success, success, mm right & fail, fail]  -> (P, 4)
    vals = np.stack([correct & succ, succ, correct & ~succ, ~succ], axis=1).astype(float)
    counts = group_counts(pairs["id"], vals)

    def stat(s: np.ndarray) -> np.ndarray:  # s: (B, 4)
        with np.errstate(invalid="ignore", divide="ignore"):
            return 100.0 * (s[:, 0] / s[:, 1] - s[:, 2] / s[:, 3])

    return bootstrap_interval(counts, stat, n_boot=n_boot, seed=seed, confidence=confidence)


def sfd_by_group(
    mm: pd.DataFrame, proxy: pd.DataFrame, groups: dict[str, str], **kw: Any
) -> list[SFDResult]:
    """Def. 3.1 on each group's records (named by the group); groups without pairs are
    left out. `groups` maps record id -> group (`diagnostics.groups.group_values`)."""
    labels = mm["id"].astype(str).map(lambda i: groups.get(i, NO_GROUP))
    out = []
    for g in sorted(labels.unique()):
        ids = set(mm.loc[labels == g, "id"].astype(str))
        part_mm = mm[mm["id"].astype(str).isin(ids)]
        part_px = proxy[proxy["id"].astype(str).isin(ids)]
        try:
            out.append(sfd(part_mm, part_px, **{**kw, "name": str(g)}))
        except DataError as err:
            if err.reason != "no_pairs":
                raise
    return out


def macro_over_groups(results: list[SFDResult]) -> dict[str, float]:
    """Means over groups (each group once): MM-RM accuracy and SFD (NaN groups left out)."""
    acc = [r.mm.accuracy for r in results if r.mm.accuracy == r.mm.accuracy]
    gaps = [r.sfd for r in results if r.sfd == r.sfd]
    return {
        "macro_acc_mm": float(np.mean(acc)) if acc else float("nan"),
        "macro_sfd": float(np.mean(gaps)) if gaps else float("nan"),
    }


def sfd_table(results: list[SFDResult]) -> pd.DataFrame:
    """One row per test set (for CSV / the Figure 2-style bar chart)."""
    rows = []
    for r in results:
        d = r.to_dict()
        d["acc_success_ci_low"], d["acc_success_ci_high"] = d.pop("acc_success_ci")
        d["acc_fail_ci_low"], d["acc_fail_ci_high"] = d.pop("acc_fail_ci")
        rows.append(d)
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- subsets


def write_subsets(
    result: SFDResult, out_dir: str | Path, data: str | Path | None = None, **load_kw: Any
) -> dict[str, Path]:
    """Write the shortcut-success and shortcut-fail subsets; return role -> path.

    Always writes `{name}_{subset}_pairs.jsonl` (id, better_index, worse_index). With
    `data` (the scored test file) also writes each subset as a data file
    (`{name}_{subset}.jsonl|parquet`) through `shortcutlab.data.records.write_records`: in
    the input's layout when that layout is writable (pairwise / vlfeedback / inference)
    and every record keeps all its pairs; otherwise in the pairwise layout, where a
    multi-response record gives one row per pair of the subset (id `<id>-<better>-<worse>`).
    """
    out = Path(out_dir)
    written: dict[str, Path] = {}
    for subset in ("shortcut_success", "shortcut_fail"):
        part = result.pairs[result.pairs["subset"] == subset]
        path = out / f"{result.name}_{subset}_pairs.jsonl"
        written[f"{subset}_pairs"] = write_table(
            part[["id", "better_index", "worse_index"]].reset_index(drop=True), path
        )
    if data is not None:
        written.update(_write_data_subsets(result, out, data, **load_kw))
    return written


def _write_data_subsets(
    result: SFDResult, out: Path, data: str | Path, **load_kw: Any
) -> dict[str, Path]:
    loaded = load_dataset_file(data, **{"images": "ignore", **load_kw})  # text only
    by_id = {str(r.id): r for r in loaded.records}
    written: dict[str, Path] = {}
    for subset in ("shortcut_success", "shortcut_fail"):
        part = result.pairs[result.pairs["subset"] == subset]
        recs, whole = subset_records(by_id, part, file=str(data))
        layout = loaded.schema if whole and loaded.schema in WRITE_LAYOUTS else "pairwise"
        path = out / f"{result.name}_{subset}{data_suffix(data)}"
        written[subset] = Path(write_records(recs, path, schema=layout))
    return written


def data_suffix(data: str | Path) -> str:
    suffix = Path(data).suffix.lower()
    return suffix if suffix in (".jsonl", ".json", ".parquet") else ".jsonl"


def subset_records(
    by_id: dict[str, Any], pairs: pd.DataFrame, *, file: str | None = None
) -> tuple[list[Any], bool]:
    """Canonical records restricted to `pairs`, and whether every record kept all its pairs."""
    out, whole = [], True
    for rid, grp in pairs.groupby("id", sort=False):
        rec = by_id.get(str(rid))
        if rec is None:
            raise DataError(
                f"record '{rid}' of the score tables is not in the data file.",
                file=file,
                field="id",
                reason="missing_record",
                hint="Pass the data file that was scored.",
            )
        keep = [
            (int(b), int(w)) for b, w in zip(grp["better_index"], grp["worse_index"], strict=True)
        ]
        if set(keep) != set(rec.pairs):
            whole = False
            rec = dataclasses.replace(rec, pairs=keep)
        out.append(rec)
    return out, whole
