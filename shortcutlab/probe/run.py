"""`probe run`: make the battery, score it with one model, write the report (one call).

    from shortcutlab.probe import run_probe
    card = run_probe("runs/sa", "test.jsonl", "probe/sa")

Multi-process under `accelerate launch`: rank 0 makes the battery, every rank scores its
shard of each pass (the scoring engine's own sharding), rank 0 writes the report.
Resumable: each pass's table is journaled (`shortcutlab.scoring`); a rerun of the same
command rebuilds the same battery (seeded, byte-identical) and scores only what is missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from shortcutlab import distributed as dist
from shortcutlab.probe.battery import make_battery, read_battery
from shortcutlab.probe.make import MakeOptions
from shortcutlab.probe.report import ReportOptions, write_report
from shortcutlab.probe.scoring import ScoreOptions, score_table, score_text_variants
from shortcutlab.progress import Reporter

SCORES = "scores"


@contextmanager
def _reporter(what: str, scoring: ScoreOptions) -> Iterator[ScoreOptions]:
    """`scoring` with a progress callback for one pass (the caller's own, if it set one)."""
    if scoring.progress is not None:
        yield scoring
        return
    with Reporter(what, None, "records", enabled=dist.is_main()) as bar:
        yield replace(scoring, progress=bar.update)


def run_probe(
    model: Any,
    data: str | Path,
    out_dir: str | Path,
    *,
    make: MakeOptions | None = None,
    scoring: ScoreOptions | None = None,
    report: ReportOptions | None = None,
    command: list[str] | None = None,
) -> dict[str, Any] | None:
    """Make + score + report into `out_dir`; returns the card (None on ranks > 0).

    `out_dir` gets the battery files, `scores/` (one table per variant file, the merged
    text pass `scores/merged/text.jsonl`) and the report (`card.json`, `card.md`, `probe.csv`,
    `probe.png/svg`).
    """
    out = Path(out_dir)
    scoring = scoring or ScoreOptions()
    if dist.is_main():
        make_battery(data, out, make)
    dist.barrier()
    battery = read_battery(out)
    scores = out / SCORES
    with _reporter("probe text variants", scoring) as opts:
        tables = list(score_text_variants(model, battery, scores, opts).values())
    plain = {"original": battery.original}
    plain |= {t: battery.file(t) for t, e in battery.tests.items() if e["kind"] == "image"}
    for test, path in plain.items():
        target = scores / f"{test}.jsonl"
        with _reporter(f"probe {test}", scoring) as opts:
            score_table(model, path, target, opts)
        tables.append(target)
    if not dist.is_main():
        return None
    opts = replace(report or ReportOptions())
    opts.model = opts.model or str(model)
    opts.command = command or opts.command or run_command(model, data, out, make, scoring)
    return write_report(battery, tables, out, opts)


def run_command(
    model: Any,
    data: str | Path,
    out: Path,
    make: MakeOptions | None,
    scoring: ScoreOptions | None = None,
) -> list[str]:
    """The `shortcutlab probe run ...` command line that reproduces a run (for the card):
    every option that changes the battery or the rewards, none that only reports."""
    m, s = make or MakeOptions(), scoring or ScoreOptions()
    argv = ["shortcutlab", "probe", "run", str(data), "--model", str(model), "-o", str(out)]
    argv += ["--seed", str(m.seed)]
    for flag, value in (
        ("--max-records", m.max_records),
        ("--group-by", m.group_by),
        ("--edits", m.edits_file),
        ("--tests", ",".join(m.tests) if m.tests else None),
        ("--schema", m.schema),
        ("--image-root", m.image_root),
        ("--max-length", s.max_length if s.max_length != ScoreOptions.max_length else None),
    ):
        if value is not None:
            argv += [flag, str(value)]
    flags = (("--skip-invalid", m.skip_invalid), ("--trust-remote-code", s.trust_remote_code))
    return argv + [flag for flag, on in flags if on]
