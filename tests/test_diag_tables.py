"""Score-table reading/validation, pair extraction and Eq. 2 accuracy with bootstrap."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from shortcutlab.data.records import Record, SourceLoc
from shortcutlab.diagnostics.accuracy import pairwise_accuracy
from shortcutlab.diagnostics.tables import align_score_tables, attach_rewards, pairs_table
from shortcutlab.errors import DataError, ShortcutlabError
from shortcutlab.score_table import (
    SCORE_COLUMNS,
    read_score_table,
    record_rows,
    to_frame,
    validate_score_table,
    write_score_table,
)

pytestmark = pytest.mark.unit


def _table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": ["a", "a", "b", "b", "c", "c", "c"],
            "response_index": [0, 1, 0, 1, 0, 1, 2],
            "reward": [1.0, 0.0, 0.5, 0.5, 3.0, 2.0, 1.0],
            "label": ["chosen", "rejected", "chosen", "rejected", "", "", ""],
            "preference_score": [np.nan, np.nan, np.nan, np.nan, 1.0, 2.0, 2.0],
        }
    )


def _write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_pairs_by_label_and_by_strict_preference_score():
    p = pairs_table(validate_score_table(_table()))
    got = list(zip(p["id"], p["better_index"], p["worse_index"], strict=True))
    # c: scores 1, 2, 2 -> (1, 0) and (2, 0); the 2-2 tie makes no pair.
    assert got == [("a", 0, 1), ("b", 0, 1), ("c", 1, 0), ("c", 2, 0)]
    assert p.attrs["n_records"] == 3


def test_accuracy_counts_ties_as_wrong():
    res = pairwise_accuracy(pairs_table(validate_score_table(_table())), n_boot=200)
    assert res.accuracy == pytest.approx(0.25)  # only a is right; b ties; c both wrong
    assert (res.n_pairs, res.n_ties, res.n_records) == (4, 1, 3)
    d = res.to_dict()
    assert d["accuracy"] == 0.25 and set(d) >= {"ci_low", "ci_high", "n_ties"}


def test_bootstrap_seeded_reproducible_and_contains_estimate():
    rng = np.random.default_rng(1)
    n = 300
    pairs = pd.DataFrame(
        {
            "id": [f"r{i // 3}" for i in range(n)],
            "better_index": 0,
            "worse_index": 1,
            "r_better": rng.normal(0.5, 1, n),
            "r_worse": rng.normal(0, 1, n),
        }
    )
    a = pairwise_accuracy(pairs, n_boot=500, seed=3)
    b = pairwise_accuracy(pairs, n_boot=500, seed=3)
    c = pairwise_accuracy(pairs, n_boot=500, seed=4)
    assert (a.ci_low, a.ci_high) == (b.ci_low, b.ci_high)
    assert (a.ci_low, a.ci_high) != (c.ci_low, c.ci_high)
    assert 0 <= a.ci_low <= a.accuracy <= a.ci_high <= 1
    assert a.n_records == 100


def test_read_jsonl_and_parquet_round_trip(tmp_path):
    rows = _table().to_dict("records")
    df = read_score_table(_write_jsonl(tmp_path / "s.jsonl", rows))
    assert df["response_index"].dtype == np.int64 and len(df) == 7
    _table().to_parquet(tmp_path / "s.parquet")
    assert read_score_table(tmp_path / "s.parquet")["reward"].tolist() == df["reward"].tolist()


@pytest.mark.parametrize(
    ("mutate", "field", "line"),
    [
        (
            lambda rows: [{k: v for k, v in r.items() if k != "reward"} for r in rows],
            "reward",
            None,
        ),
        (lambda rows: rows[:2] + [{**rows[2], "reward": "high"}] + rows[3:], "reward", 3),
        (
            lambda rows: rows[:1] + [{**rows[1], "response_index": 1.5}] + rows[2:],
            "response_index",
            2,
        ),
        (lambda rows: rows + [rows[4]], "response_index", 8),
        (lambda rows: rows[:1] + [{**rows[1], "label": "winner"}] + rows[2:], "label", 2),
    ],
)
def test_malformed_tables_name_file_line_and_column(tmp_path, mutate, field, line):
    rows = [
        {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in r.items()}
        for r in _table().to_dict("records")
    ]
    path = _write_jsonl(tmp_path / "bad.jsonl", mutate(rows))
    with pytest.raises(DataError) as ei:
        read_score_table(path)
    err = ei.value
    assert err.field == field and err.file == str(path) and err.line == line
    assert "bad.jsonl" in str(err)


def test_align_requires_same_rows_and_attach_rewards():
    a = validate_score_table(_table())
    b = a.copy()
    b["reward"] = -b["reward"]
    al = align_score_tables(a, b)
    assert al["reward_proxy"].tolist() == (-a["reward"]).tolist()
    with pytest.raises(DataError, match="1 rows only in the mm table"):
        align_score_tables(a, b.iloc[:-1])
    pairs = pd.DataFrame({"id": ["c"], "better_index": [2], "worse_index": [0]})
    assert attach_rewards(pairs, a)[["r_better", "r_worse"]].values.tolist() == [[1.0, 3.0]]
    with pytest.raises(DataError, match="no score"):
        attach_rewards(pd.DataFrame({"id": ["z"], "better_index": [0], "worse_index": [1]}), a)


# ----------------------------------------------------------------------------- the contract


def test_score_table_written_bytes_are_the_contract(tmp_path):
    """`record_rows` -> `to_frame` -> `write_score_table` gives exactly these JSONL bytes."""
    recs = [
        Record(
            id="r1",
            prompt="What colour?",
            responses=["Red.", "A green one."],
            pairs=[(0, 1)],
            loc=SourceLoc("/x/d.jsonl", 1),
        ),
        Record(
            id=7,
            prompt="Q ünï",
            responses=["a", "b b"],
            scores=[2.0, None],
            meta={"environment": "e"},
        ),
    ]
    rewards = [[0.5, -1.25], [1e-8, 3.0]]
    rows = [row for rec, r in zip(recs, rewards, strict=True) for row in record_rows(rec, r)]
    out = write_score_table(to_frame(rows, recs), tmp_path / "s.jsonl")
    lengths = '"prompt_chars": 12, "prompt_words": 2, "response_chars": {}, "response_words": {}'
    want = [
        '{"id": "r1", "response_index": 0, "reward": 0.5, "label": "chosen", '
        '"preference_score": null, ' + lengths.format(4, 1) + ', "source": "d.jsonl", '
        '"environment": ""}',
        '{"id": "r1", "response_index": 1, "reward": -1.25, "label": "rejected", '
        '"preference_score": null, ' + lengths.format(12, 3) + ', "source": "d.jsonl", '
        '"environment": ""}',
        '{"id": "7", "response_index": 0, "reward": 1e-08, "label": "", "preference_score": 2.0, '
        '"prompt_chars": 5, "prompt_words": 2, "response_chars": 1, "response_words": 1, '
        '"source": "", "environment": "e"}',
        '{"id": "7", "response_index": 1, "reward": 3.0, "label": "", "preference_score": null, '
        '"prompt_chars": 5, "prompt_words": 2, "response_chars": 3, "response_words": 2, '
        '"source": "", "environment": "e"}',
    ]
    assert out.read_text(encoding="utf-8") == "".join(line + "\n" for line in want)
    back = read_score_table(out)
    assert list(back.columns) == SCORE_COLUMNS and back["id"].tolist() == ["r1", "r1", "7", "7"]
    with pytest.raises(ShortcutlabError, match="missing columns"):
        write_score_table(pd.DataFrame({"id": ["a"]}), tmp_path / "bad.jsonl")


@pytest.mark.e2e  # a fresh Python process
def test_diagnostics_read_score_tables_without_torch_or_scoring():
    """The contract and the diagnostics that read it load neither torch nor scoring/."""
    code = (
        "import sys\n"
        "import shortcutlab.score_table, shortcutlab.diagnostics.tables\n"
        "import shortcutlab.diagnostics.accuracy\n"
        "bad = [m for m in sys.modules if m == 'torch' or m.startswith('shortcutlab.scoring')]\n"
        "print(bad)"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]"
