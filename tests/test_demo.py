"""The one-command demo (shortcutlab.study.demo): CLI wiring, and the --quick smoke run."""

from __future__ import annotations

import json
import re

import pytest

from shortcutlab.study.demo import FULL, QUICK


def test_quick_plan_is_small_and_full_plan_is_not():
    assert QUICK.size == "tiny" and FULL.size != "tiny"
    assert QUICK.pretrain_steps * 10 <= FULL.pretrain_steps
    assert QUICK.env_steps * 10 <= FULL.env_steps


def test_demo_rejects_zero_seeds(tmp_path, capsys):
    from shortcutlab.cli.main import main

    with pytest.raises(SystemExit) as exc:
        main(["demo", "--out", str(tmp_path), "--seeds", "0"])
    assert exc.value.code == 2
    assert "--seeds must be >= 1" in capsys.readouterr().err


def test_demo_help_lists_examples():
    from typer.testing import CliRunner

    from shortcutlab.cli.main import app

    res = CliRunner().invoke(app, ["demo", "--help"])
    assert res.exit_code == 0
    assert "shortcutlab demo --quick" in res.output


@pytest.mark.slow
def test_demo_quick_smoke(tmp_path):
    from shortcutlab.study.demo import run_demo

    run_demo(tmp_path / "demo", quick=True, progress=False)
    out = tmp_path / "demo"
    report = (out / "report.md").read_text()
    for link in re.findall(r"\]\(([^)]+\.png)\)", report):  # every figure it shows exists
        assert (out / link).is_file(), link
    saved = json.loads((out / "demo.json").read_text())
    assert saved["quick"] is True
    assert set(saved["study"]["matrix"]) == {"standard", "shortcut-aware", "text-only"}
    assert 0.0 <= saved["seeing_init"]["with_image"]["accuracy"] <= 1.0
    assert saved["study"]["ran"]["train"] == 6
    again = run_demo(out, quick=True, progress=False)  # everything cached
    assert again["study"]["ran"] == {"train": 0, "score": 0}
