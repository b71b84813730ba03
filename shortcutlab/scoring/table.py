"""Score-table rows: one row per (record, response), the hinge every diagnostic reads.

Owns the score-table contract of TEAM.md: `SCORE_COLUMNS` in order, how a record and its
K rewards become K rows (label, preference score, prompt / response lengths in characters
and whitespace words, source file, environment), and how rows gathered from several
batches or processes are put back into the data file's order.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from shortcutlab.data.records import Record
from shortcutlab.errors import ShortcutlabError

SCORE_COLUMNS = [
    "id",
    "response_index",
    "reward",
    "label",
    "preference_score",
    "prompt_chars",
    "prompt_words",
    "response_chars",
    "response_words",
    "source",
    "environment",
]
INT_COLUMNS = ("response_index", "prompt_chars", "prompt_words", "response_chars", "response_words")


def preference_scores(rec: Record) -> list[float]:
    """Each response's own rating (higher is better), NaN where the data has none.

    Multi-response data carries `scores`; pairwise data may carry the judge's ratings in
    `meta["preference_scores"]` (e.g. LLaVA-Bench review means).
    """
    raw: Sequence[Any] | None = rec.scores
    if raw is None:
        raw = rec.meta.get("preference_scores")
    if raw is None or len(raw) != len(rec.responses):
        return [math.nan] * len(rec.responses)
    out = []
    for v in raw:
        try:
            out.append(math.nan if v is None else float(v))
        except (TypeError, ValueError):
            out.append(math.nan)
    return out


def source_name(rec: Record, default: str = "") -> str:
    """The data file's name (not its full path), from the record's location."""
    if default:
        return default
    return Path(rec.loc.file).name if rec.loc is not None else ""


def record_rows(
    rec: Record, rewards: Sequence[float], *, source: str = "", environment: str = ""
) -> list[dict[str, Any]]:
    """The K score-table rows of one record given its K rewards (response order kept)."""
    if len(rewards) != len(rec.responses):
        raise ShortcutlabError(
            f"record '{rec.id}': {len(rewards)} rewards for {len(rec.responses)} responses."
        )
    labels = rec.labels()
    prefs = preference_scores(rec)
    env = environment or str(rec.meta.get("environment", "") or "")
    src = source_name(rec, source)
    p_chars, p_words = len(rec.prompt), len(rec.prompt.split())
    return [
        {
            "id": str(rec.id),
            "response_index": j,
            "reward": float(rewards[j]),
            "label": labels[j],
            "preference_score": prefs[j],
            "prompt_chars": p_chars,
            "prompt_words": p_words,
            "response_chars": len(resp),
            "response_words": len(resp.split()),
            "source": src,
            "environment": env,
        }
        for j, resp in enumerate(rec.responses)
    ]


def to_frame(rows: Iterable[dict[str, Any]], records: Sequence[Record] | None = None) -> Any:
    """A score-table DataFrame with the contract's columns and dtypes.

    With `records`, rows are ordered as the records (data file order), responses in
    order; otherwise by (id, response_index).
    """
    import pandas as pd

    df = pd.DataFrame(list(rows))
    if df.empty:
        df = pd.DataFrame({c: pd.Series(dtype=object) for c in SCORE_COLUMNS})
    for col in SCORE_COLUMNS:
        if col not in df.columns:
            df[col] = math.nan if col == "preference_score" else ""
    df = df[SCORE_COLUMNS]
    if len(df):
        df["id"] = df["id"].astype(str)
        for col in INT_COLUMNS:
            df[col] = df[col].astype("int64")
        df["reward"] = df["reward"].astype(float)
        df["preference_score"] = pd.to_numeric(df["preference_score"], errors="coerce")
        df["source"] = df["source"].fillna("").astype(str)
        df["environment"] = df["environment"].fillna("").astype(str)
        df["label"] = df["label"].fillna("").astype(str)
    if records is not None:
        pos = {str(r.id): i for i, r in enumerate(records)}
        order = df["id"].map(pos)
        df = df.assign(_pos=order).sort_values(["_pos", "response_index"], kind="stable")
        df = df.drop(columns="_pos")
    else:
        df = df.sort_values(["id", "response_index"], kind="stable")
    return df.reset_index(drop=True)


def check_complete(df: Any, records: Sequence[Record]) -> None:
    """Every response of every record appears exactly once (else a ShortcutlabError)."""
    expected = sum(len(r.responses) for r in records)
    dup = df.duplicated(["id", "response_index"])
    if dup.any() or len(df) != expected:
        have = {(i, j) for i, j in zip(df["id"], df["response_index"], strict=True)}
        missing = [
            (str(r.id), j)
            for r in records
            for j in range(len(r.responses))
            if (str(r.id), j) not in have
        ]
        raise ShortcutlabError(
            f"the merged score table has {len(df)} rows for {expected} responses "
            f"({int(dup.sum())} duplicates, {len(missing)} missing, e.g. {missing[:3]}). "
            "This is a bug; the partial files were kept for inspection."
        )
