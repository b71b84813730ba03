"""The canonical record every schema adapter produces and every later stage consumes.

A record is one prompt (with at most one image) and its K >= 1 responses, plus the
preference over them:
- pairwise data: responses = [chosen, rejected], pairs = [(0, 1)];
- multi-response data (VLFeedback-style, VL-RewardBench): per-response `scores`
  (higher is better; None = unparsable) and `pairs` = every (better, worse) index pair
  with a strict score difference. The K-response group is kept whole so training and
  scoring can run all K responses in one forward and read all pairs' losses from K
  rewards (not 2*C(K,2) sequences);
- inference data (`responses` only): no preference, pairs = [].

A leaf module: it imports nothing of the package, so every layer (reading, adapters,
writing, modeling, scoring) may depend on it. Writing records back to files lives in
`shortcutlab.data.writing`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any


@dataclass(frozen=True)
class ImageRef:
    """Where a record's image comes from; decoded lazily by `shortcutlab.data.images`.

    Exactly one of `path` (absolute, already resolved against the data file's folder),
    `data` (encoded bytes) or `pil` (a PIL.Image) is set.
    """

    path: str | None = None
    data: bytes | None = None
    pil: Any = None
    origin: str = ""  # how the data file named it (for error messages)
    field: str = "image"  # the data file's field that held it (for error messages)

    def key(self) -> str:
        """A stable identity used to share one encoded image across responses."""
        if self.path is not None:
            return f"path:{self.path}"
        if self.data is not None:
            return "bytes:" + hashlib.sha1(self.data).hexdigest()
        return f"pil:{id(self.pil)}"


@dataclass(frozen=True)
class SourceLoc:
    """File and line (JSONL/JSON, 1-based) or row (parquet/datasets, 0-based)."""

    file: str
    line: int
    row_word: str = "line"


@dataclass
class Record:
    """One prompt, optional image, K responses and the preference over them."""

    id: str
    prompt: str
    responses: list[str]
    image: ImageRef | None = None
    pairs: list[tuple[int, int]] = field(default_factory=list)  # (better, worse)
    scores: list[float | None] | None = None  # per-response rating, higher is better
    schema: str = ""
    loc: SourceLoc | None = None
    meta: dict[str, Any] = field(default_factory=dict)  # source-specific extras

    @property
    def is_pairwise(self) -> bool:
        return self.scores is None and self.pairs == [(0, 1)] and len(self.responses) == 2

    def labels(self) -> list[str]:
        """`chosen`/`rejected` per response for pairwise records, '' otherwise."""
        if self.is_pairwise:
            return ["chosen", "rejected"]
        return [""] * len(self.responses)


def pairs_from_scores(scores: list[float | None]) -> tuple[list[tuple[int, int]], int, int]:
    """All C(n, 2) (better, worse) pairs with a strict score difference.

    Returns (pairs, n_ties, n_unscored) where ties and pairs touching an unparsable
    (None) score are skipped and counted, as the official code does.
    """
    pairs: list[tuple[int, int]] = []
    ties = unscored = 0
    for i, j in combinations(range(len(scores)), 2):
        si, sj = scores[i], scores[j]
        if si is None or sj is None:
            unscored += 1
        elif si > sj:
            pairs.append((i, j))
        elif sj > si:
            pairs.append((j, i))
        else:
            ties += 1
    return pairs, ties, unscored
