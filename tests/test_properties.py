"""Property-based tests (hypothesis): data round trip and metric invariants.

- Canonical records written with `write_records` (pairwise / vlfeedback / inference layout,
  JSONL / JSON / parquet, with or without an image) load back with the same ids, prompts,
  responses, scores and pairs.
- Eq. 2 accuracy is in [0, 1]; swapping chosen/rejected rewards gives 1 - acc - ties/n.
- Def. 3.1 SFD is in [-100, 100] (NaN only when a subset is empty), the two subsets
  partition the pairs and the success share equals the proxy's accuracy.
- Generalization-matrix means equal the plain means of diagonal / off-diagonal cells.
- App. H Best-of-N: the estimator equals a brute force over all subsets (written here,
  independent of the package's own reference) and is non-decreasing in N when the rewards
  are the judge scores.
"""

from __future__ import annotations

import io
import math
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shortcutlab.data.records import ImageRef, Record, pairs_from_scores

pytestmark = pytest.mark.unit

SETTINGS = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

# ----------------------------------------------------------------------------- records

_text = st.text(min_size=1, max_size=30).filter(lambda s: s.strip())
_prompt = _text.map(str.strip).filter(lambda s: s and "<image>" not in s)
_score = st.one_of(st.none(), st.floats(-10, 10, allow_nan=False).map(lambda x: round(x, 3)))


def _png(colour: tuple[int, int, int]) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (4, 3), colour).save(buf, format="PNG")
    return buf.getvalue()


_image = st.one_of(
    st.none(), st.tuples(*[st.integers(0, 255)] * 3).map(lambda c: ImageRef(data=_png(c)))
)


@st.composite
def _records(draw: st.DrawFn, layout: str) -> list[Record]:
    n = draw(st.integers(1, 4))
    ids = draw(st.lists(_text, min_size=n, max_size=n, unique=True))
    out = []
    for rid in ids:
        prompt, image = draw(_prompt), draw(_image)
        if layout == "pairwise":
            chosen = draw(_text)
            rejected = draw(_text.filter(lambda r, c=chosen: r.strip() != c.strip()))
            out.append(Record(rid, prompt, [chosen, rejected], image, pairs=[(0, 1)]))
        elif layout == "vlfeedback":
            k = draw(st.integers(1, 4))
            responses = draw(st.lists(_text, min_size=k, max_size=k))
            scores = draw(st.lists(_score, min_size=k, max_size=k))
            pairs = pairs_from_scores(scores)[0]
            out.append(Record(rid, prompt, responses, image, pairs=pairs, scores=scores))
        else:
            responses = draw(st.lists(_text, min_size=1, max_size=3))
            out.append(Record(rid, prompt, responses, image))
    return out


@st.composite
def _layout_and_records(draw: st.DrawFn) -> tuple[str, list[Record]]:
    layout = draw(st.sampled_from(["pairwise", "vlfeedback", "inference"]))
    return layout, draw(_records(layout))


@SETTINGS
@given(case=_layout_and_records(), ext=st.sampled_from([".jsonl", ".json", ".parquet"]))
def test_records_round_trip(case: tuple[str, list[Record]], ext: str, tmp_path: Path) -> None:
    from shortcutlab.data.images import load_image
    from shortcutlab.data.schemas import load_dataset_file
    from shortcutlab.data.writing import write_records

    layout, records = case
    out = tmp_path / f"rt-{layout}-{abs(hash(str(records))) % 10**8}{ext}"
    write_records(records, out, schema=layout)
    res = load_dataset_file(out, schema=layout)
    back = res.records
    assert [r.id for r in back] == [r.id for r in records]
    for a, b in zip(records, back, strict=True):
        assert (b.prompt, b.responses, b.pairs) == (a.prompt, a.responses, a.pairs)
        if layout == "vlfeedback":
            assert b.scores == a.scores
        assert (b.image is None) == (a.image is None)
        if a.image is not None:
            pixel = load_image(a.image).getpixel((0, 0))
            assert load_image(b.image).getpixel((0, 0)) == pixel
    assert res.n_pairs == sum(len(r.pairs) for r in records)


# ----------------------------------------------------------------------------- accuracy

_reward = st.integers(-3, 3).map(float)  # small range: ties happen often


@st.composite
def _pairs(draw: st.DrawFn, min_size: int = 1) -> pd.DataFrame:
    n = draw(st.integers(min_size, 25))
    rb = draw(st.lists(_reward, min_size=n, max_size=n))
    rw = draw(st.lists(_reward, min_size=n, max_size=n))
    ids = draw(st.lists(st.integers(0, 6), min_size=n, max_size=n))
    return pd.DataFrame(
        {
            "id": [f"r{i}" for i in ids],
            "better_index": 0,
            "worse_index": 1,
            "r_better": rb,
            "r_worse": rw,
        }
    )


@SETTINGS
@given(pairs=_pairs())
def test_accuracy_bounds_and_swap(pairs: pd.DataFrame) -> None:
    from shortcutlab.diagnostics.accuracy import pairwise_accuracy

    res = pairwise_accuracy(pairs, n_boot=20)
    n, ties = len(pairs), int((pairs["r_better"] == pairs["r_worse"]).sum())
    assert 0.0 <= res.accuracy <= 1.0 and res.n_pairs == n and res.n_ties == ties
    assert 0.0 <= res.ci_low <= res.ci_high <= 1.0
    swapped = pairs.assign(r_better=pairs["r_worse"], r_worse=pairs["r_better"])
    res2 = pairwise_accuracy(swapped, n_boot=0)
    assert math.isclose(res2.accuracy, 1.0 - res.accuracy - ties / n, abs_tol=1e-12)
    assert res2.n_ties == ties


def _score_table(pairs: pd.DataFrame, column: str) -> pd.DataFrame:
    """A pairwise score table with one record per pair (rewards from r_better / r_worse)."""
    rows = []
    for k, p in enumerate(pairs.itertuples()):
        rb, rw = (p.r_better, p.r_worse) if column == "mm" else (p.p_better, p.p_worse)
        rows.append({"id": f"q{k}", "response_index": 0, "reward": rb, "label": "chosen"})
        rows.append({"id": f"q{k}", "response_index": 1, "reward": rw, "label": "rejected"})
    return pd.DataFrame(rows)


@SETTINGS
@given(mm=_pairs(), proxy=_pairs())
def test_sfd_bounds_and_partition(mm: pd.DataFrame, proxy: pd.DataFrame) -> None:
    from shortcutlab.diagnostics.sfd import sfd

    n = min(len(mm), len(proxy))
    pairs = mm.iloc[:n].reset_index(drop=True)
    pairs["p_better"] = proxy["r_better"].to_numpy()[:n]
    pairs["p_worse"] = proxy["r_worse"].to_numpy()[:n]
    res = sfd(_score_table(pairs, "mm"), _score_table(pairs, "proxy"), n_boot=20)
    n_success = int((pairs["p_better"] > pairs["p_worse"]).sum())
    assert (res.success.n_pairs, res.fail.n_pairs) == (n_success, n - n_success)
    assert math.isclose(res.proxy.accuracy, n_success / n)
    if n_success in (0, n):
        assert math.isnan(res.sfd)
    else:
        assert -100.0 <= res.sfd <= 100.0
        expected = 100 * (res.success.accuracy - res.fail.accuracy)
        assert math.isclose(res.sfd, expected)
        if not math.isnan(res.ci_low):
            assert -100.0 <= res.ci_low <= res.ci_high <= 100.0


# ----------------------------------------------------------------------------- matrix

_envs = st.lists(st.sampled_from(["vlf", "povid", "rlhfv", "llava"]), min_size=1, unique=True)


@SETTINGS
@given(
    train=_envs,
    test=_envs,
    data=st.data(),
)
def test_matrix_means(train: list[str], test: list[str], data: st.DataObject) -> None:
    from shortcutlab.diagnostics.matrix import matrix_summary

    cell = st.one_of(st.just(float("nan")), st.floats(0, 100, allow_nan=False))
    vals = [[data.draw(cell) for _ in test] for _ in train]
    mat = pd.DataFrame(vals, index=train, columns=test)
    s = matrix_summary(mat)
    diag = [vals[i][j] for i, a in enumerate(train) for j, b in enumerate(test) if a == b]
    off = [vals[i][j] for i, a in enumerate(train) for j, b in enumerate(test) if a != b]

    def mean(xs: list[float]) -> float:
        xs = [x for x in xs if not math.isnan(x)]
        return sum(xs) / len(xs) if xs else float("nan")

    for got, want in ((s["iid_mean"], mean(diag)), (s["ood_mean"], mean(off))):
        assert (math.isnan(got) and math.isnan(want)) or math.isclose(got, want)
        assert math.isnan(got) or 0.0 <= got <= 100.0
    for i, row in enumerate(s["rows"]):
        own = [vals[i][j] for j, b in enumerate(test) if b == train[i]]
        want = mean(own)
        got = row["in_distribution"]
        assert (math.isnan(got) and math.isnan(want)) or math.isclose(got, want)


# ----------------------------------------------------------------------------- best-of-n


def _brute(rewards: list[float], scores: list[float], N: int) -> float:
    """Mean judge score of the highest-reward answer (lowest index on ties) over all subsets."""
    picks = []
    for subset in combinations(range(len(rewards)), N):
        best = max(subset, key=lambda i: (rewards[i], -i))
        picks.append(scores[best])
    return sum(picks) / len(picks)


_small = st.lists(st.integers(0, 4).map(float), min_size=1, max_size=7)


@SETTINGS
@given(rewards=_small, data=st.data())
def test_bon_matches_bruteforce(rewards: list[float], data: st.DataObject) -> None:
    from shortcutlab.diagnostics.bon import bon_expected

    n = len(rewards)
    scores = data.draw(st.lists(st.integers(1, 10).map(float), min_size=n, max_size=n))
    for N in range(1, n + 1):
        got = bon_expected(np.array(rewards), np.array(scores), N)
        assert math.isclose(got, _brute(rewards, scores, N), rel_tol=1e-9, abs_tol=1e-12)


@SETTINGS
@given(scores=_small)
def test_bon_monotone_when_rewards_are_judge(scores: list[float]) -> None:
    from shortcutlab.diagnostics.bon import bon_curve

    table = pd.DataFrame(
        {"id": "p", "response_index": range(len(scores)), "reward": scores, "score": scores}
    )
    curve = bon_curve(table, table)["expected_score"].to_numpy()
    assert len(curve) == len(scores)
    assert np.all(np.diff(curve) >= -1e-12)
    assert math.isclose(curve[0], float(np.mean(scores)))
    assert math.isclose(curve[-1], max(scores))
