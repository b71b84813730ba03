"""`shortcutlab report`: one static HTML page with an example browser (thin layer over
`shortcutlab.html.build_report`), and the `--no-html` option of the commands that write
an `index.html` beside their outputs (`html_index`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shortcutlab.cli.common import Json, Quiet, print_json_file, start
from shortcutlab.files import atomic_write_json
from shortcutlab.html import INDEX, ReportOptions, build_report, write_index
from shortcutlab.html.examples import DEFAULT_MAX_PAIRS
from shortcutlab.html.thumbs import DEFAULT_SIZE

REPORT_HELP = """One self-contained HTML page for output folders of sfd, audit, matrix, probe,
a training run, a study or the demo: their figures and tables (each with its source file
linked) and an example browser: each test set's pairs with image thumbnail, prompt, better
and worse response, every model's margin, the text-only proxy's margin and the
shortcut-success / fail subset; filter by subset, group, "model wrong", text; sort by
margin. The audit's top features link to their pairs. A probe (`probe run`, `probe
report`, a run's probe/ from `train --probe-data`) shows its card and, per test, the
records whose reward moved most: original and variant image, the edit highlighted.
Works offline from a file:// URL (no server, no CDN).

At most --max-pairs pairs per test set are embedded (a seeded sample; the audit's linked
pairs always kept), thumbnails are resized once: a 100k-pair test set gives a page of a
few MB (benchmarks/README.md). sfd, audit, matrix, probe and demo write OUTPUT/index.html by
default (--no-html to skip); this command writes a page for several folders at once,
and OUTPUT's `.summary.json` (what --json prints).

Examples:

  shortcutlab report out/sfd -o sfd.html

  shortcutlab report out/audit out/sfd --group-by category -o report.html

  shortcutlab report shortcutlab-demo -o demo.html --max-pairs 500
"""

NoHtml = Annotated[
    bool, typer.Option("--no-html", help=f"Write no {INDEX} (the HTML report) beside the outputs.")
]


def html_index(folder: Path, no_html: bool) -> Path | None:
    """The commands' one hook: `folder/index.html` unless --no-html."""
    return write_index(folder, enabled=not no_html)


def report_cmd(
    folders: Annotated[
        list[Path],
        typer.Argument(
            metavar="DIR",
            help="Output folders (sfd, audit, matrix, probe, run, study, demo).",
        ),
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="The HTML file to write.")] = Path(
        "report.html"
    ),
    group_by: Annotated[
        str | None,
        typer.Option("--group-by", help="Score-table column / data field to group pairs by."),
    ] = None,
    max_pairs: Annotated[
        int, typer.Option("--max-pairs", min=1, help="Pairs embedded per test set (sampled).")
    ] = DEFAULT_MAX_PAIRS,
    thumb_size: Annotated[
        int, typer.Option("--thumb-size", min=16, help="Thumbnail size in pixels (long side).")
    ] = DEFAULT_SIZE,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the pair sample.")] = 0,
    as_json: Json = False,
    quiet: Quiet = False,
) -> None:
    start(as_json=as_json, quiet=quiet)
    opts = ReportOptions(max_pairs=max_pairs, group_by=group_by, thumb_size=thumb_size, seed=seed)
    res = build_report(folders, output, opts)
    summary = {
        "output": str(res.path),
        "bytes": res.bytes,
        "sections": [{"kind": s.kind, "folder": str(s.folder)} for s in res.sections],
        "pairs": res.n_pairs,
        "examples_shown": res.n_examples,
    }
    summary_file = atomic_write_json(output.with_suffix(".summary.json"), summary)
    if as_json:
        print_json_file(summary_file)
        return
    kinds = ", ".join(f"{s.kind} ({s.folder})" for s in res.sections)
    typer.echo(f"sections: {kinds}")
    typer.echo(f"examples: {res.n_examples} of {res.n_pairs} pairs")
    typer.echo(f"wrote {res.path} ({res.bytes / 1e6:.1f} MB), {summary_file}")


def register(app: typer.Typer) -> None:
    """Add `shortcutlab report`."""
    app.command("report", help=REPORT_HELP)(report_cmd)
