"""Run a study's (seed, environment) units in worker processes.

Why: the demo's models are tiny (hidden 64), so one training process gains little from a
second CPU thread, while two single-thread processes keep both cores busy (the demo's
full run, docs/demo.md). A unit trains one environment's runs for one seed and scores
them on every test set (`shortcutlab.study.run.run_unit`). Units write the same
done-markers as the sequential path under distinct keys (the per-environment proxy table
of the `static` objective may be written by two units, atomically and with the same
content), so the sequential pass that follows finds every cell cached and only computes
the diagnostics. Processes are spawned (no fork of a process holding torch threads); a
unit's error is raised in the parent with the unit named. Largest training files first,
so the slowest units do not start last.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from shortcutlab.progress import SETTINGS, configure
from shortcutlab.study.spec import Study

Unit = Callable[..., dict[str, int]]  # (study, out, seed, env, progress=...) -> cells ran


def _init_worker(threads: int, quiet: bool, to_stderr: bool) -> None:
    """A worker's torch threads, and the parent's progress routing (a spawned process
    starts with the defaults: `--json` must keep its stdout free of progress lines)."""
    import torch  # lazy: only worker processes need it here

    torch.set_num_threads(threads)
    configure(quiet=quiet, to_stderr=to_stderr)


def units_by_cost(study: Study) -> list[tuple[int, str]]:
    """(seed, environment) of every unit, largest training file first."""
    envs = sorted(study.environments, key=lambda e: -os.path.getsize(e.train))
    return [(seed, e.name) for e in envs for seed in study.seeds]


def run_parallel(
    study: Study, out: Path, workers: int, *, progress: bool, unit: Unit
) -> dict[str, int]:
    """Run every unit with `unit` in `workers` processes of cpu_count // workers threads;
    returns the cells run ({"train": n, "score": n})."""
    units = units_by_cost(study)
    threads = max(1, (os.cpu_count() or 1) // workers)
    ran = {"train": 0, "score": 0}
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=min(workers, len(units)),
        mp_context=ctx,
        initializer=_init_worker,
        initargs=(threads, SETTINGS.quiet, SETTINGS.to_stderr),
    ) as pool:
        jobs = {pool.submit(unit, study, out, s, e, progress=progress): (s, e) for s, e in units}
        for job in as_completed(jobs):
            seed, env = jobs[job]
            try:
                done = job.result()
            except Exception as exc:
                for other in jobs:
                    other.cancel()
                exc.add_note(f"(study unit: seed {seed}, environment {env})")
                raise
            for kind, n in done.items():
                ran[kind] += n
    return ran
