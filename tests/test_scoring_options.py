"""Scoring fixes: --image-root, --trust-remote-code and the text-only mode saved with a model.

Run: python -m pytest -x -q tests/test_scoring_options.py
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
from scoring_helpers import write_pairwise

from shortcutlab.errors import ConfigError, DataError
from shortcutlab.scoring import score
from shortcutlab.scoring.engine import load_model, resolve_text_only, saved_text_only

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("one_torch_thread")]


@pytest.fixture(scope="module")
def pair_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_pairwise(tmp_path_factory.mktemp("pairs") / "pairs.jsonl", 8)


@pytest.fixture(scope="module")
def text_only_run(tiny_llava_dir, pair_file, tmp_path_factory) -> Path:
    """`train --mode text-only` on the tiny LLaVA for 2 steps; returns the model folder."""
    from shortcutlab.config import TrainConfig
    from shortcutlab.training import train

    out = tmp_path_factory.mktemp("text_only_run")
    cfg = TrainConfig(
        model=str(tiny_llava_dir),
        data=str(pair_file),
        output_dir=str(out),
        mode="text-only",
        max_steps=2,
        per_device_train_batch_size=4,
        learning_rate=1e-3,
        progress=False,
        tensorboard=False,
        warmup_ratio=0.0,
    )
    summary = train(cfg)
    return Path(summary["model_dir"])


# ----------------------------------------------------------------------- text-only mode


def test_train_text_only_saves_the_mode(text_only_run):
    meta = json.loads((text_only_run / "shortcutlab_reward.json").read_text())
    assert meta["text_only"] == "drop"
    assert saved_text_only(text_only_run) == "drop"
    assert saved_text_only(str(text_only_run)) == "drop"


def test_text_only_model_is_scored_text_only_by_default(text_only_run, pair_file, tmp_path):
    """No option: the saved mode ('drop') is used; equal to an explicit 'drop', and
    different from forcing the image in with 'none' (4 of 8 records have images)."""
    auto = score(text_only_run, pair_file, tmp_path / "auto.jsonl", max_length=512)
    drop = score(text_only_run, pair_file, tmp_path / "drop.jsonl", text_only="drop")
    image = score(text_only_run, pair_file, text_only="none", max_length=512)
    np.testing.assert_allclose(auto.table["reward"], drop.table["reward"], rtol=0, atol=1e-6)
    has_image = ~auto.table["id"].isin(["p004"])  # p004 has no image: same either way
    a, i = auto.table["reward"][has_image], image.table["reward"][has_image]
    assert not np.allclose(a, i, atol=1e-4)
    assert auto.text_only == "drop"
    assert auto.text_only_source == "model"
    assert drop.text_only_source == "option"
    assert image.text_only is None
    written = json.loads((tmp_path / "auto.summary.json").read_text())
    assert written["text_only"] == "drop" and written["fingerprint"]["text_only"] == "drop"


def test_cli_scores_text_only_model_like_explicit_drop(text_only_run, pair_file, tmp_path, cli):
    """End to end through `shortcutlab score`: no --text-only == --text-only drop."""
    base = ["--model", str(text_only_run), "--data", str(pair_file), "--max-length", "512"]
    out = cli("score", *base, "--output", tmp_path / "a.jsonl").stdout
    assert "drop (saved with the model)" in out
    out = cli(
        "score", *[*base, "--output", str(tmp_path / "b.jsonl"), "--text-only", "drop"]
    ).stdout
    assert "drop (--text-only)" in out
    a = [json.loads(x)["reward"] for x in (tmp_path / "a.jsonl").read_text().splitlines()]
    b = [json.loads(x)["reward"] for x in (tmp_path / "b.jsonl").read_text().splitlines()]
    assert len(a) == 16 and a == pytest.approx(b, abs=1e-6)


def test_image_model_default_stays_with_image(tiny_llava_dir, pair_file):
    assert saved_text_only(tiny_llava_dir) is None  # a base VLM folder: with image
    assert resolve_text_only(tiny_llava_dir, None) == (None, "model")
    assert resolve_text_only(tiny_llava_dir, "blank") == ("blank", "option")
    assert resolve_text_only(tiny_llava_dir, "none") == (None, "option")
    with pytest.raises(ConfigError, match="'none'"):
        resolve_text_only(tiny_llava_dir, "image")


# ---------------------------------------------------------------------------- --image-root


def test_image_root_resolves_relative_image_paths(tiny_llava_dir, pair_file, tmp_path, cli):
    """A data file moved away from its images: an error naming the field, unless
    --image-root points at the images' folder; then the rewards are the same."""
    moved = tmp_path / "elsewhere" / "pairs.jsonl"
    moved.parent.mkdir()
    shutil.copy(pair_file, moved)
    with pytest.raises(DataError, match="img_path"):
        score(tiny_llava_dir, moved, max_length=512)
    ref = score(tiny_llava_dir, pair_file, max_length=512).table
    df = score(tiny_llava_dir, moved, max_length=512, image_root=pair_file.parent).table
    assert df["reward"].tolist() == pytest.approx(ref["reward"].tolist(), abs=1e-6)
    out = tmp_path / "s.jsonl"
    argv = ["--model", str(tiny_llava_dir), "--data", str(moved), "--output", str(out)]
    cli("score", *argv, "--max-length", "512", "--image-root", pair_file.parent)
    rewards = [json.loads(x)["reward"] for x in out.read_text().splitlines()]
    assert rewards == pytest.approx(ref["reward"].tolist(), abs=1e-6)
    summary = json.loads((tmp_path / "s.summary.json").read_text())
    assert summary["fingerprint"]["image_root"] == str(pair_file.parent.resolve())


# ---------------------------------------------------------------------- --trust-remote-code


def test_trust_remote_code_reaches_model_loading(tiny_llava_dir, pair_file, tmp_path, cli):
    """A folder whose config maps AutoModel to its own code (modeling_x.XModel): without
    the flag it loads the native class with a warning; with it, the folder's class."""
    folder = tmp_path / "remote"
    shutil.copytree(tiny_llava_dir, folder)
    cfg = json.loads((folder / "config.json").read_text())
    cfg["auto_map"] = {"AutoModel": "modeling_x.XModel"}
    (folder / "config.json").write_text(json.dumps(cfg))
    code = "from transformers import LlavaModel\n\n\nclass XModel(LlavaModel):\n    pass\n"
    (folder / "modeling_x.py").write_text(code)
    with pytest.warns(UserWarning, match="trust_remote_code"):
        native, _, _ = load_model(folder, "cpu", False)
    assert type(native.backbone).__name__ == "LlavaModel"
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        custom, _, _ = load_model(folder, "cpu", False, trust_remote_code=True)
        assert type(custom.backbone).__name__ == "XModel"
        argv = ["--model", str(folder), "--data", str(pair_file), "--max-length", "512"]
        cli("score", *argv, "--output", tmp_path / "s.jsonl", "--trust-remote-code")
    assert len((tmp_path / "s.jsonl").read_text().splitlines()) == 16
