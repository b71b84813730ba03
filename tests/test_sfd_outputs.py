"""What `sfd` leaves for a user to read (issue 21 item 9): subset files whose image paths
still resolve after the output folder moves (as given or absolute, never `../../..`
chains), files readable by others, and a table that never cuts a group name when stdout
is not a terminal (a pipe, a log file: the tests' captured stdout is one).
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from PIL import Image

from shortcutlab.data.schemas import load_dataset_file
from shortcutlab.files import file_mode
from shortcutlab.score_table import record_rows, to_frame, write_score_table

pytestmark = pytest.mark.integration

LONG_NAME = "a-test-set-name-long-enough-that-an-eighty-column-table-would-cut-it-short"


@pytest.fixture
def scored(tmp_path: Path) -> dict[str, Path]:
    """A pairwise file with images in its own folder, and its MM / proxy score tables."""
    data_dir = tmp_path / "data"
    (data_dir / "img").mkdir(parents=True)
    Image.new("RGB", (8, 8), (200, 0, 0)).save(data_dir / "img" / "red.png")
    rows = [
        {
            "id": f"q{i}",
            "prompt": f"What is in picture {i}?",
            "img_path": "img/red.png",
            "chosen": "A red square" + " indeed" * (i % 3),
            "rejected": "A blue circle" + " maybe" * (i % 4),
        }
        for i in range(10)
    ]
    data = data_dir / "pairs.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    recs = load_dataset_file(data).records
    out = {"data": data}
    for name, fn in (("mm", lambda t: float(len(t) % 7)), ("proxy", lambda t: float(len(t)))):
        trows = [row for r in recs for row in record_rows(r, [fn(t) for t in r.responses])]
        out[name] = write_score_table(to_frame(trows, recs), tmp_path / f"{name}.jsonl")
    return out


def test_sfd_subsets_and_table(scored: dict[str, Path], cli, tmp_path: Path) -> None:
    out = tmp_path / "results" / "deep" / "sfd"
    r = cli("sfd", scored["data"], "--mm-scores", scored["mm"], "--proxy-scores",
            scored["proxy"], "--name", LONG_NAME, "--n-boot", "10", "-o", out)  # fmt: skip
    assert LONG_NAME in r.stdout  # whole, on one line
    subsets = sorted((out / "subsets").glob("*_shortcut_*.jsonl"))
    subsets = [p for p in subsets if not p.name.endswith("_pairs.jsonl")]
    assert subsets
    red = str((scored["data"].parent / "img" / "red.png").resolve())
    for path in subsets:
        assert stat.S_IMODE(path.stat().st_mode) == file_mode()  # not 0600
        for line in path.read_text().splitlines():
            assert json.loads(line)["img_path"] == red  # absolute, no ../ chain
        assert len(load_dataset_file(path).records) >= 1  # still loads, images found
