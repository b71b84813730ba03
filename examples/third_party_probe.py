"""Probe a reward model you cannot run here: `probe make` files, scored by your own
pipeline, back through `probe report`.

1. `make_battery` writes one ordinary data file per test (the originals, the image
   swapped / blanked / dropped, each text edit), every row naming its base record and
   variant (ids `<id>::<variant>`);
2. your pipeline scores every response of every file and writes score tables with at
   least `id`, `response_index`, `reward` (JSONL, JSON or parquet; any grouping: one
   table per file or all in one);
3. `write_report` computes image reliance and edit sensitivity with bootstrap intervals
   and writes the shortcut card (card.json, card.md, probe.csv, probe.png).

This script makes up the "third-party" RM: it rewards a response that names the image's
colour (it looks at the image) and, a shortcut, longer responses. The card shows both:
swapping the image flips preferences, and padding a response with filler raises its
reward. Replace `third_party_reward` with your own model's scores.

    python examples/third_party_probe.py --out runs/example-probe

The CLI equivalent:

    shortcutlab probe make test.jsonl -o battery
    ... score battery/*.jsonl with your pipeline -> scored/*.jsonl ...
    shortcutlab probe report --battery battery --scores scored/original.jsonl \\
        --scores scored/swap.jsonl ... -o card
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from PIL import Image

from shortcutlab.data.schemas import load_dataset_file
from shortcutlab.probe import MakeOptions, ReportOptions, make_battery, write_report

COLOURS = {"red": (220, 30, 30), "green": (30, 200, 30), "blue": (30, 30, 220)}


def write_test_set(folder: Path, n: int, seed: int) -> Path:
    """A pairwise file: 'what colour is the square?', the right and a wrong colour."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for name, rgb in COLOURS.items():
        Image.new("RGB", (24, 24), rgb).save(folder / f"{name}.png")
    rows = []
    for i in range(n):
        right, wrong = rng.sample(list(COLOURS), 2)
        rows.append(
            {
                "id": f"q{i}",
                "prompt": "What colour is the square?",
                "img_path": f"{right}.png",
                "chosen": f"The square is {right}.",
                "rejected": f"The square is {wrong}. It has four equal sides.",
            }
        )
    path = folder / "test.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _distance(a: tuple[int, ...], b: tuple[int, ...]) -> int:
    return sum(abs(x - y) for x, y in zip(a, b, strict=True))


def third_party_reward(image_path: str | None, response: str) -> float:
    """The made-up RM: +2 for naming the image's colour, +0.02 per character (a length
    shortcut). Without an image it can only read the text."""
    reward = 0.02 * len(response)
    if image_path is not None:
        pixel = Image.open(image_path).convert("RGB").getpixel((0, 0))
        colour = min(COLOURS, key=lambda c: _distance(COLOURS[c], pixel))
        reward += 2.0 * (colour in response)
    return reward


def score_elsewhere(battery_dir: Path, out: Path) -> list[Path]:
    """Stand-in for your pipeline: one score table per battery file."""
    out.mkdir(parents=True, exist_ok=True)
    tables = []
    for data in sorted(battery_dir.glob("*.jsonl")):
        rows = []
        for rec in load_dataset_file(data).records:
            image = rec.image.path if rec.image is not None else None
            for j, response in enumerate(rec.responses):
                reward = third_party_reward(image, response)
                rows.append({"id": rec.id, "response_index": j, "reward": reward})
        table = out / data.name
        table.write_text("".join(json.dumps(r) + "\n" for r in rows))
        tables.append(table)
    return tables


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=Path("runs/example-probe"))
    ap.add_argument("--records", type=int, default=60)
    args = ap.parse_args()
    data = write_test_set(args.out / "data", args.records, seed=0)
    battery = make_battery(data, args.out / "battery", MakeOptions(seed=0))
    tables = score_elsewhere(args.out / "battery", args.out / "scored")
    card = write_report(battery, tables, args.out / "card", ReportOptions("made-up RM", 500))
    t = card["tests"]
    print((args.out / "card" / "card.md").read_text())
    summary = {
        "swap_flip_rate": t["swap"]["metrics"]["flip_rate"]["value"],
        "swap_blind_gap": t["swap"]["metrics"]["blind_gap"]["value"],
        "pad_mean_change_sd": t["pad"]["metrics"]["mean_change_sd"]["value"],
        "pad_win_rate": t["pad"]["metrics"]["win_rate"]["value"],
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
