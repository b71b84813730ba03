"""Model cards and `shortcutlab export`: a Hub-format README.md beside every exported model.

Run: python -m pytest -x -q tests/test_modelcard.py
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from scoring_helpers import write_pairwise

from shortcutlab.config import TrainConfig
from shortcutlab.files import sha256_file
from shortcutlab.modelcard import model_card
from shortcutlab.provenance import write_run_info

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def run_dir(tiny_llava_dir, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run folder as `train` leaves it: model/, config.yaml, run_info.json, metrics.jsonl."""
    from shortcutlab.modeling.reward_model import RewardModel

    run = tmp_path_factory.mktemp("card") / "runs" / "sfc"
    data = write_pairwise(run.parent / "train.jsonl", 4)
    cfg = TrainConfig(mode="shortcut-aware", model=str(tiny_llava_dir), data=str(data))
    RewardModel.from_pretrained(str(tiny_llava_dir), seed=0).save_pretrained(run / "model")
    (run / "config.yaml").write_text(cfg.to_yaml(), encoding="utf-8")
    write_run_info(
        run, command=["shortcutlab", "train"], inputs={"data": data}, config=cfg.to_dict()
    )
    rows = [
        {"split": "train", "step": 1, "loss": 0.7},
        {"split": "eval", "step": 2, "eval_acc": 0.75},
    ]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return run


def _front_matter(text: str) -> dict:
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


def test_export_writes_a_hub_folder_with_card(cli, run_dir, tmp_path):
    sfd = tmp_path / "results.json"
    sfd.write_text(json.dumps({"sfd": {"value": 0.125, "n": 40}, "note": "text"}))
    dest = tmp_path / "hub" / "sfc-rm"
    probe = tmp_path / "card.md"
    probe.write_text("Image swapped: 31% of preferences flipped [24, 38].\n")
    r = cli("export", run_dir, "--to", dest, "--results", sfd, "--results", probe, "--json")
    assert r.json()["card"] == str(dest / "README.md")
    src = {p.name for p in (run_dir / "model").iterdir()} - {"README.md"}
    assert src <= {p.name for p in dest.iterdir()}
    card = (dest / "README.md").read_text()
    head = _front_matter(card)
    assert head["library_name"] == "shortcutlab" and "shortcut-aware" in head["tags"]
    assert "base_model" not in head  # a local path is no Hub id
    for section in (
        "## Base model",
        "## Mode and objective",
        "## Training data",
        "## Training configuration",
        "## Evaluation",
        "## How to load and score",
    ):
        assert section in card
    assert sha256_file(run_dir.parent / "train.jsonl") in card
    assert "## Shortcut card\n\nImage swapped: 31% of preferences flipped" in card
    assert "objective: `sfc`" in card and "eval_acc: 0.75" in card and "sfd.value: 0.125" in card
    from shortcutlab.modeling.reward_model import RewardModel

    assert RewardModel.from_pretrained(str(dest)).arch == "llava"  # loads as is
    r = cli("export", str(run_dir), "--to", str(dest), code=2)
    assert "--overwrite" in r.stderr


def test_card_without_run_folder_and_hub_base(run_dir):
    meta = json.loads((run_dir / "model" / "shortcutlab_reward.json").read_text())
    meta["base_model"] = "llava-hf/llava-1.5-7b-hf"
    model = run_dir.parent / "bare"
    model.mkdir(exist_ok=True)
    (model / "shortcutlab_reward.json").write_text(json.dumps(meta))
    card = model_card(model)
    assert _front_matter(card)["base_model"] == "llava-hf/llava-1.5-7b-hf"
    assert "Not recorded" in card and "No evaluation numbers" in card
