"""A truncated JPEG in a data set (issue 12 item 3): found before any work with
--check-images, skipped and counted by reason with --skip-invalid (at run time for
`score`, up front for `train`), dropped by `data convert --skip-invalid`; and the header
check `probe_image` that `data inspect` runs on every image by default.

CLI checks run the console entry point in process (the `cli` fixture, COLUMNS=200).
"""

from __future__ import annotations

import functools
import io
import json
from pathlib import Path

import pytest
from PIL import Image

from shortcutlab.data.images import probe_image
from shortcutlab.data.records import ImageRef
from shortcutlab.data.schemas import load_dataset_file
from shortcutlab.errors import DataError

pytestmark = pytest.mark.integration


@pytest.fixture
def cli(cli):
    """The in-process `cli` fixture at 200 columns (the width these checks always had)."""
    return functools.partial(cli, env={"COLUMNS": "200"})


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """4 pairwise records; record r2's JPEG is cut in half (its header still reads)."""
    img = tmp_path / "img"
    img.mkdir()
    jpeg = io.BytesIO()
    Image.effect_noise((96, 96), 60).convert("RGB").save(jpeg, format="JPEG", quality=90)
    (img / "cut.jpg").write_bytes(jpeg.getvalue()[: len(jpeg.getvalue()) // 2])
    Image.new("RGB", (32, 24), (200, 30, 30)).save(img / "ok.png")
    rows = [
        {"id": f"r{i}", "prompt": "What is shown?", "img_path": f"img/{name}"}
        | {"chosen": f"A red rectangle, {i}.", "rejected": "A dog."}
        for i, name in enumerate(["ok.png", "cut.jpg", "ok.png", "ok.png"], start=1)
    ]
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_probe_image_header_and_decode(data: Path) -> None:
    cut = ImageRef(path=str(data.parent / "img" / "cut.jpg"), origin="img/cut.jpg")
    probe_image(cut)  # the header is fine
    with pytest.raises(DataError, match="cannot decode image 'img/cut.jpg'") as ei:
        probe_image(cut, decode=True)
    assert ei.value.reason == "bad_image"
    empty = data.parent / "img" / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(DataError, match="is empty \\(0 bytes\\)") as ei:
        probe_image(ImageRef(path=str(empty), origin="img/empty.png"))
    assert ei.value.reason == "empty_image"
    with pytest.raises(DataError, match="image file not found") as ei:
        probe_image(ImageRef(path=str(data.parent / "nope.png"), origin="nope.png"))
    assert ei.value.reason == "missing_image"
    cut_bytes = ImageRef(data=(data.parent / "img" / "cut.jpg").read_bytes(), origin="0.jpg")
    probe_image(cut_bytes)  # bytes (parquet): the header only, like a file
    with pytest.raises(DataError, match="cannot decode image '0.jpg'"):
        probe_image(cut_bytes, decode=True)
    for blob, reason in ((b"", "empty_image"), (b"not an image", "bad_image")):
        with pytest.raises(DataError) as ei:
            probe_image(ImageRef(data=blob, origin="x.png"))
        assert ei.value.reason == reason


def test_score_skip_invalid_counts_run_time_skips(data: Path, tiny_llava_dir: Path, cli) -> None:
    out = data.parent / "s.jsonl"
    args = ["score", "--model", tiny_llava_dir, "--data", data, "--output", out]
    cli(*args, "--check-images", code=2)  # before any work
    assert not out.exists()
    cli(*args, "--skip-invalid")
    summary = json.loads(out.with_name("s.summary.json").read_text())
    assert summary["skipped"] == {"bad_image": 1} and summary["skipped_at_run_time"] == {
        "bad_image": 1
    }
    assert (summary["rows"], summary["records"], summary["scored_records"]) == (6, 3, 3)
    again = cli(*args, "--skip-invalid")  # complete: the same counts, nothing rescored
    assert "already complete" in again.stdout and "bad_image: 1" in again.stdout
    with_check = data.parent / "c.jsonl"
    cli(
        "score",
        "--model",
        tiny_llava_dir,
        "--data",
        data,
        "--output",
        with_check,
        "--skip-invalid",
        "--check-images",
    )  # fmt: skip  (skipped up front instead)
    summary = json.loads(with_check.with_name("c.summary.json").read_text())
    assert summary["skipped"] == {"bad_image": 1} and summary["skipped_at_run_time"] == {}


def test_train_skip_invalid_counts_in_run_info(data: Path, tiny_llava_dir: Path, cli) -> None:
    run = data.parent / "run"
    cli("train", "--model", tiny_llava_dir, "--data", data, "--output", run, "--skip-invalid",
        "--max-steps", "1", "--per-device-train-batch-size", "2", "--no-tensorboard",
        "--no-progress")  # fmt: skip
    info = json.loads((run / "run_info.json").read_text())
    assert info["skipped"] == {"bad_image": 1}


def test_convert_skip_invalid_drops_the_record(data: Path, cli) -> None:
    out = data.parent / "clean.jsonl"
    proc = cli("data", "convert", data, out, "--skip-invalid")
    assert "skipped: bad_image: 1" in proc.stdout
    res = load_dataset_file(out, check_images=True)
    assert [r.id for r in res.records] == ["r1", "r3", "r4"]
