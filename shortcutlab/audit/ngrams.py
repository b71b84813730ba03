"""Binary word n-gram rows (1..n words), computed with array operations.

This reproduces scikit-learn's `CountVectorizer(ngram_range=(1, n), binary=True,
min_df=..., max_features=...)` with the audit's token pattern (lower-cased text, tokens =
runs of word characters, n-grams joined by one space, never across two responses), and
exists because that vectorizer dominated the audit's featurizing: it builds its
vocabulary with one Python dict lookup per n-gram occurrence, then sorts and prunes the
vocabulary in Python. On the 100,000-pair speed benchmark (200,000 responses, about 37
million n-gram occurrences) that was about 43 s of CPU; this module takes 16 s for the
same matrix.

How: each response is tokenized with the same regular expression; the words of a chunk
of responses get integer ids from `pandas.factorize` (a C hash table), so only each
chunk's distinct words pass through a Python dict. An n-gram is identified by the id of
its first n-1 words and the id of its last word packed into one int64 key, itself
factorized to a dense id, so every order is a few numpy passes over the token array.
scipy builds the (response, n-gram) matrix and drops repeats within a response.

Same columns in the same (alphabetical) order as the vectorizer, with one deliberate
difference: n-grams tied in document frequency at the `max_features` cut are kept in
alphabetical order, where scikit-learn's unstable argsort keeps an arbitrary subset
(tests/test_audit_speed.py compares both, and checks the tie rule).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import chain

import numpy as np
import pandas as pd
import scipy.sparse as sp

TOKEN_PATTERN = r"(?u)\b\w+\b"  # single-letter words too ("a", "I")
_TOKEN_RE = re.compile(TOKEN_PATTERN)
_CHUNK = 20_000  # responses tokenized at a time: bounds the memory held by token strings
_SHIFT = 32  # key of an n-gram = (id of its first n-1 words) << 32 | id of its last word
_LOW = (1 << _SHIFT) - 1


def token_ids(
    texts: Sequence[str], vocab: dict[str, int], *, grow: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Word id of every token of `texts`, in order, (T,) int64, and tokens per text (N,).

    `grow`: unseen words are added to `vocab` (fitting); otherwise they get id -1.
    """
    ids, lens = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for start in range(0, len(texts), _CHUNK):
        toks = [_TOKEN_RE.findall(t.lower()) for t in texts[start : start + _CHUNK]]
        n = np.fromiter(map(len, toks), dtype=np.int64, count=len(toks))
        flat = np.fromiter(chain.from_iterable(toks), dtype=object, count=int(n.sum()))
        local, words = pd.factorize(flat)
        if grow:
            known = [vocab.setdefault(w, len(vocab)) for w in words]
        else:
            known = [vocab.get(w, -1) for w in words]
        ids.append(np.asarray(known, dtype=np.int64)[local])
        lens.append(n)
    return np.concatenate(ids), np.concatenate(lens)


def _binary_rows(doc: np.ndarray, col: np.ndarray, shape: tuple[int, int]) -> sp.csr_matrix:
    """CSR (N, V) with a 1 where `col` occurs in `doc` (`doc` non-decreasing), repeats once."""
    indptr = np.zeros(shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(doc, minlength=shape[0]), out=indptr[1:])
    mat = sp.csr_matrix((np.ones(len(col)), col, indptr), shape=shape)
    mat.sum_duplicates()
    mat.data[:] = 1.0
    return mat


class NgramCounter:
    """Fit a word n-gram vocabulary on texts; turn texts into binary (N, V) CSR rows.

    `ngram_max`: longest n-gram; `min_df`: an n-gram must occur in this many fitted
    texts; `max_features`: keep the n-grams of highest document frequency only. Column
    j is the n-gram `names[j]`; columns are in alphabetical order of the names.
    """

    def __init__(self, *, ngram_max: int = 2, min_df: int = 2, max_features: int = 50_000):
        if ngram_max < 1:
            raise ValueError("ngram_max must be >= 1")
        self.ngram_max = ngram_max
        self.min_df = min_df
        self.max_features = max_features
        self.vocab: dict[str, int] = {}  # every fitted word -> its id (= order-1 n-gram id)
        self.tables: list[pd.Index] = []  # order k >= 2: the n-grams' int64 keys, by id
        self.kept = np.zeros(0, np.int64)  # n-gram of each column, numbered over all orders
        self.names: list[str] = []

    def fit_transform(self, texts: Sequence[str]) -> sp.csr_matrix | None:
        """Learn the vocabulary of `texts` and return their rows, (N, V) CSR; None when no
        n-gram reaches `min_df` (empty or tiny texts)."""
        self.vocab, self.tables = {}, []
        mats = self._orders(texts, fit=True)
        df = np.concatenate([np.bincount(m.indices, minlength=m.shape[1]) for m in mats])
        keep = np.flatnonzero(df >= self.min_df)
        if len(keep) > self.max_features:
            keep = self._most_frequent(keep, df[keep])
        names = self._names(keep)
        order = sorted(range(len(keep)), key=names.__getitem__)
        self.kept = keep[np.asarray(order, dtype=np.int64)]
        self.names = [names[i] for i in order]
        return self._select(mats) if len(keep) else None

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Rows (N, V) of `texts` over the fitted columns (unseen n-grams are dropped)."""
        return self._select(self._orders(texts, fit=False))

    def _select(self, mats: list[sp.csr_matrix]) -> sp.csr_matrix:
        return sp.hstack(mats, format="csr")[:, self.kept].tocsr()

    def _orders(self, texts: Sequence[str], *, fit: bool) -> list[sp.csr_matrix]:
        """Per order k = 1..n: binary rows (N, n-grams of order k) of `texts`."""
        ids, lens = token_ids(texts, self.vocab, grow=fit)
        doc = np.repeat(np.arange(len(lens)), lens)  # text of each token
        left = np.repeat(np.cumsum(lens), lens) - np.arange(len(ids))  # tokens to text end
        ok = ids >= 0
        mats = [_binary_rows(doc[ok], ids[ok], (len(lens), len(self.vocab)))]
        prev = ids  # id of the (k-1)-gram starting at each token, -1 if none
        for k in range(2, self.ngram_max + 1):
            pos = np.flatnonzero((left >= k) & (prev >= 0))
            last = ids[pos + k - 1]
            pos, last = pos[last >= 0], last[last >= 0]
            keys = (prev[pos] << _SHIFT) | last
            if fit:
                codes, uniques = pd.factorize(keys)
                self.tables.append(pd.Index(uniques))
            else:
                codes = self.tables[k - 2].get_indexer(keys)
            prev = np.full(len(ids), -1, dtype=np.int64)
            prev[pos] = codes
            ok = prev >= 0
            mats.append(_binary_rows(doc[ok], prev[ok], (len(lens), len(self.tables[k - 2]))))
        return mats

    def _most_frequent(self, cand: np.ndarray, df: np.ndarray) -> np.ndarray:
        """The `max_features` of `cand` with the highest `df`; ties at the cut by name."""
        cut = np.partition(df, len(df) - self.max_features)[len(df) - self.max_features]
        above, tied = cand[df > cut], cand[df == cut]
        tied_names = self._names(tied)
        pick = sorted(range(len(tied)), key=tied_names.__getitem__)
        return np.concatenate([above, tied[pick[: self.max_features - len(above)]]])

    def _names(self, gids: np.ndarray) -> list[str]:
        """Text of n-grams numbered over all orders (order 1 first, then 2, ...)."""
        sizes = [len(self.vocab)] + [len(t) for t in self.tables]
        bounds = np.cumsum([0, *sizes])
        out = np.empty(len(gids), dtype=object)
        words = list(self.vocab)  # insertion order = id
        for k in range(1, len(sizes) + 1):
            sel = (gids >= bounds[k - 1]) & (gids < bounds[k])
            names = self._order_names(k, gids[sel] - bounds[k - 1], words)
            out[sel] = np.array(names, dtype=object)
        return out.tolist()

    def _order_names(self, k: int, ids: np.ndarray, words: list[str]) -> list[str]:
        if k == 1:
            return [words[i] for i in ids.tolist()]
        keys = self.tables[k - 2].to_numpy()[ids]
        heads = self._order_names(k - 1, keys >> _SHIFT, words)
        return [f"{h} {words[w]}" for h, w in zip(heads, (keys & _LOW).tolist(), strict=True)]
