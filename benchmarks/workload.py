"""Benchmark workloads: model sizes, seeded K-response records and their data files.

Three sizes, all random-initialised real LLaVA models (CLIP vision tower + Llama LM) built
with `shortcutlab.modeling.tiny.build_tiny_model(..., **overrides)`:
- tiny: the test model (hidden 64, 2 layers, 64 px / patch 8 = 64 image tokens);
- realistic: LLaVA-1.5-like shapes: 336 px / patch 14 = 576 image tokens, vision and LM
  width 1024, LM intermediate 2816, 16 heads (8 KV heads). On a GPU both towers have 24
  layers (LM ~280 M parameters without embeddings, vision ~300 M); on CPU the depth is cut
  (default 2 + 2 layers) so the run fits in minutes: the per-token shapes (width, image
  tokens, text length) are what fix the ratios; depth scales every path alike;
- highres: realistic widths with one 672 px image (patch 14 = 2,304 image tokens), the
  image-token count of LLaVA-NeXT's any-res tiling (1,500-2,900).
Each record: one image, a ~50-token question and K = 4 answers of ~100-150 tokens, scores
4, 3, 2, 1 in a seeded order, so all C(4, 2) = 6 pairs are strict.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shortcutlab.data.records import ImageRef, Record, pairs_from_scores
from shortcutlab.data.writing import write_records
from shortcutlab.modeling.tiny import build_tiny_model

COLOURS = "red green blue yellow orange purple pink brown black white gray teal".split()
SHAPES = "circle square triangle rectangle star oval diamond hexagon".split()
PLACES = "left right top bottom middle center".split()


@dataclass
class Size:
    """One benchmark size: model overrides and the step / batch budget per device type."""

    name: str
    image_size: int
    overrides: dict[str, Any]
    cpu_layers: int | None = None  # LM and vision depth on CPU (None: as in overrides)
    batch: dict[str, int] = field(default_factory=dict)  # records per step, by device
    steps: dict[str, tuple[int, int]] = field(default_factory=dict)  # (warmup, timed)
    official_steps: dict[str, tuple[int, int]] = field(default_factory=dict)  # else `steps`
    score_records: dict[str, int] = field(default_factory=dict)
    prompt_words: int = 40
    answer_words: tuple[int, int] = (90, 120)

    def model_overrides(self, device: str) -> dict[str, Any]:
        ov = dict(self.overrides)
        if device == "cpu" and self.cpu_layers is not None:
            ov["num_hidden_layers"] = ov["vision_num_hidden_layers"] = self.cpu_layers
        return ov


SIZES: dict[str, Size] = {
    "tiny": Size(
        "tiny",
        image_size=64,
        overrides={},
        batch={"cpu": 8, "cuda": 8},
        steps={"cpu": (2, 10), "cuda": (3, 10)},
        score_records={"cpu": 32, "cuda": 64},
    ),
    "realistic": Size(
        "realistic",
        image_size=336,
        overrides={
            "hidden_size": 1024,
            "num_hidden_layers": 24,
            "num_attention_heads": 16,
            "num_key_value_heads": 8,
            "intermediate_size": 2816,
            "vision_hidden_size": 1024,
            "vision_num_hidden_layers": 24,
            "patch_size": 14,
            "vocab_size": 32000,
        },
        cpu_layers=2,
        batch={"cpu": 1, "cuda": 8},
        steps={"cpu": (1, 3), "cuda": (2, 8)},
        official_steps={"cpu": (1, 1)},  # ~3x (standard) to ~6x (SA) longer steps
        score_records={"cpu": 3, "cuda": 64},
    ),
}
# LLaVA-NeXT-like image-token count (any-res: 1,500-2,900 image tokens) at realistic widths:
# one 672 px image, patch 14 = 2,304 image tokens (benchmarks/probe_speed.py's third row).
SIZES["highres"] = Size(
    "highres",
    image_size=672,
    overrides=dict(SIZES["realistic"].overrides),
    cpu_layers=2,
    batch={"cpu": 1, "cuda": 4},
    steps={"cpu": (1, 2), "cuda": (2, 8)},
    score_records={"cpu": 2, "cuda": 32},
)


def build_model(size: Size, out_dir: Path, device: str) -> Path:
    """Build (once) and save the size's random-init LLaVA folder; returns the folder."""
    if (out_dir / "config.json").is_file():
        return out_dir
    return build_tiny_model(
        "llava", out_dir, seed=0, image_size=size.image_size, **size.model_overrides(device)
    )


def _text(rng: random.Random, n_words: int) -> str:
    """Plain VQA-style English of about `n_words` words (the tiny tokenizer's vocabulary)."""
    sentences = []
    words = 0
    while words < n_words:
        c, c2, s, s2, p = (
            rng.choice(COLOURS),
            rng.choice(COLOURS),
            rng.choice(SHAPES),
            rng.choice(SHAPES),
            rng.choice(PLACES),
        )
        sentence = rng.choice(
            [
                f"The image shows a {c} {s} and a {c2} {s2} near the {p}.",
                f"There are {rng.randint(2, 9)} {s}s in the picture, and the {s2} is {c2}.",
                f"The {c} {s} on the {p} is next to a small {c2} {s2}.",
                f"Overall, the scene contains a {c} {s} above a {c2} {s2} in the {p}.",
            ]
        )
        sentences.append(sentence)
        words += len(sentence.split())
    return " ".join(sentences)


def make_records(size: Size, n: int, image_dir: Path, *, k: int = 4, seed: int = 0) -> list[Record]:
    """`n` seeded K-response records with distinct PNG images (saved under image_dir)."""
    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    image_dir.mkdir(parents=True, exist_ok=True)
    records = []
    for i in range(n):
        path = image_dir / f"img{i:04d}.png"
        if not path.is_file():
            im = Image.new("RGB", (size.image_size, size.image_size), (255, 255, 255))
            a, b = rng.randint(0, size.image_size // 2), rng.randint(0, size.image_size // 2)
            ImageDraw.Draw(im).ellipse(
                (a, b, a + size.image_size // 3, b + size.image_size // 3),
                fill=(rng.randint(0, 255), rng.randint(0, 255), 40),
            )
            im.save(path)
        scores = [4.0, 3.0, 2.0, 1.0][:k]
        rng.shuffle(scores)
        lo, hi = size.answer_words
        answers = [_text(rng, rng.randint(lo, hi)) for _ in range(k)]
        prompt = "Describe the image in detail. " + _text(rng, size.prompt_words) + " Is it so?"
        pairs, _, _ = pairs_from_scores(scores)
        records.append(
            Record(
                id=f"b{i:04d}",
                prompt=prompt,
                responses=answers,
                image=ImageRef(path=str(path.resolve())),
                pairs=pairs,
                scores=list(scores),
                schema="vlfeedback",
            )
        )
    return records


def write_data(records: list[Record], path: Path) -> Path:
    """Write records as a VLFeedback-style JSONL the trainer loads (all C(K,2) pairs)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_records(records, path, "vlfeedback")
    return path


def text_tokens(processor: Any, records: list[Record]) -> float:
    """Mean text tokens (prompt + answer, no image, no template) per sequence."""
    tok = getattr(processor, "tokenizer", processor)
    counts = [
        len(tok(rec.prompt + " " + a, add_special_tokens=False)["input_ids"])
        for rec in records
        for a in rec.responses
    ]
    return sum(counts) / max(len(counts), 1)
