"""A real TRL GRPOTrainer run with a shortcutlab reward model and the shortcut monitor
(examples/grpo_with_shortcutlab_reward.py, tiny LLaVA policy and reward model, CPU).

Run: python -m pytest -x -q tests/test_rl_grpo.py
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.usefixtures("one_torch_thread")]
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "grpo_with_shortcutlab_reward.py"


def test_grpo_example_logs_shortcut_metrics_to_tensorboard(tiny_llava_dir, tmp_path):
    pytest.importorskip("trl")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    spec = importlib.util.spec_from_file_location("grpo_example", EXAMPLE)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    # threshold -1: any finite correlation crosses it, so the warning path runs for real
    out = example.main(
        tmp_path,
        steps=1,
        policy=str(tiny_llava_dir),
        reward=str(tiny_llava_dir),
        max_length_corr=-1.0,
        batch=4,
        completion_tokens=6,
    )
    assert math.isfinite(out["reward"]) and out["shortcut/completions"] == 4
    assert out["shortcut/blanked"] >= 1 and math.isfinite(out["shortcut/image_reliance"])
    assert out["alerts"] and "reward-length correlation" in out["alerts"][0]["message"]
    events = list(tmp_path.glob("runs/*/events.out.tfevents.*"))
    assert len(events) == 1
    acc = EventAccumulator(str(events[0].parent))
    acc.Reload()
    tags = acc.Tags()["scalars"]
    for name in ("length_corr", "image_reliance", "phrase_rate"):
        assert f"train/shortcut/{name}" in tags
    logged = acc.Scalars("train/shortcut/length_corr")[-1].value
    assert logged == pytest.approx(out["shortcut/length_corr"], rel=1e-5)
