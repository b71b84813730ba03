"""The shortcut benchmark (shortcutlab.synth): environments, rates, loading, ground truth."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from shortcutlab.data.schemas import load_dataset_file
from shortcutlab.synth import environments as E
from shortcutlab.synth import templates as T
from shortcutlab.synth.benchmark import RATES, SIZES, SPLITS, build_benchmark, read_spec

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    return build_benchmark(tmp_path_factory.mktemp("bench"), seed=3, size="tiny")


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", text.lower()))


def test_every_split_is_written_with_the_spec_sizes(bench):
    sizes = SIZES["tiny"]
    for env in ("vlf", "povid", "rlhfv"):
        for split in SPLITS:
            rows = _rows(bench.files[env][split])
            assert len(rows) == getattr(sizes, "train" if split == "train" else split)
            assert {r["env"] for r in rows} == {env}
    assert len(_rows(bench.files["pretrain"]["train"])) == sizes.pretrain
    assert len(_rows(bench.files["pretrain"]["test"])) == sizes.pretrain_test


def test_shortcut_rates_match_the_spec_exactly(bench):
    for env in ("vlf", "povid", "rlhfv"):
        for split in SPLITS:
            rows = _rows(bench.files[env][split])
            agree = sum(r["shortcut_agrees"] for r in rows)
            assert agree == round(RATES[split] * len(rows)), (env, split)
            assert bench.stats[env][split]["shortcut_agree_pairs"] == agree * (
                4 if env == "vlf" else 1
            )


def test_shortcut_agrees_is_what_the_texts_show(bench):
    """Read the cue from the texts alone: it must point to chosen iff shortcut_agrees."""
    for env in ("vlf", "povid", "rlhfv"):
        for split in SPLITS:
            for row in _rows(bench.files[env][split]):
                for chosen, rejected in E.pair_texts(row):
                    assert E.cue_says_chosen(env, chosen, rejected) == row["shortcut_agrees"]
                    # the reversed cue reading must point to rejected instead
                    assert E.cue_says_chosen(env, rejected, chosen) != row["shortcut_agrees"]


def test_the_image_decides_the_preference(bench):
    """Chosen names the easy-vqa answer; rejected names another answer of the same type."""
    for env in ("vlf", "povid", "rlhfv", "pretrain"):
        for split in bench.files[env]:
            for row in _rows(bench.files[env][split]):
                pool = T.COLORS if row["question_type"] == "color" else T.SHAPES
                for chosen, rejected in E.pair_texts(row):
                    assert row["answer"] in _words(chosen)
                    assert row["answer"] not in _words(rejected)
                    assert len(_words(rejected) & set(pool)) == 1


def test_pretrain_pairs_differ_only_in_the_answer_word(bench):
    answers = {*T.COLORS, *T.SHAPES}
    for row in _rows(bench.files["pretrain"]["train"]):
        ch = re.findall(r"[a-z']+", row["chosen"].lower())
        rj = re.findall(r"[a-z']+", row["rejected"].lower())
        assert len(ch) == len(rj)
        diff = {(a, b) for a, b in zip(ch, rj, strict=True) if a != b}
        assert diff and all(a in answers and b in answers for a, b in diff)


def test_files_load_through_the_data_layer(bench):
    for env, schema in (("vlf", "vlfeedback"), ("povid", "pairwise"), ("rlhfv", "pairwise")):
        for split in SPLITS:
            res = load_dataset_file(bench.files[env][split], check_images=True)
            assert res.schema == schema
            rows = {r["id"]: r for r in _rows(bench.files[env][split])}
            if env == "vlf":
                assert res.n_pairs == 4 * len(res.records)
                for rec in res.records:  # every pair puts a correct response above a wrong one
                    correct = rows[rec.id]["correct"]
                    assert all(correct[b] and not correct[w] for b, w in rec.pairs)
            else:
                assert res.n_pairs == len(res.records)
            assert all(Path(r.image.path).is_file() for r in res.records)
    res = load_dataset_file(bench.files["pretrain"]["train"], check_images=True)
    assert res.schema == "pairwise"


def test_images_are_disjoint_between_pools(bench):
    pools = {}
    for env, files in bench.files.items():
        for split, path in files.items():
            pools[f"{env}/{split}"] = {r["img_path"] for r in _rows(path)}
    names = sorted(pools)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert not pools[a] & pools[b], (a, b)
    assert all(p.startswith("../images/train/") for p in pools["pretrain/train"])
    assert all(p.startswith("../images/test/") for p in pools["vlf/test"])


def test_spec_json_records_the_definition(bench):
    spec = read_spec(bench.out_dir)
    assert spec["seed"] == 3 and spec["size"] == "tiny"
    assert spec["rates"] == RATES
    assert spec["templates"]["hedges"] == list(T.HEDGES)
    assert spec["stats"]["povid"]["train"]["chosen_longer_share_chars"] == pytest.approx(0.1)
    assert spec["files"]["vlf"]["train"] == "vlf/train.jsonl"


def test_reproducible_for_a_seed(bench, tmp_path):
    again = build_benchmark(tmp_path / "a", seed=3, size="tiny")
    other = build_benchmark(tmp_path / "b", seed=4, size="tiny")
    for env, files in bench.files.items():
        for split, path in files.items():
            assert path.read_bytes() == again.files[env][split].read_bytes()
    assert bench.files["vlf"]["train"].read_bytes() != other.files["vlf"]["train"].read_bytes()


def test_unknown_size_is_a_config_error(tmp_path):
    from shortcutlab.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown benchmark size"):
        build_benchmark(tmp_path, size="huge")


def test_cli_synth(tmp_path, capsys):
    from shortcutlab.cli.main import main

    main(["synth", "--out", str(tmp_path / "b"), "--size", "tiny", "--seed", "1"])
    assert (tmp_path / "b" / "spec.json").is_file()
    with pytest.raises(SystemExit) as exc:
        main(["synth", "--out", str(tmp_path / "c"), "--size", "huge"])
    assert exc.value.code == 2
    assert "unknown benchmark size" in capsys.readouterr().err
