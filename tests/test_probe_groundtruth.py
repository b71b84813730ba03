"""probe on ground truth: the synth benchmark's planted cues and the quick demo's models.

Per environment, the planted text cue as a probe edit (vlf: `pad`, longer wins; povid:
the detail sentence appended, it marks the rejected side, so the expected change is
negative; rlhfv: `hedge`, "It seems that" is one of the benchmark's hedges) on the
standard RM, and the image swap on the shortcut-aware run's text-only proxy.

Asserted: a text-only RM's image reliance is exactly 0 (it never sees the image), and the
standard RM's sensitivity to its environment's cue points the cue's way with an interval
that excludes 0. Not tested: standard more cue-sensitive than SFC, and SFC more
image-reliant than standard. On the quick demo (12 steps per environment, too short to
learn) they do not hold; the numbers are in docs/probe.md ("Ground truth").
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shortcutlab.probe import MakeOptions, ReportOptions, run_probe
from shortcutlab.synth import templates as T

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.usefixtures("one_torch_thread")]

CUES = {"vlf": ("pad", 1.0), "povid": ("detail", -1.0), "rlhfv": ("hedge", 1.0)}
N_RECORDS = 12


def probe(model: Path, data: Path, out: Path, tests: tuple[str, ...], edits: Path) -> dict:
    make = MakeOptions(max_records=N_RECORDS, tests=tests, edits_file=edits)
    return run_probe(model, data, out, make=make, report=ReportOptions(n_boot=300))


@pytest.mark.parametrize("env", list(CUES))
def test_planted_cue_and_blind_text_only_rm(env: str, quick_demo: Path, tmp_path: Path) -> None:
    edit, sign = CUES[env]
    edits = tmp_path / "edits.jsonl"  # the povid cue: one of the benchmark's detail sentences
    edits.write_text(json.dumps({"name": "detail", "op": "suffix", "text": T.DETAILS[0]}) + "\n")
    runs = quick_demo / "study" / "runs" / "s0"
    data = quick_demo / "bench" / env / "test.jsonl"
    text = probe(runs / f"shortcut-aware__{env}" / "proxy", data, tmp_path / "t", ("swap",), edits)
    swap = text["tests"]["swap"]["metrics"]
    assert swap["flip_rate"]["value"] == 0.0 and swap["mean_abs_change_sd"]["value"] == 0.0
    standard = probe(runs / f"standard__{env}" / "model", data, tmp_path / "s", (edit,), edits)
    cue = standard["tests"][edit]["metrics"]["mean_change_sd"]
    assert sign * cue["value"] > 0
    assert sign * cue["ci_low"] > 0 and sign * cue["ci_high"] > 0  # interval excludes 0
