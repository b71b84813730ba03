"""A rerun retries records skipped for a reason that may have been fixed (issue 21 item 3).

As a user meets it: `score --skip-invalid` skips a record whose JPEG is cut in half; the
user replaces the file and runs the same command: the record is scored (not "already
complete"), and stderr says how many were retried. With the image still broken, the
rerun skips and counts it again. The journal never treats a skipped record as done.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image

from shortcutlab.scoring.journal import Journal

pytestmark = pytest.mark.integration


def _jpeg(seed: int) -> bytes:
    buf = io.BytesIO()
    Image.effect_noise((64, 64), 40 + seed).convert("RGB").save(buf, format="JPEG")
    return buf.getvalue()


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """3 pairwise records; r2's JPEG is cut in half (its header still reads)."""
    img = tmp_path / "img"
    img.mkdir()
    good = _jpeg(0)
    (img / "ok.jpg").write_bytes(good)
    (img / "cut.jpg").write_bytes(good[: len(good) // 2])
    rows = [
        {"id": f"r{i}", "prompt": "What is shown?", "img_path": f"img/{name}"}
        | {"chosen": f"Noise, {i}.", "rejected": "A dog."}
        for i, name in enumerate(["ok.jpg", "cut.jpg", "ok.jpg"], start=1)
    ]
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _ids(table: Path) -> set[str]:
    return {json.loads(line)["id"] for line in table.read_text().splitlines()}


@pytest.mark.slow  # three CLI runs with a tiny model (4-13 s here)
def test_rerun_after_fixing_the_image_scores_the_skipped_record(cli, tiny_llava_dir, data):
    out = data.parent / "s.jsonl"
    argv = ["score", data, "--model", tiny_llava_dir, "-o", out, "--skip-invalid"]
    argv += ["--max-length", "256", "--json"]
    first = cli(*argv).json()
    assert first["skipped"] == {"bad_image": 1} and _ids(out) == {"r1", "r3"}

    again = cli(*argv)  # still broken: skipped again and counted, nothing rescored
    assert again.json()["skipped"] == {"bad_image": 1} and "retrying" not in again.stderr
    assert "1 records skipped for their image still fail (r2)" in again.stderr

    (data.parent / "img" / "cut.jpg").write_bytes(_jpeg(1))  # the user fixes the file
    fixed = cli(*argv)
    assert "retrying 1 records skipped by an earlier run" in fixed.stderr
    summary = fixed.json()
    assert summary["skipped"] == {} and summary["retried"] == {"image now decodes": 1}
    assert summary["scored_records"] == 1 and summary["resumed_records"] == 2
    assert _ids(out) == {"r1", "r2", "r3"} and summary["rows"] == 6
    assert not list(data.parent.glob("s.jsonl.*"))  # journal cleaned up after the merge


def test_journal_resume_does_not_count_a_skipped_record_as_done(tmp_path: Path):
    """A record committed without rows (skipped) is committed, but not done."""
    journal = Journal(tmp_path / "s.jsonl")
    row = {"id": "a", "response_index": 0, "reward": 0.5}
    journal.commit(0, [row], ["a"])
    journal.commit(0, [], ["b"])  # b's image did not decode
    journal.compact({"a", "b"})
    assert journal.committed_ids() == {"a", "b"}
    assert journal.done_ids() == {"a"}
