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
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shortcutlab import distributed as dist
from shortcutlab.data.io import read_table
from shortcutlab.data.records import Record
from shortcutlab.errors import ConfigError, DataError
from shortcutlab.files import atomic_write_text
from shortcutlab.modeling.batching import RewardCollator
from shortcutlab.modeling.source import resolve_model_source
from shortcutlab.score_table import check_complete, record_rows, to_frame, write_score_table
from shortcutlab.scoring.config import ScoreConfig
from shortcutlab.scoring.engine import (
    forward_records,
    load_model,
    make_collator,
    plan_batches,
    repeated_images,
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

if TYPE_CHECKING:
    import torch

    from shortcutlab.data.schemas import LoadResult
    from shortcutlab.modeling.reward_model import RewardModel

TABLE_SUFFIXES = (".jsonl", ".ndjson", ".json", ".parquet", ".pq")
# (records done, records total); called after each batch, once its rows are committed.
Progress = Callable[[int, int], None]
Row = dict[str, Any]  # one score-table row (score_table.SCORE_COLUMNS)
# (model, collator, device, bf16): loaded once per process, only when there is work
Loaded = tuple["RewardModel", RewardCollator, "torch.device", bool]


def _check_output(output: str | Path | None) -> None:
    if output is not None and Path(output).suffix.lower() not in TABLE_SUFFIXES:
        raise ConfigError(
            f"unknown score-table format '{Path(output).suffix}' for '{output}'; "
            "use .jsonl or .parquet."
        )


@dataclass
class _Shard:
    """How this process scores its records: the run's options and where rows go."""

    load: Callable[[], Loaded]  # (model, collator, device, bf16), loaded on first use
    config: ScoreConfig
    source: str  # the data file's name (score-table `source` column)
    progress: Progress | None
    skip_bad_images: bool  # --skip-invalid with images read: skip undecodable ones
    reuse_images: frozenset[str] = frozenset()  # image keys repeated in the run's records


def _score_shard(
    records: list[Record], shard: _Shard, on_batch: Callable[[list[Record], list[Row], int], None]
) -> int:
    """Score `records` in length-sorted batches; `on_batch(records, rows, truncated)` each.

    `shard.load()` is called only when there are records, so a rank with an empty shard
    never loads the model. `progress(done, total)` runs after `on_batch` returned, i.e.
    once the batch is committed. With `skip_bad_images`, a record whose image fails to
    decode is left out of the batch's rows (committed without rows: a later run retries
    it, `skipped_images` counts it). Returns the number of records scored.
    """
    if not records:
        return 0
    model, collator, dev, bf16 = shard.load()
    cfg = shard.config

    def forward(recs: list[Record]) -> tuple[list[list[float]], int]:
        return forward_records(
            model,
            collator,
            recs,
            device=dev,
            bf16=bf16,
            prefix_sharing=cfg.prefix_sharing,
            reuse_images=shard.reuse_images,
        )

    done = 0
    for idx in plan_batches(records, cfg.batch_size):
        batch = [records[i] for i in idx]
        good = batch
        try:
            rewards, truncated = forward(good)
        except DataError:
            if not shard.skip_bad_images:
                raise
            good = [r for r in batch if image_problem(r) is None]
            if len(good) == len(batch):
                raise  # not an image problem: never swallowed
            rewards, truncated = forward(good) if good else ([], 0)
        rows = [
            row
            for rec, r in zip(good, rewards, strict=True)
            for row in record_rows(rec, r, source=shard.source, environment=cfg.environment)
        ]
        on_batch(batch, rows, truncated)
        done += len(batch)
        if shard.progress is not None:
            shard.progress(done, len(records))
    return done


def _loader(model: str | Path | RewardModel, cfg: ScoreConfig, mode: str | None):
    """A function loading (model, collator, device, bf16) once, only if there is work."""
    cache: list[Loaded] = []

    def get() -> Loaded:
        if not cache:
            m, dev, use_bf16 = load_model(
                model, cfg.device, cfg.bf16, trust_remote_code=cfg.trust_remote_code
            )
            collator = make_collator(m, max_length=cfg.max_length, text_only=mode)
            cache.append((m, collator, dev, use_bf16))
        return cache[0]

    return get


def _write_summary(result: ScoreResult) -> None:
    assert result.output is not None
    result.summary_path = summary_path_for(result.output)
    text = json.dumps(result.summary(), indent=2, ensure_ascii=False, default=str) + "\n"
    atomic_write_text(result.summary_path, text)


def _count_skips(result: ScoreResult, records: list[Record], rows: list[Row]) -> list[Record]:
    """Records that have rows; the others (images that failed while scoring) counted."""
    kept, skipped = skipped_images(records, rows)
    result.skipped = merge_counts(result.skipped, skipped)
    result.skipped_at_run_time, result.n_records = skipped, len(kept)
    return kept


def _finish(result: ScoreResult, journal: Journal, records: list[Record], done: set[str]) -> None:
    """Rank 0: merge partial files -> final table (atomic), accuracy, summary, cleanup.

    `done`: ids scored before this run (a record skipped now was not 'scored now')."""
    rows, _, truncated = journal.collect({str(r.id) for r in records})
    if result.skip_bad_images:
        every = {str(r.id) for r in records}
        records = _count_skips(result, records, rows)
        result.scored_records -= len(every - {str(r.id) for r in records} - done)
    df = to_frame(rows, records)
    check_complete(df, records)
    assert result.output is not None
    write_score_table(df, result.output)  # atomic, folder fsynced: the rename survives a crash
    result.table, result.truncated = df, truncated
    set_accuracy(result, df, records)
    _write_summary(result)
    journal.remove()


def _adopt_output(result: ScoreResult, out: Path, records: list[Record]) -> None:
    """Fill `result` from a finished output file (already complete, or merged by rank 0)."""
    result.table = to_frame(read_table(out).to_dict("records"), records)
    if result.skip_bad_images:
        _count_skips(result, records, result.table.to_dict("records"))
    set_accuracy(result, result.table, records)
    result.summary_path = summary_path_for(out)


def run_scoring(
    model: str | Path | RewardModel,
    data: str | Path | LoadResult | Sequence[Record],
    output: str | Path | None,
    config: ScoreConfig,
    *,
    progress: Progress | None = None,
    command: Sequence[str] | None = None,
) -> ScoreResult:
    """Score every response of `data` with `model`; see `scoring.api.score`.

    `progress(done, total)` is called after every batch; with `output`, only once the
    batch's rows are committed to the journal, so a process killed inside the callback
    loses nothing (the SIGKILL + resume test sleeps there, see tests/scoring_runner.py).
    """
    cfg = config.validate()
    _check_output(output)
    if isinstance(model, (str, Path)):  # a run folder -> its model/, checked before any work
        model = resolve_model_source(model)
    mode, mode_source = resolve_text_only(model, cfg.text_only)
    root = str(cfg.image_root) if cfg.image_root is not None else None
    uses_images = mode is None  # drop / blank never read an image file
    records, schema_name, skipped = records_to_score(
        data,
        cfg.schema,
        cfg.skip_invalid,
        root,
        uses_images=uses_images,
        check_images=cfg.check_images,
    )
    records, exclusion = select_records(records, cfg.exclude_ids, cfg.group_by)
    opts = cfg.fingerprint_options(text_only=mode, schema=schema_name)
    fp, prov = fingerprint(model, data, records, opts, command)
    prov["prefix_sharing"] = cfg.prefix_sharing  # provenance only: both paths give equal rewards
    result = ScoreResult(
        table=to_frame([]),
        config=cfg,
        n_records=len(records),
        skipped=skipped,
        text_only=mode,
        text_only_source=mode_source,
        num_processes=dist.world_size(),
        fingerprint=fp,
        provenance=prov,
        skip_bad_images=cfg.skip_invalid and uses_images,
        group_by=cfg.group_by,
        excluded=exclusion.to_dict() if exclusion is not None else None,
    )
    source = Path(data).name if isinstance(data, (str, Path)) else ""
    shard = _Shard(_loader(model, cfg, mode), cfg, source, progress, result.skip_bad_images)
    if cfg.reuse_images and cfg.prefix_sharing:  # the whole run's records: see the engine
        shard.reuse_images = repeated_images(records, mode)
    if output is None:
        return _run_in_memory(result, records, shard)
    return _run_journaled(result, records, Path(output), shard)


def _run_journaled(
    result: ScoreResult, records: list[Record], out: Path, shard: _Shard
) -> ScoreResult:
    """With an output file: decide / resume / retry, score this rank's shard, rank 0 merges."""
    result.output = out
    journal = Journal(out)
    fp, prov = result.fingerprint, result.provenance
    ids = {str(r.id) for r in records}
    action = decide(journal, out, fp, shard.config.overwrite, prov)
    kept: list[Row] = []  # rows of a complete output that a retry keeps
    if action == "complete":
        kept = read_table(out).to_dict("records")
        if not _worth_retrying(records, kept, result.skip_bad_images):
            result.already_complete = True
            result.resumed_records = len(records)
            _adopt_output(result, out, records)
            return result
        action = "retry"  # records skipped earlier whose image may have been fixed
    _load_before_writing(journal, action, records, ids, kept, shard.load)
    dist.barrier()  # everyone decided (and loaded) before rank 0 touches the files
    if dist.is_main():
        meta = {"fingerprint": fp, "provenance": prov, "records": len(records)}
        prepare(journal, out, action, meta, ids, kept)
    dist.barrier()
    done = journal.done_ids() & ids  # records with rows: a skipped one is tried again
    result.retried = _retried(records, journal.committed_ids() & ids - done)
    if result.retried and dist.is_main():
        _say_retried(result.retried)
    result.resumed_records = len(done)
    mine = dist.shard([r for r in records if str(r.id) not in done])
    rank = dist.rank()
    _score_shard(
        mine,
        shard,
        lambda recs, rows, t: journal.commit(rank, rows, [str(r.id) for r in recs], t),
    )
    result.scored_records = len(records) - len(done)
    dist.barrier()
    if dist.is_main():
        _finish(result, journal, records, done)
    dist.barrier()
    if not dist.is_main():
        _adopt_output(result, out, records)
    return result


def _worth_retrying(records: list[Record], rows: list[Row], skip_bad_images: bool) -> bool:
    """Whether a complete output lacks a record that would now be scored.

    A record without rows was skipped (its image did not decode, or was absent when the
    data was loaded). When its image decodes now, the output is not complete: the rerun
    scores it. When every such image still fails, the output stands (no model load) and
    the summary counts the skips again.
    """
    have = {str(r["id"]) for r in rows}
    missing = [r for r in records if str(r.id) not in have]
    if not missing:
        return False
    if not skip_bad_images:
        return True  # e.g. a load-time skip whose image is now present and read
    still = [r for r in missing if image_problem(r) is not None]
    if len(still) == len(missing) and dist.is_main():
        print(
            f"score: {len(still)} records skipped for their image still fail "
            f"({', '.join(str(r.id) for r in still[:5])}{', ...' if len(still) > 5 else ''}); "
            "skipped again.",
            file=sys.stderr,
        )
    return len(still) < len(missing)


def _retried(records: list[Record], ids: set[str]) -> dict[str, int]:
    """Records committed without rows by an earlier run, by the reason they were skipped."""
    counts: dict[str, int] = {}
    for rec in records:
        if str(rec.id) in ids:
            err = image_problem(rec)
            reason = "image now decodes" if err is None else err.reason
            counts[reason] = counts.get(reason, 0) + 1
    return counts


def _say_retried(retried: dict[str, int]) -> None:
    n = sum(retried.values())
    detail = ", ".join(f"{k}: {v}" for k, v in retried.items())
    print(f"score: retrying {n} records skipped by an earlier run ({detail}).", file=sys.stderr)


def _load_before_writing(
    journal: Journal,
    action: str,
    records: list[Record],
    ids: set[str],
    kept: list[Row],
    load: Callable[[], Loaded],
) -> None:
    """Load the model now, before the journal is written, on every rank that has work.

    Why: a model that fails to load must leave nothing behind that blocks the corrected
    rerun. The records still to score are read (read-only) from the committed partial
    files (or the output a retry keeps), so a rank whose shard is empty never loads it.
    """
    rows = journal.collect(ids)[0] if action == "resume" else kept
    done = {str(r["id"]) for r in rows}
    if dist.shard([r for r in records if str(r.id) not in done]):
        load()


def _run_in_memory(result: ScoreResult, records: list[Record], shard: _Shard) -> ScoreResult:
    """No output file: score this rank's shard, gather every rank's rows, no journal."""
    rows: list[Row] = []
    truncated = [0]

    def keep(recs: list[Record], batch_rows: list[Row], t: int) -> None:
        rows.extend(batch_rows)
        truncated[0] += t

    _score_shard(dist.shard(records), shard, keep)
    gathered = dist.gather_objects((rows, truncated[0]))
    all_rows = [row for part, _ in gathered for row in part]
    if result.skip_bad_images:
        records = _count_skips(result, records, all_rows)
    result.table = to_frame(all_rows, records)
    check_complete(result.table, records)
    result.truncated = sum(t for _, t in gathered)
    result.scored_records = len(records)
    set_accuracy(result, result.table, records)
    return result
