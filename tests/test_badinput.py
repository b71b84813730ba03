"""Run the bad-input corpus (tests/badinput/cases.yaml) through the real CLI.

Each case runs `shortcutlab.cli.main.main(argv)` in-process through the `cli` fixture
(the console script's own entry point: typer app + the ShortcutlabError -> one paragraph
+ exit 2 handler), with stdout/stderr captured. An exception escaping `main()` is what a
user would see as a traceback: it fails the case. A few cases also run as
`python -m shortcutlab` in a subprocess to check the real process (exit code, no
traceback; `e2e`).

Asserted for every case: the exit code; no 'Traceback'; for exit 2 one `error:` paragraph
naming each data file, the line/row and field given in the manifest, and a `Hint:`
(unless `hint: false`); the manifest's `expect` substrings. Cases whose command is not
registered yet are skipped; known bugs in modules outside the data layer are strict
xfails (they start failing once fixed, so the manifest gets updated).
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "badinput"
CASES: list[dict[str, Any]] = yaml.safe_load((CORPUS / "cases.yaml").read_text())["cases"]
OUTCOMES: Counter[str] = Counter()
MAX_MESSAGE = 2500  # an error paragraph never echoes a huge line back
pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The committed files plus the generated binary / large ones, in one folder."""
    sys.path.insert(0, str(CORPUS))
    try:
        import make_corpus
    finally:
        sys.path.remove(str(CORPUS))
    return make_corpus.build(tmp_path_factory.mktemp("badinput"))


def _registered() -> set[str]:
    """Top-level command and group names the CLI has now."""
    from shortcutlab.cli.main import app

    names = {c.name or c.callback.__name__ for c in app.registered_commands}
    return names | {g.name for g in app.registered_groups if g.name}


def _argv(case: dict[str, Any], corpus: Path, out: Path, request: Any) -> list[str]:
    values = {"dir": str(corpus), "out": str(out)}
    if any("{model}" in a for a in case["run"]):
        values["model"] = str(request.getfixturevalue("tiny_llava_dir"))
    return [str(a).format(**values) for a in case["run"]]


def _named_files(case: dict[str, Any]) -> list[str]:
    named = case.get("files_named", True)
    if named is False:
        return []
    return [Path(f).name for f in (case["files"] if named is True else named)]


def check_outcome(case: dict[str, Any], code: int, text: str) -> None:
    """Assert the manifest's expectations about one run."""
    assert "Traceback" not in text, text[-3000:]
    assert code == case["exit"], f"exit {code}, expected {case['exit']}:\n{text[-3000:]}"
    needles = list(case.get("expect", []))
    if case["exit"] == 2:
        error = text[text.rfind("error:") :] if "error:" in text else text
        assert len(error) < MAX_MESSAGE, f"message of {len(error)} chars"
        needles += _named_files(case)
        if case.get("line"):
            needles.append(case["line"])
        if case.get("field"):
            needles.append(f"field '{case['field']}'")
        if case.get("hint", True):
            needles.append("Hint:")
    missing = [n for n in needles if n not in text]
    assert not missing, f"missing {missing} in:\n{text[-3000:]}"
    for bad in case.get("absent", []):
        assert bad not in text, f"{bad!r} in:\n{text[-3000:]}"


def _params() -> list[Any]:
    params = []
    for case in CASES:
        marks = []
        if case.get("xfail"):
            marks.append(pytest.mark.xfail(reason=case["xfail"], strict=True))
        params.append(pytest.param(case, id=case["name"], marks=marks))
    return params


@pytest.mark.parametrize("case", _params())
def test_bad_input_case(
    case: dict[str, Any], corpus_dir: Path, tmp_path: Path, request: pytest.FixtureRequest, cli
) -> None:
    if case["run"][0] not in _registered():
        OUTCOMES["pending (command missing)"] += 1
        pytest.skip(f"`shortcutlab {case['run'][0]}` is not implemented yet")
    for f in case["files"]:
        assert (corpus_dir / f).exists(), f"corpus file {f} missing"
    try:
        res = cli(*_argv(case, corpus_dir, tmp_path, request), code=None)
        check_outcome(case, res.code, res.stdout + res.stderr)
    except Exception:  # a failed expectation, or a traceback escaping main()
        OUTCOMES["known bug (xfail)" if case.get("xfail") else "FAILED"] += 1
        raise
    OUTCOMES[f"exit {case['exit']} as expected"] += 1


def test_manifest_is_well_formed() -> None:
    """Unique names, known keys, >= 30 cases, every committed file used by some case."""
    keys = {"name", "files", "files_named", "run", "exit", "line", "field", "expect"}
    keys |= {"hint", "absent", "xfail"}
    names = [c["name"] for c in CASES]
    assert len(names) == len(set(names)) and len(names) >= 30
    for case in CASES:
        assert set(case) <= keys, (case["name"], set(case) - keys)
        assert case["exit"] in (0, 2) and isinstance(case["run"], list)
    used = {f for c in CASES for f in c["files"]}
    committed = {
        str(p.relative_to(CORPUS / "files")) for p in (CORPUS / "files").rglob("*") if p.is_file()
    }
    assert committed <= used, f"unused corpus files: {sorted(committed - used)}"


SUBPROCESS_CASES = ["truncated_json_line", "non_utf8_bytes", "score_table_non_numeric_reward"]


@pytest.mark.e2e
@pytest.mark.parametrize("name", SUBPROCESS_CASES)
def test_real_process(name: str, corpus_dir: Path, tmp_path: Path, cli_process) -> None:
    """The same cases through `python -m shortcutlab` in a child process."""
    case = next(c for c in CASES if c["name"] == name)
    argv = [a.format(dir=corpus_dir, out=tmp_path) for a in case["run"]]
    res = cli_process(*argv, code=None, env={"COLUMNS": "200"}, timeout=120)
    check_outcome(case, res.code, res.stdout + res.stderr)


def test_collator_cuts_prompt_not_answer(corpus_dir: Path, tiny_llava_dir: Path) -> None:
    """Prompt + answer over max_length: the prompt's head is cut and counted (`.truncated`),
    both answers survive whole, the image tokens stay (modeling's RewardCollator)."""
    from shortcutlab.data.schemas import load_records
    from shortcutlab.modeling.batching import RewardCollator
    from shortcutlab.modeling.loading import load_processor

    proc = load_processor(tiny_llava_dir)
    records = load_records(corpus_dir / "long_prompt.jsonl")
    batch = RewardCollator(proc, max_length=128).encode(records)
    ids, mask = batch.inputs["input_ids"], batch.inputs["attention_mask"]  # (2, <=128)
    assert ids.shape[0] == 2 and int(mask.sum(dim=1).max()) <= 128
    assert batch.truncated == 2 and batch.answer_truncated == 0
    image_id = proc.tokenizer.convert_tokens_to_ids(proc.image_token)
    for row, answer in enumerate(records[0].responses):
        text = proc.tokenizer.decode(ids[row][mask[row].bool()])
        assert answer in text and "word2999" in text and "word0 " not in text
        assert int((ids[row] == image_id).sum()) > 0


def test_images_load_as_rgb(corpus_dir: Path) -> None:
    """Every awkward image mode decodes to RGB with the right colour (16-bit scaled)."""
    from shortcutlab.data.images import load_image
    from shortcutlab.data.records import ImageRef

    expect = {
        "gray.png": (128, 128, 128),
        "gray16.png": (255, 255, 255),  # 65535 scaled to 255, not clipped garbage
        "rgba.png": (255, 255, 255),  # fully transparent -> white background
        "palette.png": (0, 200, 0),
        "palette_transparent.png": (0, 200, 0),
        "webp_named.jpg": None,
        "png_named.jpg": (200, 30, 30),
        "cmyk.jpg": None,
        "gray_alpha.png": None,
    }
    for name, colour in expect.items():
        im = load_image(ImageRef(path=str(corpus_dir / "img" / name), origin=name))
        assert im.mode == "RGB", name
        if colour is not None:
            assert im.getpixel((0, 0)) == colour, name


def test_zz_outcome_summary(capsys: pytest.CaptureFixture[str]) -> None:
    """Print how many cases ran and their outcomes (runs last in this module)."""
    total = sum(OUTCOMES.values())
    lines = [f"bad-input corpus: {len(CASES)} cases, {total} run in this session"]
    lines += [f"  {k}: {v}" for k, v in sorted(OUTCOMES.items())]
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    assert OUTCOMES["FAILED"] == 0
