"""CLI: sfd / matrix / length-balance / bon / correlate write results, figures, run_info."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from shortcutlab.cli.main import app, main
from shortcutlab.files import sha256_file as file_sha256

pytestmark = pytest.mark.integration

runner = CliRunner()


def _jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture()
def files(tmp_path):
    """A 30-pair test file plus MM and proxy score tables of it."""
    rng = np.random.default_rng(0)
    data, mm, px = [], [], []
    for i in range(30):
        data.append(
            {
                "id": f"r{i}",
                "prompt": "q",
                "img_path": None,
                "chosen": "yes " * int(rng.integers(1, 6)),
                "rejected": "no " * 3,
            }
        )
        for j, lab in enumerate(["chosen", "rejected"]):
            p = float(rng.normal(1 - j))
            base = {"id": f"r{i}", "response_index": j, "label": lab}
            px.append({**base, "reward": p})
            mm.append({**base, "reward": p + float(rng.normal(1 - j))})
    return {
        "data": _jsonl(tmp_path / "test.jsonl", data),
        "mm": _jsonl(tmp_path / "mm.jsonl", mm),
        "px": _jsonl(tmp_path / "px.jsonl", px),
        "dir": tmp_path,
    }


def _ok(args):
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output + repr(res.exception)
    return res


def _sfd_test_set(files, name: str) -> list[str]:
    """`sfd` options for one test set: both score tables, the data file and its name."""
    return [
        "--mm-scores",
        str(files["mm"]),
        "--proxy-scores",
        str(files["px"]),
        "--data",
        str(files["data"]),
        "--name",
        name,
    ]


def test_sfd_cli_two_test_sets(files):
    out = files["dir"] / "sfd"
    res = _ok(
        ["sfd", *_sfd_test_set(files, "a"), *_sfd_test_set(files, "b"), "--n-boot", "50"]
        + ["-o", str(out)]
    )
    assert "SFD" in res.output
    results = json.loads((out / "results.json").read_text())
    assert [r["name"] for r in results["sfd"]] == ["a", "b"]
    for name in ("sfd.csv", "sfd.png", "sfd.svg", "subsets/a_shortcut_fail.jsonl"):
        assert (out / name).stat().st_size > 0
    info = json.loads((out / "run_info.json").read_text())
    assert info["inputs"]["mm_scores[0]"]["sha256"] == file_sha256(files["mm"])
    assert info["environment"]["shortcutlab"] and info["seed"] == 0


def test_matrix_length_bon_correlate_cli(files):
    d = files["dir"]
    csv = d / "std.csv"
    csv.write_text("train,a,b\na,90,60\nb,70,100\n")
    _ok(["matrix", "--from-accuracies", f"standard={csv}", "-o", str(d / "m")])
    summary = json.loads((d / "m" / "results.json").read_text())["summaries"]["standard"]
    assert summary["iid_mean"] == 95.0 and summary["ood_mean"] == 65.0
    _ok(
        [
            "length-balance",
            str(files["data"]),
            "--scores",
            f"mm={files['mm']}",
            "--n-boot",
            "20",
            "-o",
            str(d / "len"),
        ]
    )
    assert (d / "len" / "length_balanced.jsonl").exists()
    assert (d / "len" / "length.svg").exists()
    judge = _jsonl(
        d / "judge.jsonl",
        [
            {"id": f"r{i}", "response_index": j, "score": float(j)}
            for i in range(30)
            for j in range(2)
        ],
    )
    _ok(["bon", "--judge", str(judge), "--rewards", str(files["mm"]), "-o", str(d / "bon")])
    assert "expected_score" in (d / "bon" / "bon.csv").read_text()
    _ok(
        [
            "correlate",
            "--mm-scores",
            str(files["mm"]),
            "--proxy-scores",
            str(files["px"]),
            "-o",
            str(d / "c"),
        ]
    )
    corr = json.loads((d / "c" / "results.json").read_text())["correlation"]
    assert 0 < corr["pearson"] <= 1 and (d / "c" / "correlation.png").exists()


def test_malformed_score_table_exits_2(files, capsys):
    bad = files["dir"] / "bad.jsonl"
    bad.write_text(
        '{"id": "r0", "response_index": 0, "reward": 1.0, "label": "chosen"}\n'
        '{"id": "r0", "response_index": 1, "label": "rejected"}\n'
    )
    with pytest.raises(SystemExit) as ei:
        main(
            [
                "sfd",
                "--mm-scores",
                str(bad),
                "--proxy-scores",
                str(files["px"]),
                "-o",
                str(files["dir"] / "x"),
            ]
        )
    assert ei.value.code == 2
    err = capsys.readouterr().err
    assert "bad.jsonl" in err and "reward" in err


def test_matrix_needs_exactly_one_source(files, capsys):
    with pytest.raises(SystemExit) as ei:
        main(["matrix", "-o", str(files["dir"] / "m")])
    assert ei.value.code == 2 and "exactly one" in capsys.readouterr().err


def test_matrix_study_reads_the_study_score_folders(files, monkeypatch):
    """--study calls shortcutlab.study.run.run_study, then averages its per-seed score folders.

    The study runner (training + scoring, minutes) is replaced by one that writes the
    score files it would write; the matrix code under test is real.
    """
    from shortcutlab.study import run as study_run

    rows = [json.loads(x) for x in files["mm"].read_text().splitlines()]

    def fake_run_study(path, out):
        for s, flip in (("s0", False), ("s1", True)):
            folder = out / "scores" / s
            folder.mkdir(parents=True)
            for test in ("a", "b"):
                tab = [{**r, "reward": -r["reward"]} if flip and test == "b" else r for r in rows]
                _jsonl(folder / f"standard__a__{test}.jsonl", tab)
        return study_run.StudyResult(out_dir=out, summary={}, seeds=(0, 1))

    monkeypatch.setattr(study_run, "run_study", fake_run_study)
    out = files["dir"] / "ms"
    _ok(["matrix", "--study", "s.yaml", "--n-boot", "10", "-o", str(out)])
    m = json.loads((out / "results.json").read_text())["matrices"]["standard"]["a"]
    assert m["b"] == pytest.approx(50.0)  # acc and 100 - acc (reversed rewards, no ties)
    assert 50.0 < m["a"] <= 100.0
    assert "seed_folder" in (out / "matrix_cells.csv").read_text()


def test_help_has_examples():
    for cmd in ("sfd", "matrix", "length-balance", "bon", "correlate"):
        res = _ok([cmd, "--help"])
        assert "Examples" in res.output and "shortcutlab " + cmd in res.output


@pytest.mark.slow
def test_sfd_scores_first_with_models(tiny_llava_dir, tmp_path):
    """--mm-model/--proxy-model score --data with shortcutlab.scoring, then run Def. 3.1."""
    pytest.importorskip("shortcutlab.scoring")
    from PIL import Image

    Image.new("RGB", (32, 32), (200, 10, 10)).save(tmp_path / "red.png")
    data = _jsonl(
        tmp_path / "shapes.jsonl",
        [
            {
                "id": f"r{i}",
                "prompt": "What colour?",
                "img_path": "red.png",
                "chosen": "red " * (i % 3 + 1),
                "rejected": "blue",
            }
            for i in range(4)
        ],
    )
    out = tmp_path / "o"
    _ok(
        [
            "sfd",
            "--mm-model",
            str(tiny_llava_dir),
            "--proxy-model",
            str(tiny_llava_dir),
            "--data",
            str(data),
            "--n-boot",
            "20",
            "-o",
            str(out),
        ]
    )
    res = json.loads((out / "results.json").read_text())["sfd"][0]
    assert res["name"] == "shapes" and res["n_success"] + res["n_fail"] == 4
    assert (out / "scores" / "shapes__mm.jsonl").exists()
    assert (out / "scores" / "shapes__proxy.jsonl").exists()
