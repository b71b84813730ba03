"""Progress of long stages (training steps, scoring batches, study cells): one reporter.

Where the output goes decides how progress looks:
- a terminal: a live rich bar (redrawn in place, gone when the stage ends);
- anything else (a log file, a pipe, CI): a plain line at a steady interval, e.g.
  `[train standard] step 120/1000 (12%), 2.31 steps/s, ETA 6m21s, loss 0.6931`
  every `SHORTCUTLAB_PROGRESS_EVERY` seconds (default 30; 0 = every update), plus the
  first and the last update, so a redirected run shows it is alive.

The stream is stdout, or stderr when stdout carries a result (`--json`); `--quiet`
turns reporting off. The CLI sets these once per process with `configure()`; library
callers get the defaults (stdout, on). `NO_COLOR` is honoured (rich reads it) and plain
lines carry no colour codes. `say()` prints a one-line stage message the same way.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any

EVERY_ENV = "SHORTCUTLAB_PROGRESS_EVERY"
DEFAULT_EVERY_S = 30.0


@dataclass
class Settings:
    """Process-wide reporting settings (set by the CLI from --quiet / --json)."""

    quiet: bool = False
    to_stderr: bool = False


SETTINGS = Settings()


def configure(*, quiet: bool = False, to_stderr: bool = False) -> None:
    """Set where progress goes for this process: off (`quiet`), stderr or stdout."""
    SETTINGS.quiet = quiet
    SETTINGS.to_stderr = to_stderr


@contextmanager
def quieted(quiet: bool = True) -> Iterator[None]:
    """Within the block, no progress or stage lines when `quiet` (library `progress=False`)."""
    before = SETTINGS.quiet
    SETTINGS.quiet = before or quiet
    try:
        yield
    finally:
        SETTINGS.quiet = before


def stream() -> IO[str]:
    """The stream progress and stage messages go to."""
    return sys.stderr if SETTINGS.to_stderr else sys.stdout


def every_s() -> float:
    """Seconds between plain progress lines (SHORTCUTLAB_PROGRESS_EVERY, default 30)."""
    try:
        return max(0.0, float(os.environ.get(EVERY_ENV, DEFAULT_EVERY_S)))
    except ValueError:
        return DEFAULT_EVERY_S


def _is_terminal(out: IO[str]) -> bool:
    return bool(getattr(out, "isatty", lambda: False)())


def duration(seconds: float) -> str:
    """A short human duration: 42s, 6m21s, 2h05m."""
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


def say(message: str) -> None:
    """One stage message (`✓ message` in a terminal, the plain message otherwise)."""
    if SETTINGS.quiet:
        return
    out = stream()
    if _is_terminal(out):
        from rich.console import Console  # rich is light, but only needed here

        Console(file=out).print(f"[green]✓[/] {message}", highlight=False)
    else:
        print(message, file=out, flush=True)


class Reporter:
    """Progress of one stage: `update(done)` after each unit of work, `close()` at the end.

    `what` names the stage (`train standard`), `unit` the work counted (steps, records),
    `initial` the units already done before this run (a resumed stage).
    Use as a context manager; it does nothing when quiet or when `enabled` is False
    (e.g. on ranks other than 0).
    """

    def __init__(
        self,
        what: str,
        total: int | None,
        unit: str = "steps",
        *,
        initial: int = 0,
        enabled: bool = True,
    ) -> None:
        self.what, self.total, self.unit = what, total, unit
        self.enabled = enabled and not SETTINGS.quiet
        self.out = stream()
        self.every = every_s()
        self.start = time.monotonic()
        self.first = initial  # a resumed stage: the rate counts this run's work only
        self.last_line = -float("inf")
        self.done = 0
        self.bar: Any = None
        if self.enabled and _is_terminal(self.out):
            self._start_bar()

    def _start_bar(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

        self.bar = Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=Console(file=self.out),
            transient=True,
        )
        self.task = self.bar.add_task(self.what, total=self.total)
        self.bar.start()

    def __enter__(self) -> Reporter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def update(self, done: int, total: int | None = None, note: str = "") -> None:
        """`done` units finished so far (of `total`, if it changed); `note` e.g. the loss."""
        if not self.enabled:
            return
        if total is not None:
            self.total = total
        self.done = done
        if self.bar is not None:
            desc = f"{self.what} {note}".strip()
            self.bar.update(self.task, completed=done, total=self.total, description=desc)
            return
        now = time.monotonic()
        final = self.total is not None and done >= self.total
        if final or now - self.last_line >= self.every:
            self.last_line = now
            print(self.line(done, now, note), file=self.out, flush=True)

    def line(self, done: int, now: float, note: str = "") -> str:
        """`[what] step 120/1000 (12%), 2.31 steps/s, ETA 6m21s, note`."""
        elapsed = max(now - self.start, 1e-9)
        rate = (done - self.first) / elapsed
        count = f"{done}/{self.total} ({100 * done / self.total:.0f}%)" if self.total else str(done)
        parts = [f"[{self.what}] {self.unit} {count}", f"{rate:.2f} {self.unit}/s"]
        if self.total and rate > 0:
            parts.append(f"ETA {duration((self.total - done) / rate)}")
        parts.append(f"elapsed {duration(elapsed)}")
        if note:
            parts.append(note)
        return ", ".join(parts)

    def close(self) -> None:
        """Stop the live bar (plain mode already printed the last line)."""
        if self.bar is not None:
            self.bar.stop()
            self.bar = None
