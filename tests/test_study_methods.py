"""Methods compared over seeds (shortcutlab.study.methods) and the study's `static`
objective (shortcutlab.study.proxies): hand-computed tables, and a tiny real study."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from shortcutlab.errors import ConfigError
from shortcutlab.study.methods import (
    method_table,
    metric_units,
    paired_differences,
    t_interval,
    write_methods,
)
from shortcutlab.study.run import run_study
from shortcutlab.study.spec import Study, StudyEnv, label_mode, load_study
from shortcutlab.synth.benchmark import build_benchmark

pytestmark = pytest.mark.integration

# accuracy of (mode, seed, train_env, test_env): two envs, two seeds, two modes
ACC = {
    ("standard", 0): {("a", "a"): 90.0, ("a", "b"): 60.0, ("b", "b"): 92.0, ("b", "a"): 50.0},
    ("standard", 1): {("a", "a"): 88.0, ("a", "b"): 64.0, ("b", "b"): 90.0, ("b", "a"): 54.0},
    ("sa", 0): {("a", "a"): 86.0, ("a", "b"): 70.0, ("b", "b"): 90.0, ("b", "a"): 61.0},
    ("sa", 1): {("a", "a"): 87.0, ("a", "b"): 72.0, ("b", "b"): 88.0, ("b", "a"): 60.0},
}


def _results(tmp_path):
    rows = [
        {"mode": m, "train_env": tr, "test_env": te, "accuracy": v, "seed": s}
        for (m, s), cells in ACC.items()
        for (tr, te), v in cells.items()
    ]
    pd.DataFrame(rows).to_csv(tmp_path / "accuracy_long.csv", index=False)
    shift = [
        {"seed": s, "mode": m, "env": e, "accuracy": 10.0 + 20 * (m == "sa") + s + (e == "b")}
        for (m, s) in ACC
        for e in ("a", "b")
    ]
    pd.DataFrame(shift).to_csv(tmp_path / "shift.csv", index=False)
    sfd = [
        {"seed": s, "mode": m, "kind": "ood", "train_env": tr, "test_env": te, "sfd": v / 2}
        for (m, s), cells in ACC.items()
        for (tr, te), v in cells.items()
        if tr != te
    ]
    pd.DataFrame(sfd).to_csv(tmp_path / "sfd.csv", index=False)
    return tmp_path


def test_method_table_is_mean_and_sd_of_per_seed_means(tmp_path):
    units = metric_units(_results(tmp_path))
    table = method_table(units, ["standard", "sa"]).set_index(["mode", "metric"])
    # o.o.d. of sa: seed 0 mean (70 + 61) / 2 = 65.5, seed 1 (72 + 60) / 2 = 66
    row = table.loc[("sa", "ood")]
    assert row["mean"] == pytest.approx(65.75)
    assert row["sd"] == pytest.approx(np.std([65.5, 66.0], ddof=1))
    assert row["n_seeds"] == 2
    assert table.loc[("standard", "iid"), "mean"] == pytest.approx((91 + 89) / 2)
    assert table.loc[("sa", "sfd_ood"), "mean"] == pytest.approx(65.75 / 2)
    assert list(dict.fromkeys(table.index.get_level_values(0))) == ["standard", "sa"]


def test_paired_differences_pair_the_same_seed_and_cell(tmp_path):
    units = metric_units(_results(tmp_path))
    diffs = paired_differences(units, ["standard", "sa"]).set_index(["mode", "metric"])
    d = np.array([70 - 60, 61 - 50, 72 - 64, 60 - 54], dtype=float)  # o.o.d., paired
    half = stats.t.ppf(0.975, 3) * d.std(ddof=1) / 2
    row = diffs.loc[("sa", "ood")]
    assert row["diff"] == pytest.approx(d.mean())
    assert row["ci_low"] == pytest.approx(d.mean() - half)
    assert row["ci_high"] == pytest.approx(d.mean() + half)
    assert row["n_units"] == 4 and row["supported"] and row["reading"] == "better than standard"
    # i.i.d.: -4, -2, -1, -2 -> all below 0: a supported loss
    assert diffs.loc[("sa", "iid"), "reading"] == "worse than standard"
    # SFD: lower is better, so the halved accuracy gain reads as worse
    assert diffs.loc[("sa", "sfd_ood"), "reading"] == "worse than standard"
    assert diffs.loc[("sa", "shift"), "diff"] == pytest.approx(20.0)
    assert ("standard", "ood") not in diffs.index


def test_a_difference_whose_interval_holds_zero_is_within_noise():
    mean, low, high = t_interval(np.array([3.0, -2.0, 4.0, -1.0]))
    assert low < 0 < high and mean == pytest.approx(1.0)
    units = pd.DataFrame(
        [
            {"metric": "ood", "mode": m, "seed": s, "train_env": "a", "test_env": "b", "value": v}
            for s, (a, b) in enumerate([(50, 53), (50, 48), (50, 54), (50, 49)])
            for m, v in (("standard", a), ("x", b))
        ]
    )
    row = paired_differences(units, ["standard", "x"]).iloc[0]
    assert not row["supported"] and row["reading"] == "within noise"
    one = t_interval(np.array([2.0]))
    assert one[0] == 2.0 and np.isnan(one[1])  # one unit: no interval, never supported


def test_write_methods_writes_tables_and_figure(tmp_path):
    res = _results(tmp_path)
    out = write_methods(res, ["standard", "sa"])
    for name in ("methods.csv", "methods_diff.csv", "methods.png", "methods.svg"):
        assert (res / name).is_file(), name
    assert out["reference"] == "standard" and out["differences"]
    json.dumps(out)  # JSON-able (goes into summary.json)


# ----------------------------------------------------------------------------- static


def test_static_is_a_study_objective_trained_as_standard():
    envs = [StudyEnv("a", "t.jsonl", "u.jsonl")]
    st = Study(base_model="m", environments=envs, objectives=["sfc", "static"])
    assert st.train_modes == ["standard", "shortcut-aware", "shortcut-aware-static"]
    assert label_mode("shortcut-aware-static") == ("standard", "static")
    assert st.proxy_from_runs and st.proxy_objective == "sfc"
    only_static = Study(base_model="m", environments=envs, objectives=["static"])
    # no dual-branch objective: text-only models must be trained
    assert "text-only" in only_static.train_modes and not only_static.proxy_from_runs
    with pytest.raises(ConfigError, match="upweight must be > 0"):
        load_study({"base_model": "m", "environments": [vars(envs[0])], "upweight": 0})


@pytest.mark.slow
def test_study_static_cell_uses_the_cheap_proxy(tiny_llava_dir, tmp_path):
    bench = build_benchmark(tmp_path / "bench", seed=0, size="tiny")
    env = StudyEnv("povid", str(bench.files["povid"]["train"]), str(bench.files["povid"]["test"]))
    study = Study(
        base_model=str(tiny_llava_dir),
        environments=[env],
        modes=["standard", "shortcut-aware"],
        objectives=["sfc", "static"],
        upweight=4.0,
        n_boot=20,
        train={"max_steps": 2, "per_device_train_batch_size": 4},
    )
    out = tmp_path / "study"
    res = run_study(study, out, progress=False)
    table = out / "proxies" / "povid" / "proxy_scores.jsonl"
    assert table.is_file()
    config = (out / "runs" / "s0" / "shortcut-aware-static__povid" / "config.yaml").read_text()
    assert "mode: standard" in config and f"static_weights: {table}" in config
    assert "upweight: 4.0" in config
    marker = json.loads((out / ".done" / "proxy__povid.json").read_text())
    # the planted cue agrees with 90% of training pairs: the proxy is wrong on about 10%
    n_pairs = len(open(env.train).read().splitlines())  # povid: one pair per record
    assert 0 < marker["result"]["pairs_wrong"] < 0.3 * n_pairs
    modes = {r["mode"] for r in res.summary["methods"]["table"]}
    assert {"standard", "shortcut-aware", "shortcut-aware-static", "text-only"} <= modes
    again = run_study(study, out, progress=False)
    assert again.ran == {"train": 0, "score": 0}


@pytest.mark.slow
def test_parallel_units_give_the_sequential_study(tiny_llava_dir, tmp_path):
    """workers=2 trains and scores the (seed, env) units in two spawned processes; every
    score table equals the sequential run's (to float noise of another thread count) and
    the cells counted are the same; a rerun finds everything cached."""
    import pandas as pd

    from shortcutlab.score_table import read_score_table

    bench = build_benchmark(tmp_path / "bench", seed=0, size="tiny")
    envs = [
        StudyEnv(e, str(bench.files[e]["train"]), str(bench.files[e]["test"])) for e in ("povid",)
    ]

    def study() -> Study:
        return Study(
            base_model=str(tiny_llava_dir),
            environments=envs,
            seeds=[0, 1],
            n_boot=20,
            train={"max_steps": 2, "per_device_train_batch_size": 4},
        )

    par = run_study(study(), tmp_path / "par", progress=False, workers=2)
    seq = run_study(study(), tmp_path / "seq", progress=False)
    assert par.ran == seq.ran == {"train": 4, "score": 6}
    files = sorted(p.relative_to(tmp_path / "seq") for p in (tmp_path / "seq").rglob("*.jsonl"))
    files = [f for f in files if f.parts[0] == "scores"]
    assert len(files) == 6
    for f in files:
        a, b = read_score_table(tmp_path / "par" / f), read_score_table(tmp_path / "seq" / f)
        pd.testing.assert_series_equal(a["reward"], b["reward"], atol=1e-4, rtol=0)
    assert run_study(study(), tmp_path / "par", progress=False, workers=2).ran == {
        "train": 0,
        "score": 0,
    }
