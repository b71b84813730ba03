"""Slow training checks: multi-process DDP parity and learnability of the shape task."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from shortcutlab.config import TrainConfig
from shortcutlab.training import train


def _losses(run_dir) -> list[float]:
    rows = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [r["loss"] for r in rows if r["split"] == "train"]


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["standard", "shortcut-aware", "lora"])
def test_two_process_ddp_matches_one_process(mode, tiny_llava_dir, tmp_path):
    """2 gloo processes x 4 records == 1 process x 8 records (same global batch).

    Tolerance 1e-5 absolute on every logged loss: the only difference is the order of
    floating-point sums (DDP averages two half-batch gradients). "lora": shortcut-aware
    with two LoRA adapters on one base, LoRA dropout 0 (dropout masks differ per process).
    """
    lora = mode == "lora"
    mode = "shortcut-aware" if lora else mode
    extra = {"lora": True, "lora_r": 4, "lora_dropout": 0.0} if lora else {}
    flags = ["--lora", "--lora-r", "4", "--lora-dropout", "0"] if lora else []
    from shortcutlab.synth.shapes import make_shape_pairs

    data = str(make_shape_pairs(32, 0, tmp_path / "data"))
    common = [
        "--mode",
        mode,
        "--model",
        str(tiny_llava_dir),
        "--data",
        data,
        "--max-steps",
        "4",
        "--learning-rate",
        "1e-3",
        "--logging-steps",
        "1",
        "--no-progress",
        "--no-tensorboard",
        "--warmup-ratio",
        "0",
    ]
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    cmd = [
        sys.executable,
        "-m",
        "shortcutlab",
        "train",
        *common,
        "--output",
        str(tmp_path / "ddp"),
        "--per-device-train-batch-size",
        "4",
        "--num-processes",
        "2",
        *flags,
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_info = json.loads((tmp_path / "ddp" / "run_info.json").read_text())
    assert run_info["processes"] == 2
    single = train(
        TrainConfig(
            mode=mode,
            model=str(tiny_llava_dir),
            data=data,
            output_dir=str(tmp_path / "one"),
            max_steps=4,
            learning_rate=1e-3,
            logging_steps=1,
            progress=False,
            tensorboard=False,
            warmup_ratio=0.0,
            per_device_train_batch_size=8,
            **extra,
        )
    )
    assert _losses(tmp_path / "ddp") == pytest.approx(single["train_losses"], abs=1e-5)


@pytest.mark.slow
def test_shape_colour_task_is_learnable_and_text_only_is_not(tiny_llava_dir, tmp_path):
    """Standard MM-RM >= 95% held-out on "What color is the SHAPE?"; text-only ~50%.

    One torch thread: on a shared 2-core machine, 2 threads were 5-8x slower per step.
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _learnability(tiny_llava_dir, tmp_path)
    finally:
        torch.set_num_threads(threads)


def _learnability(tiny_llava_dir, tmp_path) -> None:
    from shortcutlab.synth.shapes import make_shape_pairs

    train_file = str(make_shape_pairs(2400, 0, tmp_path / "train"))
    eval_file = str(make_shape_pairs(200, 1, tmp_path / "eval"))
    common = dict(
        model=str(tiny_llava_dir),
        data=train_file,
        eval_data=eval_file,
        per_device_train_batch_size=8,
        learning_rate=1e-3,
        warmup_ratio=0.05,
        logging_steps=100,
        progress=False,
        tensorboard=False,
    )
    std = train(
        TrainConfig(
            mode="standard",
            output_dir=str(tmp_path / "std"),
            max_steps=600,
            eval_steps=300,
            **common,
        )
    )
    assert std["eval"]["eval_acc"] >= 0.95, std["eval_history"]
    txt = train(
        TrainConfig(mode="text-only", output_dir=str(tmp_path / "txt"), max_steps=300, **common)
    )
    assert 0.35 <= txt["eval"]["eval_acc"] <= 0.65, txt["eval"]
