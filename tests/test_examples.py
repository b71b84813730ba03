"""examples/: every script runs as written (as a subprocess, on tiny models) and prints
the numbers its docstring promises."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run_example(name: str, out: Path, *args: str) -> dict:
    """Run examples/{name} with --out; the JSON of its last stdout line."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / name), "--out", str(out), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_every_example_is_tested():
    tested = {
        "study_three_datasets.py",
        "third_party_scores.py",
        "new_data_schema.py",
        "notebook_api.py",
        "third_party_probe.py",
        "grpo_with_shortcutlab_reward.py",  # run in tests/test_rl_grpo.py
    }  # fmt: skip  (one name per example)
    assert {p.name for p in EXAMPLES.glob("*.py")} == tested


def test_third_party_scores(tmp_path):
    """Made-up score tables through SFD and the matrix: the planted numbers come back."""
    res = run_example("third_party_scores.py", tmp_path)
    assert res["sfd"] > 20  # the MM-RM leans on the length cue
    assert res["iid"] == pytest.approx(100.0) and 50 < res["ood"] < 90
    for f in ("sfd/sfd.csv", "sfd/sfd.png", "sfd/run_info.json", "matrix/matrix.png"):
        assert (tmp_path / f).is_file(), f


@pytest.mark.slow  # ~5-15 s: a subprocess importing the probe stack and matplotlib
def test_third_party_probe(tmp_path):
    """Made-up third-party scores through probe report: the planted behaviour comes back."""
    res = run_example("third_party_probe.py", tmp_path, "--records", "30")
    assert res["swap_flip_rate"] == 1.0 and res["swap_blind_gap"] == 1.0  # it sees the image
    assert res["pad_mean_change_sd"] > 0 and res["pad_win_rate"] == 1.0  # length shortcut
    for f in ("card.json", "card.md", "probe.csv", "probe.png"):
        assert (tmp_path / "card" / f).is_file(), f


@pytest.mark.slow  # ~10-25 s: builds a tiny model and scores with it
def test_new_data_schema(tmp_path):
    """The registered adapter is detected; scores come back for every response."""
    res = run_example("new_data_schema.py", tmp_path)
    assert res == {"schema": "graded-answers", "n_pairs": 9, "rows": 9}


@pytest.mark.slow  # ~10-20 s: trains 2 steps and scores twice
def test_notebook_api(tmp_path):
    source = (EXAMPLES / "notebook_api.py").read_text()
    assert "from shortcutlab." not in source and "import shortcutlab." not in source  # API only
    res = run_example("notebook_api.py", tmp_path, "--steps", "2")
    assert res["steps"] == 2 and 0.0 <= res["accuracy"] <= 1.0
    assert (tmp_path / "run" / "model").is_dir() and (tmp_path / "proxy.jsonl").is_file()


@pytest.mark.slow  # ~50 s: 9 training runs, 36 score tables, every diagnostic
def test_study_three_datasets(tmp_path):
    res = run_example("study_three_datasets.py", tmp_path, "--steps", "2")
    assert res["ran"] == {"train": 9, "score": 36}
    results = tmp_path / "study" / "results"
    for f in ("matrix.png", "sfd.csv", "length.csv", "summary.json", "matrix_text-only.csv"):
        assert (results / f).is_file(), f
