"""Tiny real architectures: build, forward + backward, text-only, determinism, fresh reload."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from PIL import Image

from shortcutlab.data.records import ImageRef, Record
from shortcutlab.errors import ConfigError
from shortcutlab.modeling.batching import RewardCollator
from shortcutlab.modeling.reward_model import RewardModel
from shortcutlab.modeling.tiny import TINY_ARCHS, build_tiny_model

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def all_dirs(tiny_dirs, tmp_path_factory) -> dict[str, Path]:
    """Every tiny architecture, built once (LLaVA and Qwen2-VL come from the session)."""
    out = dict(tiny_dirs)
    for arch in TINY_ARCHS:
        if arch not in out:
            out[arch] = build_tiny_model(arch, tmp_path_factory.mktemp(arch))
    return out


@pytest.mark.parametrize("arch", TINY_ARCHS)
def test_builds_forward_backward(arch, all_dirs, shape_records):
    folder = all_dirs[arch]
    for name in ("config.json", "model.safetensors", "tokenizer.json", "processor_config.json"):
        assert (folder / name).is_file(), name
    rm = RewardModel.from_pretrained(folder, seed=0)
    n_params = sum(p.numel() for p in rm.parameters())
    assert 50_000 < n_params < 1_000_000
    batch = RewardCollator(rm.processor).encode(shape_records)
    rewards = rm(**batch.inputs)
    assert rewards.shape == (7,) and torch.isfinite(rewards).all()
    rewards.sum().backward()
    grads = {g: [p.grad for p in ps] for g, ps in _groups(rm).items()}
    for group in ("vision", "projector", "language", "head"):
        assert any(g is not None and g.abs().sum() > 0 for g in grads[group]), group


def _groups(rm: RewardModel) -> dict[str, list]:
    return {
        "vision": list(rm.vision_parameters()),
        "projector": list(rm.projector_parameters()),
        "language": list(rm.language_parameters()),
        "head": list(rm.head.parameters()),
    }


@pytest.mark.parametrize("arch", TINY_ARCHS)
def test_text_only_input(arch, all_dirs, shape_records):
    rm = RewardModel.from_pretrained(all_dirs[arch], seed=0)
    batch = RewardCollator(rm.processor, text_only="drop").encode(shape_records)
    assert not any(k.startswith("pixel") for k in batch.inputs)
    image_id = rm.processor.image_token_id
    assert not (batch.inputs["input_ids"] == image_id).any()
    rewards = rm(**batch.inputs)
    assert torch.isfinite(rewards).all()
    with_images = RewardCollator(rm.processor).encode(shape_records)
    assert (with_images.inputs["input_ids"] == image_id).any()


@pytest.mark.parametrize("arch", TINY_ARCHS)
def test_shared_images_match(arch, all_dirs, shape_records):
    """Every architecture's shared-image path gives the per-response rewards."""
    rm = RewardModel.from_pretrained(all_dirs[arch], seed=0).eval()
    col = RewardCollator(rm.processor)
    with torch.no_grad():
        dup = rm(**col.encode(shape_records).inputs)
        shared = rm(**col.encode(shape_records, share_images=True).inputs)
    torch.testing.assert_close(shared, dup, atol=1e-5, rtol=0)


def test_shared_images_with_internvl_tiles(all_dirs, shape_records):
    """Multi-tile images (InternVL dynamic tiling): shared path still == per response."""
    rm = RewardModel.from_pretrained(all_dirs["internvl"], seed=0).eval()
    rm.processor.image_processor.max_patches = 4
    wide = Record(
        id="w",
        prompt="Describe.",
        responses=["a", "bb"],
        image=ImageRef(pil=Image.new("RGB", (200, 64), (9, 99, 199))),
    )  # several tiles
    records = [*shape_records, wide]
    col = RewardCollator(rm.processor)
    shared = col.encode(records, share_images=True)
    assert shared.inputs["unique_num_patches"].sum() > 2
    with torch.no_grad():
        dup = rm(**col.encode(records).inputs)
        torch.testing.assert_close(rm(**shared.inputs), dup, atol=1e-5, rtol=0)


def test_deterministic_for_a_seed(tmp_path, tiny_llava_dir):
    again = build_tiny_model("llava", tmp_path / "a", seed=0)
    other = build_tiny_model("llava", tmp_path / "b", seed=1)
    first = (tiny_llava_dir / "model.safetensors").read_bytes()
    assert (again / "model.safetensors").read_bytes() == first
    assert (other / "model.safetensors").read_bytes() != first
    assert (again / "tokenizer.json").read_text() == (tiny_llava_dir / "tokenizer.json").read_text()


def test_overrides_and_errors(tmp_path):
    model, processor = build_tiny_model(
        "llava", hidden_size=96, num_hidden_layers=3, image_size=32, vocab_size=600
    )
    text = model.config.text_config
    assert (text.hidden_size, text.num_hidden_layers) == (96, 3)
    assert model.config.vision_config.image_size == 32
    assert text.vocab_size == len(processor.tokenizer)
    with pytest.raises(ConfigError, match="unknown tiny architecture"):
        build_tiny_model("nope", tmp_path)
    with pytest.raises(ConfigError, match="unknown override"):
        build_tiny_model("llava", tmp_path, hiden_size=8)


def test_tokenizer_covers_vqa_words(tiny_llava_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_llava_dir)
    for word in ("red", "blue", "circle", "square", "three", " green", " triangle", " two"):
        assert len(tok(word, add_special_tokens=False)["input_ids"]) == 1, word
    assert tok.image_token == "<image>" and tok.pad_token_id != tok.eos_token_id


_FRESH = textwrap.dedent(
    """
    import json, sys, torch
    from shortcutlab.modeling.reward_model import RewardModel
    from shortcutlab.modeling.batching import RewardCollator
    from shortcutlab.data.records import Record, ImageRef
    from PIL import Image
    rec = Record(id="x", prompt="What color?", responses=["red", "blue"],
                 image=ImageRef(pil=Image.new("RGB", (64, 64), (255, 0, 0))))
    out = {}
    for folder in sys.argv[1:]:
        rm = RewardModel.from_pretrained(folder)
        with torch.no_grad():
            r = rm(**RewardCollator(rm.processor).encode([rec]).inputs)
        out[folder] = {"cls": type(rm.processor).__name__, "r": r.tolist()}
    print(json.dumps(out))
    """
)


@pytest.mark.e2e  # a fresh Python process
def test_fresh_process_reload(all_dirs, tmp_path):
    """A new interpreter loads saved processors (Qwen: without torchvision) and scores.

    The saved reward folder must give the same rewards as the in-process model.
    """
    folders, expected = [], {}
    names = set()
    for arch, base in all_dirs.items():
        rm = RewardModel.from_pretrained(base, seed=3).eval()
        names.add(type(rm.processor).__name__)
        saved = rm.save_pretrained(tmp_path / arch)
        cfg = json.loads((saved / "processor_config.json").read_text())
        assert cfg["processor_class"] == type(rm.processor).__name__
        rec = Record(
            id="x",
            prompt="What color?",
            responses=["red", "blue"],
            image=ImageRef(pil=Image.new("RGB", (64, 64), (255, 0, 0))),
        )
        with torch.no_grad():
            expected[str(saved)] = rm(**RewardCollator(rm.processor).encode([rec]).inputs).tolist()
        folders += [str(base), str(saved)]
    proc = subprocess.run(
        [sys.executable, "-c", _FRESH, *folders], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert {v["cls"] for v in out.values()} == names
    assert {"LlavaProcessor", "Qwen2VLProcessor", "InternVLProcessor"} <= names
    for folder, rewards in expected.items():
        assert out[folder]["r"] == pytest.approx(rewards, abs=1e-6)


def test_hub_layout_processor_loads_without_torchvision(tiny_qwen_dir, tmp_path):
    """A Hub-style folder (preprocessor_config.json, video_preprocessor_config.json, tokenizer,
    chat_template.json; no processor_config.json) loads through `load_processor`."""
    from shortcutlab.modeling.loading import load_processor

    proc = load_processor(tiny_qwen_dir)
    hub = tmp_path / "hub"
    proc.tokenizer.save_pretrained(hub)
    proc.image_processor.save_pretrained(hub)
    cfg = json.loads((hub / "preprocessor_config.json").read_text())
    cfg["processor_class"] = "Qwen2VLProcessor"
    (hub / "preprocessor_config.json").write_text(json.dumps(cfg))
    video = {"video_processor_type": "Qwen2VLVideoProcessor", "processor_class": "Qwen2VLProcessor"}
    (hub / "video_preprocessor_config.json").write_text(json.dumps(video))
    (hub / "chat_template.json").write_text(json.dumps({"chat_template": proc.chat_template}))
    assert not (hub / "processor_config.json").exists()
    loaded = load_processor(hub)
    assert type(loaded).__name__ == "Qwen2VLProcessor"
    assert loaded.chat_template == proc.chat_template
    rec = Record(
        id="x",
        prompt="What color?",
        responses=["red"],
        image=ImageRef(pil=Image.new("RGB", (64, 64))),
    )
    a = RewardCollator(proc).encode([rec]).inputs
    b = RewardCollator(loaded).encode([rec]).inputs
    assert torch.equal(a["input_ids"], b["input_ids"])
    assert torch.equal(a["pixel_values"], b["pixel_values"])


def test_load_processor_errors_are_model_errors(tmp_path):
    from shortcutlab.errors import ModelError
    from shortcutlab.modeling.loading import load_processor, processor_without_video

    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ModelError, match="cannot load the processor"):
        load_processor(tmp_path)
    from transformers import LlavaProcessor, Qwen2VLProcessor

    assert processor_without_video(LlavaProcessor) is LlavaProcessor  # no video part
    sub = processor_without_video(Qwen2VLProcessor)
    assert sub.__name__ == "Qwen2VLProcessor" and "video_processor" not in sub.get_attributes()
