"""Probing while training (`train --probe-data`): rows, the final card, parity, no effect."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch
from scoring_helpers import tiny_train_config

from shortcutlab.run_folder import RunFolder
from shortcutlab.training import train
from shortcutlab.training.state import read_metrics

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("one_torch_thread")]

EDITS = ("pad", "hedge")  # the shape pairs' one-sentence answers: list/truncate change none


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    from shortcutlab.synth.shapes import make_shape_pairs

    root = tmp_path_factory.mktemp("shapes")
    return {
        "train": str(make_shape_pairs(12, 0, root / "train")),
        "probe": str(make_shape_pairs(6, 1, root / "probe")),
    }


def _probe_rows(out) -> list[dict]:
    return [r for r in read_metrics(RunFolder(out).metrics) if r.get("split") == "probe"]


@pytest.fixture(scope="module")
def probed(tiny_llava_dir, shapes, tmp_path_factory):
    """A 3-step standard run probed every 2 steps (and before training, and at the end)."""
    out = tmp_path_factory.mktemp("probed") / "run"
    cfg = tiny_train_config(
        tiny_llava_dir, shapes["train"], out, max_steps=3, probe_data=shapes["probe"],
        probe_every=2, probe_records=5,
    )  # fmt: skip
    train(cfg)
    return out


def test_rows_at_start_every_n_and_end(probed) -> None:
    rows = _probe_rows(probed)
    assert [r["step"] for r in rows] == [0, 2, 3]
    for row in rows:
        assert 0 <= row["probe_swap_flip_rate"] <= 1 and row["probe_reward_sd"] > 0
        for edit in EDITS:
            assert f"probe_{edit}_mean_change_sd" in row and f"probe_{edit}_win_rate" in row
    assert rows[0] != rows[-1]  # the model changed between the probes (lr 1e-3)


def test_final_card_equals_probe_run_on_the_exported_model(probed, cli, tmp_path) -> None:
    """The last step's tables are the ones `probe run` scores on model/ (same battery)."""
    folder = RunFolder(probed).probe
    card = json.loads((folder / "card.json").read_text())
    assert {"swap", *EDITS} <= set(card["tests"]) <= {"swap", *EDITS, "list", "truncate"}
    rerun = card["reproduce"][0].split()[1:]  # "shortcutlab probe run ..." -> argv
    rerun[rerun.index("-o") + 1] = str(tmp_path / "rerun")
    cli(*rerun)
    for test in ("original", *card["tests"]):
        ours = pd.read_json(folder / "scores" / f"{test}.jsonl", lines=True)
        theirs = pd.read_json(tmp_path / "rerun" / "scores" / f"{test}.jsonl", lines=True)
        both = ours.merge(theirs, on=["id", "response_index"], suffixes=("", "_run"))
        assert len(both) == len(ours) == len(theirs), test
        assert (both["reward"] - both["reward_run"]).abs().max() < 1e-5, test
    last = _probe_rows(probed)[-1]
    assert last["probe_swap_flip_rate"] == card["tests"]["swap"]["metrics"]["flip_rate"]["value"]


def test_probing_does_not_change_training(tiny_llava_dir, shapes, probed, tmp_path) -> None:
    cfg = tiny_train_config(tiny_llava_dir, shapes["train"], tmp_path / "plain", max_steps=3)
    train(cfg)
    from safetensors.torch import load_file

    def weights(run):
        files = sorted(RunFolder(run).model.glob("*.safetensors"))
        return {k: v for f in files for k, v in load_file(f).items()}

    a, b = weights(probed), weights(tmp_path / "plain")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_text_only_image_reliance_is_exactly_zero(tiny_llava_dir, shapes, tmp_path) -> None:
    out = tmp_path / "text"
    cfg = tiny_train_config(
        tiny_llava_dir, shapes["train"], out, mode="text-only", max_steps=1,
        probe_data=shapes["probe"], probe_records=5,
    )  # fmt: skip
    train(cfg)
    rows = _probe_rows(out)
    assert [r["step"] for r in rows] == [0, 1]
    for row in rows:
        assert row["probe_swap_flip_rate"] == 0.0
        assert row["probe_swap_mean_abs_change_sd"] == 0.0


def test_user_edits_join_the_battery(tiny_llava_dir, shapes, tmp_path) -> None:
    edits = tmp_path / "edits.jsonl"
    edits.write_text(
        json.dumps({"name": "stock", "op": "suffix", "text": "Great question!"}) + "\n"
    )
    out = tmp_path / "run"
    cfg = tiny_train_config(
        tiny_llava_dir, shapes["train"], out, max_steps=1, probe_data=shapes["probe"],
        probe_records=4, probe_edits=str(edits),
    )  # fmt: skip
    train(cfg)
    assert "probe_stock_mean_change_sd" in _probe_rows(out)[-1]
    assert not (RunFolder(out).probe / "blank.jsonl").exists()  # swap + edits only


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--probe-every", "5"], "settings of probe_data"),
        (["--probe-data", "{probe}", "--probe-records", "1"], "probe_records must be >= 2"),
        (["--probe-data", "{missing}"], "missing.jsonl"),
        (["--probe-data", "{probe}", "--probe-edits", "{bad}"], "bad_edits.jsonl"),
    ],
)
def test_bad_probe_flags(cli, tiny_llava_dir, shapes, tmp_path, flags, message) -> None:
    bad = tmp_path / "bad_edits.jsonl"  # an entry with no text: named by file and line
    bad.write_text(json.dumps({"name": "x", "op": "suffix"}) + "\n")
    subs = {"{probe}": shapes["probe"], "{missing}": str(tmp_path / "missing.jsonl")}
    subs["{bad}"] = str(bad)
    flags = [subs.get(f, f) for f in flags]
    argv = ["train", "--model", str(tiny_llava_dir), "--data", shapes["train"]]
    r = cli(*argv, "--output", str(tmp_path / "run"), "--max-steps", "1", *flags, code=2)
    assert message in r.stderr
    assert not RunFolder(tmp_path / "run").model.exists()


@pytest.mark.slow  # real photos through the tiny LLaVA's processor (~15 s on 2 cores)
def test_probe_while_training_on_real_data(realdata, tiny_llava_dir, tmp_path, cli) -> None:
    """LLaVA-Bench pairs (real images, one file of them .webp named .jpg): rows and a card."""
    pairs = str(realdata / "llava-bench-in-the-wild" / "pairs_from_gpt4_reviews.jsonl")
    out = tmp_path / "run"
    argv = ["train", "--model", str(tiny_llava_dir), "--data", pairs, "--output", str(out)]
    argv += ["--max-steps", "1", "--per-device-train-batch-size", "2", "--max-length", "384"]
    cli(*argv, "--probe-data", pairs, "--probe-records", "4", "--no-progress")
    rows = _probe_rows(out)
    assert [r["step"] for r in rows] == [0, 1]
    card = json.loads((RunFolder(out).probe / "card.json").read_text())
    assert card["records"] == 4 and "swap" in card["tests"]
    assert "--max-length 384" in card["reproduce"][0]  # the rerun scores the same rows
