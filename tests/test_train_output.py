"""`shortcutlab train -o FOLDER` into a folder that already holds a run (issue 21 item 4),
as a user meets it: a standard run into the folder a shortcut-aware run left (its proxy/
went stale and `score` announced it), another data file into the same folder, TensorBoard
events of several runs accumulating. Refused with one paragraph (exit 2) unless
--overwrite, which clears the old run. The rules on hand-made folders: test_run_folder.py.
Run: python -m pytest -x -q tests/test_train_output.py
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from scoring_helpers import write_pairwise

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.usefixtures("one_torch_thread"),
]


def _train(cli, model: Path, data: Path, out: Path, mode: str, *extra: str, code: int = 0):
    return cli(
        "train", data, "--mode", mode, "--model", model, "-o", out,
        "--max-steps", "1", "--per-device-train-batch-size", "2", "--no-progress",
        *extra, code=code,
    )  # fmt: skip


def _events(out: Path) -> list[Path]:
    return sorted((out / "tensorboard").rglob("events.out.tfevents.*"))


def test_train_into_a_used_folder_is_refused_unless_overwrite(
    cli, tiny_llava_dir, tmp_path, caplog
):
    data = write_pairwise(tmp_path / "data" / "pairs.jsonl", 4)
    other = write_pairwise(tmp_path / "other" / "pairs.jsonl", 4, seed=1)
    out = tmp_path / "runs" / "x"
    _train(cli, tiny_llava_dir, data, out, "shortcut-aware")
    assert (out / "proxy").is_dir() and len(_events(out)) == 1
    before = (out / "summary.json").read_bytes()
    with caplog.at_level(logging.WARNING, logger="shortcutlab.modeling.source"):
        cli("score", data, "--model", out, "-o", tmp_path / "sa.jsonl", "--quiet")
    assert "its text-only proxy is" in caplog.text

    standard = _train(cli, tiny_llava_dir, data, out, "standard", code=2)
    paragraph = " ".join(standard.stderr.split())
    assert "already holds a finished training run" in paragraph
    assert "mode: 'shortcut-aware' -> 'standard'" in paragraph and "--overwrite" in paragraph
    assert "Traceback" not in standard.stderr
    moved = _train(cli, tiny_llava_dir, other, out, "shortcut-aware", code=2)
    assert f"data: '{data}' -> '{other}'" in " ".join(moved.stderr.split())
    _train(cli, tiny_llava_dir, data, out, "shortcut-aware", code=2)  # the same run again
    assert (out / "summary.json").read_bytes() == before  # refusals leave the run intact

    _train(cli, tiny_llava_dir, data, out, "standard", "--overwrite", "--json")
    assert not (out / "proxy").exists()  # no stale proxy for `score` to announce
    assert len(_events(out)) == 1  # this run's events only
    assert '"mode": "standard"' in (out / "summary.json").read_text()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="shortcutlab.modeling.source"):
        cli("score", data, "--model", out, "-o", tmp_path / "s.jsonl", "--quiet")
    assert "using" in caplog.text and "proxy" not in caplog.text
