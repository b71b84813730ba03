"""Dynamic batching of concurrent reward requests over one or more model replicas.

Requests arrive one record (prompt, image, K responses) at a time from many clients.
`Batcher.submit` queues a request's records; one worker thread per replica
(`RewardScorer`, one per device) takes the oldest request, then the requests queued
behind it until the batch holds `max_batch` sequences (waiting up to `max_wait_ms` for
more; 0 by default: requests pile up while a batch runs, so the next batch forms by
itself and a lone request never waits on a timer), scores
them in one `RewardScorer.score` call (length-sorted batches, shared prefixes) and
resolves each request's future. Replicas pull from the same queue, so a free GPU takes
the next batch. A request whose client went away is dropped before it is scored.

Why threads and not a serving engine: the unit of work is a record with K responses
whose image and prompt run once; a per-item batching engine would split it. The model
forward releases the GIL, so a thread per replica keeps each device busy.
"""

from __future__ import annotations

import logging
import queue
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from shortcutlab.data.records import Record

log = logging.getLogger(__name__)


@dataclass
class Job:
    """One request's records and the future its rewards resolve."""

    records: list[Record]
    future: Future = field(default_factory=Future)

    @property
    def sequences(self) -> int:
        return sum(len(r.responses) for r in self.records)


def _torch_threads() -> int | None:
    """This thread's torch intra-op thread count (None when torch is not loaded yet)."""
    torch = sys.modules.get("torch")
    return torch.get_num_threads() if torch is not None else None


class Batcher:
    """Queue + one worker thread per scorer (see the module doc)."""

    def __init__(self, scorers: Sequence[Any], *, max_batch: int = 32, max_wait_ms: float = 0.0):
        self.scorers = list(scorers)
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000.0
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._torch_threads = _torch_threads()
        self._threads = [
            threading.Thread(target=self._work, args=(s,), daemon=True, name=f"scorer-{i}")
            for i, s in enumerate(self.scorers)
        ]
        self.batches = 0  # forwards run (for /info and the load test)
        for t in self._threads:
            t.start()

    def submit(self, records: list[Record]) -> Future:
        """Queue `records`; the future resolves to their rewards (`out[i][j]`)."""
        job = Job(records)
        self._queue.put(job)
        return job.future

    def close(self) -> None:
        """Stop the workers after the jobs already queued."""
        for _ in self._threads:
            self._queue.put(None)
        for t in self._threads:
            t.join(timeout=30)

    def _collect(self, first: Job) -> tuple[list[Job], bool]:
        """`first` plus queued jobs up to max_batch sequences or max_wait; (jobs, stop)."""
        jobs, rows = [first], first.sequences
        deadline = time.monotonic() + self.max_wait
        while rows < self.max_batch:
            left = deadline - time.monotonic()
            try:
                job = (
                    self._queue.get(timeout=max(left, 0)) if left > 0 else self._queue.get_nowait()
                )
            except queue.Empty:
                break
            if job is None:
                return jobs, True
            jobs.append(job)
            rows += job.sequences
        return jobs, False

    def _work(self, scorer: Any) -> None:
        if self._torch_threads:  # OpenMP settings are per thread: use the creator's
            import torch

            torch.set_num_threads(self._torch_threads)
        while True:
            first = self._queue.get()
            if first is None:
                return
            jobs, stop = self._collect(first)
            live = [j for j in jobs if j.future.set_running_or_notify_cancel()]
            if live:
                self._run(scorer, live)
            if stop:
                return

    def _run(self, scorer: Any, jobs: list[Job]) -> None:
        """Score all jobs in one call; on failure, score each alone (one bad job fails alone)."""
        try:
            rewards = scorer.score([r for j in jobs for r in j.records])
            self.batches += 1
        except Exception:  # noqa: BLE001 - retried per job below, each gets its own error
            if len(jobs) == 1:
                log.exception("scoring failed")
                jobs[0].future.set_exception(RuntimeError("scoring failed (see server log)"))
                return
            for job in jobs:
                self._run(scorer, [job])
            return
        start = 0
        for job in jobs:
            n = len(job.records)
            job.future.set_result(rewards[start : start + n])
            start += n
