"""Scoring a battery with the existing engine (`shortcutlab.scoring`), behind one seam.

`score_table` is the one function here that calls the scoring engine: a change of the
scoring API is absorbed in it. Every pass writes a resumable score table under
`DIR/scores/` (a killed `probe run` rerun scores only what is missing):

- one pass per file of the originals and the image tests (`original`, `swap`, `blank`,
  `drop`): a swapped image is a new prefix, so these cost about one plain scoring pass
  each. The originals and the image variants go through the engine as the same kind of
  batches (same records, same responses, same order), so a model that never sees the
  image (a text-only RM) gets bit-identical rewards: its image reliance is exactly 0;
- one pass for all text edits together (`scores/merged/text.jsonl`): each record is scored
  once with every edited response as its answers, so the image + prompt prefix is
  encoded once for all edits (prefix sharing). The merged table is then split into one
  table per edit file (`scores/pad.jsonl`, ...), the same tables an external pipeline
  would produce.

Every pass reuses image work across records (`ScoreConfig.reuse_images`): the blank
file's one image is encoded once, with the keys/values of the template + image, for all
records. All passes take that same path, so the exactness above holds bit for bit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from shortcutlab.data.records import Record
from shortcutlab.data.schemas import load_dataset_file
from shortcutlab.probe.battery import Battery, variant_rows
from shortcutlab.score_table import record_rows, write_score_table

TEXT_TABLE = "merged/text.jsonl"  # under scores/: apart from the per-variant tables


@dataclass
class ScoreOptions:
    """Options passed through to the scoring engine (`probe run` flags)."""

    batch_size: int = 16
    max_length: int = 4096
    overwrite: bool = False
    device: str | None = None
    trust_remote_code: bool = False
    prefix_sharing: bool = True
    reuse_images: bool = True  # blank's one image: encoded once (ScoreConfig.reuse_images)
    progress: Any = None  # progress(done, total) per batch


def score_table(model: Any, data: Any, output: Path | None, opts: ScoreOptions) -> pd.DataFrame:
    """The one call into the scoring engine: `data` (a file or records) -> score table."""
    from shortcutlab.scoring import ScoreConfig, score  # torch: only when scoring

    config = ScoreConfig(
        batch_size=opts.batch_size,
        max_length=opts.max_length,
        overwrite=opts.overwrite,
        device=opts.device,
        trust_remote_code=opts.trust_remote_code,
        prefix_sharing=opts.prefix_sharing,
        reuse_images=opts.reuse_images,
    )
    return score(model, data, output, config, progress=opts.progress).table


def merged_text_records(battery: Battery) -> tuple[list[Record], dict[tuple[str, int], tuple]]:
    """One record per base record holding every edited response (one prefix for all).

    Returns (records, where) with `where[(base id, merged index)] = (variant record,
    response index)` to split the merged table back into per-variant tables. A base
    record that no edit changed is left out.
    """
    originals = load_dataset_file(battery.original, images="ignore").records
    base = {str(r.id): r for r in originals}
    answers: dict[str, list[str]] = {}
    where: dict[tuple[str, int], tuple] = {}
    for test, entry in battery.tests.items():
        if entry["kind"] != "edit":
            continue
        rows = variant_rows(battery, test)
        for vrec in load_dataset_file(battery.file(test), images="ignore").records:
            bid = rows[str(vrec.id)]["base_id"]
            for i in rows[str(vrec.id)]["edited"]:
                got = answers.setdefault(bid, [])
                where[(bid, len(got))] = (vrec, i)
                got.append(vrec.responses[i])
    records = [
        replace(rec, responses=answers[bid], pairs=[], scores=None)
        for bid, rec in base.items()
        if bid in answers
    ]
    return records, where


def split_text_table(merged: pd.DataFrame, where: dict[tuple[str, int], tuple]) -> dict:
    """The merged table -> {variant record id: its score rows} in the score-table contract."""
    rewards: dict[str, dict[int, float]] = {}
    owner: dict[str, Record] = {}
    for rid, j, r in zip(merged["id"], merged["response_index"], merged["reward"], strict=True):
        rec, i = where[(str(rid), int(j))]
        rewards.setdefault(str(rec.id), {})[i] = float(r)
        owner[str(rec.id)] = rec
    out = {}
    for vid, by_index in rewards.items():
        rec = owner[vid]
        full = [by_index.get(i, math.nan) for i in range(len(rec.responses))]
        out[vid] = [row for row in record_rows(rec, full) if row["response_index"] in by_index]
    return out


def score_text_variants(
    model: Any, battery: Battery, out: Path, opts: ScoreOptions
) -> dict[str, Path]:
    """Score every edited response in one shared-prefix pass; one table per edit file."""
    records, where = merged_text_records(battery)
    if not records:
        return {}
    merged = score_table(model, records, out / TEXT_TABLE, opts)
    by_variant = split_text_table(merged, where)
    files = {t: battery.file(t) for t, e in battery.tests.items() if e["kind"] == "edit"}
    written = {}
    for name, path in files.items():
        ids = [str(r["id"]) for _, r in _rows(path)]
        rows = [row for vid in ids for row in by_variant.get(vid, [])]
        target = out / f"{name}.jsonl"
        write_score_table(pd.DataFrame(rows), target)
        written[name] = target
    return written


def _rows(path: Path) -> Any:
    from shortcutlab.data.io import iter_rows

    return iter_rows(path)
