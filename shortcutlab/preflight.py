"""Cheap input checks before a multi-process launch (`--num-processes N`).

Why: a bad input found by N child processes is reported N times and then buried under
the launcher's own traceback. The launching process checks the inputs first, once, and
stops with one clear error (exit 2) before any child starts:
- each data file exists, its schema is detected and its first record converts;
- the model is a folder or cached Hub id whose config loads (no weights are read).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from shortcutlab.data.schemas import iter_records
from shortcutlab.errors import ModelError
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
