"""Probe folders on the HTML report (shortcutlab.html.probe_folder / probe_view).

One probe is made for real (`run_probe` on the tiny LLaVA, 6 records with PIL images)
inside a run-folder-shaped directory; copies of it make a study's runs and a probe
folder with incomplete score tables. The page is read back as text: the sections, the
records shown per test, the thumbnails of `swap`, the highlighted `pad` text, the notes.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image, ImageDraw

from shortcutlab.html import build_report
from shortcutlab.html.discover import discover
from shortcutlab.html.probe_view import word_diff
from shortcutlab.probe import ReportOptions, run_probe
from shortcutlab.probe.edits import PAD_TEXT
from shortcutlab.run_folder import RunFolder

pytestmark = pytest.mark.integration

N = 6  # records
K = 5  # records shown per test (the page's default)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory, tiny_llava_dir: Path) -> Path:
    """A run-folder-shaped directory whose probe/ is a real `probe run` of the tiny LLaVA."""
    import torch

    root = tmp_path_factory.mktemp("probe_html")
    rows = []
    for i in range(N):
        im = Image.new("RGB", (40, 40), (250, 250, 250))
        ImageDraw.Draw(im).ellipse((5, 5, 35, 35), fill=(40 * i, 200 - 30 * i, 30))
        im.save(root / f"img{i}.png")
        rows.append(
            {"id": f"q{i}", "prompt": f"What colour is shape {i}?", "img_path": f"img{i}.png",
             "chosen": f"The circle is colour {i}. It is round.", "rejected": f"It is a dog {i}."}
        )  # fmt: skip
    data = root / "data.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    run = RunFolder(root / "standard__env")
    run.root.mkdir()
    run.config.write_text("mode: standard\n")  # what makes it a run folder
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        run_probe(tiny_llava_dir, data, run.root / "probe", report=ReportOptions(n_boot=20))
    finally:
        torch.set_num_threads(threads)
    return run.root


def block(html: str, test: str) -> str:
    """The HTML of one test's example table (up to the next test's)."""
    start = html.index(f'data-test="{test}"')
    end = html.find('<details class="probe-test"', start + 1)
    return html[start : end if end > 0 else len(html)]


def test_run_folder_probe_shows_the_biggest_changes(run_dir: Path, tmp_path: Path) -> None:
    (sec,) = discover(run_dir)
    assert sec.kind == "probe" and sec.folder == run_dir / "probe"
    res = build_report([run_dir], tmp_path / "page.html")
    html = res.path.read_text(encoding="utf-8")
    assert "probe.csv" in html and "blind_gap" in html  # the card's numbers table
    for test in ("swap", "blank", "drop", "pad", "hedge", "list", "truncate"):
        assert block(html, test).count('<tr class="probe-row') == K, test
    swap = block(html, "swap")
    uris = re.findall(
        r'class="probe-thumb" data-side="(\w+)" src="(data:image/jpeg;base64,[^"]+)"', swap
    )
    assert [s for s, _ in uris] == ["original", "variant"] * K
    assert all(a != b for (_, a), (_, b) in zip(uris[::2], uris[1::2], strict=True))  # swapped
    assert block(html, "drop").count('<span class="noimage">no image</span>') == K
    assert f"<ins> {PAD_TEXT}</ins>" in block(html, "pad")  # the appended filler, marked
    # the order: |reward change| in card sd units, from the score tables themselves
    sd = json.loads((run_dir / "probe" / "card.json").read_text())["reward_sd_original"]
    orig, var = (pd.read_json(run_dir / "probe" / "scores" / f, lines=True)
                 for f in ("original.jsonl", "swap.jsonl"))  # fmt: skip
    var["id"] = var["id"].str.split("::").str[0]
    both = orig.merge(var, on=["id", "response_index"], suffixes=("_o", "_v"))
    moved = (both["reward_v"] - both["reward_o"]).abs().div(sd).groupby(both["id"]).max()
    want = [f"{v:.2f}" for v in moved.sort_values(ascending=False).head(K)]
    assert re.findall(r'<td class="num">([\d.]+)</td>', swap) == want


def test_study_lists_the_probes_of_its_runs(run_dir: Path, tmp_path: Path) -> None:
    study = tmp_path / "study"
    (study / "results").mkdir(parents=True)
    spec = {"name": "mini", "seeds": [0, 1], "modes": ["standard", "shortcut-aware"]}
    (study / "study.json").write_text(json.dumps(spec | {"environments": []}))
    for seed in (0, 1):
        for mode in ("standard", "shortcut-aware", "text-only"):
            shutil.copytree(run_dir, study / "runs" / f"s{seed}" / f"{mode}__env")
    res = build_report([study], tmp_path / "study.html")
    assert [s.kind for s in res.sections] == ["study", "probes"]
    views = {v["label"]: v for v in res.sections[1].probe_views}
    assert len(views) == 6 and all(v["table"] and len(v["table"].rows) == 7 for v in views.values())
    shown = sorted(label for label, v in views.items() if v["tests"])
    assert shown == ["s0 / shortcut-aware__env", "s0 / standard__env"]  # first seed only
    html = res.path.read_text(encoding="utf-8")
    assert html.count('class="probe" data-probe=') == 6
    assert html.count('<tr class="probe-row') == 2 * 7 * K


def test_incomplete_score_tables_get_a_note(run_dir: Path, tmp_path: Path) -> None:
    probe = tmp_path / "probe"
    shutil.copytree(run_dir / "probe", probe)
    (probe / "scores" / "swap.jsonl").unlink()
    pad = probe / "scores" / "pad.jsonl"
    pad.write_text("".join(pad.read_text().splitlines(True)[:3]))  # 3 of 12 responses
    res = build_report([probe], tmp_path / "page.html")
    html = res.path.read_text(encoding="utf-8")
    notes = re.search(r'<ul class="notes probe-notes">(.*?)</ul>', html, re.S).group(1)
    assert f"{probe / 'scores' / 'swap.jsonl'} not read" in notes
    assert "swap: no examples" in notes and "pad: no examples" in notes
    assert f"{probe / 'pad.jsonl'}" in notes  # the variant file the tables miss
    assert 'data-test="swap"' not in html and 'data-test="pad"' not in html
    assert block(html, "blank").count('<tr class="probe-row') == K  # the rest still shown


def test_a_probe_report_folder_reads_the_battery_its_card_names(run_dir, tmp_path) -> None:
    card = tmp_path / "card"  # `probe report --battery run/probe -o card`: no probe.json here
    card.mkdir()
    for name in ("card.json", "probe.csv"):
        shutil.copy(run_dir / "probe" / name, card / name)
    res = build_report([card], tmp_path / "page.html")
    (view,) = res.sections[0].probe_views
    assert [t["test"] for t in view["tests"]][:3] == ["swap", "blank", "drop"]
    assert all(len(t["rows"]) == K for t in view["tests"])


def test_word_diff_marks_only_the_changed_words() -> None:
    old, new = word_diff("The cat sat.", "It seems that the cat sat.")
    assert [t for t, m in new if m] == ["It seems that the"] and [t for t, m in old if m] == ["The"]
    assert "".join(t for t, _ in old) == "The cat sat."
