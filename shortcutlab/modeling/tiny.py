"""Tiny random-initialised models of REAL transformers VLM architectures, built offline.

`build_tiny_model("llava", "models/tiny-llava")` writes a normal Hugging Face folder
(config.json, model.safetensors, tokenizer, processor, chat template) for a model of the
real architecture class (`LlavaForConditionalGeneration`, `Qwen2VLForConditionalGeneration`,
...) with hidden size 64 and 2 layers (~0.3 M parameters). The tokenizer is a byte-level
BPE trained with `tokenizers` on a small embedded corpus of VQA-style English (colours,
shapes, numbers, common words), with the architecture's special image tokens, so every
pipeline stage (processor -> batching -> RewardModel -> training) runs for real on CPU in
seconds. Everything is seeded: the same seed and overrides give the same folder.

Processors that declare a video processor (Qwen2-VL, InternVL, SmolVLM) cannot be built
without torchvision; we build them without it (`shortcutlab.modeling.loading`) and save
them under their real class name, so a full install loads the folder with AutoProcessor.

Run: `shortcutlab model tiny --arch llava --out models/tiny-llava`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from shortcutlab.errors import ConfigError
from shortcutlab.modeling.loading import processor_without_video, quiet_transformers
from shortcutlab.modeling.tiny_tokenizer import build_tokenizer


# --- per-architecture builders -------------------------------------------------------------
def _dims(ov: dict[str, Any]) -> dict[str, int]:
    """Tiny sizes with user overrides: hidden, layers, heads, kv_heads, intermediate."""
    hidden = int(ov.pop("hidden_size", 64))
    heads = int(ov.pop("num_attention_heads", 4))
    return {
        "hidden": hidden,
        "layers": int(ov.pop("num_hidden_layers", 2)),
        "heads": heads,
        "kv_heads": int(ov.pop("num_key_value_heads", max(1, heads // 2))),
        "inter": int(ov.pop("intermediate_size", hidden * 2)),
        "vision_hidden": int(ov.pop("vision_hidden_size", hidden)),
        "vision_layers": int(ov.pop("vision_num_hidden_layers", 2)),
        "patch": int(ov.pop("patch_size", 8)),
    }


def _text_kwargs(d: dict[str, int], tok: Any) -> dict[str, Any]:
    return {
        "vocab_size": len(tok),
        "hidden_size": d["hidden"],
        "intermediate_size": d["inter"],
        "num_hidden_layers": d["layers"],
        "num_attention_heads": d["heads"],
        "num_key_value_heads": d["kv_heads"],
        "max_position_embeddings": 8192,
        "bos_token_id": tok.bos_token_id,
        "eos_token_id": tok.eos_token_id,
        "pad_token_id": tok.pad_token_id,
    }


def _vision_kwargs(d: dict[str, int]) -> dict[str, Any]:
    """The ViT encoder sizes shared by the CLIP / SigLIP / InternViT vision configs."""
    return {
        "hidden_size": d["vision_hidden"],
        "intermediate_size": d["vision_hidden"] * 2,
        "num_hidden_layers": d["vision_layers"],
        "num_attention_heads": d["heads"],
    }


def _build_llava(d: dict[str, int], image_size: int, vocab: int, seed: int) -> tuple:
    from transformers import (
        CLIPImageProcessorPil,
        CLIPVisionConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )

    tok = build_tokenizer("<image>", {"image_token": "<image>"}, vocab_size=vocab, seed=seed)
    vision = CLIPVisionConfig(
        **_vision_kwargs(d),
        image_size=image_size,
        patch_size=d["patch"],
        projection_dim=d["hidden"],
    )
    config = LlavaConfig(
        vision_config=vision,
        text_config=LlamaConfig(**_text_kwargs(d, tok)),
        image_token_index=tok.image_token_id,
        image_seq_length=(image_size // d["patch"]) ** 2,
        vision_feature_layer=-1,
        vision_feature_select_strategy="default",
    )
    ip = CLIPImageProcessorPil(
        size={"shortest_edge": image_size}, crop_size={"height": image_size, "width": image_size}
    )
    proc = LlavaProcessor(
        image_processor=ip,
        tokenizer=tok,
        patch_size=d["patch"],
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
        chat_template=tok.chat_template,
    )
    return LlavaForConditionalGeneration, config, proc


def _qwen_parts(d: dict[str, int], image_size: int, vocab: int, seed: int) -> tuple:
    """Tokenizer, text config, special-token ids and image processor shared by Qwen2/2.5-VL."""
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import (
        Qwen2VLImageProcessorPil,
    )

    specials = {
        "image_token": "<|image_pad|>",
        "video_token": "<|video_pad|>",
        "vision_start_token": "<|vision_start|>",
        "vision_end_token": "<|vision_end|>",
    }
    tok = build_tokenizer(
        "<|vision_start|><|image_pad|><|vision_end|>", specials, vocab_size=vocab, seed=seed
    )
    half = d["hidden"] // d["heads"] // 2  # mrope_section must sum to head_dim / 2
    section = [half - 2 * (half // 3), half // 3, half // 3]
    text = _text_kwargs(d, tok) | {
        "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": section}
    }
    ids = {f"{k}_id": tok.convert_tokens_to_ids(v) for k, v in specials.items()}
    pixels = image_size * image_size
    ip = Qwen2VLImageProcessorPil(
        patch_size=d["patch"],
        merge_size=2,
        temporal_patch_size=2,
        size={"shortest_edge": pixels, "longest_edge": pixels},
    )
    return tok, text, ids, ip


def _build_qwen2_vl(d: dict[str, int], image_size: int, vocab: int, seed: int) -> tuple:
    from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration, Qwen2VLProcessor

    tok, text, ids, ip = _qwen_parts(d, image_size, vocab, seed)
    vision = {
        "depth": d["vision_layers"],
        "embed_dim": d["vision_hidden"],
        "hidden_size": d["hidden"],
        "num_heads": d["heads"],
        "patch_size": d["patch"],
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
        "mlp_ratio": 2,
    }
    config = Qwen2VLConfig(text_config=text, vision_config=vision, **ids)
    cls = processor_without_video(Qwen2VLProcessor)
    proc = cls(image_processor=ip, tokenizer=tok, chat_template=tok.chat_template)
    return Qwen2VLForConditionalGeneration, config, proc


def _build_qwen2_5_vl(d: dict[str, int], image_size: int, vocab: int, seed: int) -> tuple:
    from transformers import (
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2_5_VLProcessor,
    )

    tok, text, ids, ip = _qwen_parts(d, image_size, vocab, seed)
    vision = {
        "depth": d["vision_layers"],
        "hidden_size": d["vision_hidden"],
        "intermediate_size": d["vision_hidden"] * 2,
        "out_hidden_size": d["hidden"],
        "num_heads": d["heads"],
        "patch_size": d["patch"],
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
        "window_size": d["patch"] * 4,  # 2x2 merged windows of 2x2 merge units
        "fullatt_block_indexes": [d["vision_layers"] - 1],
    }
    config = Qwen2_5_VLConfig(text_config=text, vision_config=vision, **ids)
    cls = processor_without_video(Qwen2_5_VLProcessor)
    proc = cls(image_processor=ip, tokenizer=tok, chat_template=tok.chat_template)
    return Qwen2_5_VLForConditionalGeneration, config, proc


def _idefics_tokenizer(vocab: int, seed: int, video: bool) -> Any:
    specials = {
        "image_token": "<image>",
        "fake_image_token": "<fake_token_around_image>",
        "global_image_token": "<global-img>",
        "end_of_utterance_token": "<end_of_utterance>",
    }
    if video:
        specials["video_token"] = "<video>"
    rows = [f"<row_{i}_col_{j}>" for i in range(1, 7) for j in range(1, 7)]
    return build_tokenizer("<image>", specials, vocab_size=vocab, more_specials=rows, seed=seed)


def _idefics_config(config_cls: type, d: dict[str, int], image_size: int, tok: Any) -> Any:
    vision = _vision_kwargs(d) | {"image_size": image_size, "patch_size": d["patch"]}
    text = _text_kwargs(d, tok) | {"model_type": "llama"}
    return config_cls(
        vision_config=vision,
        text_config=text,
        image_token_id=tok.image_token_id,
        scale_factor=2,
        pad_token_id=tok.pad_token_id,
    )


def _build_idefics3(d: dict[str, int], image_size: int, vocab: int, seed: int) -> tuple:
    from transformers import Idefics3Config, Idefics3ForConditionalGeneration, Idefics3Processor
    from transformers.models.idefics3.image_processing_pil_idefics3 import (
        Idefics3ImageProcessorPil,
    )

    tok = _idefics_tokenizer(vocab, seed, video=False)
    config = _idefics_config(Idefics3Config, d, image_size, tok)
    ip = Idefics3ImageProcessorPil(
        do_image_splitting=False,
        size={"longest_edge": image_size},
        max_image_size={"longest_edge": image_size},
    )
    seq = (image_size // d["patch"]) ** 2 // 4  # scale_factor 2 -> 4x fewer tokens
    proc = Idefics3Processor(
        image_processor=ip, tokenizer=tok, image_seq_len=seq, chat_template=tok.chat_template
    )
    return Idefics3ForConditionalGeneration, config, proc


def _build_smolvlm(d: dict[str, int], image_size: int, vocab: int, seed: int) -> tuple:
    from transformers import SmolVLMConfig, SmolVLMForConditionalGeneration, SmolVLMProcessor
    from transformers.models.smolvlm.image_processing_pil_smolvlm import (
        SmolVLMImageProcessorPil,
    )

    tok = _idefics_tokenizer(vocab, seed, video=True)
    config = _idefics_config(SmolVLMConfig, d, image_size, tok)
    ip = SmolVLMImageProcessorPil(
        do_image_splitting=False,
        size={"longest_edge": image_size},
        max_image_size={"longest_edge": image_size},
    )
    seq = (image_size // d["patch"]) ** 2 // 4
    cls = processor_without_video(SmolVLMProcessor)
    proc = cls(
        image_processor=ip, tokenizer=tok, image_seq_len=seq, chat_template=tok.chat_template
    )
    return SmolVLMForConditionalGeneration, config, proc


def _build_internvl(d: dict[str, int], image_size: int, vocab: int, seed: int) -> tuple:
    from transformers import InternVLConfig, InternVLForConditionalGeneration, InternVLProcessor
    from transformers.models.got_ocr2.image_processing_pil_got_ocr2 import (
        GotOcr2ImageProcessorPil,
    )

    specials = {
        "start_image_token": "<img>",
        "end_image_token": "</img>",
        "context_image_token": "<IMG_CONTEXT>",
        "video_token": "<video>",
    }
    tok = build_tokenizer("<IMG_CONTEXT>\n", specials, vocab_size=vocab, seed=seed)
    vision = _vision_kwargs(d) | {
        "image_size": [image_size, image_size],
        "patch_size": [d["patch"], d["patch"]],
    }
    seq = (image_size // d["patch"]) ** 2 // 4  # pixel shuffle, downsample_ratio 0.5
    config = InternVLConfig(
        vision_config=vision,
        text_config=_text_kwargs(d, tok) | {"model_type": "qwen2"},
        image_token_id=tok.context_image_token_id,
        image_seq_length=seq,
        downsample_ratio=0.5,
    )
    ip = GotOcr2ImageProcessorPil(size={"height": image_size, "width": image_size}, max_patches=1)
    cls = processor_without_video(InternVLProcessor)
    proc = cls(
        image_processor=ip, tokenizer=tok, image_seq_length=seq, chat_template=tok.chat_template
    )
    return InternVLForConditionalGeneration, config, proc


_BUILDERS: dict[str, Callable[..., tuple]] = {
    "llava": _build_llava,
    "qwen2_vl": _build_qwen2_vl,
    "qwen2_5_vl": _build_qwen2_5_vl,
    "idefics3": _build_idefics3,
    "smolvlm": _build_smolvlm,
    "internvl": _build_internvl,
}
TINY_ARCHS: tuple[str, ...] = tuple(_BUILDERS)


def build_tiny_model(
    arch: str,
    out_dir: str | Path | None = None,
    *,
    seed: int = 0,
    image_size: int = 64,
    **overrides: Any,
) -> Path | tuple[Any, Any]:
    """Build a tiny random-initialised `arch` model with its tokenizer and processor.

    Overrides: `hidden_size`, `num_hidden_layers`, `num_attention_heads`,
    `num_key_value_heads`, `intermediate_size`, `vision_hidden_size`,
    `vision_num_hidden_layers`, `patch_size`, `vocab_size` (BPE target size).
    With `out_dir` the model, tokenizer and processor are saved there as a normal HF folder
    and the folder is returned; without it, `(model, processor)` is returned.
    """
    if arch not in _BUILDERS:
        raise ConfigError(
            f"unknown tiny architecture {arch!r}; choose one of: {', '.join(TINY_ARCHS)}"
        )
    import torch  # lazy: keeps `import shortcutlab.modeling.tiny` (TINY_ARCHS) light

    ov = dict(overrides)
    vocab = int(ov.pop("vocab_size", 800))
    d = _dims(ov)
    if ov:
        raise ConfigError(f"unknown override(s) for build_tiny_model: {', '.join(sorted(ov))}")
    if image_size % (d["patch"] * 2):
        raise ConfigError(f"image_size {image_size} must be a multiple of 2 * patch_size")
    model_cls, config, processor = _BUILDERS[arch](d, image_size, vocab, seed)
    torch.manual_seed(seed)
    model = model_cls(config).eval()
    if out_dir is None:
        return model, processor
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with quiet_transformers():
        model.save_pretrained(out)
        processor.save_pretrained(out)
    return out
