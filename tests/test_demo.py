"""The one-command demo (shortcutlab.study.demo): CLI wiring, and the --quick smoke run.

The --quick run happens once per session (the `quick_demo_run` fixture in conftest, a
real `python -m shortcutlab demo --quick --json` process); the tests that read it are
`e2e` + `slow` and stay in this file, so that under xdist's loadfile it runs once.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from shortcutlab.study.demo import FULL, QUICK

pytestmark = pytest.mark.integration


def test_quick_plan_is_small_and_full_plan_is_not():
    assert QUICK.size == "tiny" and FULL.size != "tiny"
    assert QUICK.warmup_steps * 10 <= FULL.warmup_steps
    assert QUICK.pretrain_steps * 10 <= FULL.pretrain_steps
    assert QUICK.env_steps * 10 <= FULL.env_steps


def test_demo_rejects_zero_seeds(tmp_path, cli):
    res = cli("demo", "--out", tmp_path, "--seeds", "0", code=2)
    assert "--seeds must be >= 1" in res.stderr


def test_demo_help_lists_examples():
    from typer.testing import CliRunner

    from shortcutlab.cli.main import app

    res = CliRunner().invoke(app, ["demo", "--help"])
    assert res.exit_code == 0
    assert "shortcutlab demo --quick" in res.output


@pytest.mark.e2e
@pytest.mark.slow  # reads the session's --quick demo (a few minutes, once per session)
def test_demo_json_and_progress_of_its_long_stages(quick_demo_run) -> None:
    """`demo --json`: stdout is demo.json; the stages' progress (pre-training included,
    which printed nothing in a log before) goes to stderr. Runs before the smoke test
    below, whose cached rerun rewrites demo.json."""
    out, res = quick_demo_run
    assert res.code == 0, res.stderr[-3000:]
    saved = res.json()  # fails on anything besides one JSON document
    assert saved == json.loads((out / "demo.json").read_text(encoding="utf-8"))
    assert saved["quick"] is True
    assert "[train standard] steps 1/" in res.stderr  # the seeing init's pre-training
    assert "[train shortcut-aware] steps" in res.stderr and "[score " in res.stderr


@pytest.mark.e2e
@pytest.mark.slow  # reads the session's --quick demo (a few minutes, once per session)
def test_demo_quick_smoke(quick_demo):
    from shortcutlab.study.demo import run_demo

    out = quick_demo
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


@pytest.mark.e2e
@pytest.mark.slow  # reads the session's --quick demo; starts headless Chromium
def test_demo_html_page_in_a_browser(quick_demo):
    """The demo's index.html (shortcutlab.html) in headless Chromium: no console error,
    every image loads, the subset filter changes the rows, the screenshot is not blank
    (saved as docs/images/report.png for README when absent or SHORTCUTLAB_SCREENSHOT=1)."""
    from html_pages import choose, not_blank, open_browser, open_page, page_sets, shown
    from PIL import Image

    with open_browser() as browser:
        open_page(browser, quick_demo / "index.html")
        sets = page_sets(browser)
        assert any(s["section"] == 1 for s in sets)  # the study's test sets
        # a set where the proxy is right on some pairs and wrong on others
        i = next(
            i
            for i, s in enumerate(sets)
            if 0 < sum(r["subset"] == "shortcut_fail" for r in s["rows"]) < len(s["rows"])
        )
        choose(browser, "f-set", str(i))
        before = shown(browser)
        choose(browser, "f-subset", "shortcut_fail")
        after = shown(browser)
        fail = [r["id"] for r in sets[i]["rows"] if r["subset"] == "shortcut_fail"]
        assert after and after != before and set(after) <= set(fail)
        browser.execute_script("document.getElementById('examples').scrollIntoView()")
        im = not_blank(browser.get_screenshot_as_png())
    shot = Path(__file__).resolve().parents[1] / "docs" / "images" / "report.png"
    if not shot.exists() or os.environ.get("SHORTCUTLAB_SCREENSHOT") == "1":
        im.thumbnail((1100, 800))
        im.convert("P", palette=Image.Palette.ADAPTIVE, colors=128).save(shot, optimize=True)


@pytest.mark.slow  # 60 warm-up steps on the small benchmark: the slowest fast-tier test
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


# --- probe on ground truth (issue 22): the planted cues and the quick demo's models -------
# The demo probes every run while it trains (`train --probe-data`, the environment's test
# file; the cue edits of `synth.environments.PROBE_CUES`: vlf `pad`, longer wins; povid a
# detail sentence appended, it marks the rejected side, so the expected change is < 0;
# rlhfv `hedge`). Asserted: the standard RM's cue sensitivity in its last-step card points
# the cue's way with an interval that excludes 0; the text-only proxy's image reliance is
# exactly 0; the report's probe section lists every method. Not asserted: standard more
# cue-sensitive than the mitigations, mitigations more image-reliant (the report counts
# them; docs/probe.md, "Ground truth", has the full demo's numbers).


@pytest.mark.e2e
@pytest.mark.slow  # the session's --quick demo, then one swap-only probe of 12 records
@pytest.mark.parametrize("env", ["vlf", "povid", "rlhfv"])
def test_probe_on_planted_cues(env: str, quick_demo, tmp_path, one_torch_thread) -> None:
    from shortcutlab.probe import MakeOptions, ReportOptions, run_probe
    from shortcutlab.run_folder import RunFolder
    from shortcutlab.synth.environments import PROBE_CUES

    edit, sign = PROBE_CUES[env]
    runs, data = quick_demo / "study" / "runs" / "s0", quick_demo / "bench" / env / "test.jsonl"
    card = json.loads((RunFolder(runs / f"standard__{env}").probe / "card.json").read_text())
    cue = card["tests"][edit]["metrics"]["mean_change_sd"]
    assert sign * cue["value"] > 0
    assert sign * cue["ci_low"] > 0 and sign * cue["ci_high"] > 0  # the interval excludes 0
    make = MakeOptions(max_records=12, tests=("swap",))
    proxy = RunFolder(runs / f"shortcut-aware__{env}").proxy
    text = run_probe(proxy, data, tmp_path / "text", make=make, report=ReportOptions(n_boot=50))
    swap = text["tests"]["swap"]["metrics"]
    assert swap["flip_rate"]["value"] == 0.0 and swap["mean_abs_change_sd"]["value"] == 0.0


@pytest.mark.e2e
@pytest.mark.slow  # reads the session's --quick demo
def test_demo_report_has_the_probe_of_every_method(quick_demo) -> None:
    import pandas as pd

    from shortcutlab.study.demo import OBJECTIVES

    final = pd.read_csv(quick_demo / "study" / "results" / "probe_final.csv")
    methods = set(final["method"])
    assert "standard" in methods and len(methods) == 1 + len(OBJECTIVES)
    assert set(final["env"]) == {"vlf", "povid", "rlhfv"}
    assert final["start"].notna().all()  # the value before training, from step 0
    report = (quick_demo / "report.md").read_text()
    section = report[report.index("What each RM rewards: the probe") :]
    assert "probe_training.png" in section and "comparisons (expected: all)" in section
    assert (quick_demo / "study" / "results" / "probe_training.png").stat().st_size > 10_000
