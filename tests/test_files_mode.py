"""Output files get the umask's normal mode, not mkstemp's 0600 (issue 21 item 5).

Score tables, audit.json, summary.json and sfd subsets are all written through
`shortcutlab.files.atomic_write`; on a shared cluster or behind a web view a 0600 file is
unreadable to the group. Checked under the default umask (0644) and a stricter one.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from shortcutlab.data.records import Record
from shortcutlab.files import atomic_write_json, atomic_write_text, file_mode, umask
from shortcutlab.score_table import record_rows, to_frame, write_score_table

pytestmark = pytest.mark.unit


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("mask", [0o022, 0o027])
def test_atomic_writes_follow_the_umask(tmp_path: Path, mask: int) -> None:
    old = os.umask(mask)
    try:
        assert umask() == mask and file_mode() == 0o666 & ~mask
        text = atomic_write_text(tmp_path / "a.txt", "x\n")
        summary = atomic_write_json(tmp_path / "summary.json", {"a": 1})
        rec = Record(id="r1", prompt="q", responses=["a", "b"], pairs=[(0, 1)])
        scores = write_score_table(to_frame(record_rows(rec, [1.0, 0.0])), tmp_path / "s.jsonl")
        plain = tmp_path / "plain.txt"
        plain.write_text("x")  # what open() gives: the reference
    finally:
        os.umask(old)
    expected = 0o644 if mask == 0o022 else 0o640
    assert _mode(plain) == expected
    for path in (text, summary, scores):
        assert _mode(path) == expected, path
    assert not list(tmp_path.glob(".*.tmp"))  # no temp file left behind
