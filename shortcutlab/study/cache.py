"""The study's cache: one done-marker per finished cell (a training run, a score table).

A marker `.done/{key}.json` holds the fingerprint of what produced the cell and its
result; a rerun skips every cell whose marker matches and redoes only what is missing or
changed. Markers are written atomically (a killed study never leaves half a marker).
Fingerprints hash through `shortcutlab.files`, the package's one hashing module.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from shortcutlab.files import atomic_write_text, sha256_json, sha256_path


def fingerprint(obj: Any) -> str:
    """The cache key of a JSON-able value (options, input digests, other fingerprints)."""
    return sha256_json(obj)


def source_digest(path: str | Path) -> str:
    """sha256 of a data file or a model folder; a path that is not on disk is a Hub id."""
    p = Path(path)
    if p.exists():
        return sha256_path(p)
    return f"id:{path}"


class Cells:
    """Done-markers: `.done/{key}.json` holding the fingerprint and result of a cell.

    `ran` counts the cells actually run in this process ({"train": n, "score": n}).
    """

    def __init__(self, out: Path) -> None:
        self.dir = out / ".done"
        self.ran: dict[str, int] = {"train": 0, "score": 0}

    def get(self, key: str, fingerprint: str) -> dict[str, Any] | None:
        """The marker of `key` if it holds `fingerprint`, else None (missing, stale, torn)."""
        p = self.dir / f"{key}.json"
        if not p.is_file():
            return None
        try:
            doc = json.loads(p.read_text())
        except json.JSONDecodeError:
            return None
        return doc if doc.get("fingerprint") == fingerprint else None

    def put(self, key: str, fingerprint: str, result: dict[str, Any]) -> None:
        """Mark `key` done with `fingerprint` and its `result` (atomically)."""
        doc = {"fingerprint": fingerprint, "finished": time.time(), "result": result}
        atomic_write_text(self.dir / f"{key}.json", json.dumps(doc, indent=1, default=str) + "\n")
