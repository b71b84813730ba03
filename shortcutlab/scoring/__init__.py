"""Scoring: a reward model + a data file -> a score table (one row per response).

Batched (length-sorted, one image encoding per record), resumable (per-batch journal,
atomic final write, fingerprinted inputs) and multi-process (`accelerate launch`: each
rank scores a shard, rank 0 merges). See docs/scoring.md.

    from shortcutlab import score
    df = score("runs/sa", "test.jsonl", "scores.jsonl")
"""

from shortcutlab.score_table import SCORE_COLUMNS, record_rows, to_frame
from shortcutlab.scoring.api import score
from shortcutlab.scoring.journal import summary_path_for
from shortcutlab.scoring.run import ScoreResult, run_scoring

__all__ = [
    "SCORE_COLUMNS",
    "ScoreResult",
    "record_rows",
    "run_scoring",
    "score",
    "summary_path_for",
    "to_frame",
]
