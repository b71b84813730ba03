"""`score()`: a reward model + a data file -> a score table, resumable and multi-process.

The flow of one run (every rank runs it; see `shortcutlab.distributed`):
1. load and validate the data (`load_dataset_file`), fingerprint model, data and options;
2. decide, read-only on every rank, whether to start fresh, resume a journal, return an
   already complete output, or refuse (changed model / data without `overwrite`);
3. rank 0 compacts the journal; every rank reads the records already done;
4. each rank scores its strided shard of the remaining records in length-sorted batches,
   committing rows per batch to its own partial file (`journal.py`);
5. rank 0 merges all partial files into the final table (atomic), computes Eq. 2
   accuracy with a record-level bootstrap interval (`diagnostics.accuracy`) and writes
   `<output stem>.summary.json` with provenance; other ranks read the merged table.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from shortcutlab import distributed as dist
from shortcutlab.data.io import read_table
from shortcutlab.errors import ConfigError, DataError
from shortcutlab.files import atomic_write_text, sha256_file
from shortcutlab.modeling.source import resolve_model_source
from shortcutlab.score_table import check_complete, record_rows, to_frame, write_score_table
from shortcutlab.scoring.engine import (
    forward_records,
    load_model,
    make_collator,
    plan_batches,
    resolve_text_only,
)
from shortcutlab.scoring.journal import Journal, decide, fingerprint, prepare, summary_path_for
from shortcutlab.scoring.result import ScoreResult
from shortcutlab.scoring.selection import (
    image_problem,
    merge_counts,
    records_to_score,
    select_records,
    set_accuracy,
    skipped_images,
)

TABLE_SUFFIXES = (".jsonl", ".ndjson", ".json", ".parquet", ".pq")
# (records done, records total); called after each batch, once its rows are committed.
Progress = Callable[[int, int], None]


def _check_options(batch_size: int, max_length: int, output: Any) -> None:
    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}.")
    if max_length < 8:
        raise ConfigError(f"max_length must be >= 8 tokens, got {max_length}.")
    if output is not None and Path(output).suffix.lower() not in TABLE_SUFFIXES:
        raise ConfigError(
            f"unknown score-table format '{Path(output).suffix}' for '{output}'; "
            "use .jsonl or .parquet."
        )


def _score_shard(
    records: list,
    *,
    load: Callable[[], tuple[Any, Any, Any, bool]],
    batch_size: int,
    source: str,
    environment: str,
    on_batch: Callable[[list, list[dict], int], None],
    progress: Progress | None,
    skip_bad_images: bool = False,
    prefix_sharing: bool = True,
) -> int:
    """Score `records` in length-sorted batches; `on_batch(records, rows, truncated)` each.

    `load()` gives (model, collator, device, bf16); it is called only when there are records,
    so a rank with an empty shard never loads the model. `progress(done, total)` runs after
    `on_batch` returned, i.e. once the batch is committed. With `skip_bad_images`, a
    record whose image fails to decode is left out of the batch's rows (still committed
    as done: `skipped_images` counts it from the table). Returns the number of records
    scored.
    """
    if not records:
        return 0
    model, collator, dev, bf16 = load()

    def forward(recs: list) -> tuple[list, int]:
        return forward_records(
            model, collator, recs, device=dev, bf16=bf16, prefix_sharing=prefix_sharing
        )

    done = 0
    for idx in plan_batches(records, batch_size):
        batch = [records[i] for i in idx]
        good = batch
        try:
            rewards, truncated = forward(good)
        except DataError:
            if not skip_bad_images:
                raise
            good = [r for r in batch if image_problem(r) is None]
            if len(good) == len(batch):
                raise  # not an image problem: never swallowed
            rewards, truncated = forward(good) if good else ([], 0)
        rows = [
            row
            for rec, r in zip(good, rewards, strict=True)
            for row in record_rows(rec, r, source=source, environment=environment)
        ]
        on_batch(batch, rows, truncated)
        done += len(batch)
        if progress is not None:
            progress(done, len(records))
    return done


def _loader(
    model: Any, device: Any, bf16: bool | None, max_length: int, text_only: Any, trust: bool
):
    """A function loading (model, collator, device, bf16) once, only if there is work."""
    cache: list[tuple[Any, Any, Any, bool]] = []

    def get() -> tuple[Any, Any, Any, bool]:
        if not cache:
            m, dev, use_bf16 = load_model(model, device, bf16, trust_remote_code=trust)
            cache.append(
                (m, make_collator(m, max_length=max_length, text_only=text_only), dev, use_bf16)
            )
        return cache[0]

    return get


def _write_summary(result: ScoreResult) -> None:
    assert result.output is not None
    result.summary_path = summary_path_for(result.output)
    text = json.dumps(result.summary(), indent=2, ensure_ascii=False, default=str) + "\n"
    atomic_write_text(result.summary_path, text)


def _finish(result: ScoreResult, journal: Journal, records: list, done: set[str]) -> None:
    """Rank 0: merge partial files -> final table (atomic), accuracy, summary, cleanup.

    `done`: ids committed before this run (a record skipped now was not 'scored now')."""
    rows, _, truncated = journal.collect({str(r.id) for r in records})
    if result.skip_bad_images:
        every = {str(r.id) for r in records}
        records, skipped = skipped_images(records, rows)
        skipped_now = every - {str(r.id) for r in records} - done
        result.scored_records -= len(skipped_now)
        result.skipped = merge_counts(result.skipped, skipped)
        result.skipped_at_run_time, result.n_records = skipped, len(records)
    df = to_frame(rows, records)
    check_complete(df, records)
    assert result.output is not None
    write_score_table(df, result.output)  # atomic, folder fsynced: the rename survives a crash
    result.table, result.truncated = df, truncated
    set_accuracy(result, df, records)
    _write_summary(result)
    journal.remove()


def _read_output(out: Path, records: list) -> Any:
    return to_frame(read_table(out).to_dict("records"), records)


def _adopt_output(result: ScoreResult, out: Path, records: list) -> None:
    """Fill `result` from a finished output file (already complete, or merged by rank 0)."""
    result.table = _read_output(out, records)
    if result.skip_bad_images:
        kept, skipped = skipped_images(records, result.table.to_dict("records"))
        result.skipped = merge_counts(result.skipped, skipped)
        result.skipped_at_run_time, result.n_records = skipped, len(kept)
    set_accuracy(result, result.table, records)
    result.summary_path = summary_path_for(out)


def run_scoring(
    model: Any,
    data: Any,
    output: str | Path | None = None,
    *,
    text_only: str | None = None,
    batch_size: int = 16,
    max_length: int = 4096,
    schema: str | None = None,
    skip_invalid: bool = False,
    overwrite: bool = False,
    environment: str = "",
    device: Any = None,
    bf16: bool | None = None,
    progress: Progress | None = None,
    command: Sequence[str] | None = None,
    image_root: str | Path | None = None,
    trust_remote_code: bool = False,
    check_images: bool = False,
    exclude_ids: str | Path | None = None,
    group_by: str | None = None,
    prefix_sharing: bool = True,
) -> ScoreResult:
    """Score every response of `data` with `model`; see `score` (this returns the details).

    `progress(done, total)` is called after every batch; with `output`, only once the
    batch's rows are committed to the journal, so a process killed inside the callback
    loses nothing (the SIGKILL + resume test sleeps there, see tests/scoring_runner.py).
    """
    _check_options(batch_size, max_length, output)
    if isinstance(model, (str, Path)):  # a run folder -> its model/, checked before any work
        model = resolve_model_source(model)
    mode, mode_source = resolve_text_only(model, text_only)
    root = str(image_root) if image_root is not None else None
    uses_images = mode is None  # drop / blank never read an image file
    records, schema_name, skipped = records_to_score(
        data, schema, skip_invalid, root, uses_images=uses_images, check_images=check_images
    )
    records, exclusion = select_records(records, exclude_ids, group_by)
    opts = {
        "text_only": mode,
        "max_length": max_length,
        "schema": schema_name,
        "skip_invalid": skip_invalid,
        "environment": environment,
    }
    if root is not None:  # other images under the same names: a different run
        opts["image_root"] = str(Path(root).resolve())
    if check_images:  # with skip_invalid it changes which records are scored
        opts["check_images"] = True
    if exclude_ids is not None:  # other ids listed: other records scored
        opts["exclude_ids_sha256"] = sha256_file(exclude_ids)
    fp, prov = fingerprint(model, data, records, opts, command)
    prov["prefix_sharing"] = prefix_sharing  # provenance only: both paths give equal rewards
    source = Path(data).name if isinstance(data, (str, Path)) else ""
    result = ScoreResult(
        table=None,
        n_records=len(records),
        skipped=skipped,
        text_only=mode,
        text_only_source=mode_source,
        num_processes=dist.world_size(),
        fingerprint=fp,
        provenance=prov,
        skip_bad_images=skip_invalid and uses_images,
        group_by=group_by,
        excluded=exclusion.to_dict() if exclusion is not None else None,
    )
    load = _loader(model, device, bf16, max_length, mode, trust_remote_code)
    shard = {
        "load": load,
        "batch_size": batch_size,
        "source": source,
        "environment": environment,
        "progress": progress,
        "prefix_sharing": prefix_sharing,
    }
    if output is None:
        return _run_in_memory(result, records, shard)
    return _run_journaled(result, records, Path(output), overwrite, shard)


def _run_journaled(
    result: ScoreResult, records: list, out: Path, overwrite: bool, shard: dict[str, Any]
) -> ScoreResult:
    """With an output file: decide / resume, score this rank's shard, rank 0 merges.

    `shard`: the keyword arguments of `_score_shard` other than records and on_batch.
    """
    result.output = out
    journal = Journal(out)
    fp, prov = result.fingerprint, result.provenance
    action = decide(journal, out, fp, overwrite, prov)
    if action == "complete":
        result.already_complete = True
        result.resumed_records = len(records)
        _adopt_output(result, out, records)
        return result
    ids = {str(r.id) for r in records}
    _load_before_writing(journal, action, records, ids, shard["load"])
    dist.barrier()  # everyone decided (and loaded) before rank 0 touches the files
    if dist.is_main():
        meta = {"fingerprint": fp, "provenance": prov, "records": len(records)}
        prepare(journal, out, action, meta, ids)
    dist.barrier()
    done = journal.done_ids() & ids
    result.resumed_records = len(done)
    mine = dist.shard([r for r in records if str(r.id) not in done])
    rank = dist.rank()
    _score_shard(
        mine,
        on_batch=lambda recs, rows, t: journal.commit(rank, rows, [str(r.id) for r in recs], t),
        skip_bad_images=result.skip_bad_images,
        **shard,
    )
    result.scored_records = len(records) - len(done)
    dist.barrier()
    if dist.is_main():
        _finish(result, journal, records, done)
    dist.barrier()
    if not dist.is_main():
        _adopt_output(result, out, records)
    return result


def _load_before_writing(
    journal: Journal, action: str, records: list, ids: set[str], load: Callable
) -> None:
    """Load the model now, before the journal is written, on every rank that has work.

    Why: a model that fails to load must leave nothing behind that blocks the corrected
    rerun. The records still to score are read (read-only) from the committed partial
    files, so a rank whose shard is empty still never loads the model.
    """
    done = journal.collect(ids)[1] if action == "resume" else set()
    if dist.shard([r for r in records if str(r.id) not in done]):
        load()


def _run_in_memory(result: ScoreResult, records: list, shard: dict[str, Any]) -> ScoreResult:
    """No output file: score this rank's shard, gather every rank's rows, no journal."""
    rows: list[dict[str, Any]] = []
    truncated = [0]

    def keep(recs: list, batch_rows: list[dict], t: int) -> None:
        rows.extend(batch_rows)
        truncated[0] += t

    mine = dist.shard(records)
    _score_shard(mine, on_batch=keep, skip_bad_images=result.skip_bad_images, **shard)
    gathered = dist.gather_objects((rows, truncated[0]))
    all_rows = [row for part, _ in gathered for row in part]
    if result.skip_bad_images:
        records, skipped = skipped_images(records, all_rows)
        result.skipped = merge_counts(result.skipped, skipped)
        result.skipped_at_run_time, result.n_records = skipped, len(records)
    result.table = to_frame(all_rows, records)
    check_complete(result.table, records)
    result.truncated = sum(t for _, t in gathered)
    result.scored_records = len(records)
    set_accuracy(result, result.table, records)
    return result
