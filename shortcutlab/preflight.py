"""Cheap checks before the work starts: inputs before a multi-process launch, and every
command's output location (`check_output`).

Why: a bad input found by N child processes is reported N times and then buried under
the launcher's own traceback. The launching process checks the inputs first, once, and
stops with one clear error (exit 2) before any child starts:
- each data file exists, its schema is detected and its first record converts;
- the model is a folder or cached Hub id whose config loads (no weights are read).

`check_output(path)`: the output file or folder can be created and written, tried for
real (a probe file in the nearest existing folder), so an unwritable location stops the
command before it loads a model or scores anything, with one paragraph (exit 2) rather
than a traceback after the work (issue 21). The CLI runs it for every command's
--output/-o (`shortcutlab.cli.conventions`).
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from shortcutlab.data.schemas import iter_records
from shortcutlab.errors import ModelError, OutputError
from shortcutlab.modeling.loading import check_model_source
from shortcutlab.run_folder import MODEL_CONFIG, RunFolder


def check_data(
    path: str,
    *,
    schema: str | None = None,
    skip_invalid: bool = False,
    image_root: str | None = None,
) -> None:
    """The file exists, its schema is detected and its first record converts (DataError)."""
    records = iter_records(path, schema=schema, skip_invalid=skip_invalid, image_root=image_root)
    next(records, None)
    records.close()


def model_config_file(model: str) -> Path | None:
    """The config.json a local model folder loads from (a `train` run folder: its model/)."""
    folder = Path(model).expanduser()
    for candidate in (folder / MODEL_CONFIG, RunFolder(folder).model / MODEL_CONFIG):
        if candidate.is_file():
            return candidate
    return None


def check_model(model: str) -> None:
    """The model is a folder with a readable config.json, or a reachable Hub id."""
    source = check_model_source(model)
    if not Path(source).expanduser().is_dir():
        return  # a Hub id found in the cache (or the Hub is online): the children load it
    config = model_config_file(source)
    if config is None:
        raise ModelError(
            f"{model}: no config.json in the folder (nor in {model}/model). Hint: pass a "
            "saved RewardModel folder, a `train --output` run folder or a base VLM folder."
        )
    try:
        json.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ModelError(f"{config}: the model config is not readable JSON ({err}).") from err


def check_inputs(
    *,
    data: Iterable[str | None] = (),
    model: str | None = None,
    schema: str | None = None,
    skip_invalid: bool = False,
    image_root: str | None = None,
) -> None:
    """Check every given data file and the model (see the module doc); raise on the first."""
    for path in data:
        if path:
            check_data(path, schema=schema, skip_invalid=skip_invalid, image_root=image_root)
    if model:
        check_model(model)


def _existing_ancestor(path: Path) -> Path:
    """`path` itself if it exists, else its nearest existing parent (the cwd at worst)."""
    p = path
    while not os.path.lexists(p) and p != p.parent:
        p = p.parent
    return p if os.path.lexists(p) else Path.cwd()


def check_output(path: str | Path, option: str = "--output") -> None:
    """Raise `OutputError` unless `path` (a file or folder to write) can be written.

    Walks up to the nearest existing part of the path: it must be a folder (a regular
    file where a folder is needed fails here) in which a probe file can be created and
    removed, so a read-only mount, a permission or a pseudo file system (/proc) is found
    now. Write permission bits alone are not trusted (root ignores them).
    """
    target = Path(path).expanduser()
    base = _existing_ancestor(target)
    if base == target and base.is_file():
        base = base.parent  # an existing output file: it is replaced inside its folder
    why = None
    if not base.is_dir():
        why = f"{base} is a file, not a folder, so nothing can be created under it"
    else:
        try:
            fd, probe = tempfile.mkstemp(prefix=".shortcutlab-write-test.", dir=base)
            os.close(fd)
            os.unlink(probe)
        except OSError as err:
            reason = os.strerror(err.errno) if err.errno else str(err)
            if err.errno in (errno.EROFS,):
                reason = "read-only file system"
            why = f"cannot create a file in {base} ({reason})"
    if why:
        raise OutputError(
            f"{option} {path}: the output location is not writable: {why}. Nothing was "
            "run. Hint: choose a folder you can write to (e.g. under your home or the "
            "current folder), or fix the folder's permissions."
        )
