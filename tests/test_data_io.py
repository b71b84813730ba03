"""File formats in (JSONL, JSON list, parquet, HF datasets folder) and atomic writes out."""

from __future__ import annotations

import ast
import io
import json
import math
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from shortcutlab.data.images import image_ref
from shortcutlab.data.io import detect_format, iter_rows, read_table
from shortcutlab.data.records import Record
from shortcutlab.data.schemas import load_dataset_file, load_records
from shortcutlab.data.writing import append_jsonl, write_records, write_table
from shortcutlab.errors import DataError
from shortcutlab.files import atomic_write_text

pytestmark = pytest.mark.unit

FIX = Path(__file__).parent / "fixtures" / "data"

ROW = {"id": "a", "prompt": "What?", "img_path": None, "chosen": "yes", "rejected": "no"}


def test_jsonl_lines_numbered_blank_lines_skipped(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps(ROW) + "\n\n  \n" + json.dumps({**ROW, "id": "b"}) + "\n")
    rows = list(iter_rows(path))
    assert [(loc.line, loc.row_word, r["id"]) for loc, r in rows] == [
        (1, "line", "a"),
        (4, "line", "b"),
    ]


@pytest.mark.parametrize(
    "raw,reason,line",
    [
        (json.dumps(ROW).encode() + b'\n{"id": "b", "prompt": "Wh', "malformed_json", 2),
        (json.dumps(ROW).encode() + b'\n{"id": "\xff\xfe"}\n', "bad_encoding", 2),
        (b"[1, 2]\n", "not_an_object", 1),
    ],
)
def test_malformed_lines(tmp_path: Path, raw: bytes, reason: str, line: int) -> None:
    path = tmp_path / "d.jsonl"
    path.write_bytes(raw)
    with pytest.raises(DataError) as ei:
        list(iter_rows(path))
    assert (ei.value.reason, ei.value.line) == (reason, line)
    assert f"line {line}" in str(ei.value) and "Hint:" in str(ei.value)
    skipped: list[DataError] = []
    rows = list(iter_rows(path, on_error=skipped.append))
    assert len(skipped) == 1 and len(rows) == (1 if line == 2 else 0)


def test_skip_invalid_counts_malformed_lines(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_bytes(json.dumps(ROW).encode() + b"\n{truncated\n\xff\n")
    res = load_dataset_file(path, skip_invalid=True)
    assert len(res.records) == 1 and res.skipped == {"malformed_json": 1, "bad_encoding": 1}


@pytest.mark.parametrize("name,content", [("e.jsonl", "\n \n"), ("e.json", ""), ("e.json", "[]")])
def test_empty_files(tmp_path: Path, name: str, content: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(DataError) as ei:
        load_dataset_file(path)
    assert ei.value.reason == "empty_file" and str(path) in str(ei.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="file not found"):
        load_dataset_file(tmp_path / "nope.jsonl")


def test_json_list_items_located_by_line(tmp_path: Path) -> None:
    path = tmp_path / "d.json"
    path.write_text(json.dumps([ROW, {**ROW, "id": "b", "chosen": 3}], indent=2))
    locs = [loc.line for loc, _ in iter_rows(path)]
    assert locs == [2, 9]
    with pytest.raises(DataError) as ei:
        load_dataset_file(path)
    assert (ei.value.line, ei.value.field) == (9, "chosen")


def test_json_not_a_list_and_truncated(tmp_path: Path) -> None:
    path = tmp_path / "d.json"
    path.write_text(json.dumps(ROW))
    with pytest.raises(DataError, match="list of objects"):
        list(iter_rows(path))
    path.write_text("[\n" + json.dumps(ROW) + ',\n{"id": ')
    with pytest.raises(DataError) as ei:
        list(iter_rows(path))
    assert ei.value.reason == "malformed_json" and ei.value.line == 3


def test_parquet_rows_zero_based(tmp_path: Path) -> None:
    path = tmp_path / "d.parquet"
    pd.DataFrame([ROW, {**ROW, "id": "b", "rejected": ""}]).to_parquet(path)
    with pytest.raises(DataError) as ei:
        load_dataset_file(path)
    assert "row 1" in str(ei.value) and ei.value.field == "rejected"


def test_corrupt_parquet(tmp_path: Path) -> None:
    path = tmp_path / "d.parquet"
    path.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(DataError, match="cannot read as parquet"):
        list(iter_rows(path))


def test_hf_datasets_folder_with_image_feature(tmp_path: Path) -> None:
    import datasets

    ims = [Image.new("RGB", (6, 6), (i * 50, 0, 0)) for i in range(3)]
    ds = datasets.Dataset.from_dict(
        {
            "prompt": [f"Q{i}" for i in range(3)],
            "chosen": ["long answer"] * 3,
            "rejected": ["no"] * 3,
            "images": [[im] for im in ims],
        },
        features=datasets.Features(
            {
                "prompt": datasets.Value("string"),
                "chosen": datasets.Value("string"),
                "rejected": datasets.Value("string"),
                "images": datasets.Sequence(datasets.Image()),
            }
        ),
    )
    folder = tmp_path / "ds"
    ds.save_to_disk(str(folder))
    assert detect_format(folder) == "datasets"
    res = load_dataset_file(folder, check_images=True)
    assert res.schema == "trl" and [r.prompt for r in res.records] == ["Q0", "Q1", "Q2"]
    assert [r.id for r in res.records] == ["ds-r0", "ds-r1", "ds-r2"]
    from shortcutlab.data.images import load_image

    assert load_image(res.records[2].image).getpixel((0, 0)) == (100, 0, 0)


def test_datasetdict_folder_uses_train_split(tmp_path: Path) -> None:
    import datasets

    d = datasets.Dataset.from_list([ROW])
    datasets.DatasetDict({"train": d, "test": d}).save_to_disk(str(tmp_path / "dd"))
    assert len(load_dataset_file(tmp_path / "dd").records) == 1


def test_sniff_unknown_extension(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text(json.dumps(ROW) + "\n")
    (tmp_path / "b.dat").write_text(json.dumps([ROW]))
    assert detect_format(tmp_path / "a.txt") == "jsonl"
    assert detect_format(tmp_path / "b.dat") == "json"
    assert len(load_dataset_file(tmp_path / "b.dat").records) == 1


@pytest.mark.parametrize("ext", [".jsonl", ".json", ".parquet"])
def test_write_table_round_trip(tmp_path: Path, ext: str) -> None:
    df = pd.DataFrame({"id": ["a", "b"], "reward": [0.5, float("nan")], "response_index": [0, 1]})
    out = write_table(df, tmp_path / "sub" / f"t{ext}")
    back = read_table(out)
    assert list(back["id"]) == ["a", "b"] and back["reward"][0] == 0.5
    assert math.isnan(back["reward"][1])
    assert [p.name for p in out.parent.iterdir()] == [out.name]  # no temp file left


def test_write_table_nan_is_null_and_unicode_kept(tmp_path: Path) -> None:
    out = write_table([{"t": "naïve 猫", "x": float("nan")}], tmp_path / "t.jsonl")
    assert out.read_text(encoding="utf-8") == '{"t": "naïve 猫", "x": null}\n'
    with pytest.raises(DataError, match="unknown table format"):
        write_table([{"a": 1}], tmp_path / "t.csv")


def test_atomic_write_keeps_old_file_on_failure(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    atomic_write_text(path, "old\n")

    class Boom:
        def to_dict(self, orient):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        write_table(Boom(), path)
    assert path.read_text() == "old\n" and len(list(tmp_path.iterdir())) == 1


def test_append_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    assert append_jsonl(path, [{"i": 0}, {"i": 1}]) == 2
    assert append_jsonl(path, iter([{"i": 2}])) == 1
    assert [r["i"] for _, r in iter_rows(path)] == [0, 1, 2]


def png_bytes(color=(0, 128, 0), size=(6, 6)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def test_image_bytes_to_jsonl_refused(tmp_path: Path) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (2, 2)).save(buf, format="PNG")
    with pytest.raises(TypeError, match="parquet"):
        write_table([{"b": buf.getvalue()}], tmp_path / "t.jsonl")


def test_round_trip_arbitrary_text(tmp_path_factory) -> None:
    """Any non-blank unicode answer survives write_records -> JSONL -> load unchanged."""
    from hypothesis import assume, given, settings
    from hypothesis import strategies as st

    text = st.text(min_size=1, max_size=40).filter(lambda s: s.strip())
    folder = tmp_path_factory.mktemp("rt")

    @settings(max_examples=25, deadline=None)
    @given(chosen=text, rejected=text)
    def check(chosen: str, rejected: str) -> None:
        assume(chosen.strip() != rejected.strip())  # an identical pair is an error
        rec = Record(id="x", prompt="Q", responses=[chosen, rejected], pairs=[(0, 1)])
        out = write_records([rec], folder / "rt.jsonl")
        (back,) = load_dataset_file(out).records
        assert back.responses == [chosen, rejected] and back.is_pairwise

    check()


def test_utf8_bom_and_empty_parquet(tmp_path: Path) -> None:
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(ROW).encode() + b"\n")
    assert len(load_dataset_file(path).records) == 1
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps([ROW]).encode())
    assert len(load_dataset_file(path).records) == 1
    empty = tmp_path / "e.parquet"
    pd.DataFrame({"prompt": pd.Series([], dtype=str)}).to_parquet(empty)
    with pytest.raises(DataError, match="empty"):
        load_dataset_file(empty)


# ----------------------------------------------------------------------------- write back


@pytest.mark.parametrize("layout", ["pairwise", "vlfeedback", "inference"])
def test_write_records_round_trip(tmp_path: Path, layout: str) -> None:
    src = load_records(FIX / "vlfeedback.jsonl")
    out = write_records(src, tmp_path / "sub" / f"out_{layout}.jsonl", schema=layout)
    res = load_dataset_file(out, check_images=True)
    assert res.schema == layout
    if layout == "vlfeedback":
        assert [r.scores for r in res.records] == [r.scores for r in src]
        assert [r.pairs for r in res.records] == [r.pairs for r in src]
    elif layout == "pairwise":
        assert [r.id for r in res.records] == [
            "svit-conversation-1219-0-1",
            "svit-conversation-1219-0-2",
            "svit-conversation-1219-2-1",
        ]
        assert res.records[2].responses == [src[0].responses[2], src[0].responses[1]]
    else:
        assert [r.responses for r in res.records] == [r.responses for r in src]
    assert res.records[0].image.path == src[0].image.path


def test_write_records_saves_byte_images(tmp_path: Path) -> None:
    rec = Record(
        id="1",
        prompt="Q",
        responses=["a", "b"],
        pairs=[(0, 1)],
        image=image_ref(png_bytes()),
    )
    out = write_records([rec], tmp_path / "o.parquet")
    (back,) = load_records(out, check_images=True)
    assert back.is_pairwise and Path(back.image.path).read_bytes() == png_bytes()


# ----------------------------------------------------------------------------- layering


def _package_imports(module: str) -> set[str]:
    """The `shortcutlab.*` modules a data module imports (anywhere in the file)."""
    path = Path(__file__).parents[1] / (module.replace(".", "/") + ".py")
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("shortcutlab"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("shortcutlab"))
    return found


def test_data_flows_one_way() -> None:
    """records imports nothing of the package; reading never imports writing or adapters."""
    assert _package_imports("shortcutlab.data.records") == set()
    assert _package_imports("shortcutlab.data.io") == {
        "shortcutlab.data.records",
        "shortcutlab.errors",
    }
    later = ("shortcutlab.data.writing", "shortcutlab.data.adapters", "shortcutlab.data.schemas")
    for module in ("shortcutlab.data.images", "shortcutlab.data.adapters.base"):
        assert not {m for m in _package_imports(module) if m.startswith(later)}, module
