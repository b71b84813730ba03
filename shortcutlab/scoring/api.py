"""`score`: the public face of scoring (the notebook API): inputs + a `ScoreConfig` ->
a `ScoreResult`.

Kept apart from `scoring/run.py`, which owns the run itself (journal, shards, resume).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shortcutlab.scoring.config import ScoreConfig
from shortcutlab.scoring.result import ScoreResult
from shortcutlab.scoring.run import Progress, run_scoring

if TYPE_CHECKING:
    from shortcutlab.data.records import Record
    from shortcutlab.data.schemas import LoadResult
    from shortcutlab.modeling.reward_model import RewardModel


def score(
    model: str | Path | RewardModel,
    data: str | Path | LoadResult | Sequence[Record],
    output: str | Path | None = None,
    config: ScoreConfig | None = None,
    *,
    progress: Progress | None = None,
    command: Sequence[str] | None = None,
    **options: Any,
) -> ScoreResult:
    """Score every response of a data file with a reward model -> a `ScoreResult`.

    `model`: a RewardModel folder, a `train --output` run folder (its `model/` is used),
    a base VLM folder / Hub id (fresh head), or a loaded `RewardModel`. `data`: any
    supported data file (schema auto-detected or `schema=`), a `LoadResult` or a list of
    `Record`s. How to score: `config` (a `ScoreConfig`; every field documented there),
    and/or its fields as keywords, which override the config's
    (`score(m, d, text_only="drop")`).

    Returns a `ScoreResult`: `.table` is the score table (a pandas DataFrame, one row per
    response, the contract of `shortcutlab.score_table`) in the data file's order;
    `.accuracy` the Eq. 2 accuracy with its 95% record-bootstrap interval for pairwise /
    ranked data (ties are wrong and counted; None without pairs); `.summary()` the JSON
    written beside the output (rows, resumed records, skips, truncation, text-only mode).

    With `output` (.jsonl or .parquet) the run is resumable: rows are committed per batch
    to a journal beside the output and the final table is written atomically; rerunning
    the same call after a crash scores only what is missing, and records skipped for an
    image that did not decode are tried again (their image may have been fixed). A
    changed model, data file or fingerprinted option (`ScoreConfig`) is refused
    (ShortcutlabError) unless `overwrite=True`. Under `accelerate launch` each rank
    scores a shard and rank 0 merges.

    `progress(done, total)` is called after every batch (e.g. `progress.Reporter.update`);
    `command`: the command line recorded in the provenance (default: sys.argv).
    """
    cfg = (config or ScoreConfig()).replace(**options)
    return run_scoring(model, data, output, cfg, progress=progress, command=command)
