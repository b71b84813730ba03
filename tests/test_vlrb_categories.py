"""VL-RewardBench categories derived as the benchmark's own script does (issue 21 item 1).

The file below has the published file's shape (id, query, response, human_ranking,
models, judge, rationale, query_source, meta, human_error_analysis; no image) and ids
covering every prefix the benchmark's cal.py knows, its default (VLFeedback records named
after their own sources) and the `hallucination_pair-N` POVID ids. The expected category
of each id is written out by hand here, and the macro average is recomputed the way
cal.py computes it (per group agree / (agree + reject), mean of the three), independently
of shortcutlab's code.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shortcutlab.data.adapters.benchmarks import vlrb_category, vlrb_subset

pytestmark = pytest.mark.integration

# id -> category as the benchmark's script assigns it (see the adapter's comment)
EXPECTED = {
    "RLAIF-V-14": "hallucination",
    "RLAIF-V-Dataset_2107": "hallucination",
    "RLHF-V-Dataset_88": "hallucination",
    "RLHF-V-5": "hallucination",
    "povid_12": "hallucination",
    "hallucination_pair-1942": "hallucination",
    "hallucination_pair-221": "hallucination",
    "hallucination_pair-2061": "hallucination",
    "mathverse_3253": "reasoning",
    "mmmu_pro_test_Electronics_252": "reasoning",
    "mmmu-pro_7": "reasoning",
    "wildvision-battle_12": "general",
    "wildvision_3": "general",
    "VLFeedback_3": "general",
    "LRVInstruction-000000007746": "general",
    "SVIT-41": "general",
    "m3it_vqa_9": "general",
    "rlaif-v-1": "general",  # cal.py compares "RLAIF" case-sensitively: default
}


def _row(rid: str, i: int) -> dict:
    """One record in the published shape; the second response grows with i (no ties)."""
    chosen_first = i % 3 != 0
    a, b = "short answer.", "a much longer answer " + "word " * (i + 1)
    return {
        "id": rid,
        "query": f"Question {i}?",
        "response": [a, b],
        "human_ranking": [0, 1] if chosen_first else [1, 0],
        "models": ["m1", "m2"],
        "judge": "human",
        "rationale": None,
        "query_source": "src",
        "meta": {},
        "human_error_analysis": ["hallucination"],
    }


@pytest.fixture
def vlrb_file(tmp_path: Path) -> Path:
    path = tmp_path / "vl_rewardbench.jsonl"
    rows = [_row(rid, i) for i, rid in enumerate(EXPECTED)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def script_macro(rows: list[dict], category: dict[str, str]) -> tuple[dict, float]:
    """cal.py's per-group accuracy and macro average for the longer-wins judge."""
    correct: dict[str, int] = {}
    total: dict[str, int] = {}
    for r in rows:
        lengths = [len(t) for t in r["response"]]
        picked = lengths.index(max(lengths))
        agree = r["human_ranking"][picked] == 0
        g = category[r["id"]]
        correct[g] = correct.get(g, 0) + int(agree)
        total[g] = total.get(g, 0) + 1
    acc = {g: correct[g] / total[g] for g in total}
    return acc, sum(acc[g] for g in ("reasoning", "hallucination", "general")) / 3


def test_every_known_prefix_and_the_default() -> None:
    got = {rid: vlrb_category(rid) for rid in EXPECTED}
    assert got == EXPECTED
    assert vlrb_subset("hallucination_pair-7") == "povid"
    assert vlrb_subset("LRVInstruction-1") == "vlfeedback"
    # the older data.jsonl's image folder names the subset, as cal.py's first version read it
    assert vlrb_subset("LRVInstruction-1", "images/povid/x.jpg") == "povid"
    assert vlrb_subset("x", "pics/povid/x.jpg") == "vlfeedback"


def test_audit_groups_three_categories_and_script_macro(vlrb_file: Path, cli, tmp_path) -> None:
    out = tmp_path / "audit"
    args = ["--group-by", "category", "--ngrams", "0", "--folds", "2", "--n-boot", "20"]
    r = cli("audit", vlrb_file, *args, "-o", out, "--json")
    audit = r.json()
    groups = audit["groups"]
    assert set(groups) == {"general", "hallucination", "reasoning"}  # no "(missing)"
    counts = {g: sum(1 for c in EXPECTED.values() if c == g) for g in groups}
    assert {g: v["records"] for g, v in groups.items()} == counts
    assert "(missing)" not in r.stderr and "warning" not in r.stderr
    rows = [json.loads(line) for line in vlrb_file.read_text().splitlines()]
    acc, macro = script_macro(rows, EXPECTED)
    for g, a in acc.items():
        assert groups[g]["proxies"]["longer_chars"]["accuracy"] == pytest.approx(a)
    assert audit["macro_average"]["longer_chars"] == pytest.approx(macro)


def test_missing_group_is_said_on_stderr(tmp_path: Path, cli) -> None:
    """A field some records lack: the "(missing)" group is named with its count."""
    rows = [
        {"id": f"p{i}", "prompt": f"q{i}?", "chosen": "yes " * (i + 2), "rejected": "no"}
        | ({"env": "a"} if i < 5 else {})
        for i in range(8)
    ]
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    args = ["--group-by", "env", "--ngrams", "0", "--folds", "2", "--n-boot", "20"]
    r = cli("audit", path, *args, "-o", tmp_path / "a", "--json")
    assert set(r.json()["groups"]) == {"a", "(missing)"}
    assert "3 of 8 records have no 'env' value" in r.stderr
