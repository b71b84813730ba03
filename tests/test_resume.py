"""Kill-and-restart tests: a real `python -m shortcutlab` process is SIGKILLed at a random
(seeded) point, restarted with the same command, and compared with an uninterrupted run.

The kill point comes from `SHORTCUTLAB_CRASH_SEED` (default 0; printed in every failure
message) so a failing seed can be replayed. The scoring variant of this test lives in
tests/test_scoring_cli.py::test_sigkill_mid_run_then_resume_gives_every_row_once.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from scoring_helpers import cli_env

from shortcutlab.training.state import TRAINER_STATE, checkpoint_dirs, read_metrics

SEED = int(os.environ.get("SHORTCUTLAB_CRASH_SEED", "0"))
WHY = f"(SHORTCUTLAB_CRASH_SEED={SEED})"
pytestmark = pytest.mark.e2e


def _rng(salt: str) -> random.Random:
    """A random source per test, reproducible from SHORTCUTLAB_CRASH_SEED."""
    return random.Random(f"{SEED}:{salt}")


def _kill_when(args: list[str], ready: Callable[[], bool], log: Path, timeout: float = 120) -> bool:
    """Start `python -m shortcutlab ARGS`, SIGKILL it once `ready()`; False if it ended first."""
    with log.open("w") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "shortcutlab", *args], env=cli_env(), stdout=fh, stderr=fh
        )
        deadline = time.time() + timeout
        while proc.poll() is None and time.time() < deadline and not ready():
            time.sleep(0.02)
        alive = proc.poll() is None
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    return alive


def _weights(folder: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    out: dict[str, torch.Tensor] = {}
    for f in sorted(folder.rglob("*.safetensors")):
        out.update({f"{f.relative_to(folder)}:{k}": v for k, v in load_file(f).items()})
    return out


# ----------------------------------------------------------------------------- training

STEPS, SAVE = 30, 5


@pytest.fixture(scope="module")
def shapes_file(tmp_path_factory) -> str:
    from shortcutlab.synth.shapes import make_shape_pairs

    return str(make_shape_pairs(16, 0, tmp_path_factory.mktemp("crash_shapes") / "train"))


def _train_args(model: Path, data: str, out: Path, mode: str) -> list[str]:
    """`groupdro`: shortcut-aware with GroupDRO, whose q must come back with the checkpoint
    (eta 0.5 so q moves enough that a lost q would change the losses after the resume)."""
    if mode == "groupdro":
        return [*_train_args(model, data, out, "shortcut-aware"),
                "--objective", "groupdro", "--dro-eta", "0.5"]  # fmt: skip
    return ["train", "--mode", mode, "--model", str(model), "--data", data,
            "--output", str(out), "--max-steps", str(STEPS), "--save-steps", str(SAVE),
            "--per-device-train-batch-size", "4", "--learning-rate", "1e-3",
            "--logging-steps", "1", "--warmup-ratio", "0", "--no-progress",
            "--no-tensorboard", "--resume", "latest"]  # fmt: skip


def _train_kill_point(rng: random.Random, out: Path) -> tuple[str, Callable[[], bool]]:
    """Either after N metric rows (N past the first checkpoint), or the moment checkpoint
    step-K's folder appears (most likely while accelerate is still writing it)."""
    metrics = out / "metrics.jsonl"
    if rng.random() < 0.5:
        n = rng.randint(SAVE + 1, STEPS - 2)

        def ready() -> bool:
            rows = metrics.read_text().count("\n") if metrics.is_file() else 0
            return rows >= n and bool(checkpoint_dirs(out))

        return f"after {n} metric rows", ready
    k = rng.choice(range(2 * SAVE, STEPS, SAVE))
    step_dir = out / "checkpoints" / f"step-{k:06d}"
    return f"when {step_dir.name} appears (mid-save)", step_dir.exists


def _compare_runs(ref: Path, out: Path, start: int, why: str) -> None:
    got, want = read_metrics(out / "metrics.jsonl"), read_metrics(ref / "metrics.jsonl")
    assert [r["step"] for r in got] == [r["step"] for r in want], why
    for g, w in zip(got, want, strict=True):
        for key, value in w.items():
            if key == "time_s" or not isinstance(value, int | float):
                continue
            assert g[key] == pytest.approx(value, abs=1e-5, nan_ok=True), (why, g["step"], key)
    assert any(r["step"] > start for r in got), why
    # the same data order at every checkpoint both runs kept
    for ck in checkpoint_dirs(out):
        other = ref / "checkpoints" / ck.name
        if other.is_dir():
            a, b = (json.loads((d / TRAINER_STATE).read_text()) for d in (ck, other))
            assert a["data_order"] == b["data_order"] and a["epoch"] == b["epoch"], why
    wa, wb = _weights(out / "model"), _weights(ref / "model")
    assert wa.keys() == wb.keys(), why
    for name, tensor in wb.items():
        torch.testing.assert_close(wa[name], tensor, atol=1e-6, rtol=0, msg=f"{name} {why}")


@pytest.mark.slow  # 25-50 s: three training processes start torch + transformers
# shortcut-aware resumes both branches (a superset of standard); groupdro its state q
@pytest.mark.parametrize("mode", ["shortcut-aware", "groupdro"])
def test_train_sigkill_then_resume_latest_equals_uninterrupted(
    mode, tiny_llava_dir, shapes_file, tmp_path, cli_process
):
    out, ref = tmp_path / "run", tmp_path / "ref"
    args = _train_args(tiny_llava_dir, shapes_file, out, mode)
    what, ready = _train_kill_point(_rng(f"train:{mode}"), out)
    why = f"{WHY}, killed {what}"
    assert _kill_when(args, ready, tmp_path / "killed.log"), f"run ended before kill {why}"
    assert not (out / "model").exists(), why
    complete = checkpoint_dirs(out)
    assert complete, f"no checkpoint before the kill {why}"
    start = int(json.loads((complete[-1] / TRAINER_STATE).read_text())["global_step"])
    kept = [r for r in read_metrics(out / "metrics.jsonl") if r["step"] <= start]
    res = cli_process(*args, code=None)
    assert res.code == 0, f"{why}\n{res.stderr[-3000:]}"
    # resumed, not restarted: the rows up to the checkpoint (and their times) are kept
    assert [r for r in read_metrics(out / "metrics.jsonl") if r["step"] <= start] == kept, why
    cli_process(*_train_args(tiny_llava_dir, shapes_file, ref, mode))
    _compare_runs(ref, out, start, why)


def test_incomplete_checkpoint_is_never_resumed(tmp_path):
    """A checkpoint folder without its (atomically written, last) trainer_state.json, or
    with only a temp file of it, is not a checkpoint: 'latest' is the previous one."""
    from shortcutlab.training.state import resolve_resume

    root = tmp_path / "checkpoints"
    good = root / "step-000005"
    good.mkdir(parents=True)
    (good / TRAINER_STATE).write_text('{"global_step": 5}\n')
    half = root / "step-000010"
    half.mkdir()
    (half / "model.safetensors").write_bytes(b"\0" * 10)  # accelerate was still writing
    (half / f".{TRAINER_STATE}.abc.tmp").write_text('{"global_st')
    assert resolve_resume("latest", tmp_path) == good


# ----------------------------------------------------------------------------- study


@pytest.fixture(scope="module")
def study_yaml(tmp_path_factory, tiny_llava_dir) -> Path:
    from shortcutlab.synth.benchmark import build_benchmark

    root = tmp_path_factory.mktemp("crash_study")
    bench = build_benchmark(root / "bench", seed=0, size="tiny")
    envs = "".join(
        f"  - {{name: {e}, train: {f['train']}, test: {f['test']}, shift: {f['shift']}}}\n"
        for e, f in ((e, bench.files[e]) for e in ("povid", "rlhfv"))
    )
    path = root / "study.yaml"
    path.write_text(
        f"base_model: {tiny_llava_dir}\nmodes: [shortcut-aware]\nn_boot: 50\n"
        f"environments:\n{envs}"
        "train: {max_steps: 2, per_device_train_batch_size: 4, learning_rate: 3.0e-4}\n"
        "score: {batch_size: 32}\n"
    )
    return path


def _markers(out: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in (out / ".done").glob("*.json")}


@pytest.mark.slow  # 30-55 s: a study process killed, rerun, and an uninterrupted one
def test_study_sigkill_then_rerun_skips_finished_cells(study_yaml, tmp_path, cli_process):
    out, ref = tmp_path / "killed", tmp_path / "ref"
    n_cells = 2 + 4 * 3  # 2 SA runs; 4 models (2 + 2 proxies) x (2 tests + own shift)
    k = _rng("study").randint(1, n_cells - 1)
    why = f"{WHY}, killed after {k} done-markers"
    args = ["matrix", "--study", str(study_yaml), "-o", str(out), "--n-boot", "50"]
    killed = _kill_when(args, lambda: len(_markers(out)) >= k, tmp_path / "killed.log")
    assert killed, f"the study ended before it could be killed {why}"
    before = _markers(out)
    assert k <= len(before) < n_cells, why
    res = cli_process(*args, code=None)
    assert res.code == 0, f"{why}\n{res.stderr[-3000:]}"
    after = _markers(out)
    assert len(after) == n_cells, why
    assert {name: after[name] for name in before} == before, f"finished cells redone {why}"
    lines = res.stdout + res.stderr  # stage lines: stdout (stderr under --json)
    redone = lines.count("trained ") + lines.count("scored ")
    assert redone == n_cells - len(before), f"{why}\n{res.stderr[-3000:]}"
    cli_process("matrix", "--study", study_yaml, "-o", ref, "--n-boot", "50")
    got, want = (json.loads((d / "results" / "summary.json").read_text()) for d in (out, ref))
    assert got["matrix"] == want["matrix"], why
