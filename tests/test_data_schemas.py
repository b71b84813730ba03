"""Schema adapters: every published layout -> canonical records, detection, validation."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from shortcutlab.data import adapters
from shortcutlab.data.adapters import ConvertContext
from shortcutlab.data.records import Record, SourceLoc
from shortcutlab.data.schemas import SCHEMAS, load_dataset_file, load_records
from shortcutlab.errors import ConfigError, DataError

pytestmark = pytest.mark.unit

FIX = Path(__file__).parent / "fixtures" / "data"


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def png_bytes(color=(0, 128, 0), size=(6, 6)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


@pytest.mark.parametrize(
    "name,schema",
    [
        ("vlfeedback.jsonl", "vlfeedback"),
        ("vlfeedback_list.jsonl", "vlfeedback"),
        ("pairwise.jsonl", "pairwise"),
        ("inference.jsonl", "inference"),
        ("povid.jsonl", "povid"),
        ("vl_rewardbench.jsonl", "vl_rewardbench"),
        ("trl.jsonl", "trl"),
        ("rlhf_v.jsonl", "rlhf_v"),
    ],
)
def test_fixture_detects_exactly_one_schema(name: str, schema: str) -> None:
    first = json.loads((FIX / name).read_text().splitlines()[0])
    assert [a.name for a in SCHEMAS.values() if a.detect(first)] == [schema]
    res = load_dataset_file(FIX / name, check_images=True)
    assert res.schema == schema
    assert all(r.schema == schema for r in res.records)


def test_vlfeedback_scores_pairs_ties_unscored() -> None:
    res = load_dataset_file(FIX / "vlfeedback.jsonl")
    a, b = res.records
    # mean rating over the three aspects; 'N/A' makes the response unscored
    assert a.scores == pytest.approx([14 / 3, 10 / 3, 13 / 3, None])
    assert a.pairs == [(0, 1), (0, 2), (2, 1)]
    assert len(a.responses) == 4 and a.meta["models"][0] == "gpt-4v"
    assert b.scores == [4.0, 4.0] and b.pairs == []
    assert (res.ties, res.unscored, res.n_pairs) == (1, 3, 3)
    assert a.image is not None and a.image.path == str((FIX / "images/red_circle.jpg").resolve())


def test_vlfeedback_list_form_equals_dict_form() -> None:
    d = load_records(FIX / "vlfeedback.jsonl")
    lst = load_records(FIX / "vlfeedback_list.jsonl")
    for x, y in zip(d, lst, strict=True):
        assert (x.id, x.prompt, x.responses, x.scores, x.pairs) == (
            y.id,
            y.prompt,
            y.responses,
            y.scores,
            y.pairs,
        )


def test_pairwise_and_inference_layouts() -> None:
    p = load_records(FIX / "pairwise.jsonl")
    assert p[0].is_pairwise and p[0].labels() == ["chosen", "rejected"]
    assert p[1].responses == ["Blue.", "The square in the picture is clearly a bright red colour."]
    inf = load_dataset_file(FIX / "inference.jsonl")
    assert [r.id for r in inf.records] == ["inference-l1", "inference-l2"]  # stable derived ids
    assert inf.records[0].pairs == [] and inf.records[0].scores is None
    assert inf.n_pairs == 0 and len(inf.records[0].responses) == 3


def test_povid_strips_image_placeholder() -> None:
    (rec,) = load_records(FIX / "povid.jsonl")
    assert rec.prompt == "What shape is in the picture?"
    assert rec.responses == ["A red circle.", "A red circle next to a dog and a bicycle."]
    assert rec.pairs == [(0, 1)] and rec.image is not None


def test_vl_rewardbench_ranks_to_scores() -> None:
    a, b = load_records(FIX / "vl_rewardbench.jsonl")
    assert a.scores == [1.0, 0.0] and a.pairs == [(0, 1)]
    assert b.scores == [0.0, 1.0] and b.pairs == [(1, 0)]  # human_ranking [1, 0]: second wins
    assert not a.is_pairwise and a.meta["query_source"] == "rlaif-v"


def test_trl_strings_and_messages() -> None:
    a, b = load_records(FIX / "trl.jsonl")
    assert a.prompt == "What colour is the circle?" and a.responses == ["Red.", "Green."]
    assert b.prompt == "What shape is shown?" and b.is_pairwise
    assert a.image.path.endswith("red_circle.jpg")


def test_trl_images_as_pil_and_bytes_dicts(tmp_path: Path) -> None:
    ctx = ConvertContext(base_dir=tmp_path)
    loc = SourceLoc("mem", 1)
    pil = Image.new("RGB", (4, 4))
    rec = SCHEMAS["trl"].convert(
        {"prompt": "Q", "chosen": "a", "rejected": "b", "images": [pil]}, loc, ctx
    )
    assert rec.image.pil is pil
    rec = SCHEMAS["trl"].convert(
        {
            "prompt": "Q",
            "chosen": "a",
            "rejected": "b",
            "images": [{"bytes": png_bytes(), "path": "x.png"}],
        },
        loc,
        ctx,
    )
    assert rec.image.data == png_bytes() and rec.image.origin == "x.png"


def test_rlhf_v_text_json_and_bad_text(tmp_path: Path) -> None:
    (rec,) = load_records(FIX / "rlhf_v.jsonl")
    assert rec.id == "0" and rec.prompt == "What is in the image?"
    assert rec.responses[1] == "A blue square and a red car."
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"image": None, "text": '{"question": "Q", '}])
    with pytest.raises(DataError) as ei:
        load_dataset_file(bad)
    assert ei.value.field == "text" and ei.value.line == 1


def test_rlaif_v_parquet_with_image_bytes(tmp_path: Path) -> None:
    import pandas as pd

    rows = [
        {
            "ds_name": "RLAIF-V",
            "image": {"bytes": png_bytes((i * 40, 0, 0)), "path": f"{i}.png"},
            "question": f"Question {i}?",
            "chosen": "Long detailed answer.",
            "rejected": "Short.",
            "origin_dataset": "VQAv2",
            "origin_split": "train",
            "idx": i,
            "image_path": f"{i}.png",
        }
        for i in range(3)
    ]
    path = tmp_path / "rlaif.parquet"
    pd.DataFrame(rows).to_parquet(path)
    res = load_dataset_file(path, check_images=True)
    assert res.schema == "rlaif_v" and [r.id for r in res.records] == ["0", "1", "2"]
    assert res.records[2].image.data == png_bytes((80, 0, 0))
    assert res.records[0].loc.row_word == "row" and res.records[0].loc.line == 0


def test_llava_bench_real_pairs_all_load_with_images(realdata: Path) -> None:
    path = realdata / "llava-bench-in-the-wild" / "pairs_from_gpt4_reviews.jsonl"
    res = load_dataset_file(path, check_images=True)
    assert res.schema == "llava_bench_pairs"
    assert len(res.records) == 110 and res.n_pairs == 110 and res.skipped == {}
    rec = res.records[0]
    assert rec.id == "llavabench-wild-q0-gpt4-vs-llava-v1.5-13b" and rec.is_pairwise
    assert rec.meta["preference_scores"][0] > rec.meta["preference_scores"][1]
    assert len({r.image.path for r in res.records}) == 24


# ----------------------------------------------------------------------------- detection


def test_detection_failure_lists_schemas(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "odd.jsonl", [{"foo": 1, "bar": 2}])
    with pytest.raises(DataError) as ei:
        load_dataset_file(path)
    msg = str(ei.value)
    assert "cannot detect" in msg and "bar, foo" in msg
    assert all(name in msg for name in SCHEMAS)


def test_ambiguous_detection_names_candidates(tmp_path: Path) -> None:
    row = {
        "query": "q",
        "response": ["a", "b"],
        "human_ranking": [0, 1],
        "conversations": [],
        "rejected_conversations": [],
    }
    path = write_jsonl(tmp_path / "amb.jsonl", [row])
    with pytest.raises(DataError, match="several schemas: povid, vl_rewardbench"):
        load_dataset_file(path)
    assert load_dataset_file(path, schema="vl_rewardbench").records[0].pairs == [(0, 1)]


def test_unknown_forced_schema(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Known schemas: vlfeedback, pairwise"):
        load_dataset_file(FIX / "pairwise.jsonl", schema="nope")


@pytest.mark.e2e  # a fresh Python process
def test_schema_order_is_the_explicit_list() -> None:
    """Detection / listing order is `adapters.ADAPTERS`, whichever family module loads first."""
    code = (
        "import shortcutlab.data.adapters.benchmarks\n"
        "from shortcutlab.data.schemas import SCHEMAS\n"
        "print(','.join(SCHEMAS))"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    names = ["vlfeedback", "pairwise", "inference", "rlaif_v", "rlhf_v", "povid"]
    names += ["vl_rewardbench", "trl", "llava_bench_pairs", "prompt_only"]
    assert res.stdout.strip().split(",") == names
    assert [cls.name for cls in adapters.ADAPTERS] == names == list(SCHEMAS)


def test_adding_a_schema_is_one_class(tmp_path: Path) -> None:
    @adapters.register
    class Tiny(adapters.Adapter):
        name = "tiny_test"
        fields = ("q", "good", "bad")

        def detect(self, row):
            return adapters.has(row, "q", "good", "bad")

        def convert(self, row, loc, ctx):
            return Record(
                id=adapters.record_id(row, (), loc, ctx),
                prompt=row["q"],
                responses=[row["good"], row["bad"]],
                pairs=[(0, 1)],
                schema=self.name,
            )

    try:
        path = write_jsonl(tmp_path / "t.jsonl", [{"q": "Q", "good": "g", "bad": "b"}])
        assert load_dataset_file(path).schema == "tiny_test"
    finally:
        del SCHEMAS["tiny_test"]


# ----------------------------------------------------------------------------- validation

GOOD = {"id": "a", "prompt": "What?", "img_path": None, "chosen": "yes", "rejected": "no"}


@pytest.mark.parametrize(
    "patch,field,reason",
    [
        ({"chosen": None}, "chosen", "missing_field"),
        ({"rejected": 3}, "rejected", "wrong_type"),
        ({"chosen": ["a", "b"]}, "chosen", "wrong_type"),
        ({"rejected": "   "}, "rejected", "empty_text"),
        ({"prompt": 7}, "prompt", "wrong_type"),
        ({"id": [1]}, "id", "wrong_type"),
    ],
)
def test_bad_field_names_line_and_field(tmp_path: Path, patch, field, reason) -> None:
    row = {**GOOD, "id": "b", **patch}
    path = write_jsonl(tmp_path / "d.jsonl", [GOOD, row])
    with pytest.raises(DataError) as ei:
        load_dataset_file(path, schema="pairwise")
    err = ei.value
    assert (err.line, err.field, err.reason) == (2, field, reason)
    assert str(path) in str(err) and "line 2" in str(err)
    res = load_dataset_file(path, schema="pairwise", skip_invalid=True)
    assert [r.id for r in res.records] == ["a"] and res.skipped == {reason: 1}


def test_missing_field_is_removed_key(tmp_path: Path) -> None:
    row = {k: v for k, v in GOOD.items() if k != "rejected"}
    path = write_jsonl(tmp_path / "d.jsonl", [GOOD, {**row, "id": "b"}])
    with pytest.raises(DataError, match="field 'rejected': missing field"):
        load_dataset_file(path, schema="pairwise")


def test_duplicate_ids_error_or_counted_skip(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [GOOD, GOOD, {**GOOD, "id": "c"}])
    with pytest.raises(DataError, match="duplicate id 'a' \\(first at line 1\\)") as ei:
        load_dataset_file(path)
    assert ei.value.line == 2
    res = load_dataset_file(path, skip_invalid=True)
    assert [r.id for r in res.records] == ["a", "c"] and res.skipped == {"duplicate_id": 1}


def test_all_rows_invalid_is_an_error(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [{**GOOD, "chosen": ""}])
    with pytest.raises(DataError, match="no valid records \\(skipped empty_text: 1\\)"):
        load_dataset_file(path, skip_invalid=True)


def test_vlfeedback_bad_completions(tmp_path: Path) -> None:
    rows = [
        {
            "id": "x",
            "prompt": "Q",
            "img_path": None,
            "completions": {"annotations": [{}], "model": ["m", "n"], "response": ["a", 5]},
        }
    ]
    with pytest.raises(DataError) as ei:
        load_dataset_file(write_jsonl(tmp_path / "v.jsonl", rows))
    assert ei.value.field == "completions.response[1]" and ei.value.reason == "wrong_type"


def test_bad_first_row_gets_its_own_error_not_detection_failure(tmp_path: Path) -> None:
    first = {k: v for k, v in GOOD.items() if k != "rejected"}
    path = write_jsonl(tmp_path / "d.jsonl", [first, {**GOOD, "id": "b"}, {**GOOD, "id": "c"}])
    with pytest.raises(DataError) as ei:
        load_dataset_file(path)
    assert (ei.value.line, ei.value.field, ei.value.reason) == (1, "rejected", "missing_field")
    res = load_dataset_file(path, skip_invalid=True)
    assert res.schema == "pairwise" and [r.id for r in res.records] == ["b", "c"]


def test_parquet_struct_annotations_with_null_aspect(tmp_path: Path) -> None:
    import pandas as pd

    def asp(r):
        return {"Rating": r, "Rationale": "..."}

    row = {
        "id": "v1",
        "prompt": "Q",
        "img_path": None,
        "completions": [
            {
                "annotations": {"Helpfulness": asp("4"), "Visual Faithfulness": asp("2")},
                "model": "m1",
                "response": "a",
            },
            {
                "annotations": {"Helpfulness": asp("5"), "Visual Faithfulness": None},
                "model": "m2",
                "response": "b",
            },
        ],
    }
    path = tmp_path / "v.parquet"
    pd.DataFrame([row]).to_parquet(path)
    (rec,) = load_records(path)
    assert rec.scores == [3.0, 5.0] and rec.pairs == [(1, 0)]


def test_nested_field_names_in_errors(tmp_path: Path) -> None:
    rows = [{"image": None, "text": json.dumps({"question": "Q", "chosen": "a"})}]
    with pytest.raises(DataError) as ei:
        load_dataset_file(write_jsonl(tmp_path / "r.jsonl", rows))
    assert ei.value.field == "text.rejected"
    rows = [{"id": "x", "prompt": "Q", "completions": [{"model": "m", "annotations": {}}]}]
    with pytest.raises(DataError) as ei:
        load_dataset_file(write_jsonl(tmp_path / "v.jsonl", rows))
    assert ei.value.field == "completions[0].response" and ei.value.reason == "missing_field"


def test_iter_records_streams_and_fills_stats() -> None:
    from shortcutlab.data.schemas import LoadResult, iter_records

    stats = LoadResult(records=[], schema="", path="")
    it = iter_records(FIX / "vlfeedback.jsonl", stats=stats)
    first = next(it)
    assert first.id == "svit-conversation-1219" and stats.schema == "vlfeedback"
    rest = list(it)
    assert len(rest) == 1 and (stats.n_pairs, stats.ties, stats.unscored) == (3, 1, 3)


def test_extra_fields_kept_in_meta(tmp_path: Path) -> None:
    row = {**GOOD, "env": "povid", "shortcut_agrees": True, "blob": None, "tags": ["a"]}
    (rec,) = load_records(write_jsonl(tmp_path / "d.jsonl", [row]))
    assert rec.meta == {"env": "povid", "shortcut_agrees": True, "blob": None, "tags": ["a"]}
    (rl,) = load_records(FIX / "rlhf_v.jsonl")
    assert rl.meta["origin_dataset"] == "OK-VQA" and "text" not in rl.meta
    assert "image" not in rl.meta and "idx" not in rl.meta


def test_docs_examples_detect_as_their_schema() -> None:
    """Every schema has a documented example row, and it detects as that schema."""
    import re

    doc = (Path(__file__).resolve().parents[1] / "docs" / "data-formats.md").read_text()
    found = {}
    for m in re.finditer(r"### `(\w+)`.*?```json\n(.*?)```", doc, flags=re.S):
        row = json.loads(m.group(2))
        found[m.group(1)] = [a.name for a in SCHEMAS.values() if a.detect(row)]
    assert set(found) == set(SCHEMAS)
    assert all(matches == [name] for name, matches in found.items()), found
