"""`shortcutlab audit`: cheap text-only proxies, checked on ground truth and real pairs.

Ground truth: the synth benchmark plants one text cue per environment that agrees with
the label in exactly 90% (train/test) or 10% (shift) of records, and records it in
`shortcut_agrees`. A proxy fit on an environment's train split must score 90 / 10 on
test / shift, name the cue among its top 5 features, and split the pairs as the ground
truth does.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from typer.testing import CliRunner

from shortcutlab.audit.features import dense_counts
from shortcutlab.audit.proxies import fit_weights, pair_set
from shortcutlab.audit.results import feature_table
from shortcutlab.audit.run import AuditConfig, run_audit
from shortcutlab.cli.main import app
from shortcutlab.data.records import Record
from shortcutlab.data.schemas import load_dataset_file
from shortcutlab.files import atomic_write_text
from shortcutlab.score_table import read_score_table, record_rows, to_frame
from shortcutlab.synth import build_benchmark
from shortcutlab.synth import templates as T

ENVS = ("vlf", "povid", "rlhfv")
pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def tiny_bench(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bench_tiny")
    build_benchmark(out, seed=0, size="tiny")
    return out


@pytest.fixture(scope="module")
def small_bench(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bench_small")
    build_benchmark(out, seed=0, size="small")
    return out


def _success(result) -> np.ndarray:
    r, ps = result.rewards["text_lr"], result.data
    return r[ps.better] > r[ps.worse]


# ----------------------------------------------------------------------------- units


def test_dense_counts_read_style() -> None:
    text = "It appears that there are 2 cats. They sleep!\n- one\n- two"
    chars, words, sentences, digits, items, hedges = dense_counts([text])[0]
    assert (chars, words) == (len(text), len(text.split()))
    assert (sentences, digits, items, hedges) == (2, 1, 2, 1)


def test_weights_do_not_depend_on_pair_orientation() -> None:
    """No intercept: which pairs are flipped for the solver cannot change the fit."""
    rng = np.random.default_rng(0)
    x = sp.csr_matrix(rng.normal(size=(40, 5)) + np.array([1.0, 0, 0, 0, 0]))
    w = fit_weights(x)
    assert w[0] > 0.5  # the feature that is larger on the better side
    perm = rng.permutation(40)  # other rows land on the flipped positions
    np.testing.assert_allclose(fit_weights(sp.csr_matrix(x.toarray()[perm])), w, atol=1e-4)
    # no signal, every pair better-first: nothing to learn (no "first wins" weight)
    flat = sp.csr_matrix(rng.normal(size=(200, 3)) * [1.0, 1.0, 0.0])
    assert np.abs(fit_weights(flat)).max() < 0.3


def test_pairs_of_multi_response_records() -> None:
    recs = [
        Record(id="a", prompt="q", responses=["x", "yy", "zzz"], scores=[3.0, 1.0, 2.0]),
        Record(id="b", prompt="q", responses=["good", "bad"], pairs=[(0, 1)]),
    ]
    recs[0].pairs = [(0, 1), (0, 2), (2, 1)]
    ps = pair_set(recs)
    assert ps.n_pairs == 4 and list(ps.better) == [0, 0, 2, 3] and list(ps.worse) == [1, 2, 1, 4]
    assert ps.pair_ids() == ["a/0>1", "a/0>2", "a/2>1", "b"]


def test_length_proxies_count_ties_as_wrong() -> None:
    recs = [
        Record(id="a", prompt="q", responses=["long answer", "short"], pairs=[(0, 1)]),
        Record(id="b", prompt="q", responses=["same", "four"], pairs=[(0, 1)]),
        Record(id="c", prompt="q", responses=["tiny", "much longer"], pairs=[(0, 1)]),
    ]
    res = run_audit(recs, recs, AuditConfig(n_boot=50, ngram_max=0))
    from shortcutlab.audit.results import accuracies

    acc = accuracies(res)
    assert acc["longer_chars"].accuracy == pytest.approx(1 / 3)
    assert acc["shorter_chars"].accuracy == pytest.approx(1 / 3)
    assert acc["longer_chars"].n_ties == 1


# ----------------------------------------------------------------------------- ground truth


@pytest.mark.slow
@pytest.mark.parametrize("env", ENVS)
def test_ground_truth_rates_cues_and_split(small_bench: Path, env: str) -> None:
    """Fit on train; test / shift accuracy = 90 / 10 +- 3; cue in top 5; split = truth."""
    train = load_dataset_file(small_bench / env / "train.jsonl").records
    for split, rate in (("test", 0.9), ("shift", 0.1)):
        recs = load_dataset_file(small_bench / env / f"{split}.jsonl").records
        res = run_audit(recs, train, AuditConfig(n_boot=100))
        success = _success(res)
        assert abs(success.mean() - rate) <= 0.03, (env, split, success.mean())
        truth = np.array([res.data.records[i].meta["shortcut_agrees"] for i in res.data.rec])
        assert (success == truth).mean() >= 0.95
        top5 = list(feature_table(res, top=5)["feature"])
        assert _names_cue(env, top5), (env, split, top5)


def _names_cue(env: str, features: list[str]) -> bool:
    """Whether a feature name is the environment's planted cue (length, detail, hedge)."""
    if env == "vlf":
        return bool({"[chars]", "[words]"} & set(features))
    if env == "povid":
        # the detail is one extra sentence; or an n-gram that only detail sentences hold
        plain = " " + " ".join(t.lower() for pool in T.PLAIN.values() for t in pool) + " "
        details = " " + " ".join(d.lower().rstrip(".") for d in T.DETAILS) + " "
        grams = [f" {f} " for f in features if not f.startswith("[")]
        return "[sentences]" in features or any(g in details and g not in plain for g in grams)
    hedges = [f" {h.lower().rstrip(',')} " for h in T.HEDGES]
    grams = [f for f in features if not f.startswith("[")]
    return "[hedges]" in features or any(f" {g} " in h for g in grams for h in hedges)


# ----------------------------------------------------------------------------- CLI


def _mm_table(path: Path, out: Path) -> Path:
    """A reward model's score table of `path` that is right exactly where the cue agrees
    (SFD = 100 against a proxy that follows the cue): a real score-table file."""
    rows = []
    for rec in load_dataset_file(path).records:
        rewards = [0.0] * len(rec.responses)
        for b, w in rec.pairs:
            sign = 1.0 if rec.meta["shortcut_agrees"] else -1.0
            rewards[b] += sign
            rewards[w] -= sign
        rows += record_rows(rec, rewards)
    df = to_frame(rows)
    atomic_write_text(out, df.to_json(orient="records", lines=True))
    return out


@pytest.mark.parametrize("env", ["povid", "vlf"])
def test_cli_outputs_and_sfd_reads_proxy_scores(
    tiny_bench: Path, tmp_path: Path, env: str, cli
) -> None:
    """Files are written; `shortcutlab sfd` reads proxy_scores.jsonl as is."""
    data = tiny_bench / env / "test.jsonl"
    mm = _mm_table(data, tmp_path / "mm.jsonl")
    out = tmp_path / "audit"
    args = ["audit", str(data), "--train", str(tiny_bench / env / "train.jsonl")]
    args += ["--mm-scores", str(mm), "--group-by", "question_type", "-o", str(out)]
    res = CliRunner().invoke(app, args, terminal_width=160)
    assert res.exit_code == 0, res.output
    for name in ("audit.json", "features.csv", "features.png", "proxy_scores.jsonl"):
        assert (out / name).is_file(), name
    assert (out / "proxy_pairs.jsonl").is_file() and (out / "run_info.json").is_file()
    summary = json.loads((out / "audit.json").read_text())
    assert summary["mode"] == "train" and set(summary["groups"]) == {"color", "shape"}
    assert summary["proxies"]["text_lr"]["chance"] == 0.5
    table = read_score_table(out / "proxy_scores.jsonl")
    assert len(table) == sum(len(r.responses) for r in load_dataset_file(data).records)
    cli(
        "sfd",
        "--mm-scores",
        mm,
        "--proxy-scores",
        out / "proxy_scores.jsonl",
        "-o",
        tmp_path / "sfd",
    )
    via_cli = json.loads((tmp_path / "sfd" / "results.json").read_text())["sfd"][0]
    assert via_cli["sfd"] == pytest.approx(summary["sfd"]["text_lr"]["sfd"])
    assert via_cli["n_success"] == summary["sfd"]["text_lr"]["n_success"]


def test_cli_cross_validation_and_features_csv(tiny_bench: Path, tmp_path: Path) -> None:
    data = tiny_bench / "rlhfv" / "test.jsonl"
    res = CliRunner().invoke(app, ["audit", str(data), "--folds", "4", "-o", str(tmp_path)])
    assert res.exit_code == 0, res.output
    summary = json.loads((tmp_path / "audit.json").read_text())
    assert summary["mode"] == "cross-validation" and summary["pairs"] == 40
    feats = pd.read_csv(tmp_path / "features.csv")
    assert list(feats.columns[:3]) == ["rank", "feature", "kind"] and len(feats) > 0
    assert (feats["n_pairs_with_label"] <= feats["n_pairs"]).all()


def test_cli_token_proxies(tiny_bench: Path, tmp_path: Path) -> None:
    from shortcutlab.modeling.tiny_tokenizer import build_tokenizer

    tok = tmp_path / "tok"
    build_tokenizer("<image>", {"image_token": "<image>"}).save_pretrained(tok)
    data = tiny_bench / "povid" / "test.jsonl"
    args = ["audit", str(data), "--tokenizer", str(tok), "-o", str(tmp_path / "out")]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    proxies = json.loads((tmp_path / "out" / "audit.json").read_text())["proxies"]
    assert proxies["shorter_tokens"]["accuracy"] == pytest.approx(0.9)


def test_cli_errors_are_clear(tiny_bench: Path, tmp_path: Path, cli) -> None:
    data = str(tiny_bench / "povid" / "test.jsonl")
    err = cli("audit", data, "--group-by", "nope", "-o", tmp_path, code=2).stderr
    assert "'nope'" in err and "question_type" in err
    infer = tmp_path / "infer.jsonl"
    infer.write_text(json.dumps({"id": "x", "prompt": "q", "responses": ["a", "b"]}) + "\n")
    err = cli("audit", infer, "-o", tmp_path / "o", code=2).stderr
    assert "no preference pairs" in err and "infer.jsonl" in err


# ----------------------------------------------------------------------------- real data


def test_real_llava_bench_pairs(realdata: Path, tmp_path: Path) -> None:
    """110 LLaVA-Bench pairs (GPT-4 judge labels): cross-validated, grouped by category."""
    data = realdata / "llava-bench-in-the-wild" / "pairs_from_gpt4_reviews.jsonl"
    args = ["audit", str(data), "--group-by", "category", "-o", str(tmp_path)]
    res = CliRunner().invoke(app, args, terminal_width=160)
    assert res.exit_code == 0, res.output
    summary = json.loads((tmp_path / "audit.json").read_text())
    assert summary["records"] == 110 and summary["pairs"] == 110
    assert set(summary["groups"]) == {"conv", "detail", "complex"}
    for acc in summary["proxies"].values():
        assert 0.0 <= acc["ci_low"] <= acc["accuracy"] <= acc["ci_high"] <= 1.0
    longer, shorter = summary["proxies"]["longer_chars"], summary["proxies"]["shorter_chars"]
    assert longer["accuracy"] + shorter["accuracy"] + longer["n_ties"] / 110 == pytest.approx(1)
    assert len(read_score_table(tmp_path / "proxy_scores.jsonl")) == 220


def test_compare_cheap_and_trained_proxy_on_a_study(tiny_bench: Path, tmp_path: Path) -> None:
    """A study folder with one cell: an MM-RM right where the cue agrees and a 'trained'
    text-only RM that follows the povid cue (shorter wins): both SFDs are 100."""
    from shortcutlab.audit.compare import compare_with_study

    envs = [
        {"name": e, **{s: str(tiny_bench / e / f"{s}.jsonl") for s in ("train", "test", "shift")}}
        for e in ENVS
    ]
    spec = {"environments": envs, "modes": ["standard"], "seeds": [0]}
    (tmp_path / "study.json").write_text(json.dumps(spec))
    scores = tmp_path / "scores" / "s0"
    scores.mkdir(parents=True)
    data = tiny_bench / "povid" / "test.jsonl"
    _mm_table(data, scores / "standard__povid__povid.jsonl")
    recs = load_dataset_file(data).records
    rows = [row for r in recs for row in record_rows(r, [-len(a) for a in r.responses])]
    atomic_write_text(
        scores / "text-only__povid__povid.jsonl",
        to_frame(rows).to_json(orient="records", lines=True),
    )
    table = compare_with_study(tmp_path, n_boot=50)
    assert len(table) == 1
    row = table.iloc[0]
    assert (row["train_env"], row["test_env"], row["split"]) == ("povid", "povid", "iid")
    assert row["sfd_trained"] == pytest.approx(100.0)
    # the cheap proxy fit on the 50 tiny training pairs: its split vs the cue's split
    train = load_dataset_file(tiny_bench / "povid" / "train.jsonl").records
    res = run_audit(recs, train, AuditConfig(n_boot=10))
    truth = np.array([res.data.records[i].meta["shortcut_agrees"] for i in res.data.rec])
    assert row["split_agreement"] == pytest.approx(np.mean(_success(res) == truth))
    assert row["acc_cheap_proxy"] == pytest.approx(_success(res).mean())
