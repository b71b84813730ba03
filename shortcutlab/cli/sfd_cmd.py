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
from shortcutlab.diagnostics.outputs import SfdSet, report_sfd
from shortcutlab.diagnostics.sfd import SFDResult
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
    mm_model: Annotated[str | None, typer.Option("--mm-model", help="Score --data first.")] = None,
    proxy_model: Annotated[str | None, typer.Option("--proxy-model", help="Text-only RM.")] = None,
    proxy_text_only: Annotated[
        str, typer.Option("--proxy-text-only", help="How the proxy sees no image: drop|blank.")
    ] = "drop",
    n_boot: NBoot = 1000,
    seed: Seed = 0,
    as_json: Json = False,
    quiet: Quiet = False,
) -> None:
    start(as_json=as_json, quiet=quiet)
    data = data_files(data_args, data)
    if mm_model or proxy_model:
        mm_scores, proxy_scores = score_mm_and_proxy(
            mm_model, proxy_model, data, output / "scores", text_only=proxy_text_only
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
    rep = report_sfd(sets, output, provenance(), n_boot=n_boot, seed=seed)
    if as_json:
        print_json_file(output / "results.json")
        return
    columns = ["test set", "SFD", "n success / fail", "acc success", "acc fail", "acc MM"]
    columns += ["acc proxy", "proxy ties"]
    rows = [_sfd_row(r) for r in rep.results]
    print_table("SFD (points, 95% CI)", columns, rows, rep.files)


def _sfd_row(r: SFDResult) -> list[str]:
    return [
        r.name,
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
