"""`shortcutlab length-balance`: length bias and a length-balanced test subset.

Parses options, calls `diagnostics.outputs.report_length` and renders the shares and
accuracies.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from shortcutlab.cli.common import (
    DATA_HELP,
    DataAlias,
    Json,
    NBoot,
    Output,
    Seed,
    data_file,
    named,
    print_json_file,
    print_table,
    provenance,
    pts,
    start,
)
from shortcutlab.diagnostics.outputs import report_length

LENGTH_HELP = """Length bias (Section 3.5.1, Figure 5) and a length-balanced test subset.

Counts pairs whose chosen answer is longer / shorter / equal (unit stated: chars, words
or tokens of --tokenizer; --tolerance treats differences up to that many units as
equal), draws a seeded subset with equally many chosen-longer and rejected-longer pairs,
writes it, and compares the accuracy of each --scores table on the full and balanced
pairs. A length-only shortcut scores 50 on the balanced set.

Examples:

  shortcutlab length-balance test.jsonl -o out/len

  shortcutlab length-balance povid.parquet --unit tokens --tokenizer models/tiny-llava
  --scores text=text_scores.jsonl --scores mm=mm_scores.jsonl --seed 1 -o out/len
"""


def length_cmd(
    output: Output,
    data: Annotated[str | None, typer.Argument(help=DATA_HELP, show_default=False)] = None,
    data_option: DataAlias = None,
    scores: Annotated[
        list[str] | None, typer.Option("--scores", help="[NAME=]score table of this data.")
    ] = None,
    unit: Annotated[str, typer.Option("--unit", help="chars, words or tokens.")] = "words",
    tokenizer: Annotated[
        str | None, typer.Option("--tokenizer", help="Tokenizer folder for --unit tokens.")
    ] = None,
    tolerance: Annotated[float, typer.Option("--tolerance", help="Equal-length margin.")] = 0.0,
    schema: Annotated[str | None, typer.Option("--schema", help="Force a schema.")] = None,
    skip_invalid: Annotated[bool, typer.Option("--skip-invalid", help="Skip bad rows.")] = False,
    n_boot: NBoot = 1000,
    seed: Seed = 0,
    as_json: Json = False,
) -> None:
    start(as_json=as_json)
    rep = report_length(
        data_file(data, data_option),
        output,
        provenance(),
        scores=[named(s) for s in scores or []],
        unit=unit,
        tokenizer=tokenizer,
        tolerance=tolerance,
        load_kw={"schema": schema, "skip_invalid": skip_invalid},
        n_boot=n_boot,
        seed=seed,
    )
    if as_json:
        print_json_file(output / "results.json")
        return
    accs = rep.report.accuracies.to_dict("records")
    print_table(
        f"Length balance (length in {rep.stats['unit']})",
        ["", "pair set", "pairs", "share %", "accuracy"],
        _length_rows(rep.stats, len(rep.report.balanced), accs),
        rep.files,
    )


def _length_rows(stats: dict[str, Any], n_balanced: int, accs: list[dict]) -> list[list[str]]:
    rows = [["all pairs", "", str(stats["n_pairs"]), "", ""]]
    for label, key in (
        ("chosen longer", "chosen_longer"),
        ("rejected longer", "rejected_longer"),
        ("equal length", "equal"),
    ):
        rows.append([label, "", str(stats[key]), pts(stats[f"share_{key}"]), ""])
    rows.append(["balanced subset", "", str(n_balanced), "", ""])
    for r in accs:
        acc = pts(r["accuracy"], r["ci_low"], r["ci_high"])
        rows.append([r["model"], r["pair_set"], str(r["n_pairs"]), "", acc])
    return rows


def register(app: typer.Typer) -> None:
    """Add `shortcutlab length-balance`."""
    app.command("length-balance", help=LENGTH_HELP)(length_cmd)
