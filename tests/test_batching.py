"""RewardCollator: row layout, text-only modes, image-only proxy, shared-image parity."""

from __future__ import annotations

import pytest
import torch

from shortcutlab.errors import ConfigError
from shortcutlab.modeling.batching import RewardCollator
from shortcutlab.modeling.reward_model import RewardModel

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def models(tiny_dirs):
    return {arch: RewardModel.from_pretrained(d, seed=0) for arch, d in tiny_dirs.items()}


def test_rows_contiguous_per_record(models, shape_records):
    batch = RewardCollator(models["llava"].processor).encode(shape_records)
    assert batch.index == [(0, 0), (0, 1), (1, 0), (1, 1), (1, 2), (2, 0), (2, 1)]
    assert batch.inputs["input_ids"].shape[0] == 7
    assert batch.inputs["pixel_values"].shape[0] == 5  # one image per image row
    assert batch.truncated == 0 and batch.answer_truncated == 0


def _decoded(rm, batch, row):
    ids = batch.inputs["input_ids"][row][batch.inputs["attention_mask"][row].bool()]
    return rm.processor.tokenizer.decode(ids)


def test_drop_prompt_is_image_only(models, shape_records):
    rm = models["llava"]
    batch = RewardCollator(rm.processor, drop_prompt=True).encode(shape_records[:1])
    text = _decoded(rm, batch, 0)
    assert "What color" not in text and "The circle is red." in text
    assert (batch.inputs["input_ids"][0] == rm.processor.tokenizer.image_token_id).sum() == 64


def test_blank_mode_uses_a_white_image_everywhere(models, shape_records):
    rm = models["qwen2_vl"]
    batch = RewardCollator(rm.processor, text_only="blank").encode(shape_records, share_images=True)
    assert batch.n_unique_images == 1  # one constant blank image for all records
    assert (batch.inputs["image_index"] == 0).all()


def test_bad_mode_rejected(models):
    with pytest.raises(ConfigError):
        RewardCollator(models["llava"].processor, text_only="none")


@pytest.mark.parametrize("arch", ["llava", "qwen2_vl"])
def test_shared_images_parity(arch, models, shape_records):
    """Encoding each image once == encoding it per response: rewards AND gradients."""
    rm = models[arch]
    col = RewardCollator(rm.processor)
    dup = col.encode(shape_records)
    shared = col.encode(shape_records, share_images=True)
    assert shared.n_unique_images == 2
    assert shared.inputs["image_index"].tolist() == [0, 0, 1, 1, 1, -1, -1]
    assert not any(k == "pixel_values" for k in shared.inputs)

    results = []
    for batch in (dup, shared):
        rm.zero_grad()
        rewards = rm(**batch.inputs)
        (rewards * torch.arange(1.0, 8.0)).sum().backward()  # row-dependent weights
        grads = {n: p.grad.clone() for n, p in rm.named_parameters() if p.grad is not None}
        results.append((rewards.detach(), grads))
    (r_dup, g_dup), (r_sh, g_sh) = results
    torch.testing.assert_close(r_sh, r_dup, atol=1e-5, rtol=0)
    assert g_dup.keys() == g_sh.keys()
    assert any("vision" in n or "visual" in n for n in g_dup)
    for name in g_dup:
        torch.testing.assert_close(g_sh[name], g_dup[name], atol=1e-5, rtol=1e-4, msg=name)


@pytest.mark.gpu
def test_shared_images_on_cuda(tiny_dirs, shape_records):
    """On a GPU the shared path runs on device and matches the CPU rewards."""
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    for folder in tiny_dirs.values():
        rm = RewardModel.from_pretrained(folder, seed=0).eval()
        batch = RewardCollator(rm.processor).encode(shape_records, share_images=True)
        with torch.no_grad():
            cpu = rm(**batch.inputs)
            gpu = rm.to("cuda")(**batch.to("cuda").inputs)
        torch.testing.assert_close(gpu.cpu(), cpu, atol=1e-4, rtol=1e-3)


class _OneGroupPerRowCollator(RewardCollator):
    """Shared encodings that claim one unique image per image row, while the batch holds
    fewer: what a backbone whose feature groups do not map back to the images looks like."""

    def encode(self, records, *, share_images=False):
        batch = super().encode(records, share_images=share_images)
        if share_images:
            index = batch.inputs["image_index"]  # (N,) unique-image index, -1 = none
            rows = index >= 0
            index[rows] = torch.arange(int(rows.sum()))
        return batch


def test_unsupported_sharing_is_a_typed_error_and_scoring_falls_back(models, shape_records):
    from shortcutlab.modeling.signals import SharedImageUnsupported
    from shortcutlab.scoring.engine import forward_records

    rm = models["llava"].eval()
    col = _OneGroupPerRowCollator(rm.processor)
    with torch.no_grad(), pytest.raises(SharedImageUnsupported, match="share_images=False"):
        rm(**col.encode(shape_records, share_images=True).inputs)
    fallback, _ = forward_records(rm, col, shape_records, device=rm.device, share_images=True)
    unshared, _ = forward_records(rm, col, shape_records, device=rm.device, share_images=False)
    assert fallback == unshared
