"""Losses (Eq. 1, 3, 5, 7, App. E) against hand computation and the naive pair path."""

from __future__ import annotations

import math
from itertools import combinations

import pytest
import torch

from shortcutlab import objectives
from shortcutlab.losses import (
    SFC_EPS,
    bradley_terry_loss,
    build_pair_index,
    confidence_weights,
    group_dro_update,
    normalised_weights,
    pair_accuracy,
    proxy_groups,
    sfc,
    shortcut_aware_loss,
)
from shortcutlab.objectives import SFCOptions, pair_objective

pytestmark = pytest.mark.unit


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
    opts = SFCOptions(sfc_normalize=normalize)
    out = pair_objective(rewards, proxy, pairs, options=opts, official_eps=False)
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


# ----------------------------------------------------------------------------- mitigations
# Hand computation: l(z) = -log sigmoid(z) = log(1 + exp(-z)); sigmoid(z) = 1 / (1 + e^-z).


def _l(z: float) -> float:
    return math.log1p(math.exp(-z))


def _sig(z: float) -> float:
    return 1 / (1 + math.exp(-z))


# rows: 3 records x 2 responses; pair i is (2i, 2i+1); margins d = [1, -0.5, 2],
# proxy margins b = [0.5, -1, 2] (the proxy is right on pairs 0 and 2, wrong on pair 1)
REWARDS = [1.0, 0.0, 0.0, 0.5, 2.0, 0.0]
PROXY = [0.5, 0.0, -1.0, 0.0, 1.0, -1.0]
PAIRS = [[0, 1], [2, 3], [4, 5]]
D, B = [1.0, -0.5, 2.0], [0.5, -1.0, 2.0]


def _objective(objective: str, **kw):
    rewards = torch.tensor(REWARDS, requires_grad=True)
    proxy = torch.tensor(PROXY, requires_grad=True)
    opts = objectives.get(objective).options_from(kw)
    out = pair_objective(rewards, proxy, torch.tensor(PAIRS), objective=objective, options=opts)
    return out, rewards, proxy


def test_sfc_objective_equals_the_official_form():
    """Parity: the default objective is the official code's eps/2 + L_t/(eps + L + L_t)
    weighting, mean(SFC * L) + mean(L_t), to 1e-6 (values and gradients)."""
    torch.manual_seed(3)
    r, t = torch.randn(40, requires_grad=True), torch.randn(40, requires_grad=True)
    pairs = torch.randperm(40).reshape(20, 2)
    out = pair_objective(r, t, pairs)
    (g_ours,) = torch.autograd.grad(out.objective, r)
    lm = -torch.nn.functional.logsigmoid(r[pairs[:, 0]] - r[pairs[:, 1]])
    lt = -torch.nn.functional.logsigmoid(t[pairs[:, 0]] - t[pairs[:, 1]])
    eps = 1e-7
    w = (eps / 2 + lt / (eps + lm + lt)).detach()
    official = (w * lm).mean() + lt.mean()
    (g_off,) = torch.autograd.grad(official, r)
    assert abs(out.objective.item() - official.item()) <= 1e-6
    assert torch.allclose(out.sfc, w, atol=1e-6, rtol=0)
    assert torch.allclose(g_ours, g_off, atol=1e-6, rtol=0)


def test_product_of_experts_by_hand_and_its_stop_gradient():
    out, rewards, proxy = _objective("poe")
    want = sum(_l(d + b) for d, b in zip(D, B, strict=True)) / 3 + sum(_l(b) for b in B) / 3
    assert out.objective.item() == pytest.approx(want, rel=1e-6)
    # the logged primary loss is d alone (test time), not d + b
    assert out.loss.tolist() == pytest.approx([_l(d) for d in D], rel=1e-6)
    assert out.weights is None and out.state is None and "weight_sum" not in out.stats
    out.objective.backward()
    # d/dr(better) of mean l(d + sg b) = -sigmoid(-(d + b)) / P; the proxy gets only l(b)
    assert rewards.grad[0].item() == pytest.approx(-_sig(-(D[0] + B[0])) / 3, rel=1e-5)
    assert proxy.grad[0].item() == pytest.approx(-_sig(-B[0]) / 3, rel=1e-5)
    assert proxy.grad[2].item() == pytest.approx(-_sig(-B[1]) / 3, rel=1e-5)


@pytest.mark.parametrize("gamma", [1.0, 2.0])
def test_confidence_reweighting_by_hand(gamma):
    out, rewards, proxy = _objective("reweight", focal_gamma=gamma)
    w = [(1 - _sig(b)) ** gamma for b in B]
    want = sum(wi * _l(d) for wi, d in zip(w, D, strict=True)) / sum(w) + sum(map(_l, B)) / 3
    assert out.objective.item() == pytest.approx(want, rel=1e-6)
    assert out.weights.tolist() == pytest.approx(w, rel=1e-6)
    assert out.stats["weight_sum"] == pytest.approx(sum(w), rel=1e-6)
    assert out.stats["weight_min"] == pytest.approx(min(w), rel=1e-6)
    assert out.stats["weight_max"] == pytest.approx(max(w), rel=1e-6)
    assert out.stats["weight_pairs"] == 3
    out.objective.backward()
    # weights are constants: d/dr(better_0) = -(w_0 / sum w) sigmoid(-d_0); proxy: l(b) only
    assert rewards.grad[0].item() == pytest.approx(-w[0] / sum(w) * _sig(-D[0]), rel=1e-5)
    assert proxy.grad[4].item() == pytest.approx(-_sig(-B[2]) / 3, rel=1e-5)


def test_group_dro_by_hand_and_its_state():
    # groups: b > 0 -> [1, 0, 1]; L_0 = l(d_1), L_1 = (l(d_0) + l(d_2)) / 2
    eta = 0.5
    out, rewards, proxy = _objective("groupdro", dro_eta=eta)
    l0, l1 = _l(D[1]), (_l(D[0]) + _l(D[2])) / 2
    e0, e1 = 0.5 * math.exp(eta * l0), 0.5 * math.exp(eta * l1)
    q0, q1 = e0 / (e0 + e1), e1 / (e0 + e1)
    want = q0 * l0 + q1 * l1 + sum(map(_l, B)) / 3
    assert out.objective.item() == pytest.approx(want, rel=1e-6)
    assert out.state.tolist() == pytest.approx([q0, q1], rel=1e-6)
    assert (out.stats["q0"], out.stats["q1"]) == pytest.approx((q0, q1))
    # per-pair weights q_g P / n_g: group 1 has 2 of the 3 pairs
    assert out.weights.tolist() == pytest.approx([q1 * 3 / 2, q0 * 3, q1 * 3 / 2], rel=1e-6)
    out.objective.backward()
    assert rewards.grad[2].item() == pytest.approx(-q0 * _sig(-D[1]), rel=1e-5)
    assert proxy.grad[2].item() == pytest.approx(-_sig(-B[1]) / 3, rel=1e-5)
    # the next batch starts from the updated q
    q = torch.tensor([0.2, 0.8], dtype=torch.float64)
    again = pair_objective(
        torch.tensor(REWARDS),
        torch.tensor(PROXY),
        torch.tensor(PAIRS),
        objective="groupdro",
        options=objectives.GroupDROOptions(dro_eta=eta),
        state=q,
    )
    f0, f1 = 0.2 * math.exp(eta * l0), 0.8 * math.exp(eta * l1)
    assert again.state.tolist() == pytest.approx([f0 / (f0 + f1), f1 / (f0 + f1)], rel=1e-6)


def test_group_dro_absent_group_keeps_its_q():
    q = torch.tensor([0.3, 0.7], dtype=torch.float64)
    sums = torch.tensor([0.0, 0.0, 1.2, 2.0], dtype=torch.float64)  # only group 1: L_1 = 0.6
    new = group_dro_update(q, sums, eta=1.0)
    e1 = 0.7 * math.exp(0.6)
    assert new.tolist() == pytest.approx([0.3 / (0.3 + e1), e1 / (0.3 + e1)], rel=1e-12)
    assert proxy_groups(torch.tensor([0.0, 1e-3, -2.0])).tolist() == [0, 1, 0]


def test_static_upweighting_by_hand():
    rewards = torch.tensor(REWARDS, requires_grad=True)
    w = [5.0, 1.0, 1.0]
    out = pair_objective(rewards, None, torch.tensor(PAIRS), pair_weights=torch.tensor(w))
    want = (5 * _l(D[0]) + _l(D[1]) + _l(D[2])) / 7
    assert out.objective.item() == pytest.approx(want, rel=1e-6)
    assert out.proxy_loss is None and out.sfc is None
    assert out.stats["weight_sum"] == 7 and out.stats["weight_max"] == 5
    out.objective.backward()
    assert rewards.grad[0].item() == pytest.approx(-5 / 7 * _sig(-D[0]), rel=1e-5)
    with pytest.raises(ValueError, match="static"):
        pair_objective(rewards, rewards, torch.tensor(PAIRS), pair_weights=torch.tensor(w))


def test_confidence_weights_are_detached_and_stable():
    b = torch.tensor([200.0, -200.0, 0.0], requires_grad=True)
    w = confidence_weights(b, 2.0)
    assert not w.requires_grad and w.tolist() == pytest.approx([0.0, 1.0, 0.25])
    assert torch.allclose(normalised_weights(torch.tensor([1.0, 3.0])), torch.tensor([0.5, 1.5]))


@pytest.mark.parametrize("objective", ["reweight", "groupdro", "static"])
def test_two_ranks_with_reduce_equal_one_batch(objective):
    """Two "ranks" each with half the pairs, `reduce` summing their vectors, give the
    objective (pair-count weighted), q and gradients of one process with all pairs."""
    torch.manual_seed(1)
    r, t = torch.randn(16), torch.randn(16)
    pairs = torch.arange(16).reshape(8, 2)
    static = torch.tensor([4.0, 1, 1, 4, 1, 1, 1, 4])
    name = "sfc" if objective == "static" else objective  # static: no proxy, no objective
    opts = objectives.get(name).options_from({"dro_eta": 0.3, "focal_gamma": 2.0})

    def run(rows: slice, reduce=None):
        rr = r.clone().requires_grad_(True)
        kw = {"pair_weights": static[rows]} if objective == "static" else {}
        proxy = None if objective == "static" else t
        out = pair_objective(
            rr, proxy, pairs[rows], objective=name, options=opts, reduce=reduce, **kw
        )
        (grad,) = torch.autograd.grad(out.objective * out.loss.numel() / 8, rr)
        return out, grad

    seen: dict[str, torch.Tensor] = {}

    def record(name):
        def f(v):
            seen[name] = v.clone()
            return v

        return f

    a, b = slice(0, 5), slice(5, 8)
    run(a, record("a"))
    run(b, record("b"))
    out_a, g_a = run(a, lambda v: v + seen["b"])
    out_b, g_b = run(b, lambda v: v + seen["a"])
    full, g_full = run(slice(0, 8))
    total = out_a.stats["objective"] + out_b.stats["objective"]
    assert total == pytest.approx(full.stats["objective"], rel=1e-6)
    assert torch.allclose(g_a + g_b, g_full, atol=1e-6)
    if objective == "groupdro":
        assert torch.allclose(out_a.state, full.state) and torch.allclose(out_b.state, full.state)
