"""`score`: the public, DataFrame-returning face of `run_scoring` (the notebook API).

Kept apart from `scoring/run.py`, which owns the run itself (journal, shards, resume).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from shortcutlab.scoring.run import Progress, run_scoring


def score(
    model: Any,
    data: Any,
    output: str | Path | None = None,
    *,
    text_only: str | None = None,
    batch_size: int = 16,
    max_length: int = 4096,
    schema: str | None = None,
    skip_invalid: bool = False,
    overwrite: bool = False,
    environment: str = "",
    device: Any = None,
    bf16: bool | None = None,
    image_root: str | Path | None = None,
    trust_remote_code: bool = False,
    check_images: bool = False,
    exclude_ids: str | Path | None = None,
    group_by: str | None = None,
    progress: Progress | None = None,
    prefix_sharing: bool = True,
) -> Any:
    """Score every response of a data file with a reward model -> a score table.

    `model`: a RewardModel folder, a `train --output` run folder (its `model/` is used),
    a base VLM folder / Hub id (fresh head), or a loaded `RewardModel`. `data`: any
    supported data file (schema auto-detected or `schema=`), a `LoadResult` or a list of
    `Record`s. Returns a pandas DataFrame, one row per
    response (the contract of `shortcutlab.score_table`), in the data file's order;
    `df.attrs["summary"]` holds rows, resumed records, truncation and, for pairwise /
    ranked data, Eq. 2 accuracy with its 95% record-bootstrap interval (ties are wrong and
    counted).

    With `output` (.jsonl or .parquet) the run is resumable: rows are committed per batch
    to a journal beside the output and the final table is written atomically; rerunning
    the same call after a crash scores only what is missing. A changed model, data file or
    option is refused (ShortcutlabError) unless `overwrite=True`. `batch_size` counts
    sequences (responses) per forward; a record's responses are never split. `text_only`:
    "drop" (no image tokens), "blank" (white 224x224 image, Eq. 3), "none" (with image),
    or None: the mode saved with the model (a text-only RM is scored text-only; others
    with the image); the summary records the effective mode. `image_root` resolves the
    data file's relative image paths; `trust_remote_code` is passed to model loading.
    `prefix_sharing` (default on): each record's image + prompt run once and its K
    answers on top (KV cache), for the architectures where that is verified exact (others
    fall back, logged once); rewards equal per-response scoring to float32 rounding.
    Under `accelerate launch` each rank scores a shard and rank 0 merges.

    Images: text-only modes ("drop", "blank") never read image files, so records whose
    images are absent score fine. `check_images=True` decodes every image before any
    work (a bad one is an error, or with `skip_invalid` a counted skip);
    `skip_invalid=True` also skips records whose image fails to decode while scoring,
    counted by reason in the summary's `skipped` and `skipped_at_run_time`.

    `exclude_ids`: a file of ids, one a line (`shortcutlab overlap`'s overlap_ids.txt):
    those records are not scored, counted in the summary's `excluded`. `group_by`: a
    data field or score-table column (e.g. `category`): the summary adds accuracy per
    group and the macro average over groups.

    `progress(done, total)` is called after every batch (e.g. `progress.Reporter.update`).
    """
    result = run_scoring(
        model,
        data,
        output,
        text_only=text_only,
        batch_size=batch_size,
        max_length=max_length,
        schema=schema,
        skip_invalid=skip_invalid,
        overwrite=overwrite,
        environment=environment,
        device=device,
        bf16=bf16,
        image_root=image_root,
        trust_remote_code=trust_remote_code,
        check_images=check_images,
        exclude_ids=exclude_ids,
        group_by=group_by,
        progress=progress,
        prefix_sharing=prefix_sharing,
    )
    df = result.table
    df.attrs["summary"] = result.summary()
    return df
