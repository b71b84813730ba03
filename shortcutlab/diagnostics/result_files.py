"""Writing diagnostic results: JSON (NaN -> null), CSV and run_info.json, atomically.

Shared by the diagnostics CLI and by any script (a study runner) that saves results.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from shortcutlab.files import atomic_write_text
from shortcutlab.provenance import write_run_info


def jsonable(v: Any) -> Any:
    """Plain JSON values: NaN -> None, numpy scalars -> Python, Paths -> str."""
    if isinstance(v, float) and v != v:
        return None
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if isinstance(v, Path):
        return str(v)
    if hasattr(v, "item") and getattr(v, "ndim", 1) == 0:
        return jsonable(v.item())
    return v


def write_csv(df: Any, path: str | Path) -> Path:
    """A DataFrame as CSV (no index), atomically."""
    return atomic_write_text(path, df.to_csv(index=False))


def write_results(
    out_dir: str | Path,
    results: dict[str, Any],
    *,
    command: list[str],
    inputs: dict[str, Any],
    config: dict[str, Any] | None = None,
    seed: int | None = None,
    name: str = "results.json",
) -> list[Path]:
    """`out_dir/results.json` plus `run_info.json` (input hashes, versions, command)."""
    out = Path(out_dir)
    text = json.dumps(jsonable(results), indent=2, ensure_ascii=False, default=str) + "\n"
    res = atomic_write_text(out / name, text)
    cfg = jsonable(config) if config is not None else None
    info = write_run_info(out, command=command, inputs=inputs, config=cfg, seed=seed)
    return [res, info]
