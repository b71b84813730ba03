"""The one-command demo (shortcutlab.study.demo): CLI wiring, and the --quick smoke run."""

from __future__ import annotations

import json
import re

import pytest

from shortcutlab.study.demo import FULL, QUICK


def test_quick_plan_is_small_and_full_plan_is_not():
    assert QUICK.size == "tiny" and FULL.size != "tiny"
    assert QUICK.warmup_steps * 10 <= FULL.warmup_steps
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
    methods = {"standard", "shortcut-aware", "text-only"}
    methods |= {f"shortcut-aware-{o}" for o in ("poe", "reweight", "groupdro", "static")}
    assert set(saved["study"]["matrix"]) == methods
    assert {r["mode"] for r in saved["study"]["methods"]["table"]} == methods
    assert saved["seeds"] == 1  # --quick: one seed unless asked
    assert 0.0 <= saved["seeing_init"]["with_image"]["accuracy"] <= 1.0
    assert saved["seeing_init"]["vision_warmup"]["steps"] == QUICK.warmup_steps
    assert saved["study"]["ran"]["train"] == 3 * 6  # 3 environments x 6 MM methods
    assert "## 6. Methods compared over seeds" in report
    again = run_demo(out, quick=True, progress=False)  # everything cached
    assert again["study"]["ran"] == {"train": 0, "score": 0}


def test_vision_warmup_learns_colour_and_saves_a_loadable_backbone(tiny_llava_dir, tmp_path):
    """60 steps already name colours far above chance (1/8); the folder is a model."""
    from shortcutlab.modeling.reward_model import RewardModel
    from shortcutlab.study.warmup import warm_up_vision
    from shortcutlab.synth.benchmark import build_benchmark

    bench = build_benchmark(tmp_path / "bench", seed=0, size="small").out_dir / "pretrain"
    res = warm_up_vision(
        tiny_llava_dir, bench / "train.jsonl", bench / "test.jsonl", tmp_path / "wu", steps=60
    )
    assert set(res["classes"]) == {"color", "shape"}
    assert res["heldout_accuracy"]["color"] > 0.4
    rm = RewardModel.from_pretrained(tmp_path / "wu")
    assert rm.arch == RewardModel.from_pretrained(tiny_llava_dir).arch


def test_vision_warmup_refuses_processors_without_one_tensor_per_image(tiny_qwen_dir, tmp_path):
    from shortcutlab.errors import ConfigError
    from shortcutlab.study.warmup import warm_up_vision
    from shortcutlab.synth.benchmark import build_benchmark

    bench = build_benchmark(tmp_path / "bench", seed=0, size="tiny").out_dir / "pretrain"
    with pytest.raises(ConfigError, match="not one pixel tensor per image"):
        warm_up_vision(
            tiny_qwen_dir, bench / "train.jsonl", bench / "test.jsonl", tmp_path / "wu", steps=2
        )
