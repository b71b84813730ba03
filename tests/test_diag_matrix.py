"""Generalization matrix means: the paper's Figure 1(a) / Table 5 numbers come back."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from shortcutlab.diagnostics.matrix import (
    matrix_difference,
    matrix_from_score_files,
    matrix_summary,
    parse_score_filename,
    read_accuracy_csv,
)
from shortcutlab.errors import DataError

pytestmark = pytest.mark.unit

# Table 5 full-size rows (standard MM-RM, InternVL2-8B), tested on VLF / POVID / RLHF-V.
TABLE5 = (
    "train,VLF,POVID,RLHF-V\nVLF,87.1,89.5,69.0\nPOVID,60.0,100.0,47.8\nRLHF-V,67.5,75.0,87.0\n"
)


def test_table5_rows_and_figure1_means(tmp_path):
    path = tmp_path / "std.csv"
    path.write_text(TABLE5)
    s = matrix_summary(read_accuracy_csv(path))
    povid = next(r for r in s["rows"] if r["train_env"] == "POVID")
    assert povid["in_distribution"] == pytest.approx(100.0)
    assert round(povid["out_of_distribution"], 1) == 53.9
    assert round(s["iid_mean"], 1) == 91.4 and round(s["ood_mean"], 1) == 68.1


def test_nonsquare_and_missing_cells():
    mat = pd.DataFrame([[80.0, np.nan, 60.0]], index=["a"], columns=["a", "b", "c"])
    s = matrix_summary(mat)
    assert s["iid_mean"] == 80.0 and s["ood_mean"] == 60.0  # NaN (not run) left out


@pytest.mark.parametrize(
    ("text", "line", "field"),
    [("train,a\na,abc\n", 2, "a"), ("train,a,b\na,50,\nb,1.2,140\n", 3, "b")],
)
def test_bad_csv_cells(tmp_path, text, line, field):
    path = tmp_path / "m.csv"
    path.write_text(text)
    with pytest.raises(DataError) as ei:
        read_accuracy_csv(path)
    assert (ei.value.line, ei.value.field) == (line, field)


def _scores(path, correct: int, n: int = 4):
    rows = []
    for i in range(n):
        good = 1.0 if i < correct else -1.0
        rows += [
            {"id": f"r{i}", "response_index": 0, "reward": good, "label": "chosen"},
            {"id": f"r{i}", "response_index": 1, "reward": 0.0, "label": "rejected"},
        ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_matrix_from_score_files_per_mode_and_difference(tmp_path):
    for mode, acc in (("standard", {"x": 4, "y": 1}), ("shortcut-aware", {"x": 3, "y": 3})):
        for train in ("x", "y"):
            for test in ("x", "y"):
                k = acc[test] if train != test else 4
                _scores(tmp_path / f"{mode}__{train}__{test}.jsonl", k)
    (tmp_path / "notes.txt").write_text("ignored: not a score file name")
    mats, long = matrix_from_score_files(tmp_path, n_boot=50)
    assert set(mats) == {"standard", "shortcut-aware"} and len(long) == 8
    std = mats["standard"]
    assert list(std.index) == list(std.columns) == ["x", "y"]
    assert std.loc["x", "y"] == 25.0 and std.loc["y", "x"] == 100.0
    assert matrix_summary(std)["ood_mean"] == pytest.approx(62.5)
    title, diff = matrix_difference(mats)
    assert title == "shortcut-aware - standard" and diff.loc["x", "y"] == pytest.approx(50.0)


def test_score_file_naming():
    assert parse_score_filename("shortcut-aware__vlf__povid.parquet") == (
        "shortcut-aware",
        "vlf",
        "povid",
    )
    assert parse_score_filename("standard__vlf.jsonl") is None
    with pytest.raises(DataError, match="no score files"):
        matrix_from_score_files([])
