"""The report page: sections and example sets -> one self-contained HTML file (Jinja2).

`build_report(folders, output)` discovers each folder's outputs
(`shortcutlab.html.discover`), joins the example sets (`shortcutlab.html.examples`),
and renders `assets/report/page.html.j2` with the page's CSS and JS inlined, figures and
thumbnails as `data:` URIs: the page opens from file:// with no server and no network.
Source files are linked relative to the page.

Safety: the template autoescapes every string; the example data travels as JSON in a
`<script type="application/json">` block with `<`, `>` and `&` escaped, and the page's
script writes it into the DOM as text only. A Content-Security-Policy allows only the
page's own script (by its SHA-256), inline styles and `data:` images, so a response
holding `<script>` can neither break out nor run.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from shortcutlab import __version__
from shortcutlab.errors import ConfigError
from shortcutlab.files import atomic_write_text
from shortcutlab.html.discover import Section, discover
from shortcutlab.html.examples import DEFAULT_MAX_PAIRS, ExampleOptions, build_examples
from shortcutlab.html.probe_view import probe_view
from shortcutlab.html.thumbs import DEFAULT_SIZE, Thumbnails
from shortcutlab.probe.examples import DEFAULT_K

ASSETS = "assets/report"
KNOWN = (
    "demo.json, study.json, audit.json, results.json (sfd), matrix_summary.csv, "
    "probe.json + card.json (probe) or a run folder's probe/"
)


@dataclass
class ReportOptions:
    """What the page shows: examples per set, grouping, thumbnail size."""

    max_pairs: int = DEFAULT_MAX_PAIRS
    group_by: str | None = None
    thumb_size: int = DEFAULT_SIZE
    seed: int = 0
    title: str = "shortcutlab report"
    probe_examples: int = DEFAULT_K  # records per probe test whose reward moved most


@dataclass
class ReportResult:
    """The page written and what it holds."""

    path: Path
    sections: list[Section] = field(default_factory=list)
    n_examples: int = 0
    n_pairs: int = 0
    bytes: int = 0


def build_report(
    folders: list[Path], output: Path, opts: ReportOptions | None = None
) -> ReportResult:
    """Write the page for `folders` to `output`; `ConfigError` when none holds outputs."""
    opts = opts or ReportOptions()
    output = Path(output)
    sections = [s for f in folders for s in _sections(Path(f))]
    if not sections:
        names = ", ".join(str(f) for f in folders)
        raise ConfigError(
            f"no shortcutlab outputs found in {names}: looked for {KNOWN}. Pass the "
            "output folder of sfd, audit, matrix, probe, a training run, a study or the demo."
        )
    thumbs = Thumbnails(size=opts.thumb_size)
    sets = _example_sets(sections, opts, thumbs)
    probe_thumbs = Thumbnails(size=opts.thumb_size)  # inline in the probe views, not the JSON
    for sec in sections:
        sec.probe_views = [probe_view(p, probe_thumbs, opts.probe_examples) for p in sec.probes]
    data = {"sets": sets, "images": thumbs.uris}
    html = render(sections, data, output.parent, opts.title)
    atomic_write_text(output, html)
    return ReportResult(
        path=output,
        sections=sections,
        n_examples=sum(s["n_shown"] for s in sets),
        n_pairs=sum(s["n_pairs"] for s in sets),
        bytes=len(html.encode("utf-8")),
    )


def _sections(folder: Path) -> list[Section]:
    if not folder.is_dir():
        raise ConfigError(f"{folder}: no such folder.")
    return discover(folder)


def _example_sets(
    sections: list[Section], opts: ReportOptions, thumbs: Thumbnails
) -> list[dict[str, Any]]:
    """Every section's example sets, each tagged with its section and highlight terms."""
    sets = []
    for i, sec in enumerate(sections):
        eo = ExampleOptions(opts.max_pairs, opts.group_by, opts.seed, sec.include_ids)
        for src in sec.examples:
            ex = build_examples(src, eo, thumbs)
            ex |= {"section": i, "label": f"{sec.title}: {src.name}", "highlight": sec.highlight}
            sets.append(ex)
    return sets


# ----------------------------------------------------------------------------- rendering


def _asset(name: str) -> str:
    return resources.files("shortcutlab").joinpath(ASSETS, name).read_text(encoding="utf-8")


def _environment() -> jinja2.Environment:
    loader = jinja2.PackageLoader("shortcutlab", ASSETS)
    env = jinja2.Environment(loader=loader, autoescape=True, undefined=jinja2.StrictUndefined)
    env.filters["png_uri"] = _png_uri
    return env


def _png_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


def script_json(data: Any) -> str:
    """JSON safe inside a <script> block: `<`, `>`, `&` (and U+2028/9) as \\u escapes."""
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(ch, esc)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def render(sections: list[Section], data: dict[str, Any], base: Path, title: str) -> str:
    """The page as a string; links are relative to `base` (the page's folder)."""
    script = _asset("report.js")
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode()
    return (
        _environment()
        .get_template("page.html.j2")
        .render(
            title=title,
            sections=sections,
            data_json=Markup(script_json(data)),
            script=Markup(script),
            style=Markup(_asset("report.css")),
            script_hash=f"sha256-{digest}",
            rel=lambda p: Path(os.path.relpath(Path(p).resolve(), Path(base).resolve())).as_posix(),
            version=__version__,
            created=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        )
    )
