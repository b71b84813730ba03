"""`shortcutlab overlap`: each kind of train/test overlap found, and only where planted."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from shortcutlab.audit.overlap import id_prefix, overlap
from shortcutlab.cli.main import main
from shortcutlab.data.schemas import load_dataset_file

pytestmark = pytest.mark.integration


def _noise(path: Path, seed: int, size: int = 96) -> Path:
    """A seeded smooth random image (distinct perceptual hashes per seed)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, size=(8, 8, 3), dtype=np.uint8)
    Image.fromarray(small).resize((size, size), Image.BILINEAR).save(path)
    return path


def _row(rid: str, img: str, prompt: str, chosen: str, rejected: str) -> dict:
    return {"id": rid, "img_path": img, "prompt": prompt, "chosen": chosen, "rejected": rejected}


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    a, b, c = (_noise(tmp_path / f"{n}.png", s) for n, s in (("a", 1), ("b", 2), ("c", 3)))
    (tmp_path / "a_copy.png").write_bytes(a.read_bytes())  # identical pixels, other file
    with Image.open(b) as im:  # near: resized and re-encoded as JPEG
        im.resize((90, 90)).save(tmp_path / "b_near.jpg", quality=90)
    _noise(tmp_path / "d.png", 4)
    (tmp_path / "broken.png").write_bytes(b"not an image")
    train = [
        _row("rlaifv_001", "a.png", "What is shown?", "A red kite.", "A blue car."),
        _row("rlaifv_002", "b.png", "Describe it.", "Two dogs play.", "A cat sleeps."),
        _row("rlaifv_003", "c.png", "How many people?", "Three.", "Five."),
    ]
    test = [
        _row("vlrb-0", "a_copy.png", "Other question?", "x1 answer", "x2 answer"),
        _row("vlrb-1", "b_near.jpg", "Another one?", "y1 answer", "y2 answer"),
        _row("vlrb-2", "d.png", "What is shown?", "z1 answer", "z2 answer"),
        _row("vlrb-3", "d.png", "describe  IT.", "Two dogs play.", "q answer"),
        _row("rlaifv_900", "broken.png", "Fresh?", "w1 answer", "Five."),
    ]
    paths = []
    for name, rows in (("train", train), ("test", test)):
        p = tmp_path / f"{name}.jsonl"
        p.write_text("".join(json.dumps(r) + "\n" for r in rows))
        paths.append(p)
    return paths[0], paths[1]


def test_id_prefix() -> None:
    assert id_prefix("RLAIF-V_0042") == "RLAIF-V"
    assert id_prefix("povid-test-00001") == "povid-test"
    assert id_prefix("nodigits") == "nodigits"


def test_each_kind_found_where_planted(files: tuple[Path, Path]) -> None:
    train, test = (load_dataset_file(p).records for p in files)
    res = overlap(train, test)
    t = res.table.set_index("id")
    assert list(t.index[t["image_identical"]]) == ["vlrb-0"]
    assert list(t.index[t["image_near"]]) == ["vlrb-1"]
    assert t.loc["vlrb-1", "train_id_image"] == "rlaifv_002"
    assert set(t.index[t["prompt"]]) == {"vlrb-2", "vlrb-3"}
    assert set(t.index[t["response"]]) == {"vlrb-3", "rlaifv_900"}
    assert list(t.index[t["prompt_and_response"]]) == ["vlrb-3"]
    assert list(t.index[t["id_prefix"]]) == ["rlaifv_900"]
    assert res.ids == ["vlrb-0", "vlrb-1", "vlrb-3"]
    assert res.images["test_unreadable"] == 1 and res.shared_prefixes == {
        "rlaifv": {"test": 1, "train": 3}
    }


def test_cli_writes_ids_file(files: tuple[Path, Path], tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    main(["overlap", str(files[0]), str(files[1]), "-o", str(out), "--ids-from", "prompt"])
    assert (out / "overlap_ids.txt").read_text().split() == ["vlrb-2", "vlrb-3"]
    summary = json.loads((out / "overlap.json").read_text())
    assert summary["counts"]["image_near"] == 1 and summary["counts"]["overlapping"] == 2
    assert (out / "overlap.csv").is_file() and (out / "run_info.json").is_file()
    assert "image_identical" in capsys.readouterr().out


def test_cli_rejects_unknown_kind(files: tuple[Path, Path], tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as ex:
        main(["overlap", str(files[0]), str(files[1]), "-o", str(tmp_path), "--ids-from", "x"])
    assert ex.value.code == 2 and "unknown overlap kind" in capsys.readouterr().err
