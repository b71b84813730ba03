"""Prompt-only files (issue 21 items 8 and 9): LLaVA-Bench's own questions.jsonl read
through the `prompt_only` schema, compared by `overlap` with the pairs built from the same
benchmark, and scoring refused with a message that says why.

Real third-party files from ../shared/realdata (the `realdata` fixture skips without it).
LLaVA-Bench's questions name their images `001.jpg` while the files lie in images/, so
from the questions file's folder no image resolves: `overlap` must say its image columns
were not checked ("not checked: N images unreadable"), not report 0 identical images.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shortcutlab.data.schemas import load_dataset_file

pytestmark = pytest.mark.integration


@pytest.fixture
def bench(realdata: Path) -> Path:
    return realdata / "llava-bench-in-the-wild"


def test_questions_file_is_prompt_only(bench: Path) -> None:
    res = load_dataset_file(bench / "questions.jsonl", image_root=str(bench / "images"))
    assert res.schema == "prompt_only" and len(res.records) == 60
    first = res.records[0]
    assert first.id == "0" and first.responses == [] and first.pairs == []
    assert first.prompt == "What is the name of this famous sight in the photo?"
    assert first.meta["category"] == "conv" and first.image.path.endswith("images/001.jpg")
    # the answer files of the same benchmark are not mistaken for prompt-only files
    with pytest.raises(Exception, match="cannot detect the data schema"):
        load_dataset_file(bench / "answers_gpt4.jsonl", images="ignore")


def test_field_detection(tmp_path: Path) -> None:
    """question / text / prompt and image / image_path / img_path, ids kept as given."""
    rows = [
        {"question_id": 7, "question": "Q1?", "image": "a.png"},  # RLAIF-V eval inputs
        {"idx": "x2", "prompt": "<image>\nQ2?", "image_path": "b.png"},
        {"id": "x3", "text": "Q3?"},
    ]
    path = tmp_path / "prompts.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    recs = load_dataset_file(path, images="ignore").records
    assert [(r.id, r.prompt) for r in recs] == [("7", "Q1?"), ("x2", "Q2?"), ("x3", "Q3?")]
    assert [r.image is not None for r in recs] == [True, True, False]
    assert all(r.schema == "prompt_only" for r in recs)
    # RLHF-V keeps question and answers in a JSON string `text`: still RLHF-V
    from shortcutlab.data.schemas import detect_schema

    inner = json.dumps({"question": "Q?", "chosen": "a", "rejected": "b"})
    assert detect_schema({"image": "a.png", "text": inner, "idx": 1}).name == "rlhf_v"


def test_overlap_accepts_questions_and_says_images_unchecked(bench: Path, cli, tmp_path) -> None:
    # the first pairs of the benchmark's pair file (image paths made absolute: cheap to hash)
    lines = (bench / "pairs_from_gpt4_reviews.jsonl").read_text().splitlines()[:8]
    rows = [json.loads(line) for line in lines]
    for row in rows:
        row["image"] = str(bench / row["image"])
    train = tmp_path / "pairs.jsonl"
    train.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "ov"
    r = cli("overlap", train, bench / "questions.jsonl", "-o", out)
    res = json.loads((out / "overlap.json").read_text())
    asked = {row["question"] for row in rows}
    test_q = [json.loads(x)["text"] for x in (bench / "questions.jsonl").read_text().splitlines()]
    assert res["counts"]["test_records"] == 60
    assert res["counts"]["prompt"] == sum(q in asked for q in test_q) > len(asked)  # repeats
    assert res["images"]["test_unreadable"] == 24  # the 24 distinct images, none found
    assert res["images"]["train_unreadable"] == 0
    assert res["images"]["test_records_not_checked"] == 60
    assert "not checked: 24 images unreadable" in r.stdout  # in the table
    assert "not checked: 24 images unreadable" in r.stderr and "001.jpg" in r.stderr


def test_score_refuses_prompt_only(bench: Path, cli, tmp_path: Path, tiny_llava_dir) -> None:
    r = cli("score", bench / "questions.jsonl", "--model", tiny_llava_dir, "-o",
            tmp_path / "s.jsonl", "--text-only", "drop", code=2)  # fmt: skip
    assert "hold prompts only (no responses)" in r.stderr and "overlap" in r.stderr
