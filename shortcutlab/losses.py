"""Losses of the paper as pure tensor functions (no model, no data, no state).

- Eq. 1 / Eq. 3, Bradley-Terry pair loss: L = -log sigmoid(r(a+) - r(a-)); the same
  function gives the multimodal loss L (Eq. 1) and the text-only loss L_t (Eq. 3),
  depending on which rewards are passed.
- Eq. 5, Shortcut-Failure Coefficient per pair, computed from *detached* losses:
  SFC = L_t / (L + L_t); the official code's form is eps/2 + L_t / (eps + L + L_t).
- Eq. 7, shortcut-aware loss mean(SFC * L), trained jointly with the proxy:
  total = mean(SFC * L) + mean(L_t) (official code); Appendix E's normalised weights
  SFC / mean(SFC) are optional.

`pair_objective` is the one place that turns a batch's rewards into the training objective
and its statistics; the trainer's micro-step, its evaluation and the benchmarks call it.

Rewards come as one flat vector over all rows of a batch (N,), each record's K responses
contiguous; pairs as an index tensor (P, 2) of (better_row, worse_row). One forward over
the K responses of a record thus gives the losses of all its pairs, instead of running
2 * C(K, 2) sequences.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

SFC_EPS = 1e-7  # epsilon of the official implementation of Eq. 5


def pair_margins(rewards: torch.Tensor, pairs: torch.Tensor) -> torch.Tensor:
    """Delta = r(better) - r(worse) per pair.

    rewards: (N,) one reward per row; pairs: (P, 2) long, (better_row, worse_row).
    Returns (P,).
    """
    if pairs.ndim != 2 or pairs.shape[-1] != 2:
        raise ValueError(f"pairs must have shape (P, 2), got {tuple(pairs.shape)}")
    pairs = pairs.to(rewards.device)
    return rewards[pairs[:, 0]] - rewards[pairs[:, 1]]  # (P,)


def bradley_terry_loss(rewards: torch.Tensor, pairs: torch.Tensor) -> torch.Tensor:
    """Per-pair Bradley-Terry loss -log sigmoid(Delta) (Eq. 1; Eq. 3 with text-only rewards).

    Computed as softplus(-Delta), which is the same value, numerically stable for large
    margins. rewards: (N,), pairs: (P, 2). Returns (P,) (not reduced).
    """
    return F.softplus(-pair_margins(rewards.float(), pairs))  # (P,)


def sfc(
    loss_mm: torch.Tensor,
    loss_proxy: torch.Tensor,
    *,
    official_eps: bool = True,
    eps: float = SFC_EPS,
) -> torch.Tensor:
    """Shortcut-Failure Coefficient per pair (Eq. 5), from detached losses.

    plain:    SFC = L_t / (L + L_t)
    official: SFC = eps/2 + L_t / (eps + L + L_t)   (eps = 1e-7; defined when L = L_t = 0)

    High SFC: the proxy (text-only) branch fails where the multimodal branch does not.
    Inputs (P,) each; returns (P,) with no gradient to either loss (Eq. 5 is a weight,
    not an objective).
    """
    lm = loss_mm.detach().float()
    lt = loss_proxy.detach().float()
    if official_eps:
        return eps / 2 + lt / (eps + lm + lt)
    return lt / (lm + lt)


def shortcut_aware_loss(
    loss_mm: torch.Tensor,
    loss_proxy: torch.Tensor,
    *,
    official_eps: bool = True,
    normalize: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Total objective of shortcut-aware training (Eq. 7 + joint proxy training).

    total = mean(w * L) + mean(L_t), with w = SFC (Eq. 5, detached) or, with
    `normalize`, w = SFC / mean(SFC) (Appendix E). The proxy term trains the text-only
    (or image-only, App. F) branch in the same step, as the official code does.
    loss_mm, loss_proxy: (P,). Returns (total scalar, SFC (P,) before normalisation).
    """
    weights = sfc(loss_mm, loss_proxy, official_eps=official_eps)  # (P,), detached
    w = weights / weights.mean().clamp_min(1e-12) if normalize else weights
    total = (w * loss_mm).mean() + loss_proxy.mean()
    return total, weights


def pair_accuracy(rewards: torch.Tensor, pairs: torch.Tensor) -> tuple[int, int, int]:
    """Eq. 2 counts: (correct, ties, total); correct means Delta > 0 strictly (ties wrong)."""
    margins = pair_margins(rewards.detach(), pairs)
    return int((margins > 0).sum()), int((margins == 0).sum()), int(margins.numel())


@dataclass
class PairObjective:
    """The objective of one batch of pairs and the statistics logged with it.

    `stats` holds plain numbers summed over the batch's P pairs (so batches, micro-steps
    and ranks add up): objective (objective x P), loss (sum L), correct / ties (Eq. 2,
    ties wrong), pairs (P); with a proxy also proxy_loss (sum L_t), proxy_correct (Eq. 4),
    sfc_sum / sfc_min / sfc_max (Eq. 5, App. E logging).
    """

    objective: torch.Tensor  # () with gradient: mean(L) (Eq. 1 / 3) or Eq. 7 + mean(L_t)
    loss: torch.Tensor  # (P,) L of the primary branch
    proxy_loss: torch.Tensor | None  # (P,) L_t of the proxy branch, or None
    sfc: torch.Tensor | None  # (P,) SFC (Eq. 5), detached, before normalisation
    stats: dict[str, float]


def pair_objective(
    rewards: torch.Tensor,
    proxy_rewards: torch.Tensor | None,
    pairs: torch.Tensor,
    *,
    official_eps: bool = True,
    normalize: bool = False,
) -> PairObjective:
    """Losses, objective and statistics of one batch of pairs (all three modes).

    rewards: (N,) primary rewards; proxy_rewards: (M,) rewards of the proxy branch
    (text-only Eq. 3, or image-only App. F) on the same rows, or None; pairs: (P, 2)
    (better_row, worse_row).
    - no proxy (standard Eq. 1, text-only Eq. 3): objective = mean(L).
    - proxy (shortcut-aware): objective = mean(w * L) + mean(L_t), w = SFC (Eq. 5, 7) or
      SFC / mean(SFC) with `normalize` (App. E); `official_eps` picks the official SFC.
    Accuracy counts use the rewards' own dtype (Eq. 2: Delta > 0 strictly, ties wrong).
    """
    loss = bradley_terry_loss(rewards, pairs)  # (P,) Eq. 1 (Eq. 3 for text-only inputs)
    proxy_loss = weights = None
    stats: dict[str, float] = {}
    if proxy_rewards is not None:
        proxy_loss = bradley_terry_loss(proxy_rewards, pairs)  # (P,) Eq. 3 / App. F
        objective, weights = shortcut_aware_loss(
            loss, proxy_loss, official_eps=official_eps, normalize=normalize
        )  # weights: (P,) SFC, detached
        stats.update(
            proxy_loss=proxy_loss.detach().sum().item(),
            proxy_correct=pair_accuracy(proxy_rewards, pairs)[0],
            sfc_sum=weights.sum().item(),
            sfc_min=weights.min().item(),
            sfc_max=weights.max().item(),
        )
    else:
        objective = loss.mean()
    correct, ties, n_pairs = pair_accuracy(rewards, pairs)
    stats.update(
        objective=objective.detach().double().item() * n_pairs,
        loss=loss.detach().sum().item(),
        correct=correct,
        ties=ties,
        pairs=n_pairs,
    )
    return PairObjective(objective, loss, proxy_loss, weights, stats)


@dataclass
class PairIndex:
    """Row indices of all pairs of a batch of records, built once from the records' pairs."""

    pairs: torch.Tensor  # (P, 2) long: (better_row, worse_row) into the flat rewards
    record_of_pair: torch.Tensor  # (P,) long: position of the pair's record in the batch


def build_pair_index(
    pairs_per_record: list[list[tuple[int, int]]], n_responses: list[int]
) -> PairIndex:
    """Map each record's (better, worse) response indices to flat row indices.

    Rows are laid out record after record, each record's K responses contiguous (the
    collator's contract), so record i's response k is row offset_i + k.
    """
    rows: list[tuple[int, int]] = []
    owner: list[int] = []
    offset = 0
    for i, (pairs, k) in enumerate(zip(pairs_per_record, n_responses, strict=True)):
        for better, worse in pairs:
            if not (0 <= better < k and 0 <= worse < k):
                raise ValueError(f"pair {(better, worse)} out of range for {k} responses")
            rows.append((offset + better, offset + worse))
            owner.append(i)
        offset += k
    pairs_t = torch.tensor(rows, dtype=torch.long).reshape(-1, 2)
    return PairIndex(pairs=pairs_t, record_of_pair=torch.tensor(owner, dtype=torch.long))
