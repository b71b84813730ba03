"""Probe folders on the report page: `probe run` / `probe report` outputs, a training run's
`probe/`, and the probes of a study's (or the demo's) runs.

    probe.json + card.json          a probe folder (`shortcutlab.probe`): one section with
                                    the card's facts, probe.csv, probe.png, its notes and
                                    the records whose reward moved most per test
    <run folder>/probe/             the probe written at the end of training (same layout)
    <study>/runs/s<seed>/<run>/probe/   one compact sub-section per run: its numbers per
                                    test; examples only for `example_runs` (the first
                                    seed's standard and shortcut-aware runs)

Nothing here reads a model or a score table: the section names its probe folders
(`ProbeSource`), and `shortcutlab.html.probe_view` reads them when the page is built.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from shortcutlab import objectives
from shortcutlab.html.sections import Section, Table, figures_of, read_json, read_table
from shortcutlab.probe.make import MANIFEST
from shortcutlab.probe.report import CARD_JSON, TABLE
from shortcutlab.run_folder import PROBE, RunFolder

RUNS_DIR = "runs"  # <study>/runs/s<seed>/<mode>__<env>/ (shortcutlab.study.run)
EXAMPLE_MODES = (objectives.STANDARD, objectives.SHORTCUT_AWARE)
MAX_EXAMPLE_RUNS = 6  # runs of a study whose examples are on the page (keeps it small)
SEED_DIR = re.compile(r"s(\d+)$")


@dataclass
class ProbeSource:
    """One probe folder of a section: its label and whether its examples are shown."""

    label: str
    folder: Path
    examples: bool = True
    compact: bool = False  # the numbers as one row per test (a study's runs)


def is_probe_folder(folder: Path) -> bool:
    """A probe's card with its battery: beside it (`probe run`), or the folder the card
    names (`probe report --battery B -o DIR`)."""
    return (folder / CARD_JSON).is_file() and battery_folder(folder) is not None


def battery_folder(folder: Path) -> Path | None:
    """The battery folder of the card in `folder` (None: no battery manifest found)."""
    if (folder / MANIFEST).is_file():
        return folder
    card = read_json(folder / CARD_JSON)
    named = Path(str(card.get("battery"))) if isinstance(card, dict) else None
    return named if named is not None and (named / MANIFEST).is_file() else None


def probe_section(folder: Path, title: str = "Probe: shortcut card (probe)") -> Section:
    """A probe folder: the card's facts, probe.png, probe.csv and the examples."""
    card = read_json(folder / CARD_JSON)
    card = card if isinstance(card, dict) else {}
    sec = Section("probe", folder, title)
    sec.facts = _card_facts(card)
    sec.figures = figures_of(folder, [("probe", "Image reliance and edit sensitivity", [TABLE])])
    if (folder / TABLE).is_file():
        sec.tables = [read_table(folder / TABLE, "The probe's numbers (95% intervals)")]
    sec.probes = [ProbeSource(folder.name, folder)]
    return sec


def run_probe_section(folder: Path) -> Section | None:
    """A training run folder's end-of-training probe (None when the run has none)."""
    probe = folder / PROBE
    if not RunFolder(folder).markers() or not is_probe_folder(probe):
        return None
    return probe_section(probe, f"Probe of the run {folder.name} (probe/)")


def _card_facts(card: dict[str, Any]) -> list[tuple[str, str]]:
    facts = [("model", str(card.get("model") or "scored elsewhere"))]
    if card.get("data"):
        facts.append(("data", Path(str(card["data"])).name))
    if "records" in card:
        facts.append(("records", f"{card['records']} of {card.get('records_in_data', '?')}"))
    facts.append(("reward sd (originals)", str(card.get("reward_sd_original"))))
    return facts


def run_probes(study: Path) -> list[tuple[str, str, Path]]:
    """(seed dir, run name, probe folder) of every run of a study that holds a probe,
    by seed (numerically) then run name."""
    found = []
    for seed_dir in (study / RUNS_DIR).glob("s*"):
        m = SEED_DIR.match(seed_dir.name)
        if not m or not seed_dir.is_dir():
            continue
        for run in sorted(p for p in seed_dir.iterdir() if p.is_dir()):
            if is_probe_folder(run / PROBE):
                found.append((int(m.group(1)), seed_dir.name, run.name, run / PROBE))
    return [(s, r, p) for _, s, r, p in sorted(found)]


def study_probe_section(study: Path, name: str = "") -> Section | None:
    """The probes of a study's runs: one compact sub-section per run (None: no probe).

    Examples only for the first seed's standard and shortcut-aware runs (at most
    `MAX_EXAMPLE_RUNS`; the first runs when no run is named `<mode>__<env>`).
    """
    probes = run_probes(study)
    if not probes:
        return None
    first = probes[0][0]
    shown = [
        i for i, (s, run, _) in enumerate(probes)
        if s == first and run.split("__", 1)[0] in EXAMPLE_MODES
    ][:MAX_EXAMPLE_RUNS] or list(range(min(2, len(probes))))  # fmt: skip
    title = f"Probes of the runs of study {name}".replace("  ", " ").strip()
    sec = Section("probes", study, title)
    sec.facts = [("runs probed", str(len(probes))), ("examples shown for", str(len(shown)))]
    sec.probes = [
        ProbeSource(f"{s} / {run}", folder, examples=i in shown, compact=True)
        for i, (s, run, folder) in enumerate(probes)
    ]
    return sec


def compact_table(folder: Path) -> Table | None:
    """probe.csv as one row per test: each metric's value with its interval."""
    path = folder / TABLE
    if not path.is_file():
        return None
    try:
        df = pd.read_csv(path, encoding_errors="replace")
        rows: dict[str, dict[str, str]] = {}
        for r in df.to_dict("records"):
            row = rows.setdefault(str(r["test"]), {"kind": str(r["kind"])})
            row["records"] = str(r["records"])
            row[str(r["metric"])] = _interval(r["value"], r["ci_low"], r["ci_high"])
        metrics = list(dict.fromkeys(str(m) for m in df["metric"]))
    except (KeyError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError):
        return read_table(path, "The probe's numbers")  # not probe.csv's columns: as is
    columns = ["test", "kind", "records", *metrics]
    body = [[t, *[row.get(c, "") for c in columns[1:]]] for t, row in rows.items()]
    return Table("The probe's numbers per test (value [95% interval])", path, columns, body)


def _interval(value: Any, lo: Any, hi: Any) -> str:
    def f(x: Any) -> str:
        return "" if x != x or x is None else f"{float(x):.3f}"

    if f(value) == "":
        return "n/a"
    return f"{f(value)} [{f(lo)}, {f(hi)}]" if f(lo) and f(hi) else f(value)
