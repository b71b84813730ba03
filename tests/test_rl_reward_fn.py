"""`shortcutlab.rl.RewardFunction` (TRL's reward-function signature) and the monitor window.

Run: python -m pytest -x -q tests/test_rl_reward_fn.py
"""

from __future__ import annotations

import json
import math

import pytest
from PIL import Image
from scoring_helpers import write_pairwise

from shortcutlab.rl import RewardFunction, ShortcutMonitor, Thresholds
from shortcutlab.rl.monitor import crossed, pearson
from shortcutlab.rl.reward_fn import build_records, prompt_parts
from shortcutlab.scoring import score

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("one_torch_thread")]


@pytest.fixture(scope="module")
def pair_file(tmp_path_factory: pytest.TempPathFactory):
    return write_pairwise(tmp_path_factory.mktemp("rl_pairs") / "pairs.jsonl", 6)


@pytest.fixture(scope="module")
def reward_fn(tiny_llava_dir):
    return RewardFunction(tiny_llava_dir, device="cpu", batch_size=3)


def _trl_inputs(pair_file, conversational: bool):
    """What GRPOTrainer passes: each prompt repeated per completion (G = 2), image column."""
    rows = [json.loads(x) for x in pair_file.read_text().splitlines()]
    prompts, completions, images = [], [], []
    for row in rows:
        path = row["img_path"]
        pil = Image.open(pair_file.parent / path) if path else None
        for answer in (row["chosen"], row["rejected"]):
            if conversational:
                content = [{"type": "image", "image": pil}] if pil is not None else []
                content.append({"type": "text", "text": row["prompt"]})
                prompts.append([{"role": "user", "content": content}])
                completions.append([{"role": "assistant", "content": answer}])
            else:
                prompts.append(row["prompt"])
                completions.append(answer)
            images.append(path)
    return prompts, completions, images


def test_rewards_equal_score(reward_fn, pair_file):
    """Conversational prompts with inline PIL images and plain prompts with an image path
    column both give `score`'s rewards (1e-5), in the order TRL passed the completions."""
    fn = reward_fn
    table = score(fn.scorer.model, pair_file, batch_size=4, device="cpu").table
    expected = table.sort_values(["id", "response_index"])["reward"].tolist()
    prompts, completions, _ = _trl_inputs(pair_file, conversational=True)
    got = fn(prompts=prompts, completions=completions, completion_ids=None, trainer_state=None)
    assert len(got) == len(expected) and all(isinstance(v, float) for v in got)
    assert max(abs(a - b) for a, b in zip(got, expected, strict=True)) < 1e-5
    prompts, completions, paths = _trl_inputs(pair_file, conversational=False)
    fn.image_root = pair_file.parent
    got = fn(prompts=prompts, completions=completions, image=paths)
    assert max(abs(a - b) for a, b in zip(got, expected, strict=True)) < 1e-5


def test_completions_of_one_prompt_form_one_record():
    im = Image.new("RGB", (8, 8), (1, 2, 3))
    same = Image.new("RGB", (8, 8), (1, 2, 3))  # TRL decodes the image again per completion
    prompts = [[{"role": "user", "content": "Q?"}]] * 3 + ["other"]
    completions = [[{"role": "assistant", "content": c}] for c in "abc"] + ["d"]
    records, where = build_records(prompts, completions, {"image": [im, same, im, None]})
    assert [r.responses for r in records] == [["a", "b", "c"], ["d"]]
    assert where == [(0, 0), (0, 1), (0, 2), (1, 0)]
    assert records[0].image is not None and records[1].image is None
    assert (
        prompt_parts([{"role": "system", "content": "s"}, {"role": "user", "content": "u"}])[0]
        == "u"
    )


def test_monitor_window_and_thresholds(reward_fn, pair_file):
    """Blank-image deltas are real forwards; phrase rate and length correlation add up."""
    mon = ShortcutMonitor(blank_fraction=1.0, phrases=["indeed"], thresholds=Thresholds(0.0))
    fn = RewardFunction(
        reward_fn.scorer.model, device="cpu", monitor=mon, image_root=pair_file.parent
    )
    prompts, completions, paths = _trl_inputs(pair_file, conversational=False)
    logged: dict[str, float] = {}
    rewards = fn(
        prompts=prompts, completions=completions, image=paths, log_metric=logged.setdefault
    )
    stats = mon.stats.summary()
    with_image = sum(1 for p in paths if p)
    assert stats["completions"] == len(rewards) and stats["blanked"] == with_image
    assert stats["phrase_rate"] == pytest.approx(
        sum("indeed" in c.lower() for c in completions) / len(completions)
    )
    lengths = [len(c) for c in completions]
    assert stats["length_corr"] == pytest.approx(pearson(rewards, lengths))
    assert math.isfinite(stats["image_reliance"]) and stats["image_reliance"] != 0.0
    assert set(logged) >= {"shortcut/length_corr", "shortcut/image_reliance"}
    flags = crossed({**stats, "length_corr": 0.9}, Thresholds(0.5, 10.0, 0.0))
    assert len(flags) == 3 and "0.900" in flags[0]
