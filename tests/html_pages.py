"""A small hand-made test set for the HTML report's tests, bad input planted, and the
headless browser the page tests drive.

`make_set(folder)` writes 8 pairwise records (2 images, one image path missing, a
response holding `<script>` and an `<img onerror>`), an MM-RM and a proxy score table
(the MM-RM wrong on 3 pairs, the proxy on 2). `open_browser()` starts headless Chromium
(Debian's chromium + chromedriver through selenium); `open_page` loads a page and checks
its console and images. Shared by tests/test_html.py, tests/test_html_browser.py and
tests/test_demo.py (the quick demo's page: its tests stay in that file).
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
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


# ----------------------------------------------------------------------------- browser


def _find(name: str, debian_path: str) -> str | None:
    return shutil.which(name) or (debian_path if Path(debian_path).exists() else None)


@contextlib.contextmanager
def open_browser() -> Iterator[Any]:
    """Headless Chromium through the system chromedriver (selenium-manager never runs);
    the test skips, saying why, where no browser can be had."""
    chromium = _find("chromium", "/usr/bin/chromium")
    driver_path = _find("chromedriver", "/usr/bin/chromedriver")
    if not (chromium and driver_path):
        pytest.skip(
            "no chromium / chromedriver on this machine: apt-get install chromium "
            "chromium-driver (.ci/run installs them when missing)"
        )
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium (dev extra) missing")
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        opts.add_argument(arg)
    opts.add_argument("--window-size=1280,900")
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=opts)
    try:
        yield driver
    finally:
        driver.quit()


def open_page(driver, page: Path) -> None:
    """Load `page` from file://; no console error, every <img> decoded."""
    driver.get(page.resolve().as_uri())
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors
    images = driver.execute_script(
        "return Array.from(document.images).map(i => [i.alt, i.complete && i.naturalWidth > 0])"
    )
    assert images and all(ok for _, ok in images), [alt for alt, ok in images if not ok]


def shown(driver) -> list[str]:
    """The ids of the example rows on the current page."""
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('#ex-rows td.id'))"
        ".map(td => td.textContent.split(' ')[0])"
    )


def choose(driver, element_id: str, value: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element(By.ID, element_id)).select_by_value(value)


def page_sets(driver) -> list[dict]:
    text = driver.execute_script("return document.getElementById('report-data').textContent")
    return json.loads(text)["sets"]


def not_blank(png: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(png)).convert("RGB")
    assert len(im.getcolors(maxcolors=1 << 16) or range(1 << 16)) > 50  # not one flat colour
    return im
