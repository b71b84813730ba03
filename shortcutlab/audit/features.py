"""Pair-difference text features: what a cheap text-only proxy reads from two responses.

Each response becomes one feature row: binary word n-grams (`shortcutlab.audit.ngrams`,
the features of scikit-learn's `CountVectorizer` computed with array operations, fit on
the training responses) plus six dense style counts, each as
log1p(count): characters, words, sentences, digits, list markers and hedge phrases. A
pair's features are the difference of its two rows, x = f(first) - f(second), so a
linear model on x (no intercept) is a linear reward r(a) = w . f(a) and its margin
w . x = r(first) - r(second) is a Bradley-Terry logit, the cheap analogue of Delta_t.

Dense columns are divided by the root mean square of their pair differences on the
training pairs (label-free: the RMS ignores which side is chosen), so their weights are
"per typical difference" and comparable with the n-gram weights (a difference of 1 =
one response has the phrase, the other not).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from shortcutlab.audit.ngrams import NgramCounter

# Hedging phrases (lower case, matched on word boundaries): the cautious openers and
# qualifiers that human-refined or safety-tuned answers add.
HEDGES = (
    "it appears",
    "appears to",
    "it seems",
    "seems to",
    "from what i can see",
    "i think",
    "i believe",
    "likely",
    "possibly",
    "probably",
    "perhaps",
    "might",
    "may be",
    "could be",
    "not sure",
    "difficult to determine",
    "it is unclear",
    "hard to tell",
)
# matched on lower-cased text (faster than re.I); the leading lookahead on the phrases'
# first letters lets the regex engine skip other positions at once (2.7x faster, same
# matches: every phrase starts with one of those letters)
_HEDGE_FIRST = "".join(re.escape(c) for c in sorted({h[0] for h in HEDGES}))
_HEDGE_RE = re.compile(
    rf"(?=[{_HEDGE_FIRST}])\b(?:" + "|".join(re.escape(h) for h in HEDGES) + r")\b"
)
_SENTENCE_RE = re.compile(r"[.!?]+(?=\s|$)")
_NO_DIGITS = str.maketrans("", "", "0123456789")
_LIST_STARTS = tuple("-*\u20220123456789 \t")  # a list item on line 1 starts so
_LIST_RE = re.compile(r"^\s*(?:[-*\u2022]|\d+[.)])\s+", re.M)

# name -> what it counts (all enter the model as log1p(count))
DENSE = {
    "chars": "characters",
    "words": "whitespace-separated words",
    "sentences": "sentence ends (. ! ? before a space or the end)",
    "digits": "digit characters (0-9)",
    "list_items": "lines starting with a list marker (-, *, 1., 1))",
    "hedges": "hedge phrases (it appears, seems to, likely, ...)",
}


def dense_counts(texts: Sequence[str]) -> np.ndarray:
    """Raw style counts per text, shape (N, 6), columns in `DENSE` order."""
    out = np.zeros((len(texts), len(DENSE)), dtype=float)
    for i, t in enumerate(texts):
        out[i] = (
            len(t),
            len(t.split()),
            len(_SENTENCE_RE.findall(t)),
            len(t) - len(t.translate(_NO_DIGITS)),
            len(_LIST_RE.findall(t)) if "\n" in t or t[:1] in _LIST_STARTS else 0,
            len(_HEDGE_RE.findall(t.lower())),
        )
    return out


@dataclass
class FeatureInfo:
    """Names and kinds of the feature columns (n-grams first, then the dense ones)."""

    names: list[str]
    kinds: list[str]  # "ngram" | "style"


class PairFeaturizer:
    """Fit on training responses and pairs; turn responses into feature rows.

    `ngram_max`: longest word n-gram; `min_df`: an n-gram must occur in this many
    training responses; `max_features`: keep the most frequent n-grams only (bounds
    memory and time on 100k-pair data).
    """

    def __init__(self, *, ngram_max: int = 2, min_df: int = 2, max_features: int = 50_000):
        if ngram_max < 0:
            raise ValueError("ngram_max must be >= 0 (0 = style features only)")
        self.ngram_max = ngram_max
        self.min_df = min_df
        self.max_features = max_features
        self.ngrams: NgramCounter | None = None
        self.dense_scale = np.ones(len(DENSE))

    def fit(self, texts: Sequence[str], first: np.ndarray, second: np.ndarray) -> PairFeaturizer:
        """Learn the n-gram vocabulary from `texts` and the dense scales from the pairs."""
        self.fit_transform(texts, first, second)
        return self

    def fit_transform(
        self, texts: Sequence[str], first: np.ndarray, second: np.ndarray
    ) -> sp.csr_matrix:
        """Fit (see `fit`) and return the feature rows of `texts`, (N, F), in one pass.

        `first`, `second`: (P,) indices into `texts` of each training pair's two responses.
        """
        grams, self.ngrams = None, None
        if self.ngram_max > 0:
            self.ngrams = NgramCounter(
                ngram_max=self.ngram_max,
                min_df=min(self.min_df, max(1, len(texts))),
                max_features=self.max_features,
            )
            grams = self.ngrams.fit_transform(texts)
            if grams is None:  # no n-gram reaches min_df (tiny or empty texts)
                self.ngrams = None
        counts = np.log1p(dense_counts(texts))  # (N, 6)
        diff = counts[first] - counts[second]  # (P, 6)
        rms = np.sqrt(np.mean(diff**2, axis=0)) if len(diff) else np.ones(len(DENSE))
        self.dense_scale = np.where(rms > 0, rms, 1.0)
        return self._stack(grams, counts)

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Feature rows of `texts`, shape (N, n_ngrams + 6), CSR."""
        grams = self.ngrams.transform(texts) if self.ngrams is not None else None
        return self._stack(grams, np.log1p(dense_counts(texts)))

    def _stack(self, grams: sp.csr_matrix | None, counts: np.ndarray) -> sp.csr_matrix:
        """[n-grams | dense / scale]: (N, F) CSR from (N, V) n-grams and (N, 6) log counts."""
        parts = [sp.csr_matrix(counts / self.dense_scale)]
        if grams is not None:
            parts.insert(0, grams)
        return sp.hstack(parts, format="csr")

    def info(self) -> FeatureInfo:
        """Column names: the n-gram text, or the style name in brackets ("[chars]")."""
        grams = self.ngrams.names if self.ngrams is not None else []
        names = [*grams, *(f"[{d}]" for d in DENSE)]
        return FeatureInfo(names=names, kinds=["ngram"] * len(grams) + ["style"] * len(DENSE))


def pair_matrix(rows: sp.csr_matrix, first: np.ndarray, second: np.ndarray) -> sp.csr_matrix:
    """x = f(first) - f(second) per pair: (P, F) from response rows (N, F)."""
    return (rows[first] - rows[second]).tocsr()
