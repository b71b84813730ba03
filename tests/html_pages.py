"""A small hand-made test set for the HTML report's tests, bad input planted.

`make_set(folder)` writes 8 pairwise records (2 images, one image path missing, a
response holding `<script>` and an `<img onerror>`), an MM-RM and a proxy score table
(the MM-RM wrong on 3 pairs, the proxy on 2). Shared by tests/test_html.py and
tests/test_html_browser.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw

SCRIPT = "<script>window.__pwned = 1</script>"
IMG_ATTACK = '<img src=x onerror="window.__pwned = 2">'
MISSING = "images/missing.png"
MM_MARGINS = [1.0, 0.5, -0.4, 2.0, -1.0, 0.3, -0.2, 1.5]  # 3 wrong
PROXY_MARGINS = [0.5, -0.5, 0.2, 1.0, 0.7, -0.1, 0.9, 0.4]  # 2 wrong: the fail subset


@dataclass
class HandSet:
    data: Path
    mm: Path
    proxy: Path


def make_set(folder: Path) -> HandSet:
    """The data file, MM-RM and proxy score tables in `folder` (created)."""
    (folder / "images").mkdir(parents=True, exist_ok=True)
    for i, colour in enumerate([(220, 30, 30), (30, 30, 220)]):
        im = Image.new("RGB", (120, 90), (250, 250, 250))
        ImageDraw.Draw(im).ellipse((20, 10, 100, 80), fill=colour)
        im.save(folder / "images" / f"{i}.png")
    rows = []
    for i in range(8):
        chosen, rejected = f"The circle is colour {i}.", f"It appears that it is a square {i}."
        if i == 2:
            rejected = f"Sure {SCRIPT} and {IMG_ATTACK}"
        rows.append(
            {
                "id": f"h{i}",
                "prompt": f"What is shape {i}?",
                "img_path": MISSING if i == 5 else f"images/{i % 2}.png",
                "chosen": chosen,
                "rejected": rejected,
                "kind": "odd" if i % 2 else "even",
            }
        )
    data = folder / "test.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return HandSet(
        data, _table(folder / "mm.jsonl", MM_MARGINS), _table(folder / "proxy.jsonl", PROXY_MARGINS)
    )


def _table(path: Path, margins: list[float]) -> Path:
    rows = [
        {"id": f"h{i}", "response_index": j, "label": lab, "reward": m / 2 if j == 0 else -m / 2}
        for i, m in enumerate(margins)
        for j, lab in enumerate(("chosen", "rejected"))
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path  # a third-party table: only the columns the contract requires, and labels


def break_utf8(data: Path, line: int) -> None:
    """Replace the `line`-th (1-based) record's prompt bytes with invalid UTF-8."""
    lines = data.read_bytes().splitlines(keepends=True)
    lines[line - 1] = lines[line - 1].replace(b"What is shape", b"What is \xff\xfe shape")
    data.write_bytes(b"".join(lines))
