"""Vision warm-up: the first half of the demo's seeing initialisation.

Real VLMs start from a vision encoder pre-trained on images (CLIP, SigLIP); the demo's
tiny VLM starts from random weights. Measured on the demo's benchmark (docs/demo.md):
trained only as a reward model, the tiny LLaVA learns colour (99% held-out) but never
shape (52%, chance 50) in 6,000 steps, so its held-out accuracy stalls at 70-78%. Here
the vision tower and projector first learn to name what the reward model will be asked
about: a linear head on the mean of the image features the language model receives
(`get_image_features`, so every architecture's own encoder and projector are used)
classifies each image's attributes (colour, shape), cross-entropy per attribute, with
random horizontal flips (they keep both labels). The demo's architecture (LLaVA) is
supported; a processor whose output is not one pixel tensor per image is refused. The
labels are the benchmark's own: each pretrain record names its question type and answer.
The head is thrown away; the backbone is saved as a normal model folder, and the reward-
model pre-training (`shortcutlab.study.demo.stage_pretrain`) starts from it with the
vision tower frozen.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from shortcutlab.errors import ConfigError
from shortcutlab.modeling.loading import quiet_transformers
from shortcutlab.modeling.reward_model import RewardModel

Labels = dict[str, np.ndarray]  # attribute -> (n_images,) class index, -1 = not known


def image_labels(path: Path) -> tuple[list[Path], dict[str, list[str]], Labels]:
    """Unique images of a benchmark split and their attribute labels (question type ->
    answer) read from its records' `question_type` and `answer` fields."""
    known: dict[Path, dict[str, str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        img = (path.parent / row["img_path"]).resolve()
        known.setdefault(img, {})[row["question_type"]] = row["answer"]
    images = sorted(known)
    classes = {
        attr: sorted({v[attr] for v in known.values() if attr in v})
        for attr in sorted({a for v in known.values() for a in v})
    }
    labels = {
        attr: np.array([names.index(known[i][attr]) if attr in known[i] else -1 for i in images])
        for attr, names in classes.items()
    }
    return images, classes, labels


def _pixels(rm: RewardModel, images: list[Image.Image]) -> torch.Tensor:
    """The processor's `pixel_values` of `images`, (N, C, H, W): processed once, indexed
    per step (processing 64 images per step cost more than the step itself)."""
    inputs = rm.processor.image_processor(images=images, return_tensors="pt")
    px = inputs.get("pixel_values")
    if set(inputs) != {"pixel_values"} or px is None or px.dim() != 4 or len(px) != len(images):
        raise ConfigError(
            f"vision warm-up: the {type(rm.processor.image_processor).__name__} output is "
            "not one pixel tensor per image; use the demo's default architecture (llava)."
        )
    return px


def _pooled(rm: RewardModel, pixel_values: torch.Tensor) -> torch.Tensor:
    """Mean image feature per image as the language model receives it, (B, H)."""
    n = len(pixel_values)
    enc = rm.backbone.get_image_features(pixel_values=pixel_values, return_dict=True)
    enc = enc.pooler_output
    if torch.is_tensor(enc) and enc.dim() == 3 and enc.shape[0] == n:
        return enc.mean(1)  # (B, T, H) -> (B, H)
    if isinstance(enc, (list, tuple)) and len(enc) == n:
        return torch.stack([e.reshape(-1, e.shape[-1]).mean(0) for e in enc])
    raise ConfigError(
        f"vision warm-up: {type(rm.backbone).__name__} returns image features the warm-up "
        "cannot split per image; use the demo's default architecture (llava)."
    )


def _loss(logits: dict[str, torch.Tensor], labels: Labels, idx: np.ndarray) -> torch.Tensor:
    losses = []
    for attr, lg in logits.items():
        y = torch.as_tensor(labels[attr][idx])  # (B,) -1 = not known
        if (y >= 0).any():
            losses.append(torch.nn.functional.cross_entropy(lg, y, ignore_index=-1))
    return torch.stack(losses).sum()


def _accuracy(rm: RewardModel, heads: torch.nn.ModuleDict, test: Path) -> dict[str, float]:
    """Held-out classification accuracy per attribute on `test`'s images."""
    paths, _, labels = image_labels(test)
    with torch.no_grad():
        feats = _pooled(rm, _pixels(rm, [Image.open(p).convert("RGB") for p in paths]))
        out = {}
        for attr, head in heads.items():
            y = torch.as_tensor(labels[attr])
            pred = head(feats).argmax(-1)
            out[attr] = round(float((pred[y >= 0] == y[y >= 0]).float().mean()), 4)
    return out


def warm_up_vision(
    base: str | Path,
    train: Path,
    test: Path,
    out: Path,
    *,
    steps: int,
    batch: int = 64,
    learning_rate: float = 2e-3,
    seed: int = 0,
) -> dict[str, Any]:
    """Train `base`'s vision tower + projector to classify `train`'s image attributes;
    save the backbone to `out`; return steps, seconds and held-out accuracy on `test`."""
    t0 = time.time()
    torch.manual_seed(seed)
    rng = random.Random(seed)
    rm = RewardModel.from_pretrained(base, seed=seed)
    rm.set_trainable(vision=True, projector=True, language=False, head=False)
    paths, classes, labels = image_labels(train)
    images = [Image.open(p).convert("RGB") for p in paths]
    flip = Image.Transpose.FLIP_LEFT_RIGHT  # keeps colour and shape
    pixels = _pixels(rm, images + [im.transpose(flip) for im in images])  # (2N, C, H, W)
    heads = torch.nn.ModuleDict(
        {a: torch.nn.Linear(rm.hidden_size, len(c)) for a, c in classes.items()}
    )
    params = [*rm.vision_parameters(), *rm.projector_parameters(), *heads.parameters()]
    opt = torch.optim.AdamW(params, lr=learning_rate, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, learning_rate, total_steps=steps)
    rm.train()
    for _ in range(steps):
        idx = np.array([rng.randrange(len(images)) for _ in range(batch)])
        flipped = np.array([rng.random() < 0.5 for _ in idx])  # row i + N: image i flipped
        feats = _pooled(rm, pixels[torch.as_tensor(idx + flipped * len(images))])  # (B, H)
        loss = _loss({a: h(feats) for a, h in heads.items()}, labels, idx)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    rm.eval()
    out.mkdir(parents=True, exist_ok=True)
    with quiet_transformers():
        rm.backbone.save_pretrained(out)
        rm.processor.save_pretrained(out)
    return {
        "steps": steps,
        "batch": batch,
        "learning_rate": learning_rate,
        "classes": classes,
        "heldout_accuracy": _accuracy(rm, heads, test),
        "final_loss": round(loss.item(), 4),
        "seconds": round(time.time() - t0, 1),
    }
