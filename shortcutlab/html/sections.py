"""The page's building blocks: figures, tables and sections, and the readers that make
them from a writer's files (CSV tables as strings, `run_info.json` inputs as paths).
Used by `shortcutlab.html.discover` (sfd, audit, matrix, demo),
`shortcutlab.html.study_folder` (a study) and `shortcutlab.html.probe_folder` (probes).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from shortcutlab.html.examples import ExampleSource

MAX_TABLE_ROWS = 60


@dataclass
class Figure:
    """A PNG the writer made, and the files it was drawn from (linked on the page)."""

    title: str
    image: Path
    sources: list[Path] = field(default_factory=list)


@dataclass
class Table:
    """A CSV the writer made, as strings (at most `MAX_TABLE_ROWS` rows)."""

    title: str
    source: Path
    columns: list[str]
    rows: list[list[str]]
    more: int = 0  # rows not shown
    links: list[dict[str, Any]] | None = None  # per row: example-browser link (audit)


@dataclass
class Section:
    """One writer's output folder on the page."""

    kind: str
    folder: Path
    title: str
    facts: list[tuple[str, str]] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    examples: list[ExampleSource] = field(default_factory=list)
    highlight: list[str] = field(default_factory=list)  # text features to mark in responses
    include_ids: set[str] = field(default_factory=set)  # pairs the section links to
    probes: list[Any] = field(default_factory=list)  # probe_folder.ProbeSource: probe folders
    probe_views: list[dict[str, Any]] = field(default_factory=list)  # filled by build_report


def read_json(path: Path) -> Any:
    """A JSON file's content, or None when absent or not JSON."""
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except ValueError:
        return None


def run_inputs(folder: Path) -> dict[str, Path]:
    """`run_info.json`'s inputs as paths (as written if they exist, else folder-relative)."""
    info = read_json(folder / "run_info.json") or {}
    paths = {}
    for name, value in (info.get("inputs") or {}).items():
        raw = value.get("path") if isinstance(value, dict) else value
        if isinstance(raw, str) and raw:
            p = Path(raw)
            paths[name] = p if p.is_absolute() or p.exists() else folder / p
    return paths


def read_table(path: Path, title: str, max_rows: int = MAX_TABLE_ROWS) -> Table:
    """A CSV as strings: floats to 3 decimals, NaN blank (undecodable bytes replaced).

    An empty file (e.g. a per-group table of a run without groups) is an empty table.
    """
    try:
        df = pd.read_csv(path, encoding_errors="replace", keep_default_na=True)
    except pd.errors.EmptyDataError:
        return Table(title, path, [], [], more=0)
    shown = df.head(max_rows)
    rows = [[_cell(v) for v in r] for r in shown.itertuples(index=False, name=None)]
    return Table(title, path, [str(c) for c in df.columns], rows, more=len(df) - len(shown))


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return "" if v != v else f"{v:.3f}".rstrip("0").rstrip(".")
    return str(v)


def figures_of(folder: Path, names: list[tuple[str, str, list[str]]]) -> list[Figure]:
    """(stem, title, source CSV names) -> figures whose PNG exists."""
    figs = []
    for stem, title, sources in names:
        png = folder / f"{stem}.png"
        if png.is_file():
            figs.append(Figure(title, png, [folder / s for s in sources if (folder / s).is_file()]))
    return figs


def tables_of(folder: Path, names: list[tuple[str, str]]) -> list[Table]:
    return [read_table(folder / n, t) for n, t in names if (folder / n).is_file()]
