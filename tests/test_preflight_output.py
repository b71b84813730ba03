"""An unwritable output location stops a command before any work (issue 21 item 6).

Tests run as root, where permission bits do not stop a write, so the locations are made
unwritable in ways that hold for root too: a path under a regular FILE (nothing can be
created below it) and a path under /proc (a pseudo file system that refuses new files).
Each command must exit 2 with one paragraph naming the location, no traceback, and write
nothing (for `audit`: before it has loaded or fitted anything).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shortcutlab.errors import OutputError
from shortcutlab.preflight import check_output

pytestmark = pytest.mark.integration


@pytest.fixture
def data(tmp_path: Path) -> Path:
    rows = [
        {"id": f"p{i}", "prompt": f"q{i}?", "chosen": "yes " * (i + 2), "rejected": "no"}
        for i in range(6)
    ]
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_check_output_cases(tmp_path: Path) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    check_output(tmp_path / "new" / "deeper")  # creatable: fine, nothing left behind
    check_output(blocker)  # an existing output file is replaced in its folder: fine
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]
    with pytest.raises(OutputError, match="a_file is a file, not a folder"):
        check_output(blocker / "out")
    with pytest.raises(OutputError, match="cannot create a file in /proc"):
        check_output("/proc/shortcutlab-test/out")


def test_commands_refuse_before_work(data: Path, tmp_path: Path, cli) -> None:
    """Every command writing outputs; the two kinds of location alternate."""
    blocker = tmp_path / "blocker.txt"
    blocker.write_text("x")
    table = tmp_path / "t.jsonl"
    table.write_text(
        "".join(
            json.dumps({"id": f"p{i}", "response_index": j, "reward": float(j == 0)}) + "\n"
            for i in range(6)
            for j in (0, 1)
        )
    )
    runs = [
        ["audit", data, "-o", "audit"],
        ["sfd", "--mm-scores", table, "--proxy-scores", table, "-o", "sfd"],
        ["length-balance", data, "-o", "len"],
        ["overlap", data, data, "-o", "ov"],
        ["data", "convert", data, "-o", "c.jsonl"],
        ["score", data, "--model", tmp_path / "no_model", "-o", "s.jsonl"],
        ["train", data, "--model", tmp_path / "no_model", "-o", "run"],
        ["synth", "-o", "bench"],
    ]
    for i, args in enumerate(runs):
        base = blocker if i % 2 == 0 else Path("/proc/shortcutlab-test")
        r = cli(*args[:-1], base / args[-1], code=2)
        text = r.stdout + r.stderr
        assert "Traceback" not in text, args[0]
        assert "output location is not writable" in text and str(base) in text, text
        assert text.count("error:") == 1, args[0]
    assert blocker.read_text() == "x"
