"""Answers that continue one another: a shared stretch of answer tokens computed once.

After a record's common prefix (`modeling.prefix`) its K answers usually differ from the
first token. Some do not: `probe run`'s text edits score `pad` (the answer + filler) and
`truncate` (the answer less its last sentence) of the same response side by side, and the
one's token ids start with most of the other's. `plan_branches` finds such pairs on the
token ids themselves (never on the text, so a token boundary that moved is simply a
shorter shared stretch) and `layout_answers` lays a "branch" answer into its "trunk"
answer's row: the branch's own tail tokens follow the trunk's, see the prefix, the first
`d` trunk tokens (the shared stretch) and their own earlier tokens, and take the positions
they have in the branch's own full row (`start + d, start + d + 1, ...`). Causal attention
makes this the same function as the branch's own row: each of its tokens sees the same
keys and values at the same positions, so rewards match to float rounding.

A branch whose tokens are all shared (an answer that is a token prefix of another) adds
no tokens: its reward is read at token `d - 1` of the trunk. Only with an attention that
takes a custom 4D mask (`sdpa`, `eager`); otherwise every answer runs in its own row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

MIN_SHARED = 8  # answer tokens worth a branch (fewer: the answer runs in its own row)
MASK_ATTENTION = ("sdpa", "eager")  # backends that honour a custom 4D mask


def takes_custom_mask(model: Any) -> bool:
    """Whether `model`'s attention honours a custom 4D mask (flash attention takes none)."""
    impl = getattr(model.config, "_attn_implementation", None) or "eager"
    return impl in MASK_ATTENTION


def shared_length(a: torch.Tensor, b: torch.Tensor) -> int:
    """Length of the common token prefix of two 1-D id tensors."""
    n = min(len(a), len(b))
    differs = (a[:n] != b[:n]).nonzero()
    return int(differs[0]) if len(differs) else n


def plan_branches(
    answers: list[torch.Tensor], min_shared: int = MIN_SHARED
) -> dict[int, tuple[int, int]]:
    """{branch answer: (trunk answer, shared tokens d)}; every other answer is a trunk.

    Longest answers first become trunks; a shorter answer sharing >= `min_shared` leading
    tokens with a trunk becomes its branch (the trunk sharing most; no branch of a branch).
    """
    order = sorted(range(len(answers)), key=lambda j: (-len(answers[j]), j))
    trunks: list[int] = []
    out: dict[int, tuple[int, int]] = {}
    for j in order:
        best, d = -1, 0
        for t in trunks:
            n = shared_length(answers[t], answers[j])
            if n > d:
                best, d = t, n
        if best >= 0 and d >= min_shared:
            out[j] = (best, d)
        else:
            trunks.append(j)
    return out


@dataclass
class AnswerLayout:
    """The K answers in R <= K rows (right padded), trunk tokens first, then branch tails."""

    ids: torch.Tensor  # (R, t) token ids, pad id after each row's tokens
    offsets: torch.Tensor  # (R, t) position after the prefix start (0 on pads)
    sees: torch.Tensor  # (R, t, t) bool: query token sees answer-part key (pads: none)
    rows: torch.Tensor  # (K,) row of each answer's last token
    cols: torch.Tensor  # (K,) column of each answer's last token


def _row_tokens(
    answers: list[torch.Tensor], trunk: int, tails: list[tuple[int, int]]
) -> tuple[list[torch.Tensor], list[int], dict[int, int]]:
    """(token pieces, segment start offsets, {answer: last column}) of one trunk's row."""
    pieces, offsets = [answers[trunk]], [0]
    last = {trunk: len(answers[trunk]) - 1}
    col = len(answers[trunk])
    for j, d in tails:
        tail = answers[j][d:]
        if len(tail) == 0:  # a token prefix of the trunk: read at the trunk's token d - 1
            last[j] = d - 1
            continue
        pieces.append(tail)
        offsets.append(d)
        col += len(tail)
        last[j] = col - 1
    return pieces, offsets, last


def layout_answers(
    answers: list[torch.Tensor], branches: dict[int, tuple[int, int]], pad: int
) -> AnswerLayout:
    """Rows, positions and the answer-part attention of `answers` under `branches`."""
    dev = answers[0].device
    trunks = [j for j in range(len(answers)) if j not in branches]
    built = []
    for tr in trunks:
        tails = sorted((j, d) for j, (t, d) in branches.items() if t == tr)
        built.append(_row_tokens(answers, tr, tails))
    t = max(sum(len(x) for x in pieces) for pieces, _, _ in built)
    r = len(built)
    ids = torch.full((r, t), pad, dtype=torch.long, device=dev)
    offsets = torch.zeros(r, t, dtype=torch.long, device=dev)
    seg = torch.full((r, t), -1, dtype=torch.long, device=dev)  # -1 pad, 0 trunk, s tail
    shared = torch.zeros(r, t, dtype=torch.long, device=dev)  # trunk keys a query may see
    rows = torch.zeros(len(answers), dtype=torch.long, device=dev)
    cols = torch.zeros(len(answers), dtype=torch.long, device=dev)
    for i, (pieces, starts, last) in enumerate(built):
        at = 0
        for s, (piece, d) in enumerate(zip(pieces, starts, strict=True)):
            n = len(piece)
            ids[i, at : at + n] = piece
            offsets[i, at : at + n] = torch.arange(d, d + n, device=dev)
            seg[i, at : at + n] = s
            shared[i, at : at + n] = d
            at += n
        for j, c in last.items():
            rows[j], cols[j] = i, c
    k = torch.arange(t, device=dev)
    causal = k[None, :] <= k[:, None]  # (t, t) key <= query
    own = (seg[:, :, None] == seg[:, None, :]) & causal & (seg >= 0)[:, :, None]
    trunk_keys = (seg == 0)[:, None, :] & (k[None, None, :] < shared[:, :, None])
    sees = own | (trunk_keys & (seg > 0)[:, :, None])
    return AnswerLayout(ids, offsets, sees, rows, cols)
