"""`shortcutlab correlate`: MM-RM vs text-only proxy rewards (Figure 3).

Parses options, calls `diagnostics.outputs.report_correlation` and renders the numbers.
"""

from __future__ import annotations

from typing import Annotated

import typer

from shortcutlab.cli.common import Json, Output, print_json_file, print_table, provenance
from shortcutlab.diagnostics.outputs import report_correlation

CORR_HELP = """Correlation of MM-RM rewards with text-only proxy rewards (Figure 3).

Pearson and Spearman coefficients over the answers of one test set (--level responses)
or over pair margins r(a+) - r(a-) (--level margins), plus a scatter plot.

Examples:

  shortcutlab correlate --mm-scores mm.jsonl --proxy-scores text.jsonl -o out/corr

  shortcutlab correlate --mm-scores mm.parquet --proxy-scores text.parquet --level margins -o out/c
"""


def correlate_cmd(
    output: Output,
    mm_scores: Annotated[str, typer.Option("--mm-scores", help="MM-RM score table.")],
    proxy_scores: Annotated[str, typer.Option("--proxy-scores", help="Proxy score table.")],
    level: Annotated[str, typer.Option("--level", help="responses or margins.")] = "responses",
    as_json: Json = False,
) -> None:
    rep = report_correlation(mm_scores, proxy_scores, output, provenance(), level=level)
    if as_json:
        print_json_file(output / "results.json")
        return
    res = rep.result
    row = [
        res.n,
        f"{res.pearson:.3f}",
        f"{res.pearson_p:.2g}",
        f"{res.spearman:.3f}",
        f"{res.spearman_p:.2g}",
    ]
    columns = ["n", "Pearson", "p", "Spearman", "p"]
    print_table(f"MM vs proxy rewards ({level})", columns, [row], rep.files)


def register(app: typer.Typer) -> None:
    """Add `shortcutlab correlate`."""
    app.command("correlate", help=CORR_HELP)(correlate_cmd)
