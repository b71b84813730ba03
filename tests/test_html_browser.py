"""The HTML report in a real browser: headless Chromium (Debian's `chromium` and
`chromium-driver`) driven by selenium, pages opened from file://.

Checked on an `sfd` page and an `audit` page of a hand-made set with bad input planted:
no console errors, every image loads, the "model wrong" filter, the sort and an audit
feature's link change the visible rows, a screenshot is not blank, and a response
holding `<script>` / `<img onerror>` shows as text and runs nothing. Skipped, with the
reason, only where no browser can be had (`.ci/run` installs it when missing).

The quick demo's page is tested in tests/test_demo.py (the session's demo run is read
there only), with the same helpers (tests/html_pages.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from html_pages import MISSING, choose, make_set, not_blank, open_browser, open_page, shown

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with open_browser() as driver:
        yield driver


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
