"""Cheap text-only proxies: per-response rewards from the text alone (no VLM, no image).

Every proxy gives each response a reward r(a); a pair's margin is
b = r(better) - r(worse), the cheap analogue of the paper's Delta_t (method card,
"cheap text-only proxies"). The proxy is right on a pair when b > 0 (strictly; ties are
wrong, as in Eq. 2), which is the shortcut-success / fail split of Def. 3.1.

- `longer_chars` / `shorter_chars`, `longer_words` / `shorter_words`,
  `longer_tokens` / `shorter_tokens` (with a tokenizer): r(a) = +-length(a);
- `text_lr`: a logistic regression on pair-difference text features
  (`shortcutlab.audit.features`) without intercept, so r(a) = w . f(a) and
  b = w . (f(first) - f(second)) = logit P(first is chosen). Fit on a training set and
  applied to the audited data, or k-fold cross-validated on the audited data (folds
  split records, so a K-response record's pairs stay in one fold).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from shortcutlab.audit.features import PairFeaturizer, pair_matrix
from shortcutlab.data.inspect import counting_only
from shortcutlab.data.records import Record
from shortcutlab.errors import ConfigError, DataError

LR_NAME = "text_lr"
DESCRIPTIONS = {
    "longer_chars": "longer wins (characters)",
    "shorter_chars": "shorter wins (characters)",
    "longer_words": "longer wins (words)",
    "shorter_words": "shorter wins (words)",
    "longer_tokens": "longer wins (tokens)",
    "shorter_tokens": "shorter wins (tokens)",
    LR_NAME: "logistic regression on pair-difference text features (n-grams + style)",
}


@dataclass
class PairSet:
    """The responses of a record list, flattened, and every (better, worse) pair.

    Response rows are numbered over all records in order; `better` / `worse` index them.
    """

    records: list[Record]
    texts: list[str]  # (N,) every response
    start: np.ndarray  # (R,) row of each record's first response
    rec: np.ndarray  # (P,) record index of each pair
    better: np.ndarray  # (P,) response row of the better answer
    worse: np.ndarray  # (P,) response row of the worse answer

    @property
    def n_pairs(self) -> int:
        return len(self.rec)

    def local(self) -> tuple[np.ndarray, np.ndarray]:
        """(better_index, worse_index) within each pair's record, shape (P,) each."""
        s = self.start[self.rec]
        return self.better - s, self.worse - s

    def ids(self) -> np.ndarray:
        """Record id of each pair, (P,) strings."""
        rid = np.array([str(r.id) for r in self.records], dtype=object)
        return rid[self.rec]

    def pair_ids(self) -> list[str]:
        """A readable id per pair: the record id, plus `/b>w` for multi-pair records."""
        counts = np.bincount(self.rec, minlength=len(self.records))
        b, w = self.local()
        return [
            str(self.records[r].id) if counts[r] == 1 else f"{self.records[r].id}/{bi}>{wi}"
            for r, bi, wi in zip(self.rec, b, w, strict=True)
        ]


def pair_set(records: Sequence[Record], *, where: str = "") -> PairSet:
    """Flatten `records` into a `PairSet`; DataError when they hold no preference pair."""
    texts: list[str] = []
    start, rec, better, worse = [], [], [], []
    for i, r in enumerate(records):
        start.append(len(texts))
        for b, w in r.pairs:
            rec.append(i)
            better.append(len(texts) + b)
            worse.append(len(texts) + w)
        texts.extend(r.responses)
    if not rec:
        raise DataError(
            "no preference pairs (records without chosen/rejected or strict score "
            "differences), so there is nothing to audit.",
            file=where or None,
            reason="no_pairs",
            hint="The audit needs preference data: chosen/rejected pairs, or per-response "
            "ratings with strict differences (docs/data-formats.md).",
        )
    as_int = np.asarray
    return PairSet(
        records=list(records),
        texts=texts,
        start=as_int(start, dtype=np.int64),
        rec=as_int(rec, dtype=np.int64),
        better=as_int(better, dtype=np.int64),
        worse=as_int(worse, dtype=np.int64),
    )


# ----------------------------------------------------------------------------- length


def length_rewards(texts: Sequence[str], tokenizer: str | None = None) -> dict[str, np.ndarray]:
    """The longer/shorter-wins rewards, each (N,): chars and words, tokens with a tokenizer."""
    chars = np.array([len(t) for t in texts], dtype=float)
    words = np.array([len(t.split()) for t in texts], dtype=float)
    out = {
        "longer_chars": chars,
        "shorter_chars": -chars,
        "longer_words": words,
        "shorter_words": -words,
    }
    if tokenizer:
        tokens = token_counts(texts, tokenizer)
        out |= {"longer_tokens": tokens, "shorter_tokens": -tokens}
    return out


def token_counts(texts: Sequence[str], model: str) -> np.ndarray:
    """Tokens per text with `model`'s tokenizer (no special tokens), shape (N,)."""
    # transformers is heavy and only needed with --tokenizer
    from transformers import AutoTokenizer

    try:
        tok = counting_only(AutoTokenizer.from_pretrained(model))  # counts, never fed
    except Exception as exc:  # OSError, ValueError, ... from hub / local folders
        raise ConfigError(
            f"cannot load a tokenizer from '{model}': {str(exc).rstrip('.')}. Give a local "
            "model folder or a hub name available offline."
        ) from None
    enc = tok(list(texts), add_special_tokens=False)["input_ids"]
    return np.array([len(ids) for ids in enc], dtype=float)


# ----------------------------------------------------------------------------- regression


@dataclass
class TextLR:
    """A fitted text-only logistic regression: featurizer plus weights (no intercept)."""

    featurizer: PairFeaturizer
    coef: np.ndarray  # (F,)

    def rewards(self, texts: Sequence[str]) -> np.ndarray:
        """r(a) = w . f(a) per response, (N,)."""
        return np.asarray(self.featurizer.transform(texts) @ self.coef, dtype=float)


def fit_weights(x: sp.csr_matrix, *, c: float = 1.0) -> np.ndarray:
    """Weights w (F,) of logistic regression P(first chosen) = sigmoid(w . x), no intercept.

    Every training pair is oriented better-first. Without an intercept, flipping a
    pair (x -> -x, label 1 -> 0) leaves its log-loss unchanged, so every other pair is
    flipped to give the solver two classes; the optimum is the same as for all-positive
    labels and cannot learn a "first is chosen" position bias.

    Solver: scikit-learn's L-BFGS (primal, default `tol` = 1e-4 on the gradient) on a
    float32 copy of `x`, always started from zero: a cross-validation fold started from
    the full fit's weights (20-25% fewer iterations) would stop, at the solver's tolerance,
    nearer a model that has seen the held-out fold, and report an optimistic accuracy. It
    replaced liblinear's dual
    coordinate descent, which converges slowly on large n-gram data: at 100,000 pairs
    the full fit took 71.5 s CPU there and 17.4 s here, the six fits of 5-fold
    cross-validation 304 s and 72 s. Both stop at a tolerance, so the weights differ
    slightly. Measured on `benchmarks/audit_speed.py` data, same features: weights
    correlate 0.9996 (20,000 pairs) and 0.9994 (100,000) with liblinear's, and the
    cross-validated success / fail split of the pairs agrees on 99.2% and 99.0%.
    """
    n = x.shape[0]
    if n == 0:
        raise DataError("no training pairs for the text-only regression.", reason="no_pairs")
    if n == 1:
        x = sp.vstack([x, -x], format="csr")
        sign = np.array([1.0, -1.0])
    else:
        sign = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
    x = sp.csr_matrix(x, dtype=np.float32, copy=True)
    x.data *= np.repeat(sign, np.diff(x.indptr)).astype(np.float32)  # flip odd rows
    y = (sign > 0).astype(int)
    model = LogisticRegression(fit_intercept=False, C=c, solver="lbfgs", max_iter=1000)
    # one thread: the solver's time is in scipy's single-threaded sparse products; more
    # BLAS / OpenMP threads for its vector updates and per-sample loss only add waiting
    # (3x the CPU time with OMP_NUM_THREADS=2 on the shared 2-core machine)
    with threadpool_limits(limits=1):
        model.fit(x, y)
    return model.coef_.ravel().astype(float)


def fit_text_lr(
    ps: PairSet, *, ngram_max: int = 2, c: float = 1.0, max_features: int = 50_000
) -> TextLR:
    """Fit the featurizer and the regression on all pairs of `ps` (a training set)."""
    feat = PairFeaturizer(ngram_max=ngram_max, max_features=max_features)
    rows = feat.fit_transform(ps.texts, ps.better, ps.worse)
    coef = fit_weights(pair_matrix(rows, ps.better, ps.worse), c=c)
    return TextLR(featurizer=feat, coef=coef)


def cross_validated(
    ps: PairSet,
    *,
    folds: int = 5,
    seed: int = 0,
    ngram_max: int = 2,
    c: float = 1.0,
    max_features: int = 50_000,
    where: str = "",
) -> tuple[np.ndarray, TextLR, sp.csr_matrix]:
    """Out-of-fold rewards (N,) on `ps`, the model fit on all of it (for weights), and the
    feature rows (N, F) of `ps`'s responses.

    The featurizer (vocabulary, dense scales) is fit once on all responses: it reads no
    label. Records are assigned to `folds` folds at seeded random; each fold's responses
    are scored by the regression fit on the other folds' pairs (from zero weights: no
    information of the held-out fold reaches its model).
    """
    n_rec = len(ps.records)
    with_pairs = np.unique(ps.rec)
    if folds < 2:
        raise ConfigError("--folds must be at least 2.")
    if len(with_pairs) < 2:
        raise DataError(
            f"cross-validation needs at least 2 records with pairs, found {len(with_pairs)}.",
            file=where or None,
            reason="no_pairs",
            hint="Pass a training set with --train.",
        )
    k = min(folds, len(with_pairs))
    fold = np.full(n_rec, -1, dtype=np.int64)  # records without pairs need no score fold
    perm = np.random.default_rng(seed).permutation(with_pairs)
    fold[perm] = np.arange(len(perm)) % k
    feat = PairFeaturizer(ngram_max=ngram_max, max_features=max_features)
    rows = feat.fit_transform(ps.texts, ps.better, ps.worse)  # (N, F)
    x = pair_matrix(rows, ps.better, ps.worse).astype(np.float32)  # (P, F), as fit
    row_rec = np.repeat(np.arange(n_rec), np.diff(np.append(ps.start, len(ps.texts))))
    full = TextLR(featurizer=feat, coef=fit_weights(x, c=c))
    rewards = np.asarray(rows @ full.coef, dtype=float)  # records without pairs keep these
    for f in range(k):
        coef = fit_weights(x[fold[ps.rec] != f], c=c)
        held = fold[row_rec] == f
        rewards[held] = rows[held] @ coef
    return rewards, full, rows
