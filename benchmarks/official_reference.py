"""A faithful reference of the OFFICIAL training scheme, for benchmarks only (not the package).

What the authors' code (Generalizable-MM-RM: InternVL2 + trl 0.11 `RewardTrainer`) does
per optimizer step, and what shortcutlab replaces:

- K-response records are expanded to all C(K, 2) (chosen, rejected) pairs with a strict
  score difference (12 sequences for K = 4); every pair is a separate training example.
- chosen and rejected sequences run in two separate forwards (trl `compute_loss`:
  `model(input_ids_chosen)` then `model(input_ids_rejected)`), and every sequence carries
  its own copy of the image, so the vision tower re-encodes an image once per sequence.
- the text-only branch of shortcut-aware training (Eq. 3) is a second full model fed a
  blank white 224x224 image, with its own chosen/rejected forwards.
- losses: L = -log sigmoid(r(a+) - r(a-)) (Eq. 1), SFC = eps/2 + L_t / (eps + L + L_t)
  (Eq. 5, detached), total = mean(SFC * L) + mean(L_t) (Eq. 7 + joint proxy).

The math is written out here on purpose (not imported from `shortcutlab.losses`), so the
parity check compares two independent implementations of the same equations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from shortcutlab.data.records import Record

OFFICIAL_EPS = 1e-7


def expand_pairs(records: list[Record]) -> tuple[list[Record], list[Record]]:
    """One single-response record per chosen and per rejected side of every pair.

    Pair order is each record's `pairs` order (the C(K, 2) order of the official code),
    record after record. Returns (chosen, rejected), P records each.
    """
    chosen: list[Record] = []
    rejected: list[Record] = []
    for rec in records:
        for better, worse in rec.pairs:
            chosen.append(_single(rec, better))
            rejected.append(_single(rec, worse))
    return chosen, rejected


def _single(rec: Record, j: int) -> Record:
    return Record(
        id=f"{rec.id}/{j}",
        prompt=rec.prompt,
        responses=[rec.responses[j]],
        image=rec.image,
        schema=rec.schema,
    )


@dataclass
class OfficialBatch:
    """Encoded model inputs of one step: chosen / rejected, for the primary and the proxy."""

    chosen: dict[str, Any]
    rejected: dict[str, Any]
    proxy_chosen: dict[str, Any] | None
    proxy_rejected: dict[str, Any] | None
    tokens: int  # non-padding tokens of all sequences the step runs through the LM


def encode_official(
    records: list[Record], collator: Any, proxy_collator: Any | None, device: Any
) -> OfficialBatch:
    """Encode every pair's sequences, each with its own image (no sharing)."""
    chosen, rejected = expand_pairs(records)

    def enc(coll: Any, recs: list[Record]) -> dict[str, Any]:
        inputs = coll.encode(recs).inputs  # share_images off: one image copy per sequence
        return {k: v.to(device) if hasattr(v, "to") else v for k, v in inputs.items()}

    batch = OfficialBatch(enc(collator, chosen), enc(collator, rejected), None, None, 0)
    if proxy_collator is not None:
        batch.proxy_chosen = enc(proxy_collator, chosen)
        batch.proxy_rejected = enc(proxy_collator, rejected)
    parts = [batch.chosen, batch.rejected, batch.proxy_chosen, batch.proxy_rejected]
    batch.tokens = sum(int(p["attention_mask"].sum()) for p in parts if p is not None)
    return batch


def official_losses(
    primary: torch.nn.Module, proxy: torch.nn.Module | None, batch: OfficialBatch
) -> dict[str, torch.Tensor]:
    """Per-pair losses and the step objective of the official scheme.

    Returns loss (P,) (Eq. 1), and with a proxy: proxy_loss (P,) (Eq. 3 with a blank
    image), sfc (P,) (Eq. 5, official eps) and objective mean(SFC * L) + mean(L_t) (Eq. 7);
    without a proxy the objective is mean(L).
    """
    r_chosen = primary(**batch.chosen)  # (P,) first forward
    r_rejected = primary(**batch.rejected)  # (P,) second forward
    loss = -F.logsigmoid(r_chosen.float() - r_rejected.float())  # (P,)
    out = {"loss": loss, "objective": loss.mean()}
    if proxy is None:
        return out
    t_chosen = proxy(**batch.proxy_chosen)  # (P,) second model, blank image
    t_rejected = proxy(**batch.proxy_rejected)
    loss_t = -F.logsigmoid(t_chosen.float() - t_rejected.float())  # (P,)
    lm, lt = loss.detach(), loss_t.detach()
    sfc = OFFICIAL_EPS / 2 + lt / (OFFICIAL_EPS + lm + lt)  # (P,) Eq. 5, no gradient
    out.update(proxy_loss=loss_t, sfc=sfc, objective=(sfc * loss).mean() + loss_t.mean())
    return out


class OfficialStep:
    """One optimizer step of the official scheme: encode, 2 (or 4) forwards, backward, AdamW.

    `primary`/`proxy` are separate RewardModels (the proxy a full copy); the optimizer,
    gradient clipping and autocast are the same as shortcutlab's trainer uses, so a timing
    difference comes from the scheme, not from the optimizer.
    """

    def __init__(
        self,
        primary: torch.nn.Module,
        proxy: torch.nn.Module | None,
        collator: Any,
        proxy_collator: Any | None,
        optimizer: torch.optim.Optimizer,
        *,
        device: Any,
        bf16: bool = False,
        max_grad_norm: float = 1.0,
    ) -> None:
        self.primary, self.proxy = primary, proxy
        self.collator, self.proxy_collator = collator, proxy_collator
        self.optimizer = optimizer
        self.device, self.bf16, self.max_grad_norm = device, bf16, max_grad_norm
        self.params = [p for p in optimizer.param_groups[0]["params"]] + [
            p for g in optimizer.param_groups[1:] for p in g["params"]
        ]
        self.tokens = 0

    def __call__(self, records: list[Record]) -> float:
        """Run one step over `records`; returns the objective's value."""
        batch = encode_official(records, self.collator, self.proxy_collator, self.device)
        self.tokens += batch.tokens
        dev_type = getattr(self.device, "type", str(self.device))
        with torch.autocast(device_type=dev_type, dtype=torch.bfloat16, enabled=self.bf16):
            out = official_losses(self.primary, self.proxy, batch)
        out["objective"].backward()
        if self.max_grad_norm > 0:
            torch.nn.utils.clip_grad_norm_(self.params, self.max_grad_norm)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return float(out["objective"].detach())
