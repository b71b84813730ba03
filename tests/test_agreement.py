"""A data file and a score table that disagree stop the command (issue 21 item 2).

Built the way a user meets it: a pairwise file is "scored" (its score table written with
the scorer's own row builder), then the data file is edited with the same ids (chosen and
rejected swapped on one record, or one record's rating changed) and handed to the
commands that read both. Each must stop (exit 2) naming the first disagreeing id and
both files; the untouched file still runs.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shortcutlab.data.schemas import load_dataset_file
from shortcutlab.score_table import record_rows, to_frame, write_score_table

pytestmark = pytest.mark.integration


def _rows(n: int = 12) -> list[dict]:
    return [
        {
            "id": f"q{i}",
            "prompt": f"What is in picture {i}?",
            "chosen": "A cat on a mat" + " indeed" * (i % 4),
            "rejected": "A dog" + " maybe" * (i % 3),
        }
        for i in range(n)
    ]


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def scored(tmp_path: Path) -> dict[str, Path]:
    """data.jsonl, its two score tables, and a copy of data with q3's answers swapped."""
    rows = _rows()
    data = _write(tmp_path / "data.jsonl", rows)
    recs = load_dataset_file(data, images="ignore").records
    tables = {}
    for name, fn in (("mm", lambda t: float(len(t) % 5)), ("proxy", lambda t: float(len(t)))):
        trows = [row for r in recs for row in record_rows(r, [fn(t) for t in r.responses])]
        tables[name] = write_score_table(to_frame(trows, recs), tmp_path / f"{name}.jsonl")
    swapped = [dict(r) for r in rows]
    swapped[3]["chosen"], swapped[3]["rejected"] = rows[3]["rejected"], rows[3]["chosen"]
    return {
        "data": data,
        "swapped": _write(tmp_path / "swapped.jsonl", swapped),
        **tables,
    }


def _says_mismatch(text: str, table: Path, data: Path) -> None:
    assert "record 'q3'" in text and table.name in text and data.name in text
    assert "Traceback" not in text


def test_sfd_stops_on_swapped_labels(scored: dict[str, Path], cli, tmp_path: Path) -> None:
    args = ["--mm-scores", scored["mm"], "--proxy-scores", scored["proxy"], "--n-boot", "10"]
    cli("sfd", scored["data"], *args, "-o", tmp_path / "ok")
    r = cli("sfd", scored["swapped"], *args, "-o", tmp_path / "bad", code=2)
    _says_mismatch(r.stderr, scored["mm"], scored["swapped"])
    assert not (tmp_path / "bad" / "subsets").exists()  # nothing written from mixed data


def test_length_balance_stops_on_swapped_labels(
    scored: dict[str, Path], cli, tmp_path: Path
) -> None:
    args = ["--scores", f"mm={scored['mm']}", "--n-boot", "10"]
    cli("length-balance", scored["data"], *args, "-o", tmp_path / "ok")
    r = cli("length-balance", scored["swapped"], *args, "-o", tmp_path / "bad", code=2)
    _says_mismatch(r.stderr, scored["mm"], scored["swapped"])


def test_audit_mm_scores_and_ratings(scored: dict[str, Path], cli, tmp_path: Path) -> None:
    args = ["--mm-scores", scored["mm"], "--ngrams", "0", "--folds", "2", "--n-boot", "10"]
    r = cli("audit", scored["swapped"], *args, "-o", tmp_path / "bad", code=2)
    _says_mismatch(r.stderr, scored["mm"], scored["swapped"])
    # ratings: a VLFeedback-style table whose preference_score differs from the data's
    from shortcutlab.data.agreement import check_agreement
    from shortcutlab.errors import DataError
    from shortcutlab.score_table import read_score_table

    recs = load_dataset_file(scored["data"], images="ignore").records
    table = read_score_table(scored["mm"]).assign(preference_score=1.0)
    recs[0].meta["preference_scores"] = [5.0, 1.0]
    with pytest.raises(DataError, match=r"record 'q0' response 0: rating 1\.0 .* 5\.0"):
        check_agreement(recs, table, data_file="d.jsonl", table_file="t.jsonl")
