"""The audit's faster paths (issue 13) give what the library paths they replace give.

- `NgramCounter` = scikit-learn's `CountVectorizer` (same columns, names, order, matrix,
  and `transform` of unseen texts), on texts where no n-grams tie at the `max_features`
  cut (there scikit-learn's choice is arbitrary and ours alphabetical);
- `pairwise_accuracies` (one shared record resampling) = one `pairwise_accuracy` each;
- `write._jsonl` = `json.dumps(jsonable(row))` per row, byte for byte.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.feature_extraction.text import CountVectorizer

from shortcutlab.audit.ngrams import TOKEN_PATTERN, NgramCounter
from shortcutlab.audit.write import _jsonl
from shortcutlab.diagnostics.accuracy import pairwise_accuracies, pairwise_accuracy
from shortcutlab.diagnostics.result_files import jsonable

pytestmark = pytest.mark.unit

EDGE_TEXTS = [
    "Héllo WORLD, it's 2 a.m. -- snake_case and CamelCase.",
    "",
    "   ",
    "x",
    "İstanbul straße ǅ ÉCOLE école",
    "a b a b a b a",
    "It appears that the cat is red. It appears so.",
]


def _texts(n: int, seed: int = 0) -> list[str]:
    """Random texts over a Zipf-like vocabulary, plus the edge cases above."""
    rng = np.random.default_rng(seed)
    vocab = np.array([f"w{i}" for i in range(300)] + ["The", "the", "A", "a", "it's"])
    p = 1.0 / np.arange(1, len(vocab) + 1)
    texts = [
        " ".join(rng.choice(vocab, size=int(rng.integers(0, 30)), p=p / p.sum())) + "."
        for _ in range(n)
    ]
    return EDGE_TEXTS + texts


def _sklearn(n: int, max_features: int | None) -> CountVectorizer:
    return CountVectorizer(
        ngram_range=(1, n),
        token_pattern=TOKEN_PATTERN,
        binary=True,
        min_df=2,
        max_features=max_features,
        dtype=np.float64,
    )


@pytest.mark.parametrize("n", [1, 2, 3])
def test_ngrams_equal_count_vectorizer(n: int) -> None:
    texts, new = _texts(400), _texts(50, seed=1) + ["w1 w2 unseen w1 w2", "unseen only"]
    ref = _sklearn(n, None)
    want = ref.fit_transform(texts).tocsr()
    ours = NgramCounter(ngram_max=n, min_df=2, max_features=10**9)
    got = ours.fit_transform(texts)
    assert ours.names == list(ref.get_feature_names_out())
    assert got is not None and got.shape == want.shape and (got != want).nnz == 0
    assert (ours.transform(new) != ref.transform(new)).nnz == 0


def test_ngram_cut_keeps_the_most_frequent() -> None:
    """With `max_features`, the kept n-grams are the most frequent; ties go by name."""
    texts = _texts(400)
    ours = NgramCounter(ngram_max=2, min_df=2, max_features=60)
    got = ours.fit_transform(texts)
    full = _sklearn(2, None).fit(texts)
    df = np.asarray(full.transform(texts).sum(axis=0)).ravel()
    names = list(full.get_feature_names_out())
    ranked = sorted(range(len(names)), key=lambda j: (-df[j], names[j]))[:60]
    assert ours.names == sorted(names[j] for j in ranked)
    want = full.transform(texts).tocsc()[:, sorted(ranked, key=names.__getitem__)]
    assert got is not None and (got != want).nnz == 0


def test_ngrams_of_texts_without_repeats() -> None:
    assert NgramCounter(min_df=2).fit_transform(["a b", "c d", ""]) is None


def test_shared_bootstrap_equals_one_per_model() -> None:
    rng = np.random.default_rng(0)
    ids = [f"r{i // 3}" for i in range(300)]  # 3 pairs per record
    tables = {
        name: pd.DataFrame({"id": ids, "r_better": rng.normal(size=300) + shift, "r_worse": 0.0})
        for name, shift in (("a", 0.0), ("b", 0.5), ("c", -1.0))
    }
    tables["c"].loc[:9, "r_better"] = 0.0  # ties
    shared = pairwise_accuracies(tables, n_boot=200, seed=3)
    for name, table in tables.items():
        assert shared[name] == pairwise_accuracy(table, n_boot=200, seed=3)
    assert shared["c"].n_ties == 10


def test_jsonl_is_byte_identical(tmp_path) -> None:
    df = pd.DataFrame(
        {
            "id": ["a", "b/0>1", "ü"],
            "n": np.array([1, 2, 3], dtype="int64"),
            "r": [0.1, float("nan"), 1e-12],
            "ok": [True, None, False],
            "flag": np.array([True, False, True]),
            "label": ["chosen", "", "rejected"],
        }
    )
    rows = df.to_dict(orient="records")
    want = "".join(json.dumps(jsonable(r), ensure_ascii=False) + "\n" for r in rows)
    assert _jsonl(df, tmp_path / "t.jsonl").read_text(encoding="utf-8") == want
