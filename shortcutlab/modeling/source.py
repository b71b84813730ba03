"""Which folder a model argument means: one resolver used by every model loader.

Why this exists: `shortcutlab train --output runs/sa` writes a run folder (config.yaml,
run_info.json, metrics.jsonl, checkpoints/) whose exported RewardModel lives in
`runs/sa/model` (and the shortcut-aware proxy in `runs/sa/proxy`). Users naturally pass
`runs/sa` wherever a model is taken (`score`, `sfd --mm-model`, `model info`, a study's
`base_model`, `RewardModel.from_pretrained`, `shortcutlab.score`). `resolve_model_source`
turns such a run folder into its exported model, with a note naming what it found, and
explains a folder that is no model by what is missing (never by suggesting
`trust_remote_code`, which cannot help a folder without a config and is unsafe advice).
"""

from __future__ import annotations

import logging
from pathlib import Path

from shortcutlab.errors import ModelError
from shortcutlab.modeling.loading import check_model_source
from shortcutlab.run_folder import MODEL as EXPORTED
from shortcutlab.run_folder import MODEL_CONFIG, RunFolder
from shortcutlab.run_folder import PROXY as PROXY
from shortcutlab.run_folder import RUN_MARKERS as RUN_MARKERS
from shortcutlab.run_folder import TRAINER_STATE as CHECKPOINT_MARKER

log = logging.getLogger(__name__)

REWARD_CONFIG = "shortcutlab_reward.json"  # the reward head's file in a RewardModel folder
# The run-folder names (model/, proxy/, markers) are owned by shortcutlab/run_folder.py.


def resolve_model_source(path_or_id: str | Path) -> str:
    """The model folder (or Hub id) to load for a `--model` style argument.

    - a folder with config.json: itself (a RewardModel or base VLM folder);
    - a training run folder (or any folder) whose `model/` holds config.json: `model/`,
      logged as "runs/sa is a training run folder; using runs/sa/model";
    - a Hub id: unchanged (see `check_model_source` for missing paths and offline ids);
    - any other folder: `ModelError` saying what is missing and what to pass instead.
    """
    source = check_model_source(path_or_id)
    local = Path(source)
    if not local.is_dir() or (local / MODEL_CONFIG).is_file():
        return source
    markers = run_markers(local)
    exported = local / EXPORTED
    if (exported / MODEL_CONFIG).is_file():
        what = "a training run folder" if markers else "a folder holding an exported model"
        proxy = local / PROXY
        extra = (
            f" (its text-only proxy is {proxy}; pass that folder to use the proxy)"
            if (proxy / MODEL_CONFIG).is_file()
            else ""
        )
        log.warning("%s is %s; using %s%s", source, what, exported, extra)
        return str(exported)
    raise ModelError(not_a_model_message(source, local, markers))


def run_markers(folder: Path) -> list[str]:
    """The training-run files present in `folder` (empty: not a run folder)."""
    return RunFolder(folder).markers()


def not_a_model_message(source: str, folder: Path, markers: list[str]) -> str:
    """Why `folder` cannot be loaded as a model, and what to pass instead."""
    if (folder / CHECKPOINT_MARKER).is_file():
        run = RunFolder(folder.parent.parent)
        return (
            f"{source} is a training checkpoint (optimizer and trainer state), not a model "
            f"folder: it has no {MODEL_CONFIG}. Hint: resume training from it with "
            f"`shortcutlab train --config {run.config} --resume {source}`, or pass "
            f"the finished run's exported model ({run.model})."
        )
    if markers:
        resume = (
            f" Resume it with `shortcutlab train --config {RunFolder(folder).config} "
            "--resume latest`."
            if RunFolder(folder).checkpoints.is_dir()
            else " Rerun the training to completion."
        )
        return (
            f"{source} is a training run folder ({', '.join(markers)}) but has no exported "
            f"model: {folder / EXPORTED / MODEL_CONFIG} is missing, so the run did not "
            f"finish.{resume} Hint: pass a finished run folder or its model/ subfolder."
        )
    models = sorted(
        p.name
        + "/"
        + (f" (a training run: {p.name}/{EXPORTED})" if not (p / MODEL_CONFIG).is_file() else "")
        for p in folder.iterdir()
        if p.is_dir() and ((p / MODEL_CONFIG).is_file() or (p / EXPORTED / MODEL_CONFIG).is_file())
    )
    found = sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir())
    listing = ", ".join(found[:8]) + (", ..." if len(found) > 8 else "") if found else "nothing"
    where = f" Subfolders that are models: {', '.join(models)}." if models else ""
    return (
        f"{source} is not a model folder: it has no {MODEL_CONFIG} (it holds {listing}).{where}"
        " Hint: pass a folder with config.json: a run folder written by `shortcutlab train "
        "--output` (or its model/), a base VLM folder (e.g. from `shortcutlab model tiny`) "
        "or a Hub id such as 'org/name'."
    )
