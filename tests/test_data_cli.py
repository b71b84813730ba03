"""`shortcutlab data inspect` / `data schemas`: output, JSON, exit code 2 on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shortcutlab.data.inspect import inspect_file

FIX = Path(__file__).parent / "fixtures" / "data"
pytestmark = pytest.mark.integration


def test_inspect_json_counts_and_length_bias(cli) -> None:
    rep = cli("data", "inspect", FIX / "pairwise.jsonl", "--json").json()
    assert rep["schema"] == "pairwise" and rep["records"] == 2 and rep["pairs"] == 2
    # pair 1: chosen longer; pair 2: 'Blue.' vs a long rejected answer
    assert rep["length"]["chosen_longer"] == 1 and rep["length"]["rejected_longer"] == 1
    assert rep["length"]["chosen_longer_share"] == 0.5 and rep["length"]["unit"] == "chars"
    assert rep["images"] == {
        "with_image": 2,
        "without_image": 0,
        "distinct": 2,
        "checked": "header",
        "decoded": False,
        "problems": {},
        "problem_images": 0,
        "records_with_problem_image": 0,
        "missing": 0,
        "examples": [],
    }
    assert rep["repeated_ids"] == {"ids": 0, "records_renamed": 0, "examples": []}


def test_inspect_multi_response_words() -> None:
    rep = inspect_file(FIX / "vlfeedback.jsonl", unit="words", examples=1)
    assert rep["responses_per_record"] == {
        "min": 2,
        "max": 4,
        "mean": 3.0,
        "counts": {"2": 1, "4": 1},
    }
    assert (rep["pairs"], rep["score_ties"], rep["unscored_pairs"]) == (3, 1, 3)
    # better/worse word counts: (10 vs 3), (10 vs 9), (9 vs 3): better always longer
    assert rep["length"]["chosen_longer_share"] == 1.0
    assert len(rep["examples"]) == 1 and rep["examples"][0]["scores"][3] is None


def test_inspect_table_output(cli) -> None:
    res = cli("data", "inspect", FIX / "vl_rewardbench.jsonl", "--examples", "1", code=None)
    code, out = res.code, res.stdout
    assert code == 0
    assert "vl_rewardbench" in out and "chosen longer (chars)" in out
    assert "RLAIF-V-Dataset_2107" in out


def test_skip_invalid_and_missing_images(tmp_path: Path, cli) -> None:
    rows = [
        {"id": "a", "prompt": "Q", "img_path": None, "chosen": "yes!", "rejected": "no"},
        {"id": "b", "prompt": "Q", "img_path": "gone.png", "chosen": "y", "rejected": "n"},
        {"id": "c", "prompt": "Q", "img_path": None, "chosen": 1, "rejected": "n"},
    ]
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + "{bad\n")
    res = cli("data", "inspect", path, "--skip-invalid", "--json", code=None)
    code, out = res.code, res.stdout
    rep = json.loads(out)
    # a missing image is counted, not skipped: the record stays (text-only work needs none)
    assert code == 0 and rep["records"] == 2
    assert rep["skipped"] == {"malformed_json": 1, "wrong_type": 1}
    assert rep["images"]["missing"] == 1 and rep["skipped_total"] == 2
    assert rep["images"]["records_with_problem_image"] == 1
    # --strict: the image problem is an error, with --skip-invalid a counted skip
    args = ["data", "inspect", str(path), "--skip-invalid", "--json", "--strict"]
    res = cli(*args, code=None)
    code, out = res.code, res.stdout
    rep = json.loads(out)
    assert code == 0 and rep["records"] == 1
    assert rep["skipped"] == {"malformed_json": 1, "missing_image": 1, "wrong_type": 1}


def test_bad_input_exit_2_names_file_line_field(tmp_path: Path, cli) -> None:
    path = tmp_path / "bad.jsonl"
    ok = {"id": "a", "prompt": "Q", "img_path": None, "chosen": "y", "rejected": "n"}
    path.write_text(json.dumps(ok) + "\n" + json.dumps({**ok, "id": "b", "rejected": ["x"]}) + "\n")
    proc = cli("data", "inspect", path, code=2)
    err = " ".join(proc.stderr.split())
    assert str(path) in err and "line 2" in err and "field 'rejected'" in err
    assert "Traceback" not in proc.stderr + proc.stdout


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--unit", "tokens"], "needs --tokenizer"),
        (["--unit", "bytes"], "unknown length unit"),
        (["--schema", "nope"], "unknown schema 'nope'"),
        (["--unit", "tokens", "--tokenizer", "/no/such/tok"], "cannot load a tokenizer"),
    ],
)
def test_bad_options_exit_2(args: list[str], needle: str, cli) -> None:
    res = cli("data", "inspect", FIX / "pairwise.jsonl", *args, code=2)
    out, err = res.stdout, res.stderr
    assert needle in " ".join(err.split())
    assert "Traceback" not in out + err


def test_unit_tokens_with_local_tokenizer(tmp_path: Path) -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"[UNK]": 0, "a": 1, "b": 2}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]").save_pretrained(
        tmp_path / "tok"
    )
    data = tmp_path / "d.jsonl"
    row = {"id": "x", "prompt": "Q", "img_path": None, "chosen": "a,b", "rejected": "abc d"}
    data.write_text(json.dumps(row) + "\n")
    chars = inspect_file(data)["length"]
    toks = inspect_file(data, unit="tokens", tokenizer=str(tmp_path / "tok"))["length"]
    assert chars["chosen_longer"] == 0 and chars["rejected_longer"] == 1  # 3 vs 5 chars
    assert toks["chosen_longer"] == 1 and toks["mean_chosen_length"] == 3  # 3 vs 2 tokens
    assert toks["tokenizer"] == str(tmp_path / "tok")


def test_help_shows_examples_and_schemas(cli) -> None:
    out = cli("data", "inspect", "--help").stdout
    assert "shortcutlab data inspect data/train.jsonl" in out
    out = cli("data", "schemas").stdout
    assert "vl_rewardbench" in out and "llava_bench_pairs" in out


def test_convert_parquet_with_bytes_to_pairwise_jsonl(tmp_path: Path, cli) -> None:
    import io as _io

    import pandas as pd
    from PIL import Image

    buf = _io.BytesIO()
    Image.new("RGB", (5, 5), (0, 0, 200)).save(buf, format="PNG")
    rows = [
        {
            "question": "Colour?",
            "chosen": "Blue.",
            "rejected": "Red.",
            "idx": 3,
            "image": {"bytes": buf.getvalue(), "path": "3.png"},
        }
    ]
    src = tmp_path / "r.parquet"
    pd.DataFrame(rows).to_parquet(src)
    out = tmp_path / "out" / "r.jsonl"
    text = cli("data", "convert", src, out, "--to", "pairwise").stdout
    assert "1 rlaif_v records" in text
    row = json.loads(out.read_text())
    assert row["id"] == "3" and row["chosen"] == "Blue." and row["img_path"].endswith(".png")
    rep = inspect_file(out, check_images=True)
    assert rep["schema"] == "pairwise" and rep["images"]["with_image"] == 1
