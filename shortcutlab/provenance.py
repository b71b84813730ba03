"""Run provenance: input file hashes, library versions and the command, in `run_info.json`.

Every command that writes an output folder (train, score, diagnostics) calls
`write_run_info` so a result can be traced to the exact inputs and software that made it.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from shortcutlab import __version__
from shortcutlab.files import atomic_write_text, sha256_path

RUN_INFO = "run_info.json"
_PACKAGES = ("torch", "transformers", "accelerate", "peft", "numpy", "pandas")


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def environment_info() -> dict[str, Any]:
    """Python, platform and installed versions (None for a package that is absent).

    Read from package metadata, so no heavy library (torch) is imported.
    """
    info: dict[str, Any] = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "shortcutlab": __version__,
    }
    info.update({name: _version(name) for name in _PACKAGES})
    info["machine"] = machine_info()
    return info


def machine_info() -> dict[str, Any]:
    """CPU model, logical CPUs and thread settings: what makes floating-point results
    (and timings) differ slightly between machines, recorded so a number can be traced.

    `torch_threads` is read only when torch is already imported (never imports it).
    """
    torch = sys.modules.get("torch")
    threads = torch.get_num_threads() if torch is not None else None
    return {
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": threads,
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
    }


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo on Linux, else `platform.processor()`)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def write_run_info(
    out_dir: str | Path,
    *,
    command: list[str],
    inputs: dict[str, str | Path] | None = None,
    config: dict[str, Any] | None = None,
    seed: int | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write `out_dir/run_info.json` atomically and return its path.

    `inputs` maps a role ("mm_scores", "data", ...) to a file or folder; each is recorded
    with its absolute path and SHA-256 (`shortcutlab.files.sha256_path`; None when it does
    not exist).
    """
    files = {}
    for role, path in (inputs or {}).items():
        p = Path(path)
        files[role] = {
            "path": str(p.resolve()),
            "sha256": sha256_path(p) if p.exists() else None,
        }
    info = {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": list(command),
        "inputs": files,
        "config": config,
        "seed": seed,
        "environment": environment_info(),
    }
    if extra:
        info.update(extra)
    text = json.dumps(info, indent=2, ensure_ascii=False, default=str) + "\n"
    return atomic_write_text(Path(out_dir) / RUN_INFO, text)
