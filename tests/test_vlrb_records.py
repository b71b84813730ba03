"""Benchmark-shaped data without images (tests/fixtures/data/vlrb_noimg.jsonl): repeated
ids keep their identity, text-only commands run with no image file, and `score` / `sfd` /
`matrix` take `--group-by` and `--exclude-ids` (issue 13 items 3-5, issue 12 item 3).

CLI checks run the console entry point in process (the `cli` fixture, COLUMNS=200).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pandas as pd
import pytest

from shortcutlab.data.adapters.benchmarks import vlrb_category
from shortcutlab.data.schemas import load_dataset_file
from shortcutlab.data.subsets import read_id_list
from shortcutlab.diagnostics.groups import group_values, grouped_accuracy
from shortcutlab.diagnostics.tables import pairs_table
from shortcutlab.errors import ConfigError, DataError
from shortcutlab.score_table import read_score_table, record_rows, to_frame, write_score_table

REPO = Path(__file__).resolve().parents[1]
VLRB = REPO / "tests" / "fixtures" / "data" / "vlrb_noimg.jsonl"
REPEATED = ("povid_2", "mathverse_1", "VLFeedback_3")
pytestmark = pytest.mark.integration


@pytest.fixture
def cli(cli):
    """The in-process `cli` fixture at 200 columns (the width these checks always had)."""
    return functools.partial(cli, env={"COLUMNS": "200"})


def tables(tmp_path: Path) -> tuple[Path, Path]:
    """An MM table right on every pair but the hallucination ones, and a length proxy."""
    recs = load_dataset_file(VLRB, images="ignore").records
    mm_rows, px_rows = [], []
    for rec in recs:
        best = rec.pairs[0][0]
        right = rec.meta["category"] != "hallucination"
        mm = [1.0 if (j == best) == right else 0.0 for j in range(2)]
        mm_rows += record_rows(rec, mm)
        px_rows += record_rows(rec, [float(len(r)) for r in rec.responses])
    mm_path, px_path = tmp_path / "mm.jsonl", tmp_path / "proxy.jsonl"
    write_score_table(to_frame(mm_rows, recs), mm_path)
    write_score_table(to_frame(px_rows, recs), px_path)
    return mm_path, px_path


# ----------------------------------------------------------------------------- library


def test_repeated_ids_keep_their_identity() -> None:
    res = load_dataset_file(VLRB, images="ignore")
    ids = [r.id for r in res.records]
    assert len(res.records) == 38 and len(set(ids)) == 38  # no option, nothing dropped
    for rid in REPEATED:
        first, *rest = [r for r in res.records if r.meta.get("source_id", r.id) == rid]
        assert first.id == rid and "source_id" not in first.meta  # first keeps the id
        assert (
            len(rest) == 1 and rest[0].id.startswith(rid + "#") and len(rest[0].id) == len(rid) + 9
        )
    assert {r["id"] for r in res.repeated_ids} == set(REPEATED)
    again = load_dataset_file(VLRB, images="ignore")  # deterministic keys
    assert [r.id for r in again.records] == ids


def test_identical_duplicate_is_an_error_unless_skipped(tmp_path: Path) -> None:
    lines = VLRB.read_text().splitlines()
    path = tmp_path / "dup.jsonl"
    path.write_text("\n".join([*lines, lines[4]]) + "\n")
    with pytest.raises(DataError, match="duplicate id 'VLFeedback_5' \\(first at line 5\\)"):
        load_dataset_file(path, images="ignore")
    res = load_dataset_file(path, images="ignore", skip_invalid=True)
    assert res.skipped == {"duplicate_id": 1} and len(res.records) == 38


def test_vlrb_categories_from_id_prefix() -> None:
    assert vlrb_category("RLAIF-V-Dataset_2107") == "hallucination"
    assert vlrb_category("wildvision-battle_12") == "general"
    assert vlrb_category("mmmu-pro_3") == "reasoning" and vlrb_category("other_1") == "general"
    recs = load_dataset_file(VLRB, images="ignore").records
    cats = pd.Series([r.meta["category"] for r in recs]).value_counts().to_dict()
    assert cats == {"hallucination": 16, "general": 11, "reasoning": 11}


def test_missing_images_only_matter_when_required() -> None:
    with pytest.raises(DataError, match="image file not found"):
        load_dataset_file(VLRB)
    with pytest.raises(ConfigError, match="images must be one of"):
        load_dataset_file(VLRB, images="skip")


def test_grouped_accuracy_and_macro(tmp_path: Path) -> None:
    mm_path, _ = tables(tmp_path)
    mm = read_score_table(mm_path)
    recs = load_dataset_file(VLRB, images="ignore").records
    groups = group_values("category", table=mm, records=recs)
    res = grouped_accuracy(pairs_table(mm), groups, "category", n_boot=50)
    accs = {g: r.accuracy for g, r in res.groups.items()}
    assert accs == {"general": 1.0, "hallucination": 0.0, "reasoning": 1.0}
    assert res.macro == pytest.approx(2 / 3)  # each group once, not pair-weighted (22/38)
    with pytest.raises(ConfigError, match="no such column"):
        group_values("nope", table=mm, records=recs)


# ----------------------------------------------------------------------------- CLI


def test_inspect_counts_missing_images_and_repeats(cli) -> None:
    rep = json.loads(cli("data", "inspect", VLRB, "--json", "--examples", "0").stdout)
    assert rep["records"] == 38 and rep["images"]["problems"] == {"missing_image": 28}
    assert rep["images"]["records_with_problem_image"] == 30
    assert rep["repeated_ids"]["ids"] == 3 and rep["repeated_ids"]["records_renamed"] == 3
    proc = cli("data", "inspect", VLRB, "--strict", code=2)
    assert "image file not found" in proc.stderr and "line 1" in proc.stderr


def test_length_balance_runs_without_images(tmp_path: Path, cli) -> None:
    mm_path, px_path = tables(tmp_path)
    cli("length-balance", VLRB, "-o", tmp_path / "lb")
    cli("length-balance", VLRB, "--scores", f"mm={mm_path}", "-o", tmp_path / "lb2")
    assert (tmp_path / "lb2" / "results.json").exists()


def test_sfd_group_by_and_exclude_ids(tmp_path: Path, cli) -> None:
    mm_path, px_path = tables(tmp_path)
    excl = tmp_path / "overlap_ids.txt"
    excl.write_text("povid_1\npovid_2\nnot_in_data\n")
    assert read_id_list(excl) == {"povid_1", "povid_2", "not_in_data"}
    out = tmp_path / "sfd"
    args = ["sfd", "--mm-scores", mm_path, "--proxy-scores", px_path, "--data", VLRB]
    proc = cli(*args, "--group-by", "category", "--exclude-ids", excl, "-o", out, "--n-boot", "50")
    res = json.loads((out / "results.json").read_text())
    # povid_2 repeats with other content: both of its records go (issue 21 item 9)
    assert res["excluded"]["mm"]["excluded_records"] == 3
    assert res["excluded"]["mm"]["ids_matched"] == 2
    assert res["excluded"]["mm"]["ids_not_in_input"] == 1
    assert res["sfd"][0]["n_pairs"] == 35
    sets = res["group_by"]["sets"]["mm"]
    groups = {g["name"]: g for g in sets["groups"]}
    assert set(groups) == {"general", "hallucination", "reasoning"}
    assert groups["general"]["acc_mm"] == 1.0 and groups["hallucination"]["acc_mm"] == 0.0
    assert sets["macro_acc_mm"] == pytest.approx(2 / 3)
    assert (out / "sfd_groups.csv").exists() and "macro over category" in proc.stdout
    assert "excluded 3 records" in proc.stdout


def test_matrix_exclude_ids(tmp_path: Path, cli) -> None:
    mm_path, _ = tables(tmp_path)
    folder = tmp_path / "scores"
    folder.mkdir()
    for name in ("standard__a__a", "standard__a__b"):
        (folder / f"{name}.jsonl").write_bytes(mm_path.read_bytes())
    excl = tmp_path / "ids.txt"
    excl.write_text("mathverse_1\nmathverse_2\n")
    out = tmp_path / "m"
    cli("matrix", "--from-scores", folder, "--exclude-ids", excl, "-o", out, "--n-boot", "20")
    cells = pd.read_csv(out / "matrix_cells.csv")
    assert cells["excluded_records"].tolist() == [3, 3]  # mathverse_1 repeats: both copies
    proc = cli("matrix", "--from-accuracies", out / "matrix_standard.csv", "--exclude-ids", excl,
               "-o", tmp_path / "m2", code=2)  # fmt: skip
    assert "--exclude-ids needs score tables" in proc.stderr


@pytest.mark.usefixtures("tiny_llava_dir")
def test_score_text_only_group_by_exclude_and_train(
    tmp_path: Path, tiny_llava_dir: Path, cli
) -> None:
    excl = tmp_path / "ids.txt"
    excl.write_text("povid_2\n")
    out = tmp_path / "s.jsonl"
    proc = cli("score", "--model", tiny_llava_dir, "--data", VLRB, "--output", out,
               "--text-only", "drop", "--group-by", "category", "--exclude-ids", excl)  # fmt: skip
    summary = json.loads(out.with_name("s.summary.json").read_text())
    # povid_2 repeats with other content: the listed id drops both copies (issue 21)
    assert summary["records"] == 36 and summary["excluded"]["excluded_records"] == 2
    assert set(summary["group_by"]["groups"]) == {"general", "hallucination", "reasoning"}
    assert summary["group_by"]["macro_accuracy"] is not None and "macro accuracy" in proc.stdout
    table = read_score_table(out)
    assert table["id"].nunique() == 36 and "mathverse_1#" in " ".join(table["id"])  # unambiguous
    assert not any(i.split("#")[0] == "povid_2" for i in table["id"])
    proc = cli(
        "score",
        "--model",
        tiny_llava_dir,
        "--data",
        VLRB,
        "--output",
        tmp_path / "img.jsonl",
        code=2,
    )  # fmt: skip  (images fed: today's error)
    assert "image file not found" in proc.stderr
    cli("train", "--mode", "text-only", "--model", tiny_llava_dir, "--data", VLRB, "--output",
        tmp_path / "run", "--max-steps", "1", "--per-device-train-batch-size", "2",
        "--no-tensorboard", "--no-progress")  # fmt: skip
    assert (tmp_path / "run" / "run_info.json").exists()


def test_audit_without_images_group_by_exclude_ids(tmp_path: Path, cli) -> None:
    mm_path, _ = tables(tmp_path)
    excl = tmp_path / "overlap_ids.txt"
    excl.write_text("povid_1\nreasoning_only_in_list\n")
    out = tmp_path / "audit"
    proc = cli("audit", VLRB, "-o", out, "--group-by", "category", "--exclude-ids", excl,
               "--mm-scores", mm_path, "--n-boot", "50")  # fmt: skip
    res = json.loads((out / "audit.json").read_text())
    assert res["records"] == 37 and res["excluded"]["excluded_records"] == 1
    assert res["excluded"]["ids_not_in_input"] == 1 and "excluded 1 records" in proc.stdout
    assert set(res["groups"]) == {"general", "hallucination", "reasoning"}
    assert res["macro_average"]["longer_chars"] == pytest.approx(
        sum(g["proxies"]["longer_chars"]["accuracy"] for g in res["groups"].values()) / 3
    )
    proxy = read_score_table(out / "proxy_scores.jsonl")
    assert proxy["id"].nunique() == 37 and "povid_1" not in set(proxy["id"])
    assert (out / "sfd.csv").exists()  # the MM table's excluded record is dropped too


def test_overlap_ids_feed_exclude_ids(tmp_path: Path, cli) -> None:
    """`overlap` on image-less data writes the ids `sfd --exclude-ids` reads."""
    train = tmp_path / "train.jsonl"
    train.write_text("".join(VLRB.read_text().splitlines(keepends=True)[:20]))
    cli("overlap", train, VLRB, "-o", tmp_path / "ov")
    ids = read_id_list(tmp_path / "ov" / "overlap_ids.txt")
    assert len(ids) == 20  # the same text examples (no image is needed to find them)
    mm_path, px_path = tables(tmp_path)
    out = tmp_path / "sfd"
    cli("sfd", "--mm-scores", mm_path, "--proxy-scores", px_path, "--exclude-ids",
        tmp_path / "ov" / "overlap_ids.txt", "-o", out, "--n-boot", "20")  # fmt: skip
    res = json.loads((out / "results.json").read_text())
    # povid_2 and VLFeedback_3 overlap and repeat later with other content: a listed id
    # matches every record whose original id it is, so 22 records go for 20 ids
    excluded = res["excluded"]["mm"]
    assert excluded["excluded_records"] == 22 and excluded["ids_matched"] == 20
    assert res["sfd"][0]["n_pairs"] == 16
