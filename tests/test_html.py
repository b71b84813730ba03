"""The HTML report (shortcutlab.html, `shortcutlab report`, the writers' index.html).

The page is parsed back (its JSON block) to check what the example browser gets: the
join of score tables with the data file, subsets, margins, placeholders for missing
images, escaped markup, notes for bad rows. The browser itself: tests/test_html_browser.py.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from html_pages import MISSING, SCRIPT, break_utf8, make_set

from shortcutlab.diagnostics.outputs import Provenance, SfdSet, report_sfd
from shortcutlab.html import write_index
from shortcutlab.html.examples import ExampleOptions, ExampleSource, build_examples
from shortcutlab.html.page import script_json
from shortcutlab.html.thumbs import Thumbnails

pytestmark = pytest.mark.integration

DATA_BLOCK = re.compile(r'<script type="application/json" id="report-data">(.*?)</script>', re.S)


def page_data(page: Path) -> dict:
    """The example browser's data embedded in a page."""
    return json.loads(DATA_BLOCK.search(page.read_text(encoding="utf-8")).group(1))


@pytest.fixture(scope="module")
def sfd_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An sfd folder of the hand-made set with its index.html (the CLI's hook: the
    browser test runs `shortcutlab sfd` itself)."""
    s = make_set(tmp_path_factory.mktemp("set"))
    out = tmp_path_factory.mktemp("sfd")
    sets = [SfdSet("test", str(s.mm), str(s.proxy), str(s.data))]
    report_sfd(sets, out, Provenance(["test"]), n_boot=50, seed=0)
    write_index(out)
    return out


def test_sfd_writes_index_with_joined_examples(sfd_dir: Path) -> None:
    page = sfd_dir / "index.html"
    html = page.read_text(encoding="utf-8")
    assert 'href="sfd.csv"' in html and "data:image/png;base64," in html  # figure + source
    (ex,) = page_data(page)["sets"]
    rows = {r["id"]: r for r in ex["rows"]}
    assert ex["n_pairs"] == ex["n_shown"] == 8 and ex["models"] == ["MM-RM"]
    assert sorted(i for i, r in rows.items() if r["subset"] == "shortcut_fail") == ["h1", "h5"]
    assert [i for i, r in rows.items() if r["margins"]["MM-RM"] <= 0] == ["h2", "h4", "h6"]
    assert rows["h0"]["proxy_margin"] == pytest.approx(0.5)
    assert rows["h3"]["prompt"] == "What is shape 3?"
    assert MISSING in rows["h5"]["img_missing"] and "img" not in rows["h5"]
    assert rows["h0"]["img"] == rows["h2"]["img"] != rows["h1"]["img"]  # one thumbnail per image
    assert len(page_data(page)["images"]) == 2


def test_markup_in_a_response_is_escaped(sfd_dir: Path) -> None:
    html = (sfd_dir / "index.html").read_text(encoding="utf-8")
    assert html.count("<script") == 2  # the data block and the page's own script
    assert "<img src=x" not in html and SCRIPT not in html
    rows = {r["id"]: r for r in page_data(sfd_dir / "index.html")["sets"][0]["rows"]}
    assert SCRIPT in rows["h2"]["worse"]  # kept as text, shown as text
    assert "\\u003c/script" in script_json({"x": "</script>"})


def test_no_html_and_report_of_several_folders(tmp_path: Path, cli, sfd_dir: Path) -> None:
    s = make_set(tmp_path / "set2")
    out = tmp_path / "plain"
    cli(
        "sfd",
        "--mm-scores",
        s.mm,
        "--proxy-scores",
        s.proxy,
        "-o",
        out,
        "--n-boot",
        20,
        "--no-html",
    )
    assert (out / "sfd.csv").is_file() and not (out / "index.html").exists()
    r = cli("report", out, sfd_dir, "-o", tmp_path / "both.html", "--json")
    assert r.json() == json.loads((tmp_path / "both.summary.json").read_text())
    assert [x["kind"] for x in r.json()["sections"]] == ["sfd", "sfd"]
    sets = page_data(tmp_path / "both.html")["sets"]
    assert "prompt" not in sets[0]["rows"][0] and any("no data file" in n for n in sets[0]["notes"])
    assert sets[1]["rows"][0]["prompt"]


def test_folder_without_outputs_is_a_clear_error(tmp_path: Path, cli) -> None:
    (tmp_path / "empty").mkdir()
    r = cli("report", tmp_path / "empty", "-o", tmp_path / "x.html", code=2)
    assert "no shortcutlab outputs found" in r.stderr and "audit.json" in r.stderr
    assert not (tmp_path / "x.html").exists()


def test_non_utf8_row_is_noted_not_fatal(tmp_path: Path, cli) -> None:
    s = make_set(tmp_path / "set")
    out = tmp_path / "sfd"
    report_sfd(
        [SfdSet("t", str(s.mm), str(s.proxy), str(s.data))], out, Provenance([]), n_boot=9, seed=0
    )
    break_utf8(s.data, 4)  # record h3, after the sfd run
    cli("report", out, "-o", tmp_path / "r.html")
    (ex,) = page_data(tmp_path / "r.html")["sets"]
    rows = {r["id"]: r for r in ex["rows"]}
    assert "prompt" not in rows["h3"] and rows["h4"]["prompt"] == "What is shape 4?"
    assert any("bad_encoding" in n and "line 4" in n for n in ex["notes"]), ex["notes"]


def test_without_proxy_grouped_and_sampled(tmp_path: Path) -> None:
    s = make_set(tmp_path / "set")
    src = ExampleSource("t", s.data, {"mm": s.mm})
    ex = build_examples(src, ExampleOptions(group_by="kind"), Thumbnails())
    assert ex["proxy"] is None and all("subset" not in r for r in ex["rows"])
    assert {r["group"] for r in ex["rows"]} == {"odd", "even"}
    opts = ExampleOptions(max_pairs=3, include_ids={"h7"})
    ex = build_examples(src, opts, Thumbnails())
    assert ex["n_pairs"] == 8 and ex["n_shown"] == 3 and "h7" in [r["id"] for r in ex["rows"]]


def test_model_table_missing_pairs_is_left_out(tmp_path: Path) -> None:
    s = make_set(tmp_path / "set")
    part = tmp_path / "part.jsonl"
    part.write_text("".join(s.mm.read_text().splitlines(keepends=True)[:-2]))  # h7 unscored
    ex = build_examples(
        ExampleSource("t", s.data, {"a": s.mm, "b": part}), ExampleOptions(), Thumbnails()
    )
    assert ex["models"] == ["a"] and any("model b left out" in n for n in ex["notes"])


def test_audit_page_links_features_to_pairs(tmp_path: Path, cli) -> None:
    s = make_set(tmp_path / "set")
    out = tmp_path / "audit"
    cli("audit", s.data, "--mm-scores", s.mm, "-o", out, "--folds", 2, "--n-boot", 20)
    html = (out / "index.html").read_text(encoding="utf-8")
    assert 'class="ex-link"' in html and 'href="features.csv"' in html
    (ex,) = page_data(out / "index.html")["sets"]
    assert ex["proxy"] == "text_lr" and ex["models"] == ["MM-RM"] and ex["n_shown"] == 8


def test_matrix_page(tmp_path: Path, cli) -> None:
    s = make_set(tmp_path / "set")
    scores = tmp_path / "scores"
    scores.mkdir()
    for name in ("standard__a__a", "standard__a__b", "standard__b__a", "standard__b__b"):
        shutil.copy(s.mm, scores / f"{name}.jsonl")
    cli("matrix", "--from-scores", scores, "-o", tmp_path / "mx", "--n-boot", 20)
    html = (tmp_path / "mx" / "index.html").read_text(encoding="utf-8")
    assert "Generalization matrices" in html and 'href="matrix_summary.csv"' in html
