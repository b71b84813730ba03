"""Shared test fixtures. Tiny real models are built offline (see shortcutlab.modeling.tiny)."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from scoring_helpers import cli_env

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


@pytest.fixture(scope="session")
def cli() -> CliRunner:
    """Run `shortcutlab ARGS...` in this process through `cli.main.main`.

    `cli("score", data, "--model", m, "-o", out)` returns a `CliResult`; it asserts the
    exit code is `code` (0 by default; `code=None` accepts any); `env={...}` sets
    environment variables for this call only (COLUMNS, ...). No subprocess: the
    end-to-end tier (marker `e2e`) keeps the few tests that must start one (`cli_process`).
    Session-scoped (it captures with its own buffers, not capsys), so module fixtures that
    train or score once for several tests can use it too. An exception escaping `main()`
    (what a user would see as a traceback) propagates and fails the test.
    """
    from shortcutlab import progress
    from shortcutlab.cli.main import main

    def run(*args: object, code: int | None = 0, env: dict[str, str] | None = None) -> CliResult:
        out, err = io.StringIO(), io.StringIO()
        settings = dataclasses.replace(progress.SETTINGS)  # per process in a console run
        saved_env = {k: os.environ.get(k) for k in env or {}}
        os.environ.update(env or {})  # e.g. COLUMNS, SHORTCUTLAB_PROGRESS_EVERY, this call only
        # a console run has no logging handler, so WARNINGs reach stderr (logging's last
        # resort); under pytest the root logger has pytest's handlers: add stderr back
        to_stderr = logging.StreamHandler(err)
        to_stderr.setLevel(logging.WARNING)
        logging.getLogger().addHandler(to_stderr)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                main([str(a) for a in args])
            exit_code = 0
        except SystemExit as ex:
            exit_code = ex.code if isinstance(ex.code, int) else (0 if ex.code is None else 1)
        finally:
            logging.getLogger().removeHandler(to_stderr)
            progress.configure(quiet=settings.quiet, to_stderr=settings.to_stderr)
            for k, v in saved_env.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        result = CliResult(exit_code, out.getvalue(), err.getvalue())
        if code is not None:
            assert exit_code == code, (
                f"shortcutlab {' '.join(map(str, args))}: exit {exit_code}, wanted {code}\n"
                f"stdout:\n{result.stdout[-3000:]}\nstderr:\n{result.stderr[-3000:]}"
            )
        return result

    return run


ProcessRunner = Callable[..., CliResult]


@pytest.fixture(scope="session")
def cli_process() -> ProcessRunner:
    """Run `python -m shortcutlab ARGS...` in a child process (the `e2e` tier only).

    For tests of the process itself: the module entry point, exit codes of a real
    process, multi-process launches, spawned workers' stdout, environment variables.
    `cli_process(*args, code=0, env={...}, stdout=fh, timeout=600)` returns a `CliResult`
    (stdout is "" when redirected to `stdout=fh`); it asserts the exit code like `cli`.
    Everything else uses the in-process `cli` fixture.
    """

    def run(
        *args: object,
        code: int | None = 0,
        env: dict[str, str] | None = None,
        stdout: Any = subprocess.PIPE,
        timeout: float = 600,
    ) -> CliResult:
        proc = subprocess.run(
            [sys.executable, "-m", "shortcutlab", *map(str, args)],
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=True,
            env=cli_env(**(env or {})),
            timeout=timeout,
        )
        result = CliResult(proc.returncode, proc.stdout or "", proc.stderr)
        if code is not None:
            assert proc.returncode == code, (
                f"python -m shortcutlab {' '.join(map(str, args))}: exit {proc.returncode}, "
                f"wanted {code}\nstdout:\n{result.stdout[-3000:]}\nstderr:\n{proc.stderr[-3000:]}"
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
def quick_demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, CliResult]:
    """`python -m shortcutlab demo --quick -o DIR --json`, run once per session (minutes).

    A real process, so the test of `demo --json` sees what the study's worker processes
    print (stdout must stay the one JSON object; progress every stage goes to stderr).
    Returns (the output folder, the process's result); the tests that use it are `e2e` +
    `slow` and live in tests/test_demo.py (one file: under xdist's loadfile it runs once).
    """
    out = tmp_path_factory.mktemp("quick_demo") / "demo"
    args = ["demo", "--quick", "-o", str(out), "--json"]
    proc = subprocess.run(
        [sys.executable, "-m", "shortcutlab", *args],
        capture_output=True,
        text=True,
        env=cli_env(SHORTCUTLAB_PROGRESS_EVERY="0"),
        timeout=1800,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, CliResult(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture(scope="session")
def quick_demo(quick_demo_run: tuple[Path, CliResult]) -> Path:
    """The output folder of the session's `shortcutlab demo --quick` run (see above)."""
    return quick_demo_run[0]


# --- test tiers (owner: tests) ------------------------------------------------------------
TIERS = ("unit", "integration", "e2e")


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist each worker is one process per core: one torch thread each."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        import torch

        torch.set_num_threads(1)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Fail collection of a test whose module declares no tier (tests/README.md).

    Every module sets `pytestmark` with exactly one of unit / integration / e2e; a single
    test may raise itself to `e2e` (it starts a process) with its own marker.
    """
    bad = set()
    for item in items:
        module = getattr(item, "module", None)
        marks = getattr(module, "pytestmark", [])
        marks = marks if isinstance(marks, list) else [marks]
        if sum(m.name in TIERS for m in marks) != 1:
            bad.add(item.nodeid.split("::")[0])
    if bad:
        raise pytest.UsageError(
            "test modules must declare exactly one tier, e.g. `pytestmark = pytest.mark.unit`"
            f" (unit / integration / e2e; see tests/README.md): {', '.join(sorted(bad))}"
        )
