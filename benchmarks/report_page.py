"""Size and load time of the HTML report for a 100k-pair test set (issue 24).

    python benchmarks/report_page.py [--pairs 100000] [--images 5000] [--out DIR]

Writes a synthetic `sfd` folder: a pairwise JSONL test set of --pairs records whose
images are drawn from --images distinct 224x224 PNGs (random shapes), an MM-RM and a
proxy score table (random rewards, the MM-RM right 80% of the time), then
`shortcutlab sfd DATA --mm-scores ... --proxy-scores ... -o DIR/sfd` (which writes its
`index.html`: the timed part is measured again with `build_report` alone). Prints the
page's size, the build time (wall and CPU) and, when Debian's chromium and chromedriver
are installed, the page's load time in headless Chromium from file:// (navigation start
to the example browser's first rows, median of 3 loads) as one JSON object.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw

from shortcutlab.diagnostics.outputs import Provenance, SfdSet, report_sfd
from shortcutlab.html import build_report


def write_images(folder: Path, n: int, rng: np.random.Generator) -> list[str]:
    """`n` 224x224 PNGs of a random coloured ellipse or rectangle; their file names."""
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for i in range(n):
        im = Image.new("RGB", (224, 224), tuple(int(c) for c in rng.integers(180, 256, 3)))
        box = sorted(rng.integers(10, 214, 2)), sorted(rng.integers(10, 214, 2))
        xy = (box[0][0], box[1][0], box[0][1] + 8, box[1][1] + 8)
        fill = tuple(int(c) for c in rng.integers(0, 180, 3))
        draw = ImageDraw.Draw(im)
        (draw.ellipse if i % 2 else draw.rectangle)(xy, fill=fill)
        im.save(folder / f"{i}.png")
        names.append(f"images/{i}.png")
    return names


def write_test_set(
    out: Path, n_pairs: int, n_images: int, seed: int = 0
) -> tuple[Path, Path, Path]:
    """The data file and the MM-RM and proxy score tables of `n_pairs` pairs."""
    rng = np.random.default_rng(seed)
    images = write_images(out / "images", n_images, rng)
    data = out / "test.jsonl"
    with open(data, "w", encoding="utf-8") as fh:
        for i in range(n_pairs):
            row = {
                "id": f"p{i}",
                "prompt": f"What shape is in image {i % n_images}?",
                "img_path": images[i % n_images],
                "chosen": f"The shape is a circle. Answer {i} with a few more words.",
                "rejected": f"It appears that the shape is a square, answer {i}.",
            }
            fh.write(json.dumps(row) + "\n")
    ids = np.repeat([f"p{i}" for i in range(n_pairs)], 2)
    base = pd.DataFrame(
        {
            "id": ids,
            "response_index": np.tile([0, 1], n_pairs),
            "label": ["chosen", "rejected"] * n_pairs,
        }
    )
    tables = []
    for name, right in (("mm", 0.8), ("proxy", 0.6)):
        margin = np.where(rng.random(n_pairs) < right, 1.0, -1.0) * rng.exponential(1.0, n_pairs)
        reward = np.stack([margin / 2, -margin / 2], axis=1).reshape(-1)
        path = out / f"{name}.jsonl"
        base.assign(reward=reward).to_json(path, orient="records", lines=True)
        tables.append(path)
    return data, tables[0], tables[1]


def load_time(page: Path, rounds: int = 3) -> float | None:
    """Median seconds from navigation start to the first example rows (headless Chromium)."""
    if not (Path("/usr/bin/chromium").exists() and Path("/usr/bin/chromedriver").exists()):
        return None
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    times = []
    try:
        for _ in range(rounds):
            t0 = time.perf_counter()
            driver.get(page.resolve().as_uri())  # returns after the load event
            rows = driver.execute_script("return document.querySelectorAll('#ex-rows tr').length")
            assert rows > 0, "the example browser shows no rows"
            times.append(time.perf_counter() - t0)
    finally:
        driver.quit()
    return float(np.median(times))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pairs", type=int, default=100_000)
    ap.add_argument("--images", type=int, default=5_000)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="report_page_"))
    data, mm, proxy = write_test_set(out, args.pairs, args.images)
    sfd_dir = out / "sfd"
    report_sfd(
        [SfdSet("test", str(mm), str(proxy), str(data))],
        sfd_dir,
        Provenance(["bench"]),
        n_boot=200,
        seed=0,
    )
    t0, c0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF).ru_utime
    res = build_report([sfd_dir], sfd_dir / "index.html")
    wall = time.perf_counter() - t0
    cpu = resource.getrusage(resource.RUSAGE_SELF).ru_utime - c0
    result = {
        "pairs": args.pairs,
        "distinct_images": args.images,
        "examples_shown": res.n_examples,
        "page_mb": round(res.bytes / 1e6, 2),
        "build_wall_s": round(wall, 1),
        "build_cpu_s": round(cpu, 1),
        "load_s_chromium": load_time(res.path),
        "page": str(res.path),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
