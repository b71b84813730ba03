"""Scriptable results, progress in logs and multi-process launches, through the real CLI.

- `--json`: stdout is exactly one JSON object, equal to the summary file the command
  wrote (every command that computes numbers; the convention test checks they all take
  it); progress then goes to stderr.
- Progress: a long stage with stdout to a file prints plain progress lines there;
  `--quiet` silences them.
- `--num-processes 2`: bad inputs stop in the launching process (one message, exit 2);
  a child's failure ends with one message and its exit code, no launcher traceback.

In process through the `cli` fixture; the launches of two processes are `e2e` (real
processes). `demo --json` is tested in tests/test_demo.py on the session's quick demo.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from shortcutlab.distributed import LauncherFilter, child_failure

pytestmark = pytest.mark.integration


def json_equals_file(res, path: Path) -> dict:
    """stdout is one JSON object (nothing else) with the content of `path`."""
    assert res.code == 0, res.stderr[-3000:]
    got = res.json()  # fails on anything besides one JSON document
    assert isinstance(got, dict)
    assert got == json.loads(path.read_text(encoding="utf-8"))
    return got


def write_pairs(path: Path, n: int = 12) -> Path:
    """n text-only preference records, chosen sometimes longer (a length signal)."""
    rows = [
        {
            "id": f"r{i}",
            "prompt": f"Question {i}?",
            "chosen": "a good answer" + " indeed" * (i % 3),
            "rejected": "a bad one" + " really" * (i % 2),
        }
        for i in range(n)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def work(tmp_path_factory, tiny_llava_dir, cli) -> dict[str, Path]:
    """Data, a 2-step trained run and two score tables (MM and text-only) of the data."""
    d = tmp_path_factory.mktemp("cli_json")
    data = write_pairs(d / "test.jsonl")
    files = {"dir": d, "data": data, "model": tiny_llava_dir}
    train = cli(
        *["train", data, "--model", tiny_llava_dir, "-o", d / "run", "--max-steps", "2"],
        *["--per-device-train-batch-size", "4", "--no-tensorboard", "--json"],
    )
    files["train_json"] = json_equals_file(train, d / "run" / "summary.json")
    assert "[train standard] steps 2/2" in train.stderr  # progress on stderr under --json
    for name, extra in (("mm", []), ("text", ["--text-only", "drop"])):
        res = cli("score", data, "--model", d / "run" / "model", "-o", d / f"{name}.jsonl",
                  "--json", *extra)  # fmt: skip
        files[f"{name}_json"] = json_equals_file(res, d / f"{name}.summary.json")
        files[name] = d / f"{name}.jsonl"
    return files


def test_train_and_score_json(work) -> None:
    assert work["train_json"]["steps"] == 2 and work["train_json"]["mode"] == "standard"
    assert work["mm_json"]["rows"] == 24 and work["text_json"]["text_only"] == "drop"


def test_diagnostics_json(work, cli) -> None:
    d = work["dir"]
    sets = ["--mm-scores", work["mm"], "--proxy-scores", work["text"]]
    res = cli("sfd", work["data"], *sets, "-o", d / "sfd", "--n-boot", "20", "--json")
    assert json_equals_file(res, d / "sfd" / "results.json")
    res = cli("correlate", *sets, "-o", d / "corr", "--json")
    assert json_equals_file(res, d / "corr" / "results.json")
    res = cli(
        *["length-balance", "--data", work["data"], "--scores", f"mm={work['mm']}"],
        *["-o", d / "len", "--n-boot", "20", "--json"],
    )
    assert json_equals_file(res, d / "len" / "results.json")
    run_info = json.loads((d / "len" / "run_info.json").read_text())
    assert run_info["config"]["n_boot"] == 20  # the parameters (typer's own click context)
    judge = d / "judge.jsonl"
    judge.write_text(
        "".join(
            json.dumps({"id": f"r{i}", "response_index": j, "score": float(1 - j)}) + "\n"
            for i in range(12)
            for j in range(2)
        )
    )
    res = cli("bon", "--judge", judge, "--scores", work["mm"], "-o", d / "bon", "--json")
    assert json_equals_file(res, d / "bon" / "results.json")
    acc = d / "standard.csv"
    with open(acc, "w", newline="") as fh:
        csv.writer(fh).writerows([["train", "a", "b"], ["a", 80, 60], ["b", 55, 75]])
    res = cli("matrix", "--from-accuracies", acc, "-o", d / "m", "--json")
    assert json_equals_file(res, d / "m" / "results.json")


def test_audit_and_overlap_json(work, cli) -> None:
    d = work["dir"]
    res = cli("audit", "--data", work["data"], "-o", d / "audit", "--n-boot", "20", "--json")
    assert json_equals_file(res, d / "audit" / "audit.json")["pairs"] == 12
    res = cli("overlap", work["data"], work["data"], "-o", d / "ov", "--json")
    got = json_equals_file(res, d / "ov" / "overlap.json")
    assert got["counts"]["test_records"] == 12


def test_data_model_and_synth_json(work, cli, tmp_path) -> None:
    res = cli("data", "inspect", work["data"], "--json")
    assert res.json()["records"] == 12
    res = cli("data", "convert", "--data", work["data"], "-o", tmp_path / "c.jsonl", "--json")
    assert res.json()["records"] == 12
    res = cli("model", "info", "--model", work["model"], "--json")
    assert res.json()["architecture"] == "llava"
    res = cli("synth", "-o", tmp_path / "bench", "--size", "tiny", "--json")
    assert json_equals_file(res, tmp_path / "bench" / "spec.json")["size"] == "tiny"


def test_training_progress_lines_in_a_log_file(work, cli, tmp_path, monkeypatch) -> None:
    """stdout not a terminal (a log file, here a buffer): plain progress lines at the set
    interval."""
    monkeypatch.setenv("SHORTCUTLAB_PROGRESS_EVERY", "0")
    args = ["train", work["data"], "--model", work["model"], "--max-steps", "3"]
    args += ["--per-device-train-batch-size", "4", "--no-tensorboard"]
    res = cli(*args, "-o", tmp_path / "a")
    log = tmp_path / "train.log"
    log.write_text(res.stdout)
    lines = [x for x in log.read_text().splitlines() if x.startswith("[train standard] steps")]
    assert [x.split(",")[0] for x in lines] == [
        f"[train standard] steps {i}/3 ({round(100 * i / 3)}%)" for i in (1, 2, 3)
    ]
    assert all(" steps/s" in x and "ETA " in x and "loss " in x for x in lines), lines
    assert "\x1b[" not in log.read_text()
    quiet = cli(*args, "-o", tmp_path / "b", "--quiet")
    assert "[train" not in quiet.stdout + quiet.stderr


def test_two_processes_bad_data_path_is_caught_before_launch(work, cli, tmp_path) -> None:
    for cmd in (["score", "--model", work["model"], "-o", tmp_path / "s.jsonl"], ["train"]):
        extra = ["--model", work["model"], "-o", tmp_path / "r"] if cmd == ["train"] else []
        res = cli(*cmd, tmp_path / "gone.jsonl", *extra, "--num-processes", "2", code=2)
        assert res.stderr.count("error:") == 1 and "gone.jsonl" in res.stderr
        assert "Traceback" not in res.stderr and "torch.distributed" not in res.stderr


@pytest.mark.e2e
@pytest.mark.slow  # ~20-30 s: three Python processes start torch + transformers
def test_two_processes_child_failure_is_one_message(work, cli_process, tmp_path) -> None:
    """A record broken past the first (found by the children): one message, exit 2."""
    bad = write_pairs(tmp_path / "bad.jsonl", 4)
    bad.write_text(bad.read_text() + json.dumps({"id": "x", "prompt": "p", "chosen": "c"}) + "\n")
    res = cli_process(
        *["score", bad, "--model", work["model"], "-o", tmp_path / "s.jsonl"],
        *["--num-processes", "2", "--json"],
        code=2,
    )
    assert res.stderr.count("error:") == 1, res.stderr
    assert "line 5" in res.stderr and "rejected" in res.stderr and "(process " in res.stderr
    for noise in ("Traceback", "ChildFailedError", "torch.distributed", "====="):
        assert noise not in res.stderr, res.stderr
    assert res.stdout == ""


@pytest.mark.e2e
@pytest.mark.slow  # ~20-30 s: three Python processes start torch + transformers
def test_two_processes_json_is_the_summary(work, cli_process, tmp_path) -> None:
    out = tmp_path / "two.jsonl"
    res = cli_process(
        *["score", work["data"], "--model", work["model"], "-o", out, "--json"],
        "--num-processes",
        "2",
    )
    assert json_equals_file(res, tmp_path / "two.summary.json")["num_processes"] == 2


ELASTIC_STDERR = """\
error from a child
W1127 21:59:54.466000 27091 /v/torch/distributed/elastic/multiprocessing/api.py:1028] Sending
Traceback (most recent call last):
  File "<frozen runpy>", line 198, in _run_module_as_main
  File "/v/accelerate/commands/launch.py", line 1423, in <module>
    main()
  File "/v/torch/distributed/launcher/api.py", line 383, in launch_agent
    raise ChildFailedError(
torch.distributed.elastic.multiprocessing.errors.ChildFailedError:
============================================================
shortcutlab FAILED
------------------------------------------------------------
Root Cause (first observed failure):
[0]:
  rank      : 1 (local_rank: 1)
  exitcode  : 1 (pid: 27119)
============================================================
Traceback (most recent call last):
  File "/w/shortcutlab/scoring/run.py", line 3, in run
ZeroDivisionError: division by zero
after
"""


def test_launcher_filter_keeps_child_output_and_drops_the_launcher_report(tmp_path) -> None:
    filt = LauncherFilter()
    kept = [k for line in ELASTIC_STDERR.splitlines(True) for k in filt.feed(line)]
    text = "".join(kept)
    assert text.startswith("error from a child\nTraceback") and text.endswith("after\n")
    assert "ZeroDivisionError" in text  # a child's crash stays visible
    assert "ChildFailedError" not in text and "=====" not in text and "Sending" not in text
    err = child_failure(tmp_path, filt.report_text(), 1, 2)  # no child recorded an error
    assert err.exit_code == 1 and "process 1 of 2 failed with exit code 1" in str(err)
