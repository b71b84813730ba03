"""Scoring: a reward model + a data file -> a score table (one row per response).

Batched (length-sorted, one image encoding per record), resumable (per-batch journal,
atomic final write, fingerprinted inputs) and multi-process (`accelerate launch`: each
rank scores a shard, rank 0 merges). See docs/scoring.md.

    from shortcutlab import ScoreConfig, score
    result = score("runs/sa", "test.jsonl", "scores.jsonl", ScoreConfig(text_only="drop"))
    df = result.table  # the score table (DataFrame)
"""

from shortcutlab.score_table import SCORE_COLUMNS, record_rows, to_frame
from shortcutlab.scoring.api import score
from shortcutlab.scoring.config import ScoreConfig
from shortcutlab.scoring.journal import summary_path_for
from shortcutlab.scoring.result import ScoreResult

__all__ = [
    "SCORE_COLUMNS",
    "ScoreConfig",
    "ScoreResult",
    "record_rows",
    "score",
    "summary_path_for",
    "to_frame",
]
