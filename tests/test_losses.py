"""Losses (Eq. 1, 3, 5, 7, App. E) against hand computation and the naive pair path."""

from __future__ import annotations

import math
from itertools import combinations

import pytest
import torch

from shortcutlab.losses import (
    SFC_EPS,
    bradley_terry_loss,
    build_pair_index,
    pair_accuracy,
    pair_objective,
    sfc,
    shortcut_aware_loss,
)


def test_bradley_terry_by_hand():
    rewards = torch.tensor([2.0, 0.5, -1.0])
    pairs = torch.tensor([[0, 1], [2, 0]])
    got = bradley_terry_loss(rewards, pairs)
    want = [-math.log(1 / (1 + math.exp(-1.5))), -math.log(1 / (1 + math.exp(3.0)))]
    assert got.tolist() == pytest.approx(want, rel=1e-6)


def test_bradley_terry_stable_for_large_margins():
    rewards = torch.tensor([100.0, -100.0])
    loss = bradley_terry_loss(rewards, torch.tensor([[1, 0]]))
    assert torch.isfinite(loss).all() and loss.item() == pytest.approx(200.0)


def test_sfc_plain_and_official_by_hand():
    lm = torch.tensor([0.1, 1.0, 0.0])
    lt = torch.tensor([0.3, 1.0, 2.0])
    plain = sfc(lm, lt, official_eps=False)
    assert plain.tolist() == pytest.approx([0.75, 0.5, 1.0])
    official = sfc(lm, lt)
    eps = 1e-7
    want = [eps / 2 + t / (eps + m + t) for m, t in zip(lm.tolist(), lt.tolist(), strict=True)]
    assert official.tolist() == pytest.approx(want, rel=1e-6)
    assert SFC_EPS == eps


def test_sfc_official_defined_at_zero_losses():
    out = sfc(torch.zeros(2), torch.zeros(2))
    assert torch.isfinite(out).all() and out.tolist() == pytest.approx([5e-8, 5e-8])


def test_sfc_is_detached_in_the_total_loss():
    lm = torch.tensor([0.2, 0.7], requires_grad=True)
    lt = torch.tensor([0.9, 0.1], requires_grad=True)
    total, weights = shortcut_aware_loss(lm, lt, official_eps=False)
    assert not weights.requires_grad
    total.backward()
    # d/dL [mean(SFC * L)] = SFC / P with SFC constant; d/dL_t [mean(L_t)] = 1 / P.
    want_lm = (lt / (lm + lt)).detach() / 2
    assert torch.allclose(lm.grad, want_lm)
    assert torch.allclose(lt.grad, torch.full((2,), 0.5))


def test_shortcut_aware_total_and_normalised_weights():
    lm = torch.tensor([0.2, 0.7, 1.5])
    lt = torch.tensor([0.9, 0.1, 1.5])
    w = lt / (lm + lt)
    total, weights = shortcut_aware_loss(lm, lt, official_eps=False)
    assert total.item() == pytest.approx(((w * lm).mean() + lt.mean()).item())
    total_n, _ = shortcut_aware_loss(lm, lt, official_eps=False, normalize=True)
    assert total_n.item() == pytest.approx(((w / w.mean() * lm).mean() + lt.mean()).item())
    assert torch.allclose(weights, w)


def test_pair_accuracy_counts_ties_as_wrong():
    rewards = torch.tensor([1.0, 0.0, 0.0, 0.0, -1.0, 2.0])
    pairs = torch.tensor([[0, 1], [2, 3], [4, 5]])
    assert pair_accuracy(rewards, pairs) == (1, 1, 3)


def test_pair_objective_without_proxy_is_mean_bt_with_its_counts():
    rewards = torch.tensor([2.0, 0.5, 1.0, 1.0], requires_grad=True)
    pairs = torch.tensor([[0, 1], [2, 3], [1, 0]])
    out = pair_objective(rewards, None, pairs)
    bt = bradley_terry_loss(rewards, pairs)
    assert out.objective.item() == pytest.approx(bt.mean().item())
    assert out.proxy_loss is None and out.sfc is None
    assert out.stats["correct"] == 1 and out.stats["ties"] == 1 and out.stats["pairs"] == 3
    assert out.stats["loss"] == pytest.approx(bt.sum().item())
    assert out.stats["objective"] == pytest.approx(bt.mean().item() * 3)
    assert "sfc_sum" not in out.stats
    out.objective.backward()  # the objective carries the gradient to the rewards
    assert rewards.grad is not None and rewards.grad.abs().sum() > 0


@pytest.mark.parametrize("normalize", [False, True])
def test_pair_objective_with_proxy_is_eq7_with_sfc_statistics(normalize):
    rewards = torch.tensor([1.0, -0.5, 0.3, 0.2])
    proxy = torch.tensor([0.1, 0.4, 0.0, 0.0])
    pairs = torch.tensor([[0, 1], [2, 3], [3, 0]])
    out = pair_objective(rewards, proxy, pairs, official_eps=False, normalize=normalize)
    lm, lt = bradley_terry_loss(rewards, pairs), bradley_terry_loss(proxy, pairs)
    total, w = shortcut_aware_loss(lm, lt, official_eps=False, normalize=normalize)
    assert out.objective.item() == pytest.approx(total.item())
    assert torch.equal(out.sfc, w) and torch.equal(out.proxy_loss, lt)
    assert out.stats["proxy_correct"] == 0  # 0.1 < 0.4, 0.0 == 0.0 (tie), 0.0 < 0.1
    assert out.stats["correct"] == 2
    assert out.stats["sfc_sum"] == pytest.approx(w.sum().item())
    assert (out.stats["sfc_min"], out.stats["sfc_max"]) == (w.min().item(), w.max().item())
    assert out.stats["proxy_loss"] == pytest.approx(lt.sum().item())


def test_pair_objective_counts_ties_in_the_rewards_dtype():
    """bf16 rewards that round to the same value are a tie (Eq. 2), as the trainer sees them."""
    rewards = torch.tensor([1.0, 1.001], dtype=torch.bfloat16)
    out = pair_objective(rewards, None, torch.tensor([[1, 0]]))
    assert out.stats["ties"] == 1 and out.stats["correct"] == 0


def test_build_pair_index_offsets_records():
    idx = build_pair_index([[(0, 1)], [(2, 0), (1, 0)]], [2, 3])
    assert idx.pairs.tolist() == [[0, 1], [4, 2], [3, 2]]
    assert idx.record_of_pair.tolist() == [0, 1, 1]
    with pytest.raises(ValueError):
        build_pair_index([[(0, 2)]], [2])


def test_k_response_pairs_equal_naive_pairwise_path():
    """All pairs' losses from one forward over K responses == 2*C(K,2) separate rows."""
    torch.manual_seed(0)
    k_per_record = [4, 3]
    features = torch.randn(sum(k_per_record), 5)
    weight = torch.randn(5, requires_grad=True)
    record_pairs = [list(combinations(range(k), 2)) for k in k_per_record]

    # grouped path: N = sum(K) rewards, pairs indexed into them
    rewards = features @ weight  # (N,)
    idx = build_pair_index(record_pairs, k_per_record)
    grouped = bradley_terry_loss(rewards, idx.pairs)
    (g_grouped,) = torch.autograd.grad(grouped.mean(), weight)

    # naive path: every pair as its own (chosen, rejected) rows, 2 * C(K, 2) rows
    rows, offset = [], 0
    for pairs, k in zip(record_pairs, k_per_record, strict=True):
        for b, w in pairs:
            rows += [offset + b, offset + w]
        offset += k
    naive_rewards = features[rows] @ weight  # (2P,)
    naive_pairs = torch.arange(len(rows)).reshape(-1, 2)
    naive = bradley_terry_loss(naive_rewards, naive_pairs)
    (g_naive,) = torch.autograd.grad(naive.mean(), weight)

    assert len(rows) == 2 * (6 + 3)
    assert torch.allclose(grouped, naive, atol=1e-5)
    assert torch.allclose(g_grouped, g_naive, atol=1e-5)
