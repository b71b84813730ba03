"""probe make: text edits, the seeded image derangement, the battery files and bad input."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from PIL import Image

from shortcutlab.data.io import iter_rows
from shortcutlab.data.schemas import load_dataset_file
from shortcutlab.errors import ConfigError, DataError
from shortcutlab.probe import MakeOptions, load_edits, make_battery, read_battery
from shortcutlab.probe.edits import bullet_list, hedge, pad, sentences, truncate
from shortcutlab.probe.make import _derangement

pytestmark = pytest.mark.unit

COLOURS = [(200, 0, 0), (0, 200, 0), (0, 0, 200), (200, 200, 0), (0, 200, 200)]


def write_data(
    folder: Path, n: int = 5, *, images: bool = True, group: bool = False, shared: bool = False
) -> Path:
    """A pairwise JSONL file of n records (each its own PNG unless `shared`)."""
    rows = []
    for i in range(n):
        row = {"id": f"r{i}", "prompt": f"What colour is shape {i}?"}
        row |= {"chosen": f"It is red. The shape is round {i}.", "rejected": f"It is blue {i}."}
        if images:
            name = "img0.png" if shared else f"img{i}.png"
            Image.new("RGB", (16, 16), COLOURS[0 if shared else i % 5]).save(folder / name)
            row["img_path"] = name
        if group:
            row["category"] = "a" if i < n - 1 else "b"
        rows.append(row)
    path = folder / "data.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_builtin_edits_change_text_as_documented() -> None:
    assert sentences("One. Two!  Three?") == ["One.", "Two!", "Three?"]
    assert pad("Red.").startswith("Red. ") and len(pad("Red.")) > 20
    assert hedge("The shape is red.") == "It seems that the shape is red."
    assert hedge("I see a red shape.") == "It seems that I see a red shape."
    assert bullet_list("One. Two.") == "- One.\n- Two."
    assert truncate("One. Two. Three.") == "One. Two."
    assert truncate("Only one.") == "Only one."  # nothing to remove: unchanged, counted


def test_derangement_never_keeps_an_image() -> None:
    for seed in range(20):
        n = 2 + seed
        keys = [f"k{i % max(2, n // 2)}" for i in range(n)]  # repeated images
        out = _derangement(keys, random.Random(seed))
        for i, j in enumerate(out):
            assert j is None or (j != i and keys[j] != keys[i])
        assert sum(j is None for j in out) <= 1  # repairs leave at most a lone record


def test_battery_files_load_and_name_base_and_variant(tmp_path: Path) -> None:
    data = write_data(tmp_path)
    bat = make_battery(data, tmp_path / "bat", MakeOptions(seed=3))
    assert set(bat.tests) == {"swap", "blank", "drop", "pad", "hedge", "list", "truncate"}
    orig = {r.id: r for r in load_dataset_file(bat.original).records}
    swap = load_dataset_file(bat.file("swap")).records
    assert len(swap) == 5
    for rec in swap:
        base = orig[rec.id.split("::")[0]]
        assert rec.id == f"{base.id}::swap" and rec.responses == base.responses
        assert rec.image.path != base.image.path and rec.pairs == base.pairs
    assert all(r.image is None for r in load_dataset_file(bat.file("drop")).records)
    blank = load_dataset_file(bat.file("blank"), check_images=True).records[0]
    assert Image.open(blank.image.path).size == (224, 224)
    rows = [row for _, row in iter_rows(bat.file("truncate"))]
    assert all(row["variant"] == "truncate" and row["edited"] == [0] for row in rows)
    assert bat.manifest["tests"]["truncate"]["responses_unchanged"] == 5


def test_make_is_deterministic_and_samples(tmp_path: Path) -> None:
    data = write_data(tmp_path)
    a = make_battery(data, tmp_path / "a", MakeOptions(seed=1, max_records=3))
    b = make_battery(data, tmp_path / "b", MakeOptions(seed=1, max_records=3))
    assert a.manifest["records"] == 3
    for name in ("original", *a.tests):
        fa = a.original if name == "original" else a.file(name)
        fb = b.original if name == "original" else b.file(name)
        assert fa.read_text().replace("/a/", "/b/") == fb.read_text().replace("/a/", "/b/")


def test_group_by_keeps_swaps_in_group_and_counts_lone_records(tmp_path: Path) -> None:
    data = write_data(tmp_path, group=True)
    bat = make_battery(data, tmp_path / "bat", MakeOptions(group_by="category"))
    swap = load_dataset_file(bat.file("swap")).records
    assert len(swap) == 4  # r4 is alone in group b
    assert all(int(Path(r.image.path).stem[3:]) < 4 for r in swap)
    assert bat.manifest["tests"]["swap"]["skipped"] == {"alone_in_group": 1}
    assert any("alone in their --group-by group" in n for n in bat.notes())


def test_one_record_and_shared_images_cannot_swap(tmp_path: Path) -> None:
    one = make_battery(write_data(tmp_path, n=1), tmp_path / "one")
    assert "swap" not in one.tests and one.manifest["tests"]["swap"]["file"] is None
    assert any("swap: no record could be built" in n for n in one.notes())
    assert "pad" in one.tests  # text tests still run
    (tmp_path / "s").mkdir()
    same = make_battery(write_data(tmp_path / "s", shared=True), tmp_path / "same")
    assert same.manifest["tests"]["swap"]["skipped"] == {"no_other_image": 5}


def test_records_without_images_run_text_tests_only(tmp_path: Path) -> None:
    bat = make_battery(write_data(tmp_path, images=False), tmp_path / "bat")
    assert set(bat.tests) == {"pad", "hedge", "list", "truncate"}
    for test in ("swap", "blank", "drop"):
        assert bat.manifest["tests"][test]["skipped"] == {"no_image": 5}


def test_user_edits_file(tmp_path: Path) -> None:
    edits = tmp_path / "edits.jsonl"
    edits.write_text(
        '{"name": "thanks", "op": "suffix", "text": "Hope this helps!"}\n'
        '{"name": "red2", "op": "replace", "find": "red", "text": "crimson"}\n'
    )
    bat = make_battery(write_data(tmp_path), tmp_path / "bat", MakeOptions(edits_file=edits))
    rec = load_dataset_file(bat.file("red2")).records[0]
    assert rec.responses[0].startswith("It is crimson.")
    assert bat.manifest["tests"]["red2"]["responses_changed"] == 5  # rejected has no 'red'


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ('{"name": "pad", "op": "suffix", "text": "x"}', "name"),
        ('{"name": "a b", "op": "suffix", "text": "x"}', "name"),
        ('{"name": "x", "op": "append", "text": "x"}', "op"),
        ('{"name": "x", "op": "prefix", "text": ""}', "text"),
        ('{"name": "x", "op": "replace", "text": "y"}', "find"),
    ],
)
def test_bad_edit_entry_names_file_line_and_field(tmp_path: Path, line: str, field: str) -> None:
    edits = tmp_path / "edits.jsonl"
    edits.write_text('{"name": "ok", "op": "prefix", "text": "Well,"}\n' + line + "\n")
    with pytest.raises(DataError) as err:
        load_edits(edits)
    assert err.value.line == 2 and err.value.field == field and "edits.jsonl" in str(err.value)


def test_edit_changing_nothing_is_an_error_and_writes_nothing(tmp_path: Path) -> None:
    edits = tmp_path / "edits.jsonl"
    edits.write_text('{"name": "gone", "op": "replace", "find": "zebra", "text": "x"}\n')
    out = tmp_path / "bat"
    with pytest.raises(DataError, match="edit 'gone' changes no response") as err:
        make_battery(write_data(tmp_path), out, MakeOptions(edits_file=edits))
    assert err.value.line == 1 and not out.exists()
    with pytest.raises(DataError, match="not a finished `probe make` folder"):
        read_battery(out)


def test_a_subset_of_tests(tmp_path: Path) -> None:
    data = write_data(tmp_path)
    bat = make_battery(data, tmp_path / "bat", MakeOptions(tests=("swap", "pad")))
    assert set(bat.tests) == {"swap", "pad"} and not (tmp_path / "bat" / "hedge.jsonl").exists()
    with pytest.raises(ConfigError, match="unknown probe test"):
        make_battery(data, tmp_path / "other", MakeOptions(tests=("swap", "zoom")))
    assert not (tmp_path / "other").exists()


def test_a_damaged_manifest_is_a_clear_error(tmp_path: Path) -> None:
    bat = make_battery(write_data(tmp_path, n=2), tmp_path / "bat")
    (bat.folder / "probe.json").write_text('{"version": 1, "tests": ')
    with pytest.raises(DataError, match="cannot read it"):
        read_battery(bat.folder)
    (bat.folder / "probe.json").write_text("[]")
    with pytest.raises(DataError, match="not a version-1"):
        read_battery(bat.folder)
