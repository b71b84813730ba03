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

Used by scoring (each rank scores a shard, rank 0 merges) and by training.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Sequence
from typing import Any, TypeVar

from shortcutlab.errors import ConfigError

T = TypeVar("T")

LAUNCHED_ENV = "SHORTCUTLAB_LAUNCHED"
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
    see `SHORTCUTLAB_LAUNCHED=1`). Returns the launcher's exit code; the caller exits with it.
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
    return subprocess.call(launch_command(num_processes, args, cpu=cpu), env=env)


def should_relaunch(num_processes: int | None) -> bool:
    """True when the CLI was asked for N > 1 processes and is not already one of them."""
    return bool(num_processes and num_processes > 1) and not (
        launched() or os.environ.get(LAUNCHED_ENV) == "1"
    )
