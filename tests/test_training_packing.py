"""Packed training rows (issue 15): one row per record, prefix once, K answers after.

The trainer's objective with packing (`prefix_sharing`, the default) against the same
trainer's one-row-per-response forward, same weights, float32, eval mode (no dropout):
per-pair L, L_t, the objective and d(objective)/d(every trained parameter) within 1e-5,
for EVERY tiny architecture (standard, shortcut-aware full fine-tuning and LoRA), and the
text-only (drop, blank) and image-only proxies on LLaVA; plus the fallback for an
architecture not verified exact.

Run: python -m pytest -x -q tests/test_training_packing.py
"""

from __future__ import annotations

import json
import logging

import pytest
import torch
from scoring_helpers import write_images

from shortcutlab.config import TrainConfig
from shortcutlab.modeling.tiny import TINY_ARCHS, build_tiny_model
from shortcutlab.training.trainer import Trainer

pytestmark = [pytest.mark.unit, pytest.mark.usefixtures("one_torch_thread")]
TOL = 1e-5


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Ranked records with K = 4 rated responses and images (VLFeedback-style, one tie)."""
    folder = tmp_path_factory.mktemp("ranked")
    images = write_images(folder / "images")
    answers = ["A red circle.", "A small cat on a mat.", "Something.", "It is a round red shape."]
    rows = []
    for i, colour in enumerate(["red", "green", "blue", "red"]):
        ratings = [str(5 - (i + j) % 4) for j in range(4)]
        ratings[3] = ratings[2] if i == 1 else ratings[3]  # a tie: fewer pairs, still packed
        comp = {
            "annotations": [{"Helpfulness": {"Rating": r, "Rationale": ""}} for r in ratings],
            "model": ["a", "b", "c", "d"],
            "response": answers[i:] + answers[:i],
        }
        prompt = "Describe the image." + " Be brief." * i
        rows.append(
            {"id": f"v{i}", "prompt": prompt, "img_path": images[colour], "completions": comp}
        )
    path = folder / "ranked.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


@pytest.fixture(scope="module")
def folders(tmp_path_factory, tiny_dirs):
    return {
        arch: tiny_dirs.get(arch)
        or build_tiny_model(arch, tmp_path_factory.mktemp(f"tiny_{arch}"), seed=0)
        for arch in TINY_ARCHS
    }


def _trainer(model, data, out, **kw) -> Trainer:
    cfg = TrainConfig(
        model=str(model),
        data=data,
        output_dir=str(out),
        max_steps=1,
        per_device_train_batch_size=4,
        progress=False,
        tensorboard=False,
        **kw,
    )
    return Trainer(cfg)


def _objective(tr: Trainer, records, pack: bool) -> tuple[dict, dict]:
    """(losses, gradients by parameter name) of one path on the trainer's weights."""
    tr.pack = pack
    model = tr.model.eval()
    model.zero_grad(set_to_none=True)
    out = tr.pair_objective(records)
    out.objective.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    losses = {"loss": out.loss.detach(), "objective": out.objective.detach()}
    if out.proxy_loss is not None:
        losses["proxy_loss"] = out.proxy_loss.detach()
    return losses, grads


def _assert_parity(tr: Trainer) -> None:
    records = tr.data.records[:4]
    assert [len(r.responses) for r in records] == [4, 4, 4, 4]
    packed, g_packed = _objective(tr, records, True)
    assert tr.pack, "packing fell back"
    rows, g_rows = _objective(tr, records, False)
    for key, value in rows.items():
        torch.testing.assert_close(packed[key], value, atol=TOL, rtol=0, msg=key)
    assert g_packed.keys() == g_rows.keys() and g_rows
    for name, g in g_rows.items():
        torch.testing.assert_close(g_packed[name], g, atol=TOL, rtol=0, msg=name)


@pytest.mark.parametrize(
    "kw",
    [
        {"mode": "standard"},
        {"mode": "shortcut-aware"},
        {"mode": "shortcut-aware", "lora": True, "lora_dropout": 0.0},
    ],
    ids=["standard", "shortcut-aware", "shortcut-aware-lora"],
)
@pytest.mark.parametrize("arch", TINY_ARCHS)
def test_packed_losses_and_gradients_equal_per_row(arch, kw, folders, data, tmp_path):
    _assert_parity(_trainer(folders[arch], data, tmp_path / "run", **kw))


@pytest.mark.parametrize(
    "kw",
    [
        {"mode": "text-only"},
        {"mode": "shortcut-aware", "text_only": "blank"},
        {"mode": "shortcut-aware", "proxy": "image-only"},
        {"mode": "text-only", "lora": True, "lora_dropout": 0.0},
    ],
    ids=["text-only", "blank-proxy", "image-only-proxy", "text-only-lora"],
)
def test_packed_proxies_equal_per_row(kw, folders, data, tmp_path):
    _assert_parity(_trainer(folders["llava"], data, tmp_path / "run", **kw))


def test_packing_is_the_default_and_can_be_turned_off(folders, data, tmp_path):
    assert TrainConfig().prefix_sharing is True
    tr = _trainer(folders["llava"], data, tmp_path / "run", prefix_sharing=False)
    assert tr.pack is False
    inputs = tr.encode(tr.collator, tr.data.records[:2], True)
    assert "pack_groups" not in inputs


def test_unverified_architecture_trains_per_row(folders, data, tmp_path, caplog):
    tr = _trainer(folders["llava"], data, tmp_path / "run")
    records = tr.data.records[:4]
    reference, _ = _objective(tr, records, False)
    tr.model.primary.backbone.config.model_type = "unverified_vlm"
    with caplog.at_level(logging.WARNING, logger="shortcutlab.training.trainer"):
        losses, _ = _objective(tr, records, True)
    assert tr.pack is False
    assert any("unverified_vlm" in r.message for r in caplog.records)
    torch.testing.assert_close(losses["loss"], reference["loss"], atol=0, rtol=0)
