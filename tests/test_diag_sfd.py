"""Def. 3.1 SFD on hand-built score tables with known subsets and accuracies."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from shortcutlab.data.schemas import load_dataset_file
from shortcutlab.diagnostics.sfd import sfd, sfd_table, split_pairs, write_subsets
from shortcutlab.errors import DataError
from shortcutlab.score_table import validate_score_table

pytestmark = pytest.mark.unit


def pairwise_scores(mm: list[tuple[float, float]], proxy: list[tuple[float, float]]):
    """Two score tables for pairwise records r0..: (chosen reward, rejected reward) each."""

    def table(rewards):
        rows = []
        for i, (c, r) in enumerate(rewards):
            rows.append({"id": f"r{i}", "response_index": 0, "reward": c, "label": "chosen"})
            rows.append({"id": f"r{i}", "response_index": 1, "reward": r, "label": "rejected"})
        return validate_score_table(pd.DataFrame(rows))

    return table(mm), table(proxy)


# proxy: right on r0-r3 (success), wrong on r4, r5, tied on r6 (-> fail)
PROXY = [(1, 0)] * 4 + [(0, 1), (0, 1), (0.5, 0.5)]
# MM: right on r0, r1, r2 (3/4 success), right on r4 only (1/3 fail), tie on r6
MM = [(1, 0), (1, 0), (1, 0), (0, 1), (1, 0), (0, 1), (2, 2)]


def test_sfd_known_answer_and_proxy_ties_are_fail():
    mm, proxy = pairwise_scores(MM, PROXY)
    res = sfd(mm, proxy, name="t", n_boot=300, seed=0)
    assert (res.success.n_pairs, res.fail.n_pairs) == (4, 3)
    assert res.success.accuracy == pytest.approx(0.75)
    assert res.fail.accuracy == pytest.approx(1 / 3)
    assert res.sfd == pytest.approx(100 * (0.75 - 1 / 3))
    assert res.proxy.n_ties == 1 and res.mm.n_ties == 1
    assert res.proxy.accuracy == pytest.approx(4 / 7)
    assert res.ci_low <= res.sfd <= res.ci_high
    again = sfd(mm, proxy, name="t", n_boot=300, seed=0)
    assert (again.ci_low, again.ci_high) == (res.ci_low, res.ci_high)
    row = sfd_table([res]).iloc[0]
    assert row["n_success"] == 4 and row["acc_fail_ci_low"] <= row["acc_fail"]


def test_sfd_needs_aligned_tables():
    mm, proxy = pairwise_scores(MM, PROXY)
    with pytest.raises(DataError, match="different responses"):
        sfd(mm, proxy.iloc[:-2], n_boot=10)


def test_multiresponse_pairs_split_across_subsets(tmp_path):
    # one VLFeedback-like record with 3 rated answers -> pairs (0,1), (0,2), (1,2)
    data = tmp_path / "vlf.jsonl"
    row = {
        "id": "m0",
        "prompt": "q",
        "img_path": None,
        "completions": [
            {
                "annotations": {"Helpfulness": {"Rating": str(s), "Rationale": ""}},
                "model": "x",
                "response": f"answer {s}",
            }
            for s in (3, 2, 1)
        ],
    }
    data.write_text(json.dumps(row) + "\n")
    base = {
        "id": ["m0"] * 3,
        "response_index": [0, 1, 2],
        "label": [""] * 3,
        "preference_score": [3.0, 2.0, 1.0],
    }
    mm = validate_score_table(pd.DataFrame({**base, "reward": [3.0, 2.0, 1.0]}))
    proxy = validate_score_table(pd.DataFrame({**base, "reward": [3.0, 1.0, 2.0]}))
    pairs = split_pairs(mm, proxy)
    assert pairs["subset"].tolist() == ["shortcut_success", "shortcut_success", "shortcut_fail"]
    res = sfd(mm, proxy, name="v", n_boot=20)
    assert np.isclose(res.sfd, 0.0)  # MM is right everywhere
    written = write_subsets(res, tmp_path / "out", data)
    fail = load_dataset_file(written["shortcut_fail"])
    assert fail.schema == "pairwise" and [r.responses for r in fail.records] == [
        ["answer 2", "answer 1"]
    ]
    succ = [json.loads(x) for x in written["shortcut_success_pairs"].read_text().splitlines()]
    assert [(r["better_index"], r["worse_index"]) for r in succ] == [(0, 1), (0, 2)]


def test_pairwise_subsets_keep_input_layout(tmp_path):
    data = tmp_path / "pairs.jsonl"
    data.write_text(
        "".join(
            json.dumps(
                {
                    "id": f"r{i}",
                    "prompt": "q",
                    "img_path": None,
                    "chosen": f"c{i}",
                    "rejected": f"x{i}",
                }
            )
            + "\n"
            for i in range(7)
        )
    )
    mm, proxy = pairwise_scores(MM, PROXY)
    written = write_subsets(sfd(mm, proxy, name="t", n_boot=10), tmp_path / "o", data)
    ids = [r.id for r in load_dataset_file(written["shortcut_fail"]).records]
    assert ids == ["r4", "r5", "r6"]
