"""`shortcutlab matrix`: the generalization matrix (Figure 1 / Table 5).

Parses options, loads the matrices (`diagnostics.outputs.load_matrices`; with --study
after `study.run.study_score_folders` trains and scores), calls
`diagnostics.outputs.report_matrix` and renders the summaries.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shortcutlab.cli.common import (
    Json,
    NBoot,
    Output,
    Quiet,
    Seed,
    named,
    print_json_file,
    print_table,
    provenance,
    start,
)
from shortcutlab.cli.report_cmd import NoHtml, html_index
from shortcutlab.diagnostics.outputs import load_matrices, report_matrix
from shortcutlab.errors import ConfigError
from shortcutlab.study.run import study_score_folders

MATRIX_HELP = """Generalization matrix (Figure 1 / Table 5): i.i.d. and o.o.d. accuracy means.

Diagonal cells (trained and tested on the same environment) are i.i.d., the rest
o.o.d.; per training row, in-distribution = its diagonal cell and out-of-distribution =
the mean of its other cells. With two modes, a shortcut-aware minus standard panel is
added.

--from-accuracies: a CSV whose first column is the training environment, header row the
test environments, values in points; `MODE=FILE` names the mode (default: file stem).
--from-scores: a folder of score tables named `{mode}__{train_env}__{test_env}.jsonl`
(or .parquet), e.g. `standard__vlfeedback__povid.jsonl`.

Examples:

  shortcutlab matrix --from-accuracies standard=std.csv
  --from-accuracies shortcut-aware=sa.csv -o out/m

  shortcutlab matrix --from-scores runs/scores -o out/matrix

  shortcutlab matrix --study study.yaml -o out/matrix
"""


def matrix_cmd(
    output: Output,
    from_accuracies: Annotated[
        list[str] | None, typer.Option("--from-accuracies", help="[MODE=]accuracy CSV.")
    ] = None,
    from_scores: Annotated[
        Path | None, typer.Option("--from-scores", help="Folder of mode__train__test tables.")
    ] = None,
    study: Annotated[
        Path | None, typer.Option("--study", help="Study YAML: train, score, then matrix.")
    ] = None,
    exclude_ids: Annotated[
        Path | None,
        typer.Option(
            "--exclude-ids",
            help="File of ids (overlap_ids.txt) left out of every score table, counted.",
        ),
    ] = None,
    n_boot: NBoot = 1000,
    seed: Seed = 0,
    no_html: NoHtml = False,
    as_json: Json = False,
    quiet: Quiet = False,
) -> None:
    start(as_json=as_json, quiet=quiet)
    if sum(x is not None and x != [] for x in (from_accuracies, from_scores, study)) != 1:
        raise ConfigError("give exactly one of --from-accuracies, --from-scores, --study.")
    prov = provenance()  # before the study runs: the parameters as given
    folders = study_score_folders(study, output) if study is not None else None
    mats, inputs, long = load_matrices(
        accuracies=[named(s) for s in from_accuracies or []],
        scores=from_scores,
        seed_folders=folders,
        n_boot=n_boot,
        seed=seed,
        exclude=exclude_ids,
    )
    if study is not None:
        inputs = {"study": str(study)} | inputs
    rep = report_matrix(mats, output, prov, inputs=inputs, long=long, seed=seed)
    html_index(output, no_html)
    if as_json:
        print_json_file(output / "results.json")
        return
    rows = [
        [
            m,
            r["train_env"],
            f"{r['in_distribution']:.1f}",
            f"{r['out_of_distribution']:.1f}",
            f"{s['iid_mean']:.1f}",
            f"{s['ood_mean']:.1f}",
        ]
        for m, s in rep.summaries.items()
        for r in s["rows"]
    ]
    print_table(
        "Generalization matrix (points)",
        ["mode", "train env", "in-dist", "out-of-dist", "i.i.d. mean", "o.o.d. mean"],
        rows,
        rep.files,
    )
    if exclude_ids is not None and long is not None:
        n = long["excluded_records"]
        typer.echo(
            f"excluded records listed in {exclude_ids}: {int(n.sum())} over {len(n)} score "
            f"tables (per table {int(n.min())} to {int(n.max())}; see matrix_cells.csv)"
        )


def register(app: typer.Typer) -> None:
    """Add `shortcutlab matrix`."""
    app.command("matrix", help=MATRIX_HELP)(matrix_cmd)
