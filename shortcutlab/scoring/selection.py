"""What a scoring run scores and reports beyond the rewards: the records it loads (images
required or not), `--exclude-ids`, `--group-by`, and records skipped at run time because
their image does not decode (`--skip-invalid`).

Kept apart from `run.py` (the run's control flow): these are pure functions of the
records and the finished table, shared by the journaled and the in-memory paths.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from shortcutlab.data.adapters.prompts import require_responses
from shortcutlab.data.images import probe_image
from shortcutlab.data.schemas import load_dataset_file
from shortcutlab.data.subsets import drop_listed, read_id_list, record_groups
from shortcutlab.diagnostics.accuracy import score_table_accuracy
from shortcutlab.diagnostics.groups import group_values, grouped_accuracy
from shortcutlab.diagnostics.tables import pairs_table
from shortcutlab.errors import DataError
from shortcutlab.score_table import SCORE_COLUMNS
from shortcutlab.scoring.result import ScoreResult


def image_problem(rec: Any) -> DataError | None:
    """The error decoding `rec`'s image gives, or None (decodes fine, or no image)."""
    if rec.image is None:
        return None
    try:
        probe_image(rec.image, loc=rec.loc, decode=True)
    except DataError as err:
        return err
    return None


def skipped_images(records: list, rows: list[dict]) -> tuple[list, dict[str, int]]:
    """(records that have rows, reason -> count of those skipped for their image at run time).

    A record committed without rows was skipped by `_score_shard`; its image is decoded
    again here to name the reason, so a resumed run counts it the same way.
    """
    have = {str(r["id"]) for r in rows}
    kept, counts = [], {}
    for rec in records:
        if str(rec.id) in have:
            kept.append(rec)
            continue
        err = image_problem(rec)
        reason = err.reason if err is not None else "bad_image"
        counts[reason] = counts.get(reason, 0) + 1
    return kept, counts


def merge_counts(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    return {k: a.get(k, 0) + b.get(k, 0) for k in sorted({*a, *b})}


def accuracy_of(df: Any) -> Any:
    """Eq. 2 accuracy + 95% record-bootstrap interval, or None when the data has no pairs."""
    if len(df) == 0:
        return None
    res = score_table_accuracy(df)
    return res if res.n_pairs > 0 else None


def set_accuracy(result: ScoreResult, df: Any, records: list) -> None:
    """Eq. 2 accuracy of the table, and per `result.group_by` group when asked."""
    result.accuracy = accuracy_of(df)
    if result.group_by and result.accuracy is not None:
        groups = group_values(result.group_by, table=df, records=records)
        result.groups = grouped_accuracy(pairs_table(df), groups, result.group_by)


def select_records(records: list, exclude: str | Path | None, group_by: str | None) -> tuple:
    """Records minus `--exclude-ids` (and the Exclusion counts); checks `group_by` exists
    before any model is loaded."""
    excl = None
    if exclude is not None:
        ids = read_id_list(exclude)
        kept, excl = drop_listed(records, ids, str(exclude))  # every copy of a repeated id
        if records and not kept:
            raise DataError(
                f"every one of the {len(records)} records is listed in --exclude-ids; "
                "nothing is left to score.",
                file=str(exclude),
                hint="Check that the ids file belongs to this data set.",
                reason="all_excluded",
            )
        records = kept
    if group_by and group_by not in SCORE_COLUMNS:
        record_groups(records, group_by, where="the data")  # raises when absent
    return records, excl


def records_to_score(
    data: Any,
    schema: str | None,
    skip_invalid: bool,
    image_root: str | None = None,
    *,
    uses_images: bool = True,
    check_images: bool = False,
) -> tuple[list, str, dict]:
    """(records, schema name, skipped counts) from a path, a LoadResult or a list of Records.

    `image_root` resolves a data file's relative image paths (records given already
    loaded keep theirs). Without `uses_images` (text-only scoring) image files may be
    absent; `check_images` decodes every image now, before any model is loaded.
    """
    if isinstance(data, (str, Path)):
        res = load_dataset_file(
            data,
            schema=schema,
            skip_invalid=skip_invalid,
            image_root=image_root,
            images="require" if uses_images else "ignore",
            check_images=check_images and uses_images,
        )
        require_responses(res.records, data)  # a prompt-only file: say so, before any model
        return res.records, res.schema, dict(res.skipped)
    if hasattr(data, "records"):  # a LoadResult
        return list(data.records), getattr(data, "schema", ""), dict(data.skipped)
    records = list(data)
    return records, schema or (records[0].schema if records else ""), {}
