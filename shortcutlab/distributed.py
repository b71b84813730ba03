"""Many processes: rank / world helpers and re-launching a CLI command under accelerate.

Owns how shortcutlab runs on several processes (GPUs, or CPU processes with gloo):
- `rank()`, `world_size()`, `local_rank()`, `is_main()`, `barrier()`: read from
  `accelerate.PartialState` when the process was started by `accelerate launch` (or
  `torchrun`), and answer 0 / 1 without initialising anything in a plain process, so
  single-process use never pays for a process group.
- `shard(items)`: the deterministic split of a list over ranks (`items[rank::world]`).
- `relaunch(num_processes, argv)`: re-execute the current `shortcutlab ...` command under
  `accelerate launch --num_processes N`, behind the CLI's `--num-processes N` flag. On CPU
  the ranks use gloo: accelerate's `--cpu` flag alone starts one process unless mpirun is
  installed, so we use the torchrun-style launcher (`--multi_gpu`) with
  `ACCELERATE_USE_CPU=true`, and `state()` creates `PartialState(cpu=True)`.
  The child processes see `SHORTCUTLAB_LAUNCHED=1` and never relaunch again.
- A child's failure ends the launch with ONE message and the child's exit code: a child
  that stops on a user error records it (`report_child_error`, a file in
  `SHORTCUTLAB_ERROR_DIR`) instead of printing it per rank, and the launcher prints the
  first one; torch-elastic's own traceback and failure report are filtered out of the
  launcher's stderr (`LauncherFilter`); a child's own traceback (a crash) passes through.

Used by scoring (each rank scores a shard, rank 0 merges) and by training.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

from shortcutlab.errors import ChildFailed, ConfigError
from shortcutlab.files import atomic_write_json

T = TypeVar("T")

LAUNCHED_ENV = "SHORTCUTLAB_LAUNCHED"
ERROR_DIR_ENV = "SHORTCUTLAB_ERROR_DIR"
_state: Any = None


def launched() -> bool:
    """True inside a process started by `accelerate launch` / `torchrun` with WORLD_SIZE > 1."""
    try:
        return int(os.environ.get("WORLD_SIZE", "1")) > 1
    except ValueError:
        return False


def state() -> Any:
    """The process's `accelerate.PartialState` (created once; gloo on CPU, nccl on GPU)."""
    global _state
    if _state is None:
        import torch
        from accelerate import PartialState

        # accelerate only picks MULTI_CPU (gloo) when told cpu=True; without a GPU we must.
        cpu = os.environ.get("ACCELERATE_USE_CPU", "").lower() in ("1", "true")
        _state = PartialState(cpu=cpu or not torch.cuda.is_available())
    return _state


def rank() -> int:
    """Global rank of this process (0 in a plain single process)."""
    return state().process_index if launched() else 0


def local_rank() -> int:
    """Rank on this machine (selects the GPU)."""
    return state().local_process_index if launched() else 0


def world_size() -> int:
    """Number of processes taking part (1 in a plain single process)."""
    return state().num_processes if launched() else 1


def is_main() -> bool:
    """True on global rank 0: the process that merges outputs and prints summaries."""
    return rank() == 0


def barrier() -> None:
    """Wait until every rank gets here (no-op in a single process)."""
    if launched():
        state().wait_for_everyone()


def device() -> Any:
    """The torch device this rank should use (its GPU, else CPU)."""
    if launched():
        return state().device
    import torch

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def shard(items: Sequence[T], rank_: int | None = None, world: int | None = None) -> list[T]:
    """The deterministic share of `items` for one rank: every `world`-th item from `rank`.

    Strided (not contiguous) so length-sorted work is spread evenly over ranks.
    """
    r = rank() if rank_ is None else rank_
    w = world_size() if world is None else world
    return list(items[r::w])


def gather_objects(obj: Any) -> list[Any]:
    """Every rank's `obj`, in rank order (a one-element list in a single process)."""
    if not launched():
        return [obj]
    import torch.distributed as dist

    out: list[Any] = [None] * world_size()
    dist.all_gather_object(out, obj)
    return out


def _free_port() -> int:
    """A TCP port free right now, so parallel runs (and tests) don't collide on 29500."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def strip_option(argv: Sequence[str], name: str) -> list[str]:
    """`argv` without `name VALUE` / `name=VALUE` (used to drop `--num-processes N`)."""
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == name:
            skip = True
        elif not arg.startswith(name + "="):
            out.append(arg)
    return out


def launch_command(
    num_processes: int, argv: Sequence[str], *, cpu: bool | None = None, port: int | None = None
) -> list[str]:
    """The `accelerate launch` command line that runs `python -m shortcutlab ARGV` N times."""
    if cpu is None:
        import torch

        cpu = not torch.cuda.is_available()
    cmd = [sys.executable, "-m", "accelerate.commands.launch"]
    cmd += ["--num_processes", str(num_processes), "--num_machines", "1"]
    cmd += ["--mixed_precision", "no", "--dynamo_backend", "no"]
    cmd += ["--main_process_port", str(port or _free_port())]
    if num_processes > 1:
        # torchrun-style launcher; `--cpu` would select accelerate's simple/mpirun launcher,
        # which starts a single process without mpirun. CPU ranks are told by the
        # ACCELERATE_USE_CPU=true environment (set by `relaunch`) and use gloo.
        cmd += ["--multi_gpu"]
    if cpu:
        cmd += ["--num_cpu_threads_per_process", "1"]
    cmd += ["-m", "shortcutlab", *strip_option(argv, "--num-processes")]
    return cmd


def relaunch(
    num_processes: int, argv: Sequence[str] | None = None, *, cpu: bool | None = None
) -> int:
    """Re-execute the current CLI command under `accelerate launch --num_processes N`.

    `argv` defaults to `sys.argv[1:]` (the arguments after `shortcutlab`); the
    `--num-processes` option is removed so the children do not relaunch again (they also
    see `SHORTCUTLAB_LAUNCHED=1`). Returns 0 when every process succeeded; a failed child
    raises `ChildFailed` with its message and exit code (see the module doc).
    """
    if num_processes < 1:
        raise ConfigError(f"--num-processes must be >= 1, got {num_processes}.")
    if os.environ.get(LAUNCHED_ENV) == "1" or launched():
        raise ConfigError(
            "--num-processes was given inside a process already started by accelerate launch.",
        )
    args = list(sys.argv[1:] if argv is None else argv)
    env = dict(os.environ, **{LAUNCHED_ENV: "1"})
    if cpu is None:
        import torch

        cpu = not torch.cuda.is_available()
    if cpu:
        env["ACCELERATE_USE_CPU"] = "true"
    with tempfile.TemporaryDirectory(prefix="shortcutlab-launch-") as errors:
        env[ERROR_DIR_ENV] = errors
        cmd = launch_command(num_processes, args, cpu=cpu)
        proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True, bufsize=1)
        filt = LauncherFilter()
        assert proc.stderr is not None
        for line in proc.stderr:
            for kept in filt.feed(line):
                sys.stderr.write(kept)
                sys.stderr.flush()
        code = proc.wait()
        if code != 0:
            raise child_failure(Path(errors), filt.report_text(), code, num_processes)
    return 0


def report_child_error(message: str, exit_code: int) -> bool:
    """In a launched child: record a user error for the launcher to print once.

    Returns False (nothing recorded: print it yourself) outside a shortcutlab launch.
    """
    folder = os.environ.get(ERROR_DIR_ENV)
    if not folder or os.environ.get(LAUNCHED_ENV) != "1":
        return False
    rank_ = int(os.environ.get("RANK", "0"))
    row = {"rank": rank_, "message": message, "exit_code": exit_code, "time": time.time()}
    atomic_write_json(Path(folder) / f"rank{rank_}.json", row)
    return True


def child_failure(errors: Path, report: str, code: int, world: int) -> ChildFailed:
    """The launch's one error: the first recorded child error, else the failed rank's code."""
    rows = [json.loads(p.read_text(encoding="utf-8")) for p in errors.glob("rank*.json")]
    if rows:
        first = min(rows, key=lambda r: (r["time"], r["rank"]))
        where = f" (process {first['rank']} of {world})" if world > 1 else ""
        return ChildFailed(first["message"] + where, int(first["exit_code"]))
    rank_m = re.search(r"Root Cause.*?rank\s*:\s*(\d+).*?exitcode\s*:\s*(-?\d+)", report, re.S)
    if rank_m:
        child_rank, child_code = int(rank_m.group(1)), int(rank_m.group(2))
        exit_code = child_code if child_code > 0 else 1
        return ChildFailed(
            f"process {child_rank} of {world} failed with exit code {child_code}; its own "
            "output above says why.",
            exit_code,
        )
    return ChildFailed(f"the launch of {world} processes failed (exit code {code}).", 1)


class LauncherFilter:
    """Drops torch-elastic's launcher traceback, failure report and log lines from stderr.

    `feed(line)` returns the lines to print now; the dropped report is kept for
    `report_text()` (it names the failed rank and exit code). Tracebacks of the children
    themselves (no launcher frames) are passed through whole.
    """

    LAUNCHER_FRAMES = ("torch/distributed/", "accelerate/commands/")

    def __init__(self) -> None:
        self.state = "normal"
        self.buffer: list[str] = []
        self.dropped: list[str] = []
        self.rules = 0

    def feed(self, line: str) -> list[str]:
        if self.state == "report":
            self.dropped.append(line)
            self.rules += line.startswith("=====")
            if self.rules >= 2:
                self.state = "normal"
            return []
        if self.state == "traceback":
            return self._traceback_line(line)
        if line.startswith("Traceback (most recent call last):"):
            self.state, self.buffer = "traceback", [line]
            return []
        if "torch/distributed/elastic" in line or "torch.distributed.elastic" in line:
            self.dropped.append(line)
            return []
        return [line]

    def _traceback_line(self, line: str) -> list[str]:
        self.buffer.append(line)
        if line[:1] in (" ", "\t"):
            return []  # a frame; the exception line is the first unindented one
        block, self.buffer, self.state = self.buffer, [], "normal"
        if not any(f in b for b in block for f in self.LAUNCHER_FRAMES):
            return block
        self.dropped += block
        if "ChildFailedError" in line:
            self.state, self.rules = "report", 0
        return []

    def report_text(self) -> str:
        """Everything dropped (the elastic failure report among it)."""
        return "".join(self.dropped)


def should_relaunch(num_processes: int | None) -> bool:
    """True when the CLI was asked for N > 1 processes and is not already one of them."""
    return bool(num_processes and num_processes > 1) and not (
        launched() or os.environ.get(LAUNCHED_ENV) == "1"
    )
