"""probe run on a tiny real model: the CLI end to end, parity of each pass with plain
scoring (blank / drop = the text-only modes; the shared-prefix text pass = scoring each
variant file alone), resume, and a text-only RM's image reliance of exactly 0."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from PIL import Image

from shortcutlab.probe import ReportOptions, run_probe
from shortcutlab.scoring import score

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("one_torch_thread")]

COLOURS = [(220, 20, 20), (20, 200, 20), (20, 20, 220), (200, 200, 20)]


@pytest.fixture
def data(tmp_path: Path) -> Path:
    rows = []
    for i, c in enumerate(COLOURS):
        Image.new("RGB", (32, 32), c).save(tmp_path / f"img{i}.png")
        rows.append(
            {"id": f"q{i}", "prompt": "What colour is the square?", "img_path": f"img{i}.png",
             "chosen": f"The square is colour {i}. It fills the image.",
             "rejected": "It is a dog."}
        )  # fmt: skip
    path = tmp_path / "data.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def rewards(table: Any) -> dict[tuple[str, int], float]:
    """(base id, response index) -> reward of a score-table file or a `score()` result."""
    df = pd.read_json(table, lines=True) if isinstance(table, Path) else table.table
    ids = [str(i).split("::")[0] for i in df["id"]]
    return dict(zip(zip(ids, df["response_index"], strict=True), df["reward"], strict=True))


@pytest.mark.slow  # ~10 s: 5 scoring passes, 3 plain ones to compare, a rerun
def test_probe_run_cli_matches_plain_scoring_and_resumes(cli, data, tiny_llava_dir, tmp_path):
    out = tmp_path / "probe"
    r = cli("probe", "run", data, "--model", tiny_llava_dir, "-o", out, "--n-boot", "50", "--json")
    card = r.json()
    assert set(card["tests"]) == {"swap", "blank", "drop", "pad", "hedge", "list", "truncate"}
    assert card["records"] == 4 and card["model"] == str(tiny_llava_dir)
    assert card["reproduce"][0].startswith("shortcutlab probe run ")
    scores = out / "scores"
    for mode in ("blank", "drop"):  # the battery's files are exactly the text-only modes
        plain = score(tiny_llava_dir, out / "original.jsonl", text_only=mode)
        got, want = rewards(scores / f"{mode}.jsonl"), rewards(plain)
        assert got.keys() == want.keys()
        assert all(abs(got[k] - want[k]) < 1e-4 for k in got), mode
    plain = score(tiny_llava_dir, out / "truncate.jsonl")  # one shared prefix = the file alone
    got, want = rewards(scores / "truncate.jsonl"), rewards(plain)
    assert got.keys() <= want.keys() and len(got) == 4  # only the changed responses
    assert all(abs(got[k] - want[k]) < 1e-4 for k in got)
    before = (scores / "merged" / "text.jsonl").stat().st_mtime_ns
    again = cli("probe", "run", data, "--model", tiny_llava_dir, "-o", out, "--n-boot", "50")
    assert (scores / "merged" / "text.jsonl").stat().st_mtime_ns == before  # complete: not rescored
    assert "probe: shortcut card" in again.stdout and (out / "card.md").is_file()


@pytest.mark.slow  # ~5 s
def test_text_only_rm_has_exactly_zero_image_reliance(data, tiny_llava_dir, tmp_path):
    from shortcutlab.modeling.reward_model import RewardModel

    model = RewardModel.from_pretrained(tiny_llava_dir)
    model.text_only = "drop"  # how `train --mode text-only` saves its model
    folder = model.save_pretrained(tmp_path / "text_rm")
    card = run_probe(folder, data, tmp_path / "p", report=ReportOptions(n_boot=20))
    for test in ("swap", "blank", "drop"):
        m = card["tests"][test]["metrics"]
        assert m["flip_rate"]["value"] == 0.0 and m["mean_abs_change_sd"]["value"] == 0.0
        assert m["blind_gap"]["value"] == 0.0
    assert card["tests"]["pad"]["metrics"]["mean_change_sd"]["value"] != 0.0


def test_report_cli_on_a_made_battery_and_missing_variant(cli, data, tmp_path):
    """`probe make` then `probe report` with a table that lacks the swap variant: exit 2."""
    bat = tmp_path / "bat"
    cli("probe", "make", data, "-o", bat, "--max-records", "3", "--seed", "1")
    rows = []
    for f in ("original", "blank", "drop", "pad", "hedge", "list", "truncate"):
        for line in (bat / f"{f}.jsonl").read_text().splitlines():
            rid = json.loads(line)["id"]
            rows += [{"id": rid, "response_index": j, "reward": 0.1 * j} for j in (0, 1)]
    table = tmp_path / "elsewhere.jsonl"
    table.write_text("".join(json.dumps(r) + "\n" for r in rows))
    r = cli("probe", "report", "--battery", bat, "--scores", table, "-o", tmp_path / "c", code=2)
    assert "miss variant 'swap'" in r.stderr + r.stdout and "swap.jsonl" in r.stderr + r.stdout
    assert not (tmp_path / "c" / "card.json").exists()
