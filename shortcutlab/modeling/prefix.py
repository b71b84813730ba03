"""Shared-prefix scoring: a record's image + prompt run once, its K answers on top.

The K rows of a record (`RewardCollator.encode([record], share_images=True)`) share their
leading tokens: chat template, image tokens and prompt (~600 of ~800 LM tokens at
LLaVA-1.5 shapes). `shared_prefix_rewards` runs that common prefix once through the
backbone with a KV cache, repeats the cache K times and runs only the K answers (right
padded, position ids continuing from the prefix) on top of it. Causal attention makes
this the same function as K full forwards: each answer token sees the same prefix keys
and values at the same positions, so the rewards match one-by-one scoring to float32
rounding (tested for every tiny architecture).

Position ids: 1-D schemes continue at `p, p+1, ...`; Qwen2-VL / Qwen2.5-VL M-RoPE
positions of the prefix come from the backbone's own `get_rope_index`, and the answers
(text after the image) continue at max(prefix position) + 1 on all three axes, which is
what `get_rope_index` gives the full row.

Exactness is only claimed for the architectures in `PREFIX_ARCHS` (the tiny models the
parity test builds); any other backbone, or a record whose common prefix does not hold
its whole image, raises `PrefixSharingUnsupported` and the caller scores it in full.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch

from shortcutlab.modeling.signals import PrefixSharingUnsupported

# Causal decoders with 1-D RoPE (LLaVA: Llama, Idefics3 / SmolVLM: Llama, InternVL: Qwen2)
# or M-RoPE reproduced here (Qwen2-VL, Qwen2.5-VL). Gemma3 / PaliGemma attend
# bidirectionally over the image, so they are not listed.
PREFIX_ARCHS = frozenset({"llava", "qwen2_vl", "qwen2_5_vl", "idefics3", "smolvlm", "internvl"})
_ROW_KEYS = ("input_ids", "attention_mask")
_NOT_FORWARD_KEYS = ("rows", "cols", "num_patches")  # image-processor extras, not model inputs


def check_prefix_arch(model: Any) -> None:
    """Raise `PrefixSharingUnsupported` unless `model`'s architecture is verified exact."""
    if model.arch not in PREFIX_ARCHS:
        raise PrefixSharingUnsupported(
            f"architecture {model.arch or type(model.backbone).__name__!r} is not verified "
            f"exact with a shared prefix (verified: {', '.join(sorted(PREFIX_ARCHS))})"
        )


def base_model(backbone: Any) -> Any:
    """The transformers model under PEFT wrappers (for signatures and get_rope_index)."""
    get = getattr(backbone, "get_base_model", None)
    return get() if callable(get) else backbone


def _cache_kwarg(base: Any) -> str:
    """`cache` (transformers >= 5.2x) or the older `past_key_values`."""
    params = inspect.signature(base.forward).parameters
    return "cache" if "cache" in params else "past_key_values"


def common_prefix(rows: list[torch.Tensor]) -> int:
    """Length of the longest common token prefix, leaving every row >= 1 token after it."""
    n = min(len(r) for r in rows)
    stack = torch.stack([r[:n] for r in rows])  # (K, n)
    differs = (stack != stack[0]).any(dim=0).nonzero()
    p = int(differs[0]) if len(differs) else n
    return min(p, n - 1)


def has_image_tokens(config: Any, parts: list[torch.Tensor]) -> bool:
    """Whether any of `parts` (token id tensors) holds the model's image token."""
    ids = {getattr(config, k, None) for k in ("image_token_id", "image_token_index")}
    wanted = torch.tensor([int(i) for i in ids if i is not None], dtype=torch.long)
    return bool(torch.isin(torch.cat(parts).cpu(), wanted).any()) if len(wanted) else False


def _image_inputs(inputs: dict[str, Any], base: Any) -> dict[str, Any]:
    """The record's one image as forward kwargs (the `unique_*` tensors, renamed)."""
    params = inspect.signature(base.forward).parameters
    out = {}
    for key, value in inputs.items():
        name = key[len("unique_") :]
        if key.startswith("unique_") and name not in _NOT_FORWARD_KEYS and name in params:
            out[name] = value
    return out


def prefix_positions(
    base: Any, prefix_ids: torch.Tensor, token_extras: dict[str, Any], image: dict[str, Any]
) -> torch.Tensor:
    """Position ids of the prefix: (1, p), or (3, 1, p) for M-RoPE models with an image."""
    p = prefix_ids.shape[1]
    if "image_grid_thw" in image and hasattr(base, "get_rope_index"):
        pos, _ = base.get_rope_index(
            prefix_ids,
            mm_token_type_ids=token_extras["mm_token_type_ids"],
            image_grid_thw=image["image_grid_thw"],
            attention_mask=torch.ones_like(prefix_ids),
        )
        return pos
    return torch.arange(p, device=prefix_ids.device)[None]


def shared_prefix_rewards(model: Any, inputs: dict[str, Any]) -> torch.Tensor:
    """Rewards (K,) of ONE record's K rows, prefix encoded once (see the module doc).

    `inputs`: `RewardCollator.encode([record], share_images=True).inputs` on the model's
    device. Raises `PrefixSharingUnsupported` (nothing run) when sharing is not exact.
    """
    check_prefix_arch(model)
    base = base_model(model.backbone)
    ids, mask = inputs["input_ids"], inputs["attention_mask"].bool()
    k = ids.shape[0]
    rows = [ids[j][mask[j]] for j in range(k)]  # unpadded token ids per row
    p = common_prefix(rows)
    if has_image_tokens(model.config, [r[p:] for r in rows]):
        raise PrefixSharingUnsupported("image tokens after the common prefix of the record")
    token_extras = {  # per-token tensors (e.g. mm_token_type_ids): row 0's prefix
        key: v[0][mask[0]][:p][None]
        for key, v in inputs.items()
        if torch.is_tensor(v) and v.shape == ids.shape and key not in _ROW_KEYS
    }
    image = _image_inputs(inputs, base)
    prefix_ids = rows[0][:p][None]
    pos = prefix_positions(base, prefix_ids, token_extras, image)
    cache_kw = _cache_kwarg(base)
    out = model.backbone(
        input_ids=prefix_ids,
        attention_mask=torch.ones_like(prefix_ids),
        position_ids=pos,
        use_cache=True,
        return_dict=True,
        **image,
        **token_extras,
    )
    cache = getattr(out, "cache", None) or out.past_key_values
    cache.batch_repeat_interleave(k)
    hidden, last = _answers_hidden(model, base, rows, p, pos, cache, cache_kw)
    pooled = hidden[torch.arange(k, device=hidden.device), last]  # (K, H)
    return model.head(pooled.to(model.head.weight.dtype)).squeeze(-1)


def _answers_hidden(
    model: Any, base: Any, rows: list[torch.Tensor], p: int, pos: torch.Tensor, cache: Any, kw: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """Hidden states (K, t, H) of the K right-padded answers on the repeated prefix cache."""
    k = len(rows)
    answers = [r[p:] for r in rows]
    t = max(len(a) for a in answers)
    dev = rows[0].device
    pad = int(getattr(model.config.get_text_config(), "pad_token_id", None) or 0)
    ans_ids = torch.full((k, t), pad, dtype=torch.long, device=dev)
    mask = torch.zeros(k, p + t, dtype=torch.long, device=dev)
    mask[:, :p] = 1
    for j, a in enumerate(answers):
        ans_ids[j, : len(a)] = a
        mask[j, p : p + len(a)] = 1
    start = int(pos.max()) + 1  # text after the prefix continues on every axis
    steps = torch.arange(start, start + t, device=dev)
    ans_pos = steps.view(1, 1, t).expand(3, k, t) if pos.dim() == 3 else steps[None].expand(k, t)
    out = model.backbone(
        input_ids=ans_ids,
        attention_mask=mask,
        position_ids=ans_pos,
        use_cache=False,
        return_dict=True,
        **{kw: cache},
    )
    last = torch.tensor([len(a) - 1 for a in answers], device=dev)
    return out.last_hidden_state, last
