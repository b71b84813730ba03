"""probe report: the numbers from a hand-written score table (the third-party path), the
card files, and tables that miss a variant."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from shortcutlab.errors import DataError
from shortcutlab.probe import MakeOptions, ReportOptions, make_battery, write_report

pytestmark = pytest.mark.unit

# Hand-made rewards (chosen = response 0). Originals: r0 right, r1 right, r2 wrong.
ORIGINAL = {"r0": [2.0, 0.0], "r1": [1.0, 0.0], "r2": [0.0, 1.0]}
SWAP = {"r0": [2.0, 0.0], "r1": [0.0, 1.0], "r2": [0.0, 1.0]}  # r1 flips
PAD = {"r0": [3.0, 1.0], "r1": [2.0, 1.0], "r2": [1.0, 2.0]}  # every response +1
SD = float(np.std(sum(ORIGINAL.values(), []), ddof=1))  # 0.8165


@pytest.fixture
def battery(tmp_path: Path):
    rows = []
    for i in range(3):
        Image.new("RGB", (8, 8), (80 * i, 0, 0)).save(tmp_path / f"i{i}.png")
        rows.append(
            {"id": f"r{i}", "prompt": "Which colour?", "img_path": f"i{i}.png",
             "chosen": "It is red. Quite red.", "rejected": "It is blue."}
        )  # fmt: skip
    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return make_battery(data, tmp_path / "bat", MakeOptions(seed=0))


def hand_table(path: Path, skip: str | None = None) -> Path:
    """A score table as another system would write it: id, response_index, reward only."""
    tables = {"": ORIGINAL, "swap": SWAP, "blank": ORIGINAL, "drop": ORIGINAL, "pad": PAD}
    truncate = {"r0": [2.0], "r1": [1.0], "r2": [0.0]}  # only the chosen has 2 sentences
    tables |= {"hedge": ORIGINAL, "list": ORIGINAL, "truncate": truncate}
    lines = []
    for variant, rewards in tables.items():
        if variant == skip:
            continue
        for rid, rs in rewards.items():
            vid = f"{rid}::{variant}" if variant else rid
            for j, r in enumerate(rs):
                lines.append(json.dumps({"id": vid, "response_index": j, "reward": r}))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_numbers_from_a_hand_written_table(battery, tmp_path: Path) -> None:
    table = hand_table(tmp_path / "scores.jsonl")
    card = write_report(battery, [table], tmp_path / "card", ReportOptions(n_boot=200))
    assert card["reward_sd_original"] == pytest.approx(SD, abs=1e-6)
    swap = card["tests"]["swap"]["metrics"]
    assert swap["flip_rate"]["value"] == pytest.approx(1 / 3)
    assert swap["mean_abs_change_sd"]["value"] == pytest.approx((2 / 6) / SD, abs=1e-5)
    assert swap["accuracy_original"]["value"] == pytest.approx(2 / 3)
    assert swap["blind_gap"]["value"] == pytest.approx(1 / 3)
    lo, hi = swap["flip_rate"]["ci_low"], swap["flip_rate"]["ci_high"]
    assert 0 <= lo <= 1 / 3 <= hi <= 1
    blank = card["tests"]["blank"]["metrics"]
    assert blank["flip_rate"]["value"] == 0 and blank["mean_abs_change_sd"]["value"] == 0
    pad = card["tests"]["pad"]["metrics"]
    assert pad["mean_change_sd"]["value"] == pytest.approx(1 / SD, abs=1e-5)
    assert pad["win_rate"]["value"] == 1.0
    # editing one response at a time: r1's rejected and r2's chosen now tie: 2 of 6 flip
    assert pad["flip_rate"]["value"] == pytest.approx(1 / 3)
    trunc = card["tests"]["truncate"]
    assert trunc["records"] == 3 and trunc["metrics"]["mean_change_sd"]["value"] == 0
    for name in ("card.json", "card.md", "probe.csv", "probe.png", "probe.svg"):
        assert (tmp_path / "card" / name).is_file(), name
    md = (tmp_path / "card" / "card.md").read_text()
    assert "| swap |" in md and "33.3 [" in md and "Reproduce:" in md


def test_a_table_missing_a_variant_names_it(battery, tmp_path: Path) -> None:
    table = hand_table(tmp_path / "scores.jsonl", skip="hedge")
    with pytest.raises(DataError, match="miss variant 'hedge'") as err:
        write_report(battery, [table], tmp_path / "card", ReportOptions(n_boot=10))
    assert err.value.file.endswith("hedge.jsonl")
    assert not (tmp_path / "card" / "card.json").exists()


def test_the_same_response_in_two_tables_is_an_error(battery, tmp_path: Path) -> None:
    a = hand_table(tmp_path / "a.jsonl")
    b = hand_table(tmp_path / "b.jsonl")
    with pytest.raises(DataError, match="more than one table"):
        write_report(battery, [a, b], tmp_path / "card", ReportOptions(n_boot=10))


def test_constant_rewards_give_nan_changes_not_a_crash(battery, tmp_path: Path) -> None:
    lines = []
    for path in sorted(battery.folder.glob("*.jsonl")):
        for row in map(json.loads, path.read_text().splitlines()):
            n = 2 if "chosen" in row else 1
            lines += [json.dumps({"id": row["id"], "response_index": j, "reward": 0.5})
                      for j in range(n)]  # fmt: skip
    table = tmp_path / "flat.jsonl"
    table.write_text("\n".join(lines) + "\n")
    card = write_report(battery, [table], tmp_path / "card", ReportOptions(n_boot=10))
    assert card["reward_sd_original"] == 0
    assert card["tests"]["pad"]["metrics"]["mean_change_sd"]["value"] is None
    assert card["tests"]["swap"]["metrics"]["flip_rate"]["value"] == 0
    assert not math.isnan(card["tests"]["swap"]["metrics"]["blind_gap"]["value"])


def test_scores_folder_skips_summaries(battery, tmp_path: Path) -> None:
    folder = tmp_path / "scored"
    folder.mkdir()
    hand_table(folder / "all.jsonl")
    (folder / "all.summary.json").write_text("{}\n")  # beside a `score` output: not a table
    card = write_report(battery, [folder], tmp_path / "card", ReportOptions(n_boot=10))
    assert card["scores"] == [str(folder / "all.jsonl")]
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no score table"):
        write_report(battery, [tmp_path / "empty"], tmp_path / "c2", ReportOptions())
