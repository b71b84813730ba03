"""`shortcutlab sfd`: Shortcut-Failure Degradation (Def. 3.1) from score tables.

Parses options, calls `diagnostics.outputs.report_sfd` (after scoring --data with
`study.run.score_mm_and_proxy` when models are given) and renders the results.
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
    data_files,
    print_json_file,
    print_table,
    provenance,
    pts,
    start,
)
from shortcutlab.cli.report_cmd import NoHtml, html_index
from shortcutlab.diagnostics.outputs import SfdSet, report_sfd
from shortcutlab.diagnostics.sfd import SFDResult, macro_over_groups
from shortcutlab.errors import ConfigError
from shortcutlab.study.run import score_mm_and_proxy

SFD_HELP = """Shortcut-Failure Degradation (Def. 3.1) of an MM-RM against a text-only proxy.

Pairs where the proxy is right (strictly) form the shortcut-success subset, the rest
(proxy wrong or tied) the shortcut-fail subset; SFD = MM-RM accuracy on success minus on
fail, in points, with a record-bootstrap 95% interval. Repeat the options (matched by
position) for several test sets. With DATA (or --data) the subsets are also written as
data files.

Examples:

  shortcutlab sfd --mm-scores mm.jsonl --proxy-scores text.jsonl -o out/sfd

  shortcutlab sfd --mm-scores mm_povid.jsonl --proxy-scores t_povid.jsonl --data povid.jsonl
  --name povid --mm-scores mm_rlhfv.jsonl --proxy-scores t_rlhfv.jsonl --data rlhfv.jsonl
  --name rlhfv -o out/sfd

  shortcutlab sfd test.jsonl --mm-model runs/std --proxy-model runs/text -o out/sfd

  shortcutlab sfd test.jsonl --mm-model runs/std --proxy-model runs/text -o out/sfd
  --overwrite  # after retraining: rescore into out/sfd/scores

  shortcutlab sfd vl_rewardbench.jsonl --mm-scores mm_vlrb.jsonl --proxy-scores t_vlrb.jsonl
  --group-by category --exclude-ids overlap_ids.txt -o out/sfd

--group-by COLUMN: SFD and accuracy per group (a score-table column, or a field of the
data file such as VL-RewardBench's derived `category`) plus the macro averages over
groups, in sfd_groups.csv and results.json. --exclude-ids FILE: the listed records
(overlap_ids.txt of `shortcutlab overlap`) are left out, counted in results.json.
"""


def sfd_cmd(
    output: Output,
    data_args: Annotated[
        list[str] | None,
        typer.Argument(metavar="DATA", help="The scored test file(s), in --mm-scores order."),
    ] = None,
    mm_scores: Annotated[
        list[str] | None, typer.Option("--mm-scores", help="MM-RM score table.")
    ] = None,
    proxy_scores: Annotated[
        list[str] | None, typer.Option("--proxy-scores", help="Text-only proxy score table.")
    ] = None,
    data: Annotated[
        list[str] | None, typer.Option("--data", help="Same as DATA (repeat per test set).")
    ] = None,
    name: Annotated[list[str] | None, typer.Option("--name", help="Test set name.")] = None,
    mm_model: Annotated[
        str | None,
        typer.Option("--mm-model", help="MM-RM (model or run folder): score --data first."),
    ] = None,
    proxy_model: Annotated[
        str | None, typer.Option("--proxy-model", help="Text-only RM (model or run folder).")
    ] = None,
    proxy_text_only: Annotated[
        str | None,
        typer.Option(
            "--proxy-text-only",
            help="How the proxy sees no image: drop|blank (default: its saved mode, else drop).",
        ),
    ] = None,
    group_by: Annotated[
        str | None, typer.Option("--group-by", help="Column / data field to split by.")
    ] = None,
    exclude_ids: Annotated[
        Path | None, typer.Option("--exclude-ids", help="File of ids to leave out.")
    ] = None,
    n_boot: NBoot = 1000,
    seed: Seed = 0,
    overwrite: Annotated[
        bool,
        typer.Option(
            "--overwrite",
            help="With --mm-model: rescore into OUTPUT/scores even if its tables were made "
            "from other models or data.",
        ),
    ] = False,
    no_html: NoHtml = False,
    as_json: Json = False,
    quiet: Quiet = False,
) -> None:
    start(as_json=as_json, quiet=quiet)
    data = data_files(data_args, data)
    if mm_model or proxy_model:
        mm_scores, proxy_scores = score_mm_and_proxy(
            mm_model,
            proxy_model,
            data,
            output / "scores",
            text_only=proxy_text_only,
            overwrite=overwrite,
        )
    mm_scores, proxy_scores = mm_scores or [], proxy_scores or []
    if not mm_scores or len(mm_scores) != len(proxy_scores):
        raise ConfigError(
            "give one --proxy-scores per --mm-scores (or --mm-model, --proxy-model and --data)."
        )
    if data and len(data) != len(mm_scores):
        raise ConfigError("give one --data per test set (or none).")
    stems = [Path(d).stem for d in data] if mm_model else [Path(m).stem for m in mm_scores]
    names = list(name or []) + stems[len(name or []) :]
    files = data or [None] * len(names)
    sets = [SfdSet(*s) for s in zip(names, mm_scores, proxy_scores, files, strict=True)]
    rep = report_sfd(
        sets,
        output,
        provenance(),
        n_boot=n_boot,
        seed=seed,
        exclude=exclude_ids,
        group_by=group_by,
    )
    html_index(output, no_html)
    if as_json:
        print_json_file(output / "results.json")
        return
    columns = ["test set", "SFD", "n success / fail", "acc success", "acc fail", "acc MM"]
    columns += ["acc proxy", "proxy ties"]
    rows = [_sfd_row(r) for r in rep.results]
    for set_name, groups in rep.groups.items():
        rows += [_sfd_row(g, f"{set_name}: {group_by} = {g.name}") for g in groups]
        macro = macro_over_groups(groups)
        rows.append([f"{set_name}: macro over {group_by}", pts(macro["macro_sfd"], scale=1)])
        rows[-1] += ["", "", "", pts(macro["macro_acc_mm"]), "", ""]
    print_table("SFD (points, 95% CI)", columns, rows, rep.files)
    for set_name, e in rep.excluded.items():
        typer.echo(
            f"{set_name}: excluded {e['excluded_records']} records listed in {e['file']} "
            f"({e['ids_not_in_input']} listed ids not in the score tables)"
        )


def _sfd_row(r: SFDResult, label: str | None = None) -> list[str]:
    return [
        label or r.name,
        pts(r.sfd, r.ci_low, r.ci_high, scale=1),
        f"{r.success.n_pairs} / {r.fail.n_pairs}",
        pts(r.success.accuracy, r.success.ci_low, r.success.ci_high),
        pts(r.fail.accuracy, r.fail.ci_low, r.fail.ci_high),
        pts(r.mm.accuracy),
        pts(r.proxy.accuracy),
        str(r.proxy.n_ties),
    ]


def register(app: typer.Typer) -> None:
    """Add `shortcutlab sfd`."""
    app.command("sfd", help=SFD_HELP)(sfd_cmd)
