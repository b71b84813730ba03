"""Shared-prefix scoring reuses more (issue 22, `probe run`'s cost): answers that continue
one another (`modeling.branches`: `pad` / `truncate` of one response) and, with
`reuse_images`, image features and the image prefix's keys/values across records
(`modeling.image_cache`).

Parity with one-by-one scoring to 1e-5 in float32 on a tiny LLaVA and a tiny Qwen2-VL
(M-RoPE); the reuse really happens (branches planned, cache hits); a record's reward does
not depend on the records scored before it (bit for bit: a text-only RM in `blank` mode
keeps an image reliance of exactly 0); changed weights empty the cache.

Run: python -m pytest -x -q tests/test_prefix_reuse.py
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from shortcutlab.data.records import ImageRef, Record
from shortcutlab.modeling import prefix
from shortcutlab.modeling.branches import layout_answers, plan_branches, takes_custom_mask
from shortcutlab.probe.edits import bullet_list, hedge, pad, truncate
from shortcutlab.scoring.engine import (
    forward_records,
    load_model,
    make_collator,
    repeated_images,
    score_one_by_one,
)

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("one_torch_thread")]

ANSWERS = [
    "The circle is red. It is round and sits on the left of the image. There are two squares.",
    "There are three squares in the picture, and the star is blue. The oval is teal.",
]
EDITS = (pad, hedge, bullet_list, truncate)


def _records(image: Image.Image) -> list[Record]:
    """Records as `probe run`'s text pass builds them (4 edits x 2 responses), one image."""
    edited = [edit(a) for a in ANSWERS for edit in EDITS]
    return [
        Record(id=f"q{i}", prompt="What is in the image?" + " Look." * i,
               responses=edited[i:] + edited[:i], image=ImageRef(pil=image))
        for i in range(3)
    ]  # fmt: skip


def test_plan_branches_on_token_ids():
    trunk = torch.arange(100, 130)  # 30 tokens
    longer = torch.cat([trunk, torch.tensor([7, 8, 9])])  # `pad`: trunk + filler
    cut = torch.cat([trunk[:20], torch.tensor([5])])  # `truncate`: 20 shared, 1 own
    inside = trunk[:12]  # a token prefix of the trunk: no own token
    other = torch.arange(200, 215)
    short = torch.cat([trunk[:5], torch.tensor([1, 2])])  # 5 shared < MIN_SHARED
    answers = [cut, longer, inside, other, short]
    plan = plan_branches(answers)
    assert plan == {0: (1, 20), 2: (1, 12)}  # the longest answer is the trunk
    lay = layout_answers(answers, plan, pad=0)
    assert lay.ids.shape == (3, 34)  # longer + cut's one own token; other; short
    assert lay.ids[0, 33] == 5 and lay.offsets[0, 33] == 20  # cut's own token at position 20
    assert (lay.rows[0], lay.cols[0]) == (0, 33) and (lay.rows[2], lay.cols[2]) == (0, 11)
    assert lay.sees[0, 33, :20].all() and not lay.sees[0, 33, 20:33].any()  # shared part only
    assert not lay.sees[0, 10, 11:].any()  # causal inside the trunk


def test_branches_only_where_attention_takes_a_4d_mask():
    def model(impl):
        return SimpleNamespace(config=SimpleNamespace(_attn_implementation=impl))

    assert takes_custom_mask(model("sdpa")) and takes_custom_mask(model("eager"))
    assert not takes_custom_mask(model("flash_attention_2"))  # answers in their own rows


def test_repeated_images_per_text_only_mode():
    """Reuse is decided by the run's data: the same records in every pass of a text-only
    RM (`blank`: one image for all; `drop`: none), distinct images never."""
    recs = [Record(id=str(i), prompt="p", responses=["a"], image=ImageRef(path=f"/i{i % 3}.png"))
            for i in range(4)]  # fmt: skip
    assert repeated_images(recs, None) == {"path:/i0.png"}
    assert len(repeated_images(recs, "blank")) == 1
    assert repeated_images(recs, "drop") == frozenset()
    assert repeated_images(recs[:3], None) == frozenset()


@pytest.mark.parametrize("arch", ["llava", "qwen2_vl"])
def test_edits_and_repeated_image_equal_one_by_one(arch, tiny_dirs, monkeypatch):
    model = load_model(tiny_dirs[arch], "cpu", False)[0]
    collator = make_collator(model, max_length=1024, text_only=None)
    recs = _records(Image.new("RGB", (40, 32), (200, 30, 30)))
    plans = []

    def spy(answers):  # records the plan the scorer used (truncate on pad: 2 branches)
        plans.append(plan_branches(answers))
        return plans[-1]

    monkeypatch.setattr(prefix, "plan_branches", spy)
    reuse = repeated_images(recs, None)
    assert len(reuse) == 1  # the one image of the three records
    fast, _ = forward_records(model, collator, recs, device=model.device, reuse_images=reuse)
    assert [len(p) for p in plans] == [2, 2, 2]
    cache = model._image_feature_cache
    assert cache.hits == 1 and cache.misses == 1 and cache.prefix is not None  # 3rd: stored KV
    ref = score_one_by_one(model, collator, recs, device=model.device)
    for f, r in zip(fast, ref, strict=True):
        np.testing.assert_allclose(f, r, atol=1e-5, rtol=0)
    # the third record alone, on a fresh model: the same bits as after the other two
    fresh = load_model(tiny_dirs[arch], "cpu", False)[0]
    alone, _ = forward_records(fresh, collator, recs[2:], device="cpu", reuse_images=reuse)
    assert alone[0] == fast[2]


def test_changed_weights_empty_the_cache(tiny_dirs):
    model = load_model(tiny_dirs["llava"], "cpu", False)[0]
    collator = make_collator(model, max_length=1024, text_only=None)
    recs = _records(Image.new("RGB", (32, 32), (30, 30, 200)))[:2]
    forward_records(model, collator, recs, device=model.device)  # default: no image reuse
    assert getattr(model, "_image_feature_cache", None) is None
    reuse = repeated_images(recs, None)
    before, _ = forward_records(model, collator, recs, device=model.device, reuse_images=reuse)
    with torch.no_grad():
        next(model.backbone.vision_tower.parameters()).mul_(1.5)  # an in-place update
    after, _ = forward_records(model, collator, recs, device=model.device, reuse_images=reuse)
    ref = score_one_by_one(model, collator, recs, device=model.device)
    assert not np.allclose(after[0], before[0], atol=1e-6)
    for f, r in zip(after, ref, strict=True):
        np.testing.assert_allclose(f, r, atol=1e-5, rtol=0)


def test_blank_mode_text_only_rm_keeps_zero_image_reliance(tiny_llava_dir, tmp_path):
    """`probe run` reuses image work in every pass; a `blank`-mode text-only RM sees the
    same blank in each, takes the same path in each and gets bit-identical rewards."""
    import json

    from shortcutlab.modeling.reward_model import RewardModel
    from shortcutlab.probe import ReportOptions, run_probe

    rows = []
    for i, c in enumerate([(220, 20, 20), (20, 200, 20), (20, 20, 220)]):
        Image.new("RGB", (32, 32), c).save(tmp_path / f"img{i}.png")
        rows.append(
            {"id": f"q{i}", "prompt": "What colour is it?", "img_path": f"img{i}.png",
             "chosen": f"It is colour {i}. It fills the image.", "rejected": "A dog."}
        )  # fmt: skip
    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    model = RewardModel.from_pretrained(tiny_llava_dir)
    model.text_only = "blank"
    folder = model.save_pretrained(tmp_path / "text_rm")
    card = run_probe(folder, data, tmp_path / "p", report=ReportOptions(n_boot=20))
    for test in ("swap", "blank"):
        m = card["tests"][test]["metrics"]
        assert m["flip_rate"]["value"] == 0.0 and m["mean_abs_change_sd"]["value"] == 0.0
