"""Scoring library: table schema, Eq. 2 accuracy, fast path parity, journal and resume.

Run: python -m pytest -x -q tests/test_scoring.py
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scoring_helpers import write_pairwise, write_ranked

from shortcutlab.data.records import Record
from shortcutlab.errors import ConfigError, ShortcutlabError
from shortcutlab.scoring import SCORE_COLUMNS, record_rows, score, to_frame
from shortcutlab.scoring import journal as jr
from shortcutlab.scoring.engine import (
    forward_records,
    load_model,
    make_collator,
    plan_batches,
    record_length,
    score_one_by_one,
)
from shortcutlab.scoring.selection import accuracy_of

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def pair_file(tmp_path_factory: pytest.TempPathFactory):
    return write_pairwise(tmp_path_factory.mktemp("pairs") / "pairs.jsonl", 12)


@pytest.fixture(scope="module")
def loaded(tiny_llava_dir):
    model, dev, bf16 = load_model(tiny_llava_dir, "cpu", False)
    return model, make_collator(model, max_length=512, text_only=None)


# ----------------------------------------------------------------------------- table


def test_score_table_schema_and_file(tiny_llava_dir, pair_file, tmp_path):
    out = tmp_path / "scores.jsonl"
    df = score(tiny_llava_dir, pair_file, out, batch_size=5, environment="envA").table
    assert list(df.columns) == SCORE_COLUMNS
    assert len(df) == 24 and df["id"].tolist()[:4] == ["p000", "p000", "p001", "p001"]
    assert df["response_index"].tolist()[:2] == [0, 1]
    assert df["label"].tolist()[:2] == ["chosen", "rejected"]
    assert df["reward"].map(math.isfinite).all()
    assert df["preference_score"].isna().all()
    assert set(df["source"]) == {"pairs.jsonl"} and set(df["environment"]) == {"envA"}
    rows = [json.loads(x) for x in pair_file.read_text().splitlines()]
    assert df["prompt_chars"].iloc[2] == len(rows[1]["prompt"])
    assert df["response_words"].iloc[3] == len(rows[1]["rejected"].split())
    # the written file is the same table and passes the diagnostics' validator
    from shortcutlab.score_table import read_score_table

    back = read_score_table(out)
    assert back["reward"].tolist() == df["reward"].tolist()
    assert back["id"].tolist() == df["id"].tolist()
    summary = json.loads((tmp_path / "scores.summary.json").read_text())
    assert summary["rows"] == 24 and summary["accuracy"]["n_pairs"] == 12
    assert summary["provenance"]["model"]["sha256"] == summary["fingerprint"]["model_sha256"]
    assert len(summary["provenance"]["data"]["sha256"]) == 64
    assert "torch" in summary["provenance"]["versions"]
    assert not list(tmp_path.glob("*.partial.*")) and not list(tmp_path.glob("*.journal.*"))


def test_ranked_data_preference_scores_and_parquet(tiny_llava_dir, tmp_path):
    data = write_ranked(tmp_path / "vlf.jsonl")
    res = score(tiny_llava_dir, data, tmp_path / "s.parquet", text_only="drop")
    df = res.table
    assert df["preference_score"].tolist() == [5.0, 2.0, 3.0, 4.0, 4.0, 1.0]
    assert set(df["label"]) == {""}
    # pairs: v0 gives 3 pairs; v1 gives 2 (the 4/4 tie makes no pair)
    assert res.accuracy is not None and res.accuracy.n_pairs == 5
    assert pd.read_parquet(tmp_path / "s.parquet")["reward"].tolist() == df["reward"].tolist()


def test_accuracy_hand_computed():
    """Eq. 2: strict >, ties wrong and counted; ranked pairs from preference scores."""
    recs = [
        Record("a", "q", ["x", "y"], pairs=[(0, 1)]),  # 2 > 1 correct
        Record("b", "q", ["x", "y"], pairs=[(0, 1)]),  # 1 = 1 tie -> wrong
        Record("c", "q", ["x", "y"], pairs=[(0, 1)]),  # 0 < 3 wrong
        Record("d", "q", ["x", "y", "z"], scores=[3.0, 1.0, 2.0]),
    ]
    rewards = [[2.0, 1.0], [1.0, 1.0], [0.0, 3.0], [5.0, 4.0, 6.0]]
    # d: (0,1) 5>4 ok; (0,2) 5<6 wrong; (2,1) 6>4 ok  -> 3 correct of 6 pairs
    rows = [row for rec, r in zip(recs, rewards, strict=True) for row in record_rows(rec, r)]
    acc = accuracy_of(to_frame(rows, recs))
    assert acc.n_pairs == 6 and acc.n_ties == 1
    assert acc.accuracy == pytest.approx(3 / 6)
    assert acc.ci_low <= 0.5 <= acc.ci_high


def test_inference_data_has_no_accuracy():
    recs = [Record("a", "q", ["x", "y"])]
    assert accuracy_of(to_frame(record_rows(recs[0], [1.0, 2.0]), recs)) is None


# ----------------------------------------------------------------------------- fast path


def test_plan_batches_sorts_by_length_and_never_splits_records():
    recs = [Record(str(i), "p" * (i * 10), ["a"] * (1 + i % 3)) for i in range(9)]
    batches = plan_batches(recs, 4)
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(9))
    assert all(sum(len(recs[i].responses) for i in b) <= 4 for b in batches)
    lengths = [record_length(recs[i]) for i in flat]
    assert lengths == sorted(lengths, reverse=True)
    assert plan_batches([Record("x", "p", ["a"] * 6)], 4) == [[0]]  # K > batch: alone


@pytest.mark.parametrize("arch", ["llava", "qwen2_vl"])
def test_fast_path_equals_one_by_one(arch, tiny_dirs, shape_records):
    """Shared image encodings + padded length-sorted batches == one response per forward."""
    model, _, _ = load_model(tiny_dirs[arch], "cpu", False)
    collator = make_collator(model, max_length=512, text_only=None)
    recs = list(shape_records)
    shared = collator.encode(recs, share_images=True)
    assert "image_index" in shared.inputs and shared.n_unique_images == 2  # not 5 images
    fast, _ = forward_records(model, collator, recs, device=model.device, share_images=True)
    ref = score_one_by_one(model, collator, recs, device=model.device)
    for f, r in zip(fast, ref, strict=True):
        np.testing.assert_allclose(f, r, atol=1e-5, rtol=0)


def test_score_in_memory_matches_reference_and_order(loaded, pair_file):
    from shortcutlab.data.schemas import load_dataset_file

    model, collator = loaded
    res = load_dataset_file(pair_file)
    df = score(model, res, None, batch_size=3, max_length=512).table
    ref = score_one_by_one(model, collator, res.records, device=model.device)
    assert df["id"].tolist() == [r.id for r in res.records for _ in r.responses]
    np.testing.assert_allclose(df["reward"].to_numpy(), np.concatenate(ref), atol=1e-5)


def test_text_only_drop_and_blank_differ_from_image(tiny_llava_dir, pair_file):
    base = score(tiny_llava_dir, pair_file, max_length=512).table["reward"].to_numpy()
    drop = score(tiny_llava_dir, pair_file, text_only="drop", max_length=512).table["reward"]
    blank = score(tiny_llava_dir, pair_file, text_only="blank", max_length=512).table["reward"]
    has_image = np.array([i % 5 != 4 for i in range(12) for _ in range(2)])
    assert not np.allclose(base[has_image], drop.to_numpy()[has_image])
    assert not np.allclose(drop.to_numpy(), blank.to_numpy())


# ----------------------------------------------------------------------------- resume


class _Crash(Exception):
    pass


def _crash_after(n_records: int):
    def progress(done: int, total: int) -> None:
        if done >= n_records:
            raise _Crash()

    return progress


def test_interrupted_run_resumes_exactly_once(tiny_llava_dir, pair_file, tmp_path):
    ref = score(tiny_llava_dir, pair_file, tmp_path / "ref.jsonl", batch_size=4).table
    out = tmp_path / "s.jsonl"
    with pytest.raises(_Crash):
        score(tiny_llava_dir, pair_file, out, batch_size=4, progress=_crash_after(2))
    assert not out.exists() and (tmp_path / "s.jsonl.journal.json").exists()
    # a torn, uncommitted tail as left by a kill in the middle of a write
    with open(tmp_path / "s.jsonl.partial.r0.jsonl", "a") as fh:
        fh.write('{"id": "p011", "response_index": 0, "reward": 1.0}\n{"id": "p0')
    res = score(tiny_llava_dir, pair_file, out, batch_size=4)
    assert res.resumed_records == 2 and res.scored_records == 10
    assert res.table["id"].tolist() == ref["id"].tolist()
    np.testing.assert_array_equal(res.table["reward"].to_numpy(), ref["reward"].to_numpy())
    assert not list(tmp_path.glob("s.jsonl.*"))
    # the same command again: already complete, nothing rescored
    again = score(tiny_llava_dir, pair_file, out, batch_size=4)
    assert again.already_complete and again.resumed_records == 12


def test_changed_data_refused_unless_overwrite(tiny_llava_dir, tmp_path):
    data = write_pairwise(tmp_path / "d.jsonl", 6)
    out = tmp_path / "s.jsonl"
    with pytest.raises(_Crash):
        score(tiny_llava_dir, data, out, batch_size=2, progress=_crash_after(1))
    write_pairwise(data, 7)  # the data file changes under the journal
    with pytest.raises(ShortcutlabError, match="data file"):
        score(tiny_llava_dir, data, out)
    with pytest.raises(ShortcutlabError, match="max_length"):
        score(tiny_llava_dir, write_pairwise(data, 6), out, max_length=999)
    df = score(tiny_llava_dir, write_pairwise(data, 7), out, overwrite=True).table
    assert len(df) == 14
    write_pairwise(data, 5)  # a finished output with other inputs is refused too
    with pytest.raises(ShortcutlabError, match="already exists"):
        score(tiny_llava_dir, data, out)


def test_changed_model_refused(tiny_llava_dir, tmp_path):
    import shutil

    from safetensors.torch import load_file, save_file

    model_dir = tmp_path / "model"
    shutil.copytree(tiny_llava_dir, model_dir)
    data = write_pairwise(tmp_path / "d.jsonl", 4)
    out = tmp_path / "s.jsonl"
    score(model_dir, data, out)
    weights = load_file(model_dir / "model.safetensors")
    name = next(iter(weights))
    weights[name] = weights[name] + 1.0
    save_file(weights, model_dir / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(ShortcutlabError, match="model weights"):
        score(model_dir, data, out)


def test_fingerprint_ignores_paths_but_not_content(tmp_path):
    a = tmp_path / "a.jsonl"
    a.write_text("x\n")
    b = tmp_path / "b.jsonl"
    b.write_text("x\n")
    assert jr.data_fingerprint(a) == jr.data_fingerprint(b)
    b.write_text("y\n")
    assert jr.data_fingerprint(a) != jr.data_fingerprint(b)


def test_bad_options_raise_config_errors(tiny_llava_dir, pair_file, tmp_path):
    with pytest.raises(ConfigError):
        score(tiny_llava_dir, pair_file, text_only="nope")
    with pytest.raises(ConfigError):
        score(tiny_llava_dir, pair_file, batch_size=0)
    with pytest.raises(ConfigError, match="format"):
        score(tiny_llava_dir, pair_file, tmp_path / "s.csv")


def test_journal_commit_and_compaction(tmp_path):
    j = jr.Journal(tmp_path / "o.jsonl")
    j.commit(0, [{"id": "a", "response_index": 0}], ["a"])
    j.commit(3, [{"id": "b", "response_index": 0}, {"id": "b", "response_index": 1}], ["b"])
    with open(j.partial_path(3), "a") as fh:  # uncommitted row after the last commit
        fh.write(json.dumps({"id": "c", "response_index": 0}) + "\n")
    j.commit(1, [{"id": "a", "response_index": 0}], ["a"])  # a duplicate from another rank
    assert j.compact({"a", "b", "c"}) == 2
    assert [p.name for p in j.partial_files()] == ["o.jsonl.partial.r0.jsonl"]
    rows, ids, _ = j.collect()
    assert ids == {"a", "b"} and len(rows) == 3
