"""`shortcutlab score` end to end: CLI, SIGKILL + resume, 2 processes, real LLaVA-Bench pairs.

The CLI in process (the `cli` fixture); the SIGKILL + resume and 2-process runs start real
processes (`e2e`).

Run: python -m pytest -x -q tests/test_scoring_cli.py        (add -m "not slow" to skip
the SIGKILL + resume, 2-process and full LLaVA-Bench file runs)
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scoring_helpers import cli_env, write_pairwise

from shortcutlab import distributed
from shortcutlab.scoring import score

pytestmark = pytest.mark.integration

LLAVA_PAIRS = "llava-bench-in-the-wild/pairs_from_gpt4_reviews.jsonl"


def _table(path: Path) -> pd.DataFrame:
    rows = [json.loads(x) for x in path.read_text().splitlines()]
    return pd.DataFrame(rows).sort_values(["id", "response_index"]).reset_index(drop=True)


def _commits(path: Path) -> int:
    if not path.exists():
        return 0
    return sum(1 for line in path.read_bytes().splitlines() if b'"__commit__"' in line)


def test_cli_scores_and_prints_summary(tiny_llava_dir, tmp_path, cli):
    data = write_pairwise(tmp_path / "d.jsonl", 6)
    out = tmp_path / "s.jsonl"
    args = ["score", "--model", str(tiny_llava_dir), "--data", str(data), "--output", str(out)]
    res = cli(*args, "--batch-size", "4", "--environment", "e1")
    assert "accuracy (Eq. 2)" in res.stdout and "95% CI, 6 pairs" in res.stdout
    assert len(out.read_text().splitlines()) == 12
    summary = json.loads((tmp_path / "s.summary.json").read_text())
    assert summary["provenance"]["command"][:2] == ["shortcutlab", "score"]
    again = cli(*args, "--batch-size", "4", "--environment", "e1")
    assert "already complete" in again.stdout


def test_cli_refuses_changed_data_with_exit_2(tiny_llava_dir, tmp_path, cli):
    data = write_pairwise(tmp_path / "d.jsonl", 4)
    out = tmp_path / "s.jsonl"
    args = ["score", "--model", str(tiny_llava_dir), "--data", str(data), "--output", str(out)]
    cli(*args)
    assert out.exists()
    write_pairwise(data, 5)
    cli(*args, code=2)


def test_cli_rejects_bad_text_only(tiny_llava_dir, tmp_path, cli):
    data = write_pairwise(tmp_path / "d.jsonl", 2)
    out = tmp_path / "s.jsonl"
    cli("score", "--model", tiny_llava_dir, "--data", data, "--output", out, "--text-only", "nope",
        code=2)  # fmt: skip


@pytest.mark.e2e
@pytest.mark.slow  # 17-37 s: two CLI processes start torch + transformers
def test_sigkill_mid_run_then_resume_gives_every_row_once(tiny_llava_dir, tmp_path, cli_process):
    """A real scoring process killed with SIGKILL, resumed by `shortcutlab score`, compared.

    The killed run is `tests/scoring_runner.py`: the library's `run_scoring` with the CLI's
    defaults, sleeping 0.25 s in its per-batch hook so it can be killed mid-way.
    """
    data = write_pairwise(tmp_path / "d.jsonl", 30)
    out = tmp_path / "s.jsonl"
    args = [
        "score",
        "--model",
        str(tiny_llava_dir),
        "--data",
        str(data),
        "--output",
        str(out),
        "--batch-size",
        "2",
        "--max-length",
        "512",
    ]
    runner = Path(__file__).with_name("scoring_runner.py")
    proc = subprocess.Popen(
        [sys.executable, str(runner), str(tiny_llava_dir), str(data), str(out), "2", "512", "0.25"],
        env=cli_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    partial = tmp_path / "s.jsonl.partial.r0.jsonl"
    deadline = time.time() + 120
    while _commits(partial) < 3 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not out.exists(), "the run finished before it could be killed"
    done = _commits(partial)
    assert 3 <= done < 30
    res = cli_process(*args)
    resumed = int(res.stdout.split("resumed records")[1].split()[1].strip("│"))
    assert resumed >= 3 and resumed < 30
    assert "scored now" in res.stdout
    ref = score(tiny_llava_dir, data, tmp_path / "ref.jsonl", batch_size=2, max_length=512).table
    got = _table(out)
    want = ref.sort_values(["id", "response_index"]).reset_index(drop=True)
    assert len(got) == 60 and not got.duplicated(["id", "response_index"]).any()
    assert got["id"].tolist() == want["id"].tolist()
    assert got["response_index"].tolist() == want["response_index"].tolist()
    np.testing.assert_array_equal(got["reward"].to_numpy(), want["reward"].to_numpy())
    assert not list(tmp_path.glob("s.jsonl.*"))


@pytest.mark.e2e
@pytest.mark.slow  # 16-30 s: three Python processes start torch + transformers
def test_two_processes_equal_one(tiny_llava_dir, tmp_path, cli_process):
    data = write_pairwise(tmp_path / "d.jsonl", 10)
    out = tmp_path / "two.jsonl"
    res = cli_process(
        *["score", "--model", tiny_llava_dir, "--data", data, "--output", out],
        *["--batch-size", "3", "--num-processes", "2"],
    )
    assert "processes" in res.stdout
    one = score(tiny_llava_dir, data, tmp_path / "one.jsonl", batch_size=3).table
    two = _table(out)
    one = one.sort_values(["id", "response_index"]).reset_index(drop=True)
    assert two["id"].tolist() == one["id"].tolist()
    assert two["label"].tolist() == one["label"].tolist()
    np.testing.assert_allclose(two["reward"].to_numpy(), one["reward"].to_numpy(), atol=1e-5)
    summary = json.loads((tmp_path / "two.summary.json").read_text())
    assert summary["num_processes"] == 2 and summary["rows"] == 20
    assert not list(tmp_path.glob("two.jsonl.*"))


def test_distributed_helpers_single_process():
    assert distributed.rank() == 0 and distributed.world_size() == 1 and distributed.is_main()
    assert distributed.shard(list(range(7)), 1, 3) == [1, 4]
    argv = ["score", "--num-processes", "2", "--x=1"]
    assert distributed.strip_option(argv, "--num-processes") == ["score", "--x=1"]
    assert distributed.strip_option(["--num-processes=4", "a"], "--num-processes") == ["a"]
    cmd = distributed.launch_command(2, ["score", "--num-processes", "2"], cpu=True, port=1234)
    assert cmd[cmd.index("--num_processes") + 1] == "2" and "--multi_gpu" in cmd
    assert cmd[-2:] == ["shortcutlab", "score"]
    assert not distributed.should_relaunch(1) and distributed.should_relaunch(2)


def test_realdata_llava_bench_subset(tiny_llava_dir, realdata):
    """Real LLaVA-Bench pairs (real photos, GPT-4 review scores) through the scorer."""
    from shortcutlab.data.schemas import load_dataset_file

    res = load_dataset_file(realdata / LLAVA_PAIRS)
    res.records = res.records[:6]
    result = score(tiny_llava_dir, res, max_length=768)
    df = result.table
    assert len(df) == 12 and df["reward"].notna().all()
    assert df["label"].tolist()[:2] == ["chosen", "rejected"]
    assert (df["preference_score"].iloc[0::2].to_numpy() > df["preference_score"].iloc[1::2]).all()
    assert result.accuracy is not None and result.accuracy.n_pairs == 6


@pytest.mark.slow
def test_realdata_llava_bench_full_file_cli(tiny_llava_dir, realdata, tmp_path, cli):
    out = tmp_path / "llava.parquet"
    cli(
        *["score", "--model", tiny_llava_dir, "--data", realdata / LLAVA_PAIRS],
        *["--output", out, "--max-length", "1024", "--batch-size", "8"],
    )
    df = pd.read_parquet(out)
    assert len(df) == 220 and df["id"].nunique() == 110
    summary = json.loads((tmp_path / "llava.summary.json").read_text())
    assert summary["accuracy"]["n_pairs"] == 110
    assert 0.0 <= summary["accuracy"]["ci_low"] <= summary["accuracy"]["ci_high"] <= 1.0
