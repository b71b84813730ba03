"""The benchmark's parity check on the tiny model: the official scheme == shortcutlab.

benchmarks/official_reference.py re-implements the authors' training scheme (pairs
expanded, separate chosen/rejected forwards, images re-encoded per sequence, a second full
model fed a blank image). On the same weights in float32 its per-pair losses, SFC,
objective and gradients must equal those of shortcutlab's trainer (shared images, one
forward over the K responses, shared-loss indexing). Timing never runs in a test.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def bench_run():
    sys.path.insert(0, str(BENCH))
    try:
        import run

        yield run
    finally:
        sys.path.remove(str(BENCH))


def test_official_reference_matches_shortcutlab_losses(
    bench_run, tiny_llava_dir: Path, tmp_path: Path, one_torch_thread
) -> None:
    # one K=4 record (6 pairs), shortcut-aware: covers L (Eq. 1), L_t (Eq. 3, blank image),
    # SFC (Eq. 5) and the objective (Eq. 7) of both branches, and their gradients
    res = bench_run.parity_check(
        tmp_path, n_records=1, modes=("shortcut-aware",), model_dir=tiny_llava_dir
    )
    diffs = res["shortcut-aware"]
    assert diffs["pairs"] == 6
    for key in ("loss", "proxy_loss", "sfc", "objective", "grad"):
        assert diffs[key] <= 1e-5, (key, diffs)
    assert diffs["grad_scale"] > 1e-4  # the gradients compared are not all zero
    assert res["ok"]


def test_official_reference_expands_all_pairs(bench_run) -> None:
    from official_reference import expand_pairs

    from shortcutlab.data.records import Record, pairs_from_scores

    pairs, _, _ = pairs_from_scores([1.0, 4.0, 2.0, 3.0])
    rec = Record(
        id="r", prompt="q", responses=["a", "b", "c", "d"], pairs=pairs, scores=[1.0, 4.0, 2.0, 3.0]
    )
    chosen, rejected = expand_pairs([rec])
    assert len(chosen) + len(rejected) == 12  # C(4, 2) pairs, two sequences each
    assert [c.responses[0] for c in chosen] == [rec.responses[b] for b, _ in pairs]
    assert all(len(r.responses) == 1 for r in chosen + rejected)
