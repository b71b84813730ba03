"""The example browser's rows: score tables joined with their data file, per pair.

One `ExampleSource` is one test set: its data file (prompt, responses, image), the score
tables of one or more reward models on it, and optionally a text-only proxy's table.
`build_examples` makes the pairs through the library's own readers (`read_score_table`,
`split_pairs` / `pairs_table`, `attach_rewards`, `load_dataset_file`), samples at most
`max_pairs` of them (seeded; pairs named in `include_ids` always kept) and returns one
JSON-able row per pair:

    id, better / worse (response texts), prompt, img | img_missing, margins {model: m},
    proxy_margin, subset (shortcut_success | shortcut_fail), group, planted

where a margin is r(better) - r(worse) (> 0: the model ranks the pair right). Problems
that leave the page usable (a data row skipped for bad UTF-8, a model table that misses
pairs, an unreadable data file) become `notes` on the set, not errors.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from shortcutlab.data.records import Record
from shortcutlab.data.schemas import load_dataset_file
from shortcutlab.diagnostics.groups import group_values
from shortcutlab.diagnostics.sfd import split_pairs
from shortcutlab.diagnostics.tables import attach_rewards, pairs_table
from shortcutlab.errors import ShortcutlabError
from shortcutlab.html.thumbs import Thumbnails
from shortcutlab.score_table import read_score_table

DEFAULT_MAX_PAIRS = 2000


@dataclass
class ExampleSource:
    """One test set of the example browser and the tables scored on it."""

    name: str
    data: Path | None = None
    models: dict[str, Path] = field(default_factory=dict)  # model name -> score table
    proxy: Path | None = None
    proxy_name: str = "proxy"


@dataclass
class ExampleOptions:
    """How many pairs, grouped by what, thumbnails how large."""

    max_pairs: int = DEFAULT_MAX_PAIRS
    group_by: str | None = None
    seed: int = 0
    include_ids: set[str] = field(default_factory=set)


def build_examples(src: ExampleSource, opts: ExampleOptions, thumbs: Thumbnails) -> dict[str, Any]:
    """The set's rows (sampled), its models and notes, as a JSON-able dict."""
    notes: list[str] = []
    pairs, models = _pairs(src, notes)
    n_pairs = len(pairs)
    pairs = _sample(pairs, opts)
    records = _records(src.data, set(pairs["id"]), notes)
    groups = _groups(src, opts.group_by, records, notes)
    rows = [_row(p, models, records, groups, thumbs) for p in pairs.to_dict("records")]
    if src.data is None:
        notes.append("no data file: prompts, responses and images are not shown.")
    return {
        "name": src.name,
        "n_pairs": n_pairs,
        "n_shown": len(rows),
        "models": models,
        "proxy": src.proxy_name if src.proxy is not None else None,
        "group_by": opts.group_by if groups else None,
        "notes": notes,
        "rows": rows,
    }


def _pairs(src: ExampleSource, notes: list[str]) -> tuple[pd.DataFrame, list[str]]:
    """Pairs with one `m:{model}` margin column per model, `proxy_margin` and `subset`.

    The first model's table defines the pairs (with the proxy: `split_pairs`, Def. 3.1);
    a table that lacks some of them is left out with a note.
    """
    names = list(src.models)
    tables = {n: read_score_table(p) for n, p in src.models.items()}
    proxy = read_score_table(src.proxy) if src.proxy is not None else None
    if names and proxy is not None:
        base = split_pairs(tables[names[0]], proxy, files=(str(src.models[names[0]]), None))
        base["proxy_margin"] = base["p_better"] - base["p_worse"]
    elif names:
        base = pairs_table(tables[names[0]], file=str(src.models[names[0]]))
    elif proxy is not None:
        base = pairs_table(proxy, file=str(src.proxy))
        base["proxy_margin"] = base["r_better"] - base["r_worse"]
        base["subset"] = _subset(base["proxy_margin"])
    else:
        return pd.DataFrame(columns=["id", "better_index", "worse_index"]), []
    keep = []
    for n in names:
        try:
            rewards = attach_rewards(base, tables[n], file=str(src.models[n]))
        except ShortcutlabError as err:
            notes.append(f"model {n} left out: {err}")
            continue
        base[f"m:{n}"] = (rewards["r_better"] - rewards["r_worse"]).to_numpy()
        keep.append(n)
    return base.reset_index(drop=True), keep


def _subset(margin: pd.Series) -> pd.Series:
    return margin.gt(0).map({True: "shortcut_success", False: "shortcut_fail"})


def _sample(pairs: pd.DataFrame, opts: ExampleOptions) -> pd.DataFrame:
    """At most `max_pairs` pairs: those of `include_ids` first, then a seeded sample."""
    if len(pairs) <= opts.max_pairs:
        return pairs
    must = pairs["id"].isin(opts.include_ids)
    rest = list(pairs.index[~must])
    k = max(0, opts.max_pairs - int(must.sum()))
    chosen = sorted(random.Random(opts.seed).sample(rest, min(k, len(rest))))
    return pairs.loc[sorted([*pairs.index[must][: opts.max_pairs], *chosen])]


def _records(data: Path | None, ids: set[str], notes: list[str]) -> dict[str, Record]:
    """The data file's records of `ids` (text only; bad rows skipped and noted)."""
    if data is None:
        return {}
    try:
        res = load_dataset_file(data, images="ignore", skip_invalid=True)
    except ShortcutlabError as err:
        notes.append(f"data file {data} not read: {err}")
        return {}
    if res.skipped:
        counts = ", ".join(f"{n} {reason}" for reason, n in sorted(res.skipped.items()))
        notes.append(f"rows of {data} skipped ({counts}): " + "; ".join(res.skip_examples[:3]))
    return {str(r.id): r for r in res.records if str(r.id) in ids}


def _groups(
    src: ExampleSource, column: str | None, records: dict[str, Record], notes: list[str]
) -> dict[str, str]:
    if not column:
        return {}
    first = next(iter(src.models.values()), src.proxy)
    table = read_score_table(first) if first is not None else None
    try:
        return group_values(column, table=table, records=records.values(), where=str(src.data))
    except ShortcutlabError as err:
        notes.append(f"not grouped: {err}")
        return {}


def _row(
    d: dict[str, Any],
    models: list[str],
    records: dict[str, Record],
    groups: dict[str, str],
    thumbs: Thumbnails,
) -> dict[str, Any]:
    """One pair as the page's row (texts from the record when the data file has it)."""
    rid, b, w = str(d["id"]), int(d["better_index"]), int(d["worse_index"])
    row: dict[str, Any] = {"id": rid, "pair": [b, w]}
    row["margins"] = {m: _num(d[f"m:{m}"]) for m in models}
    if "proxy_margin" in d:
        row["proxy_margin"] = _num(d["proxy_margin"])
        row["subset"] = d["subset"]
    if rid in groups:
        row["group"] = groups[rid]
    rec = records.get(rid)
    if rec is not None:
        row["prompt"] = rec.prompt
        row["better"] = rec.responses[b] if b < len(rec.responses) else ""
        row["worse"] = rec.responses[w] if w < len(rec.responses) else ""
        row |= thumbs.add(rec.image)
        if "shortcut_agrees" in rec.meta:
            agrees = rec.meta["shortcut_agrees"]
            row["planted"] = {True: "cue agrees", False: "cue reversed"}.get(agrees, "no cue")
    return row


def _num(x: Any) -> float | None:
    x = float(x)
    return round(x, 4) if x == x else None
