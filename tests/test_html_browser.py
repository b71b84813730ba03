"""The HTML report in a real browser: headless Chromium (Debian's `chromium` and
`chromium-driver`) driven by selenium, pages opened from file://.

Checked on the quick demo's page (the shared `quick_demo` run) and on an `sfd` page of a
hand-made set with bad input planted: no console errors, every image loads, the example
browser's subset filter changes the visible rows, a screenshot is not blank, and a
response holding `<script>` / `<img onerror>` shows as text and runs nothing. Skipped,
with the reason, only where no browser can be had (`.ci/run` installs it when missing).

The demo page's screenshot is saved as docs/images/report.png (README) when that file is
absent or SHORTCUTLAB_SCREENSHOT=1.
"""

from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path

import pytest
from html_pages import MISSING, make_set
from PIL import Image

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
SCREENSHOT = REPO / "docs" / "images" / "report.png"


def _find(name: str, debian_path: str) -> str | None:
    return shutil.which(name) or (debian_path if Path(debian_path).exists() else None)


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium through the system chromedriver (selenium-manager never runs)."""
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
    yield driver
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


def test_demo_page(browser, quick_demo: Path) -> None:
    page = quick_demo / "index.html"
    open_page(browser, page)
    sets = page_sets(browser)
    assert any(s["section"] == 1 for s in sets)  # the study's test sets
    # a set whose proxy is right on some pairs and wrong on others
    i = next(
        i
        for i, s in enumerate(sets)
        if 0 < sum(r["subset"] == "shortcut_fail" for r in s["rows"]) < len(s["rows"])
    )
    choose(browser, "f-set", str(i))
    before = shown(browser)
    choose(browser, "f-subset", "shortcut_fail")
    after = shown(browser)
    fail = [r["id"] for r in sets[i]["rows"] if r["subset"] == "shortcut_fail"]
    assert after and after != before and set(after) <= set(fail)
    browser.execute_script("document.getElementById('examples').scrollIntoView()")
    im = not_blank(browser.get_screenshot_as_png())
    if not SCREENSHOT.exists() or os.environ.get("SHORTCUTLAB_SCREENSHOT") == "1":
        im.thumbnail((1100, 800))
        im.convert("P", palette=Image.Palette.ADAPTIVE, colors=128).save(SCREENSHOT, optimize=True)


def test_sfd_page_escapes_markup(browser, tmp_path: Path, cli) -> None:
    s = make_set(tmp_path / "set")
    out = tmp_path / "sfd"
    cli("sfd", s.data, "--mm-scores", s.mm, "--proxy-scores", s.proxy, "-o", out, "--n-boot", 20)
    open_page(browser, out / "index.html")  # written by default
    assert browser.execute_script("return window.__pwned === undefined")
    cells = browser.execute_script(
        "return Array.from(document.querySelectorAll('#ex-rows td.worse'))"
        ".map(td => td.textContent)"
    )
    assert any("<script>window.__pwned = 1</script>" in c for c in cells)
    placeholders = browser.execute_script(
        "return Array.from(document.querySelectorAll('.placeholder')).map(d => d.textContent)"
    )
    assert any(MISSING in p for p in placeholders)
    assert len(shown(browser)) == 8
    from selenium.webdriver.common.by import By

    browser.find_element(By.ID, "f-wrong").click()  # model wrong: h2, h4, h6
    assert shown(browser) == ["h2", "h4", "h6"]
    choose(browser, "f-sort", "margin-asc")
    assert shown(browser) == ["h4", "h2", "h6"]
    assert browser.execute_script("return window.__pwned === undefined")
    not_blank(browser.get_screenshot_as_png())


def test_audit_feature_link_shows_its_pairs(browser, tmp_path: Path, cli) -> None:
    from selenium.webdriver.common.by import By

    s = make_set(tmp_path / "set")
    out = tmp_path / "audit"
    cli("audit", s.data, "-o", out, "--folds", 2, "--n-boot", 20)
    open_page(browser, out / "index.html")
    assert len(shown(browser)) == 8
    link = browser.find_elements(By.CSS_SELECTOR, "a.ex-link")[0]
    ids = set(link.get_attribute("data-ids").split())
    term = link.get_attribute("data-term").lower()
    link.click()
    texts = browser.execute_script(
        "return Array.from(document.querySelectorAll('#ex-rows tr')).map(tr => tr.textContent)"
    )
    rows = list(zip(shown(browser), texts, strict=True))
    assert rows and len(rows) < 8
    assert all(i in ids or (term and term in t.lower()) for i, t in rows), rows
