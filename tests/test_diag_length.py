"""Length bias and the seeded length-balanced subset (Section 3.5.1, Figure 5)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from shortcutlab.data.schemas import load_dataset_file
from shortcutlab.diagnostics.length import length_balance, write_balanced

pytestmark = pytest.mark.integration


def _data(tmp_path, n=40):
    """Pairs r0..: chosen longer in r0..r29 (30), rejected longer in r30..r37, equal r38, r39."""
    rows = []
    for i in range(n):
        if i < 30:
            c, r = "a b c d", "a b"
        elif i < 38:
            c, r = "a", "a b c"
        else:
            c, r = "x y", "z w"
        rows.append({"id": f"r{i}", "prompt": "q", "img_path": None, "chosen": c, "rejected": r})
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _scores(n=40):
    # a "length shortcut" RM: reward = number of words of the answer
    rows = []
    for i in range(n):
        c, r = (4, 2) if i < 30 else ((1, 3) if i < 38 else (2, 2))
        rows += [
            {"id": f"r{i}", "response_index": 0, "reward": float(c), "label": "chosen"},
            {"id": f"r{i}", "response_index": 1, "reward": float(r), "label": "rejected"},
        ]
    return pd.DataFrame(rows)


def test_stats_and_exactly_balanced_subset(tmp_path):
    rep = length_balance(_data(tmp_path), scores={"len": _scores()}, seed=3, n_boot=100)
    s = rep.stats.to_dict()
    assert (s["chosen_longer"], s["rejected_longer"], s["equal"]) == (30, 8, 2)
    assert s["share_chosen_longer"] == pytest.approx(0.75) and s["unit"] == "words"
    counts = rep.balanced["longer"].value_counts().to_dict()
    assert counts == {"chosen": 8, "rejected": 8}
    acc = rep.accuracies.set_index("pair_set")["accuracy"]
    assert acc["full"] == pytest.approx(30 / 40)  # ties on equal-length pairs count wrong
    assert acc["balanced"] == pytest.approx(0.5)  # the length shortcut is at chance


def test_balanced_subset_seeded_and_reproducible(tmp_path):
    path = _data(tmp_path)
    a = length_balance(path, seed=1, n_boot=10).balanced["id"].tolist()
    b = length_balance(path, seed=1, n_boot=10).balanced["id"].tolist()
    c = length_balance(path, seed=2, n_boot=10).balanced["id"].tolist()
    assert a == b and a != c


def test_tolerance_and_units_and_written_file(tmp_path):
    path = _data(tmp_path)
    rep = length_balance(path, unit="chars", tolerance=2, n_boot=10)
    # chars: "a b c d"(7) vs "a b"(3) -> +4; "a"(1) vs "a b c"(5) -> -4; equal pairs 0
    assert (rep.stats.chosen_longer, rep.stats.rejected_longer, rep.stats.equal) == (30, 8, 2)
    rep = length_balance(path, unit="chars", tolerance=4, n_boot=10)
    assert rep.stats.equal == 40 and rep.balanced.empty
    rep = length_balance(path, seed=0, n_boot=10)
    written = write_balanced(rep, path, tmp_path / "out")
    recs = load_dataset_file(written["data"]).records
    assert sorted(r.id for r in recs) == sorted(rep.balanced["id"])


@pytest.mark.slow
def test_token_unit_names_the_tokenizer(tmp_path, tiny_llava_dir):
    rep = length_balance(_data(tmp_path), unit="tokens", tokenizer=str(tiny_llava_dir), n_boot=5)
    assert rep.stats.unit == f"tokens ({tiny_llava_dir})"
    assert rep.stats.n_pairs == 40 and rep.stats.equal >= 2  # "x y" vs "z w"


def test_bad_unit_is_a_config_error(tmp_path):
    from shortcutlab.errors import ConfigError

    with pytest.raises(ConfigError):
        length_balance(_data(tmp_path), unit="bytes")
    with pytest.raises(ConfigError, match="tokenizer"):
        length_balance(_data(tmp_path), unit="tokens")
