"""Shared test fixtures. Tiny real models are built offline (see shortcutlab.modeling.tiny)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
REALDATA = REPO.parent / "shared" / "realdata"


@pytest.fixture(scope="session")
def realdata() -> Path:
    """`../shared/realdata`, or skip when absent (it is never copied into the project)."""
    if not REALDATA.is_dir():
        pytest.skip("../shared/realdata is absent")
    return REALDATA


@pytest.fixture
def one_torch_thread():
    """One torch thread: on a shared 2-core machine more threads are several times slower.

    Opt in per file with `pytestmark = pytest.mark.usefixtures("one_torch_thread")`.
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# --- the CLI, in process (owner: tests) ---------------------------------------------------
@dataclass
class CliResult:
    """What one in-process `shortcutlab ...` call returned and printed."""

    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        """stdout parsed as the one JSON object that `--json` prints."""
        return json.loads(self.stdout)


CliRunner = Callable[..., CliResult]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> CliRunner:
    """Run `shortcutlab ARGS...` in this process through `cli.main.main`.

    `cli("score", data, "--model", m, "-o", out)` returns a `CliResult`; it asserts the
    exit code is `code` (0 by default; `code=None` accepts any). No subprocess: the
    end-to-end tier (marker `e2e`) keeps the few tests that must start one.
    """
    from shortcutlab.cli.main import main

    def run(*args: object, code: int | None = 0) -> CliResult:
        capsys.readouterr()  # drop what the test printed before
        try:
            main([str(a) for a in args])
            exit_code = 0
        except SystemExit as ex:
            exit_code = ex.code if isinstance(ex.code, int) else (0 if ex.code is None else 1)
        out, err = capsys.readouterr()
        result = CliResult(exit_code, out, err)
        if code is not None:
            assert exit_code == code, (
                f"shortcutlab {' '.join(map(str, args))}: exit {exit_code}, wanted {code}\n"
                f"stdout:\n{out[-3000:]}\nstderr:\n{err[-3000:]}"
            )
        return result

    return run


# --- tiny model fixtures (owner: modeling) ------------------------------------------------
def _build_tiny(tmp_path_factory: pytest.TempPathFactory, arch: str) -> Path:
    from shortcutlab.modeling.tiny import build_tiny_model

    return build_tiny_model(arch, tmp_path_factory.mktemp(f"tiny_{arch}"), seed=0)


@pytest.fixture(scope="session")
def tiny_llava_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random-init LLaVA folder (config, weights, tokenizer, processor), built once."""
    return _build_tiny(tmp_path_factory, "llava")


@pytest.fixture(scope="session")
def tiny_qwen_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random-init Qwen2-VL folder, built once (processor saved without video part)."""
    return _build_tiny(tmp_path_factory, "qwen2_vl")


@pytest.fixture(scope="session")
def tiny_dirs(tiny_llava_dir: Path, tiny_qwen_dir: Path) -> dict[str, Path]:
    """The session's tiny model folders by architecture name."""
    return {"llava": tiny_llava_dir, "qwen2_vl": tiny_qwen_dir}


@pytest.fixture(scope="session")
def shape_records() -> list:
    """Three small VQA records: two with (distinct) images and K = 2 and 3, one text-only."""
    from PIL import Image, ImageDraw

    from shortcutlab.data.records import ImageRef, Record

    def img(colour: tuple[int, int, int], size: tuple[int, int]) -> Image.Image:
        im = Image.new("RGB", size, (255, 255, 255))
        ImageDraw.Draw(im).ellipse((8, 8, size[0] - 8, size[1] - 8), fill=colour)
        return im

    return [
        Record(
            id="r0",
            prompt="What color is the circle?",
            responses=["The circle is red.", "The circle is blue."],
            image=ImageRef(pil=img((220, 20, 20), (80, 64))),
            pairs=[(0, 1)],
        ),
        Record(
            id="r1",
            prompt="How many circles are there?",
            responses=["one", "There are two circles.", "three"],
            image=ImageRef(pil=img((20, 200, 20), (64, 64))),
            pairs=[(0, 1), (0, 2)],
            scores=[3.0, 1.0, 1.0],
        ),
        Record(id="r2", prompt="Say yes.", responses=["yes", "no"], pairs=[(0, 1)]),
    ]


# --- the quick demo, once per session (owner: tests) --------------------------------------
@pytest.fixture(scope="session")
def quick_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The output folder of `shortcutlab demo --quick`, run once per session (minutes).

    Tests that read the quick demo's outputs (reports, tables, pages) share this run and are
    marked `e2e` + `slow`; a test that needs its own run (e.g. the CLI's --json) says why.
    """
    from shortcutlab.study.demo import run_demo

    out = tmp_path_factory.mktemp("quick_demo") / "demo"
    run_demo(out, quick=True, progress=False)
    return out
