"""Hashing and crash-safe file writes: the one module the whole package uses for both.

A leaf module (imports nothing of the package) so every layer may use it:
- content hashes of files, folders and JSON-able values (run provenance, resume
  fingerprints, study cache keys);
- atomic writes (temp file in the same folder, fsync, `os.replace`, folder fsync), so an
  interrupted run never leaves half a file behind; the file gets the mode a plain `open()`
  would give it (0666 less the umask, so 0644 by default), not `mkstemp`'s private 0600;
- fsynced appends, so a journal line found after a crash is a line that was committed.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, BinaryIO

_CHUNK = 8 << 20
_HASH_CACHE: dict[tuple[str, int, int], str] = {}


# ----------------------------------------------------------------------------- hashing


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file's bytes (streamed; cached per (path, size, mtime) in-process)."""
    p = Path(path)
    st = p.stat()
    key = (str(p.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _HASH_CACHE:
        h = hashlib.sha256()
        with open(p, "rb") as fh:
            for chunk in iter(lambda: fh.read(_CHUNK), b""):
                h.update(chunk)
        _HASH_CACHE[key] = h.hexdigest()
    return _HASH_CACHE[key]


def sha256_folder(folder: str | Path, suffixes: tuple[str, ...] | None = None) -> str:
    """One hash over the (relative name, sha256) of a folder's files.

    With `suffixes`, only the top level's files with those suffixes count (a model folder's
    weights and configs); without, every file below, hidden names excluded.
    """
    root = Path(folder)
    files = root.iterdir() if suffixes else root.rglob("*")
    chosen = sorted(
        p
        for p in files
        if p.is_file()
        and not p.name.startswith(".")
        and (suffixes is None or p.suffix.lower() in suffixes)
    )
    h = hashlib.sha256()
    for p in chosen:
        h.update(f"{p.relative_to(root).as_posix()}\0{sha256_file(p)}\n".encode())
    return h.hexdigest()


def sha256_path(path: str | Path) -> str:
    """sha256 of a file, or of a folder's files (`sha256_folder`)."""
    p = Path(path)
    return sha256_folder(p) if p.is_dir() else sha256_file(p)


def sha256_json(obj: Any) -> str:
    """sha256 of a JSON-able value, keys sorted (non-JSON values through `str`)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


# ----------------------------------------------------------------------------- writing


def umask() -> int:
    """The process's umask (read from /proc where it can be, so nothing is changed)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    current = os.umask(0o022)  # elsewhere: read it by setting it, and put it back
    os.umask(current)
    return current


def file_mode() -> int:
    """The mode a new file gets from `open()`: 0666 less the umask (0644 by default)."""
    return 0o666 & ~umask()


def atomic_write(path: str | Path, write: Callable[[BinaryIO], Any]) -> Path:
    """Call `write(fh)` on a temp file beside `path`, fsync it, then replace `path`.

    The file gets `file_mode()` (mkstemp creates it 0600, which would hide score tables
    and summaries from the rest of a shared group or a web view).
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        os.fchmod(fd, file_mode())
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, p)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    fsync_dir(p.parent)
    return p


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write `text` (UTF-8) to `path` atomically."""
    return atomic_write(path, lambda fh: fh.write(text.encode("utf-8")))


def atomic_write_json(path: str | Path, obj: Any, *, indent: int | None = 2) -> Path:
    """Write `obj` as JSON (UTF-8 kept, trailing newline) to `path` atomically."""
    return atomic_write_text(path, json.dumps(obj, indent=indent, ensure_ascii=False) + "\n")


def append_lines(path: str | Path, lines: Iterable[str]) -> int:
    """Append text lines (each ending in a newline) in one write, then flush and fsync."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    chunk = list(lines)
    with open(p, "a", encoding="utf-8") as fh:
        fh.writelines(chunk)
        fh.flush()
        os.fsync(fh.fileno())
    return len(chunk)


def fsync_dir(path: str | Path) -> None:
    """fsync a folder so a rename inside it survives a crash (best effort)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
