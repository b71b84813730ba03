"""Shared-prefix scoring (issue 15): a record's image + prompt once, its K answers on top.

Parity with one-by-one scoring (each response alone in its own forward) to 1e-5 in
float32 for EVERY tiny architecture the project builds, with the image, text-only `drop`
and `blank`, a prompt cut to max_length and K = 1 records; the fallback for an
architecture not verified exact (logged once, same rewards); the CLI switch.

Run: python -m pytest -x -q tests/test_prefix_sharing.py
"""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
import torch
from scoring_helpers import write_pairwise

from shortcutlab.data.records import Record
from shortcutlab.modeling.prefix import PREFIX_ARCHS, common_prefix, shared_prefix_rewards
from shortcutlab.modeling.signals import PrefixSharingUnsupported
from shortcutlab.modeling.tiny import TINY_ARCHS, build_tiny_model
from shortcutlab.scoring.engine import (
    forward_records,
    load_model,
    make_collator,
    score_one_by_one,
)

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("one_torch_thread")]


@pytest.fixture(scope="module")
def models(tmp_path_factory, tiny_dirs):
    """Every tiny architecture, loaded once (LLaVA / Qwen2-VL from the session fixtures)."""
    out = {}
    for arch in TINY_ARCHS:
        folder = tiny_dirs.get(arch) or build_tiny_model(
            arch, tmp_path_factory.mktemp(f"tiny_{arch}"), seed=0
        )
        out[arch] = load_model(folder, "cpu", False)[0]
    return out


def _records(shape_records) -> list[Record]:
    """The shared records + a K = 1 record and one whose answers share a first word."""
    extra = [
        Record(id="k1", prompt="One answer only.", responses=["alone"]),
        Record(
            id="same",
            prompt=shape_records[0].prompt,
            responses=["The circle is red.", "The circle is red and round.", "The"],
            image=shape_records[0].image,
        ),
    ]
    return [*shape_records, *extra]


def test_every_tiny_architecture_is_covered():
    assert set(TINY_ARCHS) <= PREFIX_ARCHS


@pytest.mark.parametrize("text_only", [None, "drop", "blank"])
@pytest.mark.parametrize("arch", TINY_ARCHS)
def test_prefix_sharing_equals_one_by_one(arch, text_only, models, shape_records):
    model = models[arch]
    collator = make_collator(model, max_length=512, text_only=text_only)
    recs = _records(shape_records)
    fast, _ = forward_records(model, collator, recs, device=model.device)
    ref = score_one_by_one(model, collator, recs, device=model.device)
    for f, r in zip(fast, ref, strict=True):
        np.testing.assert_allclose(f, r, atol=1e-5, rtol=0)


@pytest.mark.parametrize("arch", ["llava", "qwen2_vl"])
def test_prefix_is_really_shared(arch, models, shape_records):
    """The common prefix holds the image and the prompt; only answers run K times."""
    model = models[arch]
    collator = make_collator(model, max_length=512, text_only=None)
    inputs = collator.encode([shape_records[1]], share_images=True).inputs
    mask = inputs["attention_mask"].bool()
    rows = [inputs["input_ids"][j][mask[j]] for j in range(mask.shape[0])]
    p = common_prefix(rows)
    image_id = model.config.image_token_id
    assert int((rows[0][:p] == image_id).sum()) == int((rows[0] == image_id).sum()) > 0
    assert all(len(r) - p < 12 for r in rows)  # answers (+ end-of-turn tokens) only
    with torch.inference_mode():
        rewards = shared_prefix_rewards(model, inputs)
    assert rewards.shape == (3,)


def test_prompt_cut_to_max_length_still_exact(models, shape_records):
    model = models["llava"]
    long = Record(
        id="long",
        prompt="Describe the picture in detail please. " * 12,
        responses=["a red circle", "a blue square on white", "nothing"],
        image=shape_records[0].image,
    )
    collator = make_collator(model, max_length=140, text_only=None)
    fast, cuts = forward_records(model, collator, [long], device=model.device)
    ref = score_one_by_one(model, collator, [long], device=model.device)
    assert cuts == 3
    np.testing.assert_allclose(fast[0], ref[0], atol=1e-5, rtol=0)


def test_unverified_architecture_falls_back_logged_once(tiny_dirs, shape_records, caplog):
    """A backbone outside PREFIX_ARCHS: typed error, one log line with the reason, same rewards."""
    model = load_model(tiny_dirs["llava"], "cpu", False)[0]
    model.backbone.config.model_type = "unverified_vlm"
    collator = make_collator(model, max_length=512, text_only=None)
    inputs = collator.encode([shape_records[0]], share_images=True).inputs
    with pytest.raises(PrefixSharingUnsupported, match="unverified_vlm"):
        shared_prefix_rewards(model, inputs)
    with caplog.at_level(logging.WARNING, logger="shortcutlab.scoring.engine"):
        first, _ = forward_records(model, collator, shape_records, device=model.device)
        forward_records(model, collator, shape_records, device=model.device)
    lines = [r.message for r in caplog.records if "unverified_vlm" in r.message]
    assert len(lines) == 1 and "prefix sharing off" in lines[0]
    ref = score_one_by_one(model, collator, shape_records, device=model.device)
    for f, r in zip(first, ref, strict=True):
        np.testing.assert_allclose(f, r, atol=1e-5, rtol=0)


def test_common_prefix_leaves_one_token_per_row():
    rows = [torch.tensor([1, 2, 3]), torch.tensor([1, 2, 3, 4]), torch.tensor([1, 2, 5])]
    assert common_prefix(rows) == 2
    assert common_prefix([torch.tensor([1, 2, 3]), torch.tensor([1, 2, 3])]) == 2


def test_cli_no_prefix_sharing_gives_the_same_table(tiny_llava_dir, tmp_path, cli):
    data = write_pairwise(tmp_path / "d.jsonl", 5)
    tables = {}
    for name, flags in (("on", []), ("off", ["--no-prefix-sharing"])):
        out = tmp_path / f"{name}.jsonl"
        args = ["score", "--model", str(tiny_llava_dir), "--data", str(data), "--output", str(out)]
        cli(*args, *flags)
        tables[name] = [json.loads(x) for x in out.read_text().splitlines()]
        summary = json.loads((tmp_path / f"{name}.summary.json").read_text())
        assert summary["provenance"]["prefix_sharing"] is (name == "on")
    on = [r["reward"] for r in tables["on"]]
    off = [r["reward"] for r in tables["off"]]
    assert [r["id"] for r in tables["on"]] == [r["id"] for r in tables["off"]]
    np.testing.assert_allclose(on, off, atol=1e-5, rtol=0)
