"""`shortcutlab bon`: Best-of-N curves with the unbiased estimator of Appendix H.

Parses options, calls `diagnostics.outputs.report_bon` and renders the curves.
"""

from __future__ import annotations

from typing import Annotated

import typer

from shortcutlab.cli.common import (
    Json,
    Output,
    UsageError,
    named,
    print_json_file,
    print_table,
    provenance,
)
from shortcutlab.diagnostics.outputs import report_bon

BON_HELP = """Best-of-N with the unbiased estimator of Appendix H, N = 1..n.

For each prompt, answers are sorted by reward ascending (ties: the lower response_index
ranks higher) and the judge score of answer i gets weight C(i-1, N-1) / C(n, N). The
judge table has columns id, response_index, score; reward tables follow the score-table
contract. One curve per --scores table (`--rewards` is the old name).

Examples:

  shortcutlab bon --judge judge.jsonl --scores std=std.jsonl --scores sa=sa.jsonl -o out/bon

  shortcutlab bon --judge gpt4_scores.parquet --scores rm.parquet --max-n 64 -o out/bon
"""


def bon_cmd(
    output: Output,
    judge: Annotated[str, typer.Option("--judge", help="Judge table: id, response_index, score.")],
    scores: Annotated[
        list[str] | None,
        typer.Option("--scores", help="[NAME=]reward score table (repeat; required)."),
    ] = None,
    rewards: Annotated[
        list[str] | None, typer.Option("--rewards", hidden=True, help="Old name of --scores.")
    ] = None,
    max_n: Annotated[int | None, typer.Option("--max-n", help="Largest N.")] = None,
    as_json: Json = False,
) -> None:
    tables = [*(scores or []), *(rewards or [])]
    if not tables:
        raise UsageError("Missing option '--scores' (a reward score table; repeat for more).")
    rep = report_bon(judge, [named(s) for s in tables], output, provenance(), max_n=max_n)
    if as_json:
        print_json_file(output / "results.json")
        return
    wide = rep.curves.pivot(index="N", columns="model", values="expected_score")
    rows = [[str(n), *[f"{v:.3f}" for v in wide.loc[n]]] for n in wide.index]
    print_table(
        "Best-of-N expected judge score (App. H)", ["N", *map(str, wide.columns)], rows, rep.files
    )


def register(app: typer.Typer) -> None:
    """Add `shortcutlab bon`."""
    app.command("bon", help=BON_HELP)(bon_cmd)
