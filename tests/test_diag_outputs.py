"""The diagnostics output layer (shortcutlab.diagnostics.outputs): the CLI and the study
report write their matrix through the same writer, so the same score tables give the
same bytes; each report writes results.json and run_info.json naming its inputs."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
from typer.testing import CliRunner

from shortcutlab.cli.main import app
from shortcutlab.diagnostics.outputs import (
    Provenance,
    SfdSet,
    load_matrices,
    report_matrix,
    report_sfd,
)
from shortcutlab.study.results import matrix_results
from shortcutlab.study.spec import StudyEnv

pytestmark = pytest.mark.integration

ENVS = ("a", "b")


def _table(path, seed: int, skill: float) -> None:
    """A 40-pair score table whose chosen answer wins with probability ~`skill`."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(40):
        good = rng.random() < skill
        for j, lab in enumerate(("chosen", "rejected")):
            reward = float(rng.normal()) + (1.5 if (j == 0) == good else 0.0)
            rows.append({"id": f"r{i}", "response_index": j, "label": lab, "reward": reward})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


@pytest.fixture()
def scores(tmp_path):
    folder = tmp_path / "study" / "scores" / "s0"
    for i, train in enumerate(ENVS):
        for j, test in enumerate(ENVS):
            _table(folder / f"standard__{train}__{test}.jsonl", 10 * i + j, 0.9 if i == j else 0.6)
    return folder


def test_cli_library_and_study_write_the_same_matrix(scores, tmp_path):
    prov = Provenance(command=["test"])
    mats, inputs, long = load_matrices(scores=scores, n_boot=20, seed=0)
    lib = report_matrix(mats, tmp_path / "lib", prov, inputs=inputs, long=long, seed=0)
    assert lib.summaries["standard"]["iid_mean"] > lib.summaries["standard"]["ood_mean"]
    res = CliRunner().invoke(
        app, ["matrix", "--from-scores", str(scores), "--n-boot", "20", "-o", str(tmp_path / "cli")]
    )
    assert res.exit_code == 0, res.output
    study = SimpleNamespace(
        seeds=[0], n_boot=20, environments=[StudyEnv(e, "x", "y") for e in ENVS]
    )
    res_dir = tmp_path / "study" / "results"
    res_dir.mkdir()
    matrix_results(study, tmp_path / "study", res_dir)
    for name in ("matrix_standard.csv", "matrix_summary.csv"):
        want = (tmp_path / "lib" / name).read_bytes()
        assert (tmp_path / "cli" / name).read_bytes() == want, name
        assert (res_dir / name).read_bytes() == want, name
    info = json.loads((tmp_path / "lib" / "run_info.json").read_text())
    assert info["command"] == ["test"] and len(info["inputs"]) == 4


def test_report_sfd_writes_subsets_tables_and_figure(scores, tmp_path):
    mm, px = scores / "standard__a__a.jsonl", scores / "standard__a__b.jsonl"
    _table(px, 10, 0.9)  # a "proxy" over the same ids
    out = tmp_path / "sfd"
    rep = report_sfd([SfdSet("a", str(mm), str(px))], out, Provenance(["t"]), n_boot=20, seed=0)
    assert len(rep.results) == 1 and rep.results[0].name == "a"
    names = {p.name for p in rep.files}
    assert {"sfd.csv", "sfd.png", "sfd.svg"} <= names
    assert {"a_shortcut_success_pairs.jsonl", "a_shortcut_fail_pairs.jsonl"} <= names
    assert json.loads((out / "results.json").read_text())["sfd"][0]["name"] == "a"
