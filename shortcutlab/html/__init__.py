"""The HTML report: one static page per output folder, with an example browser.

`build_report(folders, output)` writes the page for any mix of `sfd`, `audit`, `matrix`,
study and demo folders (`shortcutlab report`); `write_index(folder)` is the one call each
writer makes at its end to leave `index.html` beside its outputs (`--no-html` skips it).
Layout: `discover` (what a folder holds), `study_folder` (a study's layout), `examples`
(score tables joined with their data file, per pair), `thumbs` (thumbnails), `page`
(Jinja2 rendering; template, CSS and JS in `shortcutlab/assets/report/`). docs/report.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

from shortcutlab.errors import ShortcutlabError
from shortcutlab.html.page import ReportOptions, ReportResult, build_report

INDEX = "index.html"

__all__ = ["INDEX", "ReportOptions", "ReportResult", "build_report", "write_index"]


def write_index(folder: str | Path, *, enabled: bool = True) -> Path | None:
    """`folder/index.html` for a writer's output folder (None when `enabled` is False).

    The writer's own outputs are already written: a problem the user can fix in them
    (an unreadable table) is reported on stderr and leaves no page, not a failed command.
    """
    if not enabled:
        return None
    folder = Path(folder)
    try:
        return build_report([folder], folder / INDEX).path
    except ShortcutlabError as err:
        print(f"warning: no {INDEX} in {folder}: {err}", file=sys.stderr)
        return None
