"""Losses of the paper as pure tensor functions (no model, no data, no state).

- Eq. 1 / Eq. 3, Bradley-Terry pair loss: L = -log sigmoid(r(a+) - r(a-)); the same
  function gives the multimodal loss L (Eq. 1) and the text-only loss L_t (Eq. 3),
  depending on which rewards are passed.
- Eq. 5, Shortcut-Failure Coefficient per pair, computed from *detached* losses:
  SFC = L_t / (L + L_t); the official code's form is eps/2 + L_t / (eps + L + L_t).
- Eq. 7, shortcut-aware loss mean(SFC * L), trained jointly with the proxy:
  total = mean(SFC * L) + mean(L_t) (official code); Appendix E's normalised weights
  SFC / mean(SFC) are optional.
- Other shortcut mitigations (docs/training.md, design method.md "Beyond the paper"),
  with b the proxy's margin, d the primary's, l(z) = softplus(-z), sg = stop-gradient:
  product of experts mean l(d + sg[b]) + mean l(b); confidence reweighting with
  w = sg[1 - sigmoid(b)]^gamma, mean(w l(d)) / mean(w) + mean l(b); GroupDRO over the
  proxy-defined groups g = [b > 0], sum_g q_g L_g + mean l(b) with q_g <- q_g exp(eta L_g)
  (normalised); static upweighting from a fixed proxy table, mean(w l(d)) / mean(w).

Which of these a run trains with is `shortcutlab.objectives` (the registry of modes and
objectives, and `pair_objective`, which turns a batch's rewards into the objective).

Rewards come as one flat vector over all rows of a batch (N,), each record's K responses
contiguous; pairs as an index tensor (P, 2) of (better_row, worse_row). One forward over
the K responses of a record thus gives the losses of all its pairs, instead of running
2 * C(K, 2) sequences.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

SFC_EPS = 1e-7  # epsilon of the official implementation of Eq. 5
N_GROUPS = 2  # GroupDRO groups from the proxy: 0 = proxy wrong (b <= 0), 1 = right (b > 0)
# sums a float64 vector over all ranks taking part in the step (None: this process only)
Reduce = Callable[[torch.Tensor], torch.Tensor]


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
    total = sfc_weighted_loss(loss_mm, weights, normalize=normalize) + loss_proxy.mean()
    return total, weights


def sfc_weighted_loss(
    loss_mm: torch.Tensor, weights: torch.Tensor, *, normalize: bool = False
) -> torch.Tensor:
    """The primary term of Eq. 7, mean(w * L), w = SFC or (App. E) SFC / mean(SFC).

    loss_mm: (P,) L; weights: (P,) SFC (Eq. 5), detached. Returns a scalar.
    """
    w = weights / weights.mean().clamp_min(1e-12) if normalize else weights
    return (w * loss_mm).mean()


def product_of_experts_loss(margin: torch.Tensor, proxy_margin: torch.Tensor) -> torch.Tensor:
    """Per-pair product-of-experts loss l(d + sg[b]) (Clark et al. 2019; He et al. 2019).

    The primary learns the residual the (frozen-for-this-term) proxy does not explain; at
    test time d alone is the reward margin. margin d, proxy_margin b: (P,). Returns (P,).
    """
    return F.softplus(-(margin.float() + proxy_margin.detach().float()))


def confidence_weights(proxy_margin: torch.Tensor, gamma: float = 1.0) -> torch.Tensor:
    """w = sg[1 - sigmoid(b)]^gamma: the proxy's probability of being wrong (Utama et al.
    2020; gamma > 1 the focal form). Computed as sigmoid(-b), the same value, stable for
    large b. proxy_margin: (P,). Returns (P,), detached."""
    return torch.sigmoid(-proxy_margin.detach().float()) ** gamma


def proxy_groups(proxy_margin: torch.Tensor) -> torch.Tensor:
    """GroupDRO group per pair: 1 if the shortcut succeeds on it (b > 0), else 0. (P,) long."""
    return (proxy_margin.detach() > 0).long()


def group_loss_sums(loss: torch.Tensor, groups: torch.Tensor) -> torch.Tensor:
    """(sum of L over group 0, its pair count, sum over group 1, its count), float64 (4,).

    Sums, not means, so micro-batches and ranks add up before the means are taken.
    """
    out = torch.zeros(2 * N_GROUPS, dtype=torch.float64)
    lm = loss.detach().double().cpu()
    g = groups.cpu()
    for k in range(N_GROUPS):
        out[2 * k] = lm[g == k].sum()
        out[2 * k + 1] = (g == k).sum()
    return out


def group_dro_update(q: torch.Tensor, sums: torch.Tensor, eta: float) -> torch.Tensor:
    """q_g <- q_g exp(eta L_g), normalised (Sagawa et al. 2020), L_g = mean L of group g.

    q: (N_GROUPS,) float64; sums: `group_loss_sums` of the batch (over all ranks). A group
    absent from the batch keeps its q (before normalisation). Returns the new q.
    """
    loss_sum, count = sums[0::2], sums[1::2]
    mean = torch.where(count > 0, loss_sum / count.clamp_min(1), torch.zeros_like(loss_sum))
    new = q.double() * torch.exp(eta * mean)
    return new / new.sum()


def group_dro_weights(groups: torch.Tensor, q: torch.Tensor, sums: torch.Tensor) -> torch.Tensor:
    """Per-pair weights q_g P / n_g, so mean(w L) = sum_g q_g L_g over the batch's groups.

    groups: (P_local,) long; q: (N_GROUPS,) after the update; sums: the batch's
    `group_loss_sums` (over all ranks: P and n_g count every rank's pairs). Returns (P_local,).
    """
    count = sums[1::2]
    per_group = q.double() * count.sum() / count.clamp_min(1)  # (N_GROUPS,)
    return per_group.float()[groups.cpu()].to(groups.device)


def normalised_weights(weights: torch.Tensor, reduce: Reduce | None = None) -> torch.Tensor:
    """w / mean(w) over the batch (all ranks with `reduce`), so mean(w' L) = mean(w L) /
    mean(w) on every rank's share. weights: (P_local,), detached. Returns (P_local,)."""
    totals = torch.tensor([weights.double().sum().item(), float(weights.numel())])
    if reduce is not None:
        totals = reduce(totals)
    mean = (totals[0] / totals[1].clamp_min(1)).clamp_min(1e-12)
    return (weights.double() / mean).float()


def pair_accuracy(rewards: torch.Tensor, pairs: torch.Tensor) -> tuple[int, int, int]:
    """Eq. 2 counts: (correct, ties, total); correct means Delta > 0 strictly (ties wrong)."""
    margins = pair_margins(rewards.detach(), pairs)
    return int((margins > 0).sum()), int((margins == 0).sum()), int(margins.numel())


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
