"""Packed training rows: one sequence per record, its prefix once and its K answers after.

A batch from `RewardCollator.encode(records, share_images=True)` holds K rows per record
that share their leading tokens (chat template, image, prompt). `pack_inputs` turns each
record's rows into ONE packed row `prefix | answer_1 | ... | answer_K` with
- a 4D attention mask (B, 1, L, L): every token sees the causal prefix; an answer token
  sees the prefix and the earlier tokens of its own answer only;
- position ids continuing from the prefix for every answer (`p, p+1, ...`; for M-RoPE
  models max(prefix position) + 1 on all three axes, as `get_rope_index` gives the full
  row);
- the record's image once (`image_index` per packed row, the shared-image path);
so each answer computes exactly what its own full row would, and the prefix runs once
instead of K times, forward and backward. `RewardModel.forward` reads the reward of row
(record i, response j) at answer j's last token (`where`).

Exact only for causal decoders in `modeling.prefix.PREFIX_ARCHS` with the `sdpa` or
`eager` attention (a custom 4D mask; flash attention takes none): otherwise, or when a
record's answers hold image tokens, `PrefixSharingUnsupported` is raised before anything
runs and the trainer falls back to one row per response.
"""

from __future__ import annotations

from typing import Any

import torch

from shortcutlab.modeling.prefix import (
    base_model,
    check_prefix_arch,
    common_prefix,
    has_image_tokens,
    prefix_positions,
)
from shortcutlab.modeling.signals import PrefixSharingUnsupported

MASK_ATTENTION = ("sdpa", "eager")  # backends that honour a custom 4D mask


def _check(model: Any) -> None:
    check_prefix_arch(model)
    impl = getattr(model.config, "_attn_implementation", None) or "eager"
    if impl not in MASK_ATTENTION:
        raise PrefixSharingUnsupported(
            f"attention {impl!r} takes no custom 4D mask (packing needs one of {MASK_ATTENTION})"
        )


def _groups(pack_groups: torch.Tensor) -> list[list[int]]:
    """Row indices per record, from the (N,) record index of each row (contiguous)."""
    out: dict[int, list[int]] = {}
    for r, g in enumerate(pack_groups.tolist()):
        out.setdefault(int(g), []).append(r)
    return list(out.values())


def _record_row(
    model: Any, inputs: dict[str, Any], rows: list[int]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[int]]:
    """One record's packed (ids (L,), positions (L,) or (3, L), block ids (L,), answer ends)."""
    ids, mask = inputs["input_ids"], inputs["attention_mask"].bool()
    seqs = [ids[r][mask[r]] for r in rows]
    p = common_prefix(seqs)
    if has_image_tokens(model.config, [s[p:] for s in seqs]):
        raise PrefixSharingUnsupported("image tokens after the common prefix of a record")
    r0 = rows[0]
    prefix = seqs[0][:p][None]
    extras = {}
    image: dict[str, Any] = {}
    if "mm_token_type_ids" in inputs:
        extras["mm_token_type_ids"] = inputs["mm_token_type_ids"][r0][mask[r0]][:p][None]
    u = int(inputs["image_index"][r0]) if "image_index" in inputs else -1
    if u >= 0 and "unique_image_grid_thw" in inputs:
        image["image_grid_thw"] = inputs["unique_image_grid_thw"][u][None]
    pos = prefix_positions(base_model(model.backbone), prefix, extras, image)
    pos = pos[..., 0, :]  # (p,) or (3, p) for M-RoPE
    start = int(pos.max()) + 1
    answers = [s[p:] for s in seqs]
    steps = [torch.arange(start, start + len(a), device=ids.device) for a in answers]
    ans_pos = torch.cat(steps)
    if pos.dim() == 2:
        ans_pos = ans_pos[None].expand(3, -1)
    blocks = [torch.zeros(p, dtype=torch.long, device=ids.device)]
    blocks += [torch.full((len(a),), j + 1, device=ids.device) for j, a in enumerate(answers)]
    ends, at = [], p
    for a in answers:
        at += len(a)
        ends.append(at - 1)
    return torch.cat([prefix[0], *answers]), torch.cat([pos, ans_pos], -1), torch.cat(blocks), ends


def _block_mask(blocks: torch.Tensor, length: torch.Tensor) -> torch.Tensor:
    """(B, 1, L, L) bool: causal, prefix (block 0) for all, own block for answers; pads see
    only themselves (no fully masked row, so no NaN reaches the backward)."""
    b, t = blocks.shape
    i = torch.arange(t, device=blocks.device)
    causal = i[None, :] <= i[:, None]  # (L, L) key <= query
    same = blocks[:, :, None] == blocks[:, None, :]  # (B, L, L)
    to_prefix = (blocks == 0)[:, None, :]  # (B, 1, L) keys in the prefix
    valid = i[None, :] < length[:, None]  # (B, L)
    allowed = causal & (same | to_prefix) & valid[:, :, None] & valid[:, None, :]
    allowed |= torch.eye(t, dtype=torch.bool, device=blocks.device)[None] & ~valid[:, :, None]
    return allowed[:, None]


def pack_inputs(model: Any, inputs: dict[str, Any]) -> tuple[dict[str, Any], torch.Tensor]:
    """(packed backbone inputs, (N, 2) [packed row, token] of each input row's reward).

    `inputs`: a shared-image batch plus `pack_groups` (N,), the record of each row.
    """
    _check(model)
    if any(k.startswith("pixel_") for k in inputs):
        raise PrefixSharingUnsupported("packing needs shared image encodings (image_index)")
    groups = _groups(inputs["pack_groups"])
    packed = [_record_row(model, inputs, rows) for rows in groups]
    dev = inputs["input_ids"].device
    lengths = torch.tensor([len(x[0]) for x in packed], device=dev)
    t = int(lengths.max())
    pad = int(getattr(model.config.get_text_config(), "pad_token_id", None) or 0)
    ids = torch.full((len(packed), t), pad, dtype=torch.long, device=dev)
    three = any(x[1].dim() == 2 for x in packed)  # M-RoPE: (3, B, L)
    shape = (3, len(packed), t) if three else (len(packed), t)
    pos = torch.zeros(shape, dtype=torch.long, device=dev)
    blocks = torch.full((len(packed), t), -1, dtype=torch.long, device=dev)
    where = []
    for g, (seq, ppos, blk, ends) in enumerate(packed):
        ids[g, : len(seq)] = seq
        pos[..., g, : len(seq)] = ppos.expand(3, -1) if three and ppos.dim() == 1 else ppos
        blocks[g, : len(seq)] = blk
        where += [(g, e) for e in ends]
    mask = _block_mask(blocks, lengths)
    if (getattr(model.config, "_attn_implementation", None) or "eager") == "eager":
        dtype = next(model.backbone.parameters()).dtype
        mask = torch.zeros(mask.shape, dtype=dtype, device=dev).masked_fill(
            ~mask, torch.finfo(dtype).min
        )
    out = {"input_ids": ids, "attention_mask": mask, "position_ids": pos}
    out.update({k: v for k, v in inputs.items() if k.startswith("unique_")})
    if "image_index" in inputs:
        first = torch.tensor([rows[0] for rows in groups], device=inputs["image_index"].device)
        out["image_index"] = inputs["image_index"][first]
        if "unique_image_grid_thw" in inputs:
            keep = out["image_index"][out["image_index"] >= 0]
            out["image_grid_thw"] = inputs["unique_image_grid_thw"][keep]
    order = _row_order(groups)
    return out, torch.tensor(where, device=dev)[order]


def _row_order(groups: list[list[int]]) -> torch.Tensor:
    """Index into the packed `where` list giving the input rows' order."""
    flat = [r for rows in groups for r in rows]
    order = torch.empty(len(flat), dtype=torch.long)
    order[torch.tensor(flat)] = torch.arange(len(flat))
    return order
