"""`ScoreResult`: what one scoring run produced, and the summary JSON written beside it.

`score()` returns it. The score table itself is `result.table` (a pandas DataFrame, one
row per response: the `shortcutlab.score_table` contract), ready for `sfd`, `matrix`...
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # types only: the diagnostics sit above scoring
    import pandas as pd

    from shortcutlab.diagnostics.accuracy import AccuracyResult
    from shortcutlab.diagnostics.groups import GroupedAccuracy
    from shortcutlab.scoring.config import ScoreConfig


@dataclass
class ScoreResult:
    """A finished scoring run: the table plus what happened (for the CLI and summary).

    `table`: the score table (DataFrame, the data file's order); `accuracy`: Eq. 2 with
    its 95% record-bootstrap interval (None without preference pairs); `summary()`: the
    JSON written to `<output stem>.summary.json` (`summary_path`).
    """

    table: pd.DataFrame  # one row per response (score-table contract)
    config: ScoreConfig | None = None  # the options the run used
    output: Path | None = None
    summary_path: Path | None = None
    n_records: int = 0
    resumed_records: int = 0
    scored_records: int = 0
    skipped: dict[str, int] = field(default_factory=dict)  # load + run time, by reason
    skipped_at_run_time: dict[str, int] = field(default_factory=dict)  # images that failed
    skip_bad_images: bool = False  # --skip-invalid with images read: skip undecodable ones
    group_by: str | None = None  # --group-by column
    groups: GroupedAccuracy | None = None  # per --group-by group, when the data has pairs
    excluded: dict[str, Any] | None = None  # --exclude-ids counts (Exclusion.to_dict)
    truncated: int = 0
    text_only: str | None = None  # the effective mode: None (with image), "drop", "blank"
    text_only_source: str = "model"  # "option" (given) or "model" (saved with the model)
    accuracy: AccuracyResult | None = None  # None without preference pairs
    already_complete: bool = False
    retried: dict[str, int] = field(default_factory=dict)  # earlier skips retried, by reason
    num_processes: int = 1
    fingerprint: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """The JSON-able summary written to `<output stem>.summary.json`."""
        return {
            "output": str(self.output) if self.output else None,
            "rows": int(len(self.table)),
            "records": self.n_records,
            "resumed_records": self.resumed_records,
            "scored_records": self.scored_records,
            "already_complete": self.already_complete,
            "retried": dict(self.retried),
            "skipped": dict(self.skipped),
            "skipped_at_run_time": dict(self.skipped_at_run_time),
            "truncated": self.truncated,
            "text_only": self.text_only,
            "text_only_source": self.text_only_source,
            "num_processes": self.num_processes,
            "accuracy": _json_floats(self.accuracy.to_dict()) if self.accuracy else None,
            "group_by": self.groups.to_dict() if self.groups is not None else None,
            "excluded": self.excluded,
            "fingerprint": self.fingerprint,
            "provenance": self.provenance,
        }


def _json_floats(d: dict[str, Any]) -> dict[str, Any]:
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in d.items()}
