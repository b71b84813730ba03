"""Helpers (no tests) for the scoring, training and crash-recovery tests: small data files
with real images, a tiny training config, and the environment of a `python -m shortcutlab`
child process (conftest's `cli_process` fixture and the SIGKILL tests use it)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from shortcutlab.config import TrainConfig

COLOURS = {"red": (220, 30, 30), "green": (30, 200, 30), "blue": (30, 30, 220)}


def write_images(folder: Path) -> dict[str, str]:
    """One PNG per colour (a filled circle); returns colour -> file name."""
    from PIL import Image, ImageDraw

    folder.mkdir(parents=True, exist_ok=True)
    names = {}
    for name, rgb in COLOURS.items():
        im = Image.new("RGB", (48, 40), (255, 255, 255))
        ImageDraw.Draw(im).ellipse((6, 6, 40, 34), fill=rgb)
        im.save(folder / f"{name}.png")
        names[name] = f"images/{name}.png"
    return names


def write_pairwise(path: Path, n: int, *, seed: int = 0) -> Path:
    """A pairwise JSONL file {id, prompt, img_path, chosen, rejected} of n records.

    Lengths vary so length-sorted batching reorders records; every 5th record has no image.
    """
    images = write_images(path.parent / "images")
    colours = list(COLOURS)
    rows = []
    for i in range(n):
        colour = colours[(i + seed) % 3]
        other = colours[(i + seed + 1) % 3]
        pad = " really" * (i % 7)
        rows.append(
            {
                "id": f"p{i:03d}",
                "prompt": f"What colour is the circle{pad}?",
                "img_path": None if i % 5 == 4 else images[colour],
                "chosen": f"The circle is {colour}." + " Indeed." * (i % 4),
                "rejected": f"It is {other}{pad}.",
            }
        )
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def write_ranked(path: Path) -> Path:
    """A VLFeedback-style file: 2 records with 3 rated responses each (one tie)."""
    images = write_images(path.parent / "images")

    def comp(ratings: list[str], responses: list[str]) -> dict:
        return {
            "annotations": [{"Helpfulness": {"Rating": r, "Rationale": ""}} for r in ratings],
            "model": ["a", "b", "c"],
            "response": responses,
        }

    rows = [
        {
            "id": "v0",
            "prompt": "Describe the image.",
            "img_path": images["red"],
            "completions": comp(["5", "2", "3"], ["A red circle.", "A cat.", "Something red."]),
        },
        {
            "id": "v1",
            "prompt": "What shape?",
            "img_path": images["blue"],
            "completions": comp(["4", "4", "1"], ["A circle.", "Round shape.", "A square."]),
        },
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def cli_env(**extra: str) -> dict[str, str]:
    """Environment for `python -m shortcutlab` subprocesses (offline, 1 thread)."""
    env = dict(os.environ)
    env.update(
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
        OMP_NUM_THREADS="1",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def tiny_train_config(model: Any, data: str, out: Path, **kw: Any) -> TrainConfig:
    """A 2-step training config of the tests (no warmup, no progress or TensorBoard);
    `kw` overrides any field."""
    base = dict(
        model=str(model),
        data=data,
        output_dir=str(out),
        max_steps=2,
        per_device_train_batch_size=4,
        learning_rate=1e-3,
        logging_steps=1,
        progress=False,
        tensorboard=False,
        warmup_ratio=0.0,
    )
    return TrainConfig(**{**base, **kw})
