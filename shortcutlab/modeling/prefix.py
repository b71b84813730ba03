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

Reused beyond one record's prefix (exact the same way; issue 22, `probe run`'s cost):
- answers that continue one another (`modeling.branches`: the `pad` and `truncate` edits
  of one response): the shared stretch of answer tokens runs once, in one row, with a 4D
  mask over the prefix cache;
- an image seen before (`modeling.image_cache`): its encoder features, and the keys and
  values of the prefix up to its last token when the template and image repeat (`probe
  run`'s blank file), so that part runs once for all records.

Exactness is only claimed for the architectures in `PREFIX_ARCHS` (the tiny models the
parity test builds); any other backbone, or a record whose common prefix does not hold
its whole image, raises `PrefixSharingUnsupported` and the caller scores it in full.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch

from shortcutlab.modeling.branches import layout_answers, plan_branches, takes_custom_mask
from shortcutlab.modeling.image_cache import (
    image_end,
    image_features,
    prefix_key,
    store_prefix,
    stored_prefix,
)
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


def _takes_features(base: Any, image: dict[str, Any]) -> bool:
    """Whether `image` has pixels and the backbone takes precomputed `mm_encoder_outputs`."""
    pixels = any(k.startswith("pixel_") for k in image)
    return pixels and "mm_encoder_outputs" in inspect.signature(base.forward).parameters


def _run_prefix(
    model: Any,
    base: Any,
    ids: torch.Tensor,
    pos: torch.Tensor,
    image: dict[str, Any],
    extras: dict[str, Any],
    kw: str,
    reuse: bool,
) -> Any:
    """The KV cache of the prefix `ids` (1, p); image work reused (`modeling.image_cache`).

    With reuse and an image the prefix runs as two forwards, up to the image's last token
    and the text after it, whether or not the first part's keys/values are stored from an
    earlier record with the same ids and image: a record's reward never depends on the
    records scored before it (a text-only RM in `blank` mode keeps bit-identical rewards).
    """
    p = ids.shape[1]
    m = image_end(model.config, ids[0]) if reuse else 0
    if not 0 < m < p:  # no image (text-only modes) or nothing after it: one forward
        out = model.backbone(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            position_ids=pos,
            use_cache=True,
            return_dict=True,
            **image,
            **extras,
        )
        return getattr(out, "cache", None) or out.past_key_values
    key = prefix_key(ids[0, :m], image)
    cache = stored_prefix(model, key)
    if cache is None:  # template + image: the image's features may still be cached
        feats, seen = image_features(model, base, image)
        head = {k: v[:, :m] for k, v in extras.items()}
        out = model.backbone(
            input_ids=ids[:, :m],
            attention_mask=torch.ones_like(ids[:, :m]),
            position_ids=pos[..., :m],
            use_cache=True,
            return_dict=True,
            **feats,
            **head,
        )
        cache = getattr(out, "cache", None) or out.past_key_values
        if seen:  # an image seen twice: keep its prefix for the next record
            store_prefix(model, key, cache)
    model.backbone(
        input_ids=ids[:, m:],
        attention_mask=torch.ones_like(ids),
        position_ids=pos[..., m:],
        use_cache=True,
        return_dict=True,
        **{kw: cache},
        **{k: v[:, m:] for k, v in extras.items()},
    )
    return cache


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


def shared_prefix_rewards(
    model: Any, inputs: dict[str, Any], *, reuse_images: bool = False
) -> torch.Tensor:
    """Rewards (K,) of ONE record's K rows, prefix encoded once (see the module doc).

    `inputs`: `RewardCollator.encode([record], share_images=True).inputs` on the model's
    device. `reuse_images`: image work reused across records (`modeling.image_cache`).
    Raises `PrefixSharingUnsupported` (nothing run) when sharing is not exact.
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
    reuse = reuse_images and _takes_features(base, image)
    cache = _run_prefix(model, base, prefix_ids, pos, image, token_extras, cache_kw, reuse)
    answers = [r[p:] for r in rows]
    branches = plan_branches(answers) if takes_custom_mask(model) else {}
    if branches:  # answers continuing others (probe edits): shared stretches once
        hidden, at = _tree_hidden(model, answers, branches, p, pos, cache, cache_kw)
        pooled = hidden[at]  # (K, H)
    else:
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


def _tree_hidden(
    model: Any,
    answers: list[torch.Tensor],
    branches: dict[int, tuple[int, int]],
    p: int,
    pos: torch.Tensor,
    cache: Any,
    kw: str,
) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
    """Hidden states (R, t, H) of the answers laid out with branches (`modeling.branches`)
    on the prefix cache, and the (rows, cols) of each answer's last token."""
    pad = int(getattr(model.config.get_text_config(), "pad_token_id", None) or 0)
    lay = layout_answers(answers, branches, pad)
    r, t = lay.ids.shape
    cache.batch_repeat_interleave(r)
    mask = torch.ones(r, 1, t, p + t, dtype=torch.bool, device=lay.ids.device)
    mask[:, 0, :, p:] = lay.sees  # (R, 1, t, p + t): the prefix for all, then the tree
    if (getattr(model.config, "_attn_implementation", None) or "eager") == "eager":
        dtype = next(model.backbone.parameters()).dtype
        mask = torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(
            ~mask, torch.finfo(dtype).min
        )
    steps = int(pos.max()) + 1 + lay.offsets  # (R, t) text continues on every axis
    ans_pos = steps[None].expand(3, r, t) if pos.dim() == 3 else steps
    out = model.backbone(
        input_ids=lay.ids,
        attention_mask=mask,
        position_ids=ans_pos,
        use_cache=False,
        return_dict=True,
        **{kw: cache},
    )
    return out.last_hidden_state, (lay.rows, lay.cols)
