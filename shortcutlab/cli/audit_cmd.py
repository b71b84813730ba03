"""`shortcutlab audit`: how predictable are a data set's labels from the text alone?

Thin layer over `shortcutlab.audit`: load the data (and --train), run the cheap text-only
proxies, write the output folder, print a rich table and write run_info.json.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from shortcutlab.audit.proxies import DESCRIPTIONS
from shortcutlab.audit.results import CHANCE
from shortcutlab.audit.run import AuditConfig, run_audit
from shortcutlab.audit.write import AuditOutput, write_audit
from shortcutlab.cli.common import (
    DataAlias,
    Json,
    Quiet,
    data_file,
    out_console,
    print_json_file,
    start,
)
from shortcutlab.cli.report_cmd import NoHtml, html_index
from shortcutlab.data.agreement import check_agreement
from shortcutlab.data.schemas import load_dataset_file
from shortcutlab.diagnostics.groups import exclude_records
from shortcutlab.progress import say
from shortcutlab.provenance import write_run_info
from shortcutlab.score_table import read_score_table

AUDIT_HELP = """Text-only audit of preference data with cheap proxies (no VLM, no images).

Runs longer-wins / shorter-wins (characters, words; tokens with --tokenizer) and a
logistic regression on pair-difference text features (word n-grams, length, sentences,
digits, list markers, hedges). The regression is fit on --train and applied to DATA, or
k-fold cross-validated on DATA (folds split records). Reports each proxy's accuracy with
a record-bootstrap 95% interval beside chance (50), per --group-by value too, and the
features that predict the label. Writes audit.json, features.csv/png, proxy_scores.jsonl
(a score table: `shortcutlab sfd --proxy-scores` reads it), proxy_pairs.jsonl and, with
--mm-scores, SFD of that reward model against each proxy (sfd.csv). See docs/audit.md.

Examples:

  shortcutlab audit test.jsonl --output out/audit

  shortcutlab audit povid/test.jsonl --train povid/train.jsonl --group-by env -o out/a

  shortcutlab audit test.jsonl --mm-scores mm_scores.jsonl --tokenizer models/tiny-llava
  --folds 10 --seed 1 -o out/audit

  shortcutlab audit vl_rewardbench.jsonl --group-by category
  --exclude-ids overlap_ids.txt -o out/audit

Only text is read: image files are never opened, so data published without its images
(VL-RewardBench) is audited as is. --exclude-ids FILE (overlap_ids.txt of `shortcutlab
overlap`) leaves the listed records of DATA out, counted in audit.json (`excluded`).
"""


def audit_cmd(
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the results.")],
    data: Annotated[
        str | None,
        typer.Argument(
            metavar="DATA", help="Preference data to audit (any schema).", show_default=False
        ),
    ] = None,
    data_option: DataAlias = None,
    train: Annotated[
        str | None, typer.Option("--train", help="Fit the regression here, apply to DATA.")
    ] = None,
    group_by: Annotated[
        str | None, typer.Option("--group-by", help="Record field to report accuracy per value.")
    ] = None,
    mm_scores: Annotated[
        str | None, typer.Option("--mm-scores", help="A reward model's score table of DATA: SFD.")
    ] = None,
    tokenizer: Annotated[
        str | None, typer.Option("--tokenizer", help="Tokenizer folder/name: token proxies.")
    ] = None,
    folds: Annotated[int, typer.Option("--folds", help="Cross-validation folds (no --train).")] = 5,
    ngrams: Annotated[int, typer.Option("--ngrams", help="Longest word n-gram (0: none).")] = 2,
    schema: Annotated[str | None, typer.Option("--schema", help="Force a schema.")] = None,
    skip_invalid: Annotated[bool, typer.Option("--skip-invalid", help="Skip bad rows.")] = False,
    n_boot: Annotated[int, typer.Option("--n-boot", help="Bootstrap replicates.")] = 1000,
    seed: Annotated[int, typer.Option("--seed", help="Seed of folds and bootstrap.")] = 0,
    exclude_ids: Annotated[
        Path | None,
        typer.Option("--exclude-ids", help="File of ids (overlap_ids.txt) left out of DATA."),
    ] = None,
    no_html: NoHtml = False,
    as_json: Json = False,
    quiet: Quiet = False,
) -> None:
    start(as_json=as_json, quiet=quiet)
    data = data_file(data, data_option)
    cfg = AuditConfig(
        folds=folds,
        seed=seed,
        ngram_max=ngrams,
        tokenizer=tokenizer,
        group_by=group_by,
        n_boot=n_boot,
    )
    # text only: image files may be absent (images="ignore")
    load_kw: dict[str, Any] = {"schema": schema, "skip_invalid": skip_invalid, "images": "ignore"}
    records = load_dataset_file(data, **load_kw).records
    say(f"audit: {len(records)} records loaded from {data}")
    ids, excluded = None, None
    if exclude_ids is not None:
        records, ids, excluded = exclude_records(records, exclude_ids)
    if mm_scores:  # its rewards are read against DATA's pairs: same responses, or stop now
        mm_table = read_score_table(mm_scores)
        check_agreement(records, mm_table, data_file=data, table_file=mm_scores)
    train_records = load_dataset_file(train, **load_kw).records if train else None
    say(f"audit: fitting the text-only proxies ({'--train' if train else f'{folds}-fold'})")
    result = run_audit(records, train_records, cfg, data_name=data, train_name=train or "")
    written = write_audit(result, output, mm_scores=mm_scores, exclude=ids, excluded=excluded)
    inputs = {"data": data} | ({"train": train} if train else {})
    inputs |= {"mm_scores": mm_scores} if mm_scores else {}
    inputs |= {"exclude_ids": str(exclude_ids)} if exclude_ids else {}
    info = write_run_info(
        output,
        command=["shortcutlab", *sys.argv[1:]],
        inputs=inputs,
        config=cfg.to_dict(),
        seed=seed,
    )
    html_index(Path(output), no_html)
    if as_json:
        print_json_file(Path(output) / "audit.json")
        return
    _print(written, [*written.files, info])


def _pts(acc: dict[str, Any]) -> str:
    a, lo, hi = acc.get("accuracy"), acc.get("ci_low"), acc.get("ci_high")
    if a is None or a != a:
        return "n/a"
    ci = f" [{100 * lo:.1f}, {100 * hi:.1f}]" if lo is not None and lo == lo else ""
    return f"{100 * a:.1f}{ci}"


def _print(out: AuditOutput, files: list[Path]) -> None:
    s = out.summary
    con = out_console()
    title = (
        f"Text-only audit: {s['records']} records, {s['pairs']} pairs "
        f"({s['mode']}; chance {100 * CHANCE:.0f})"
    )
    notes = "; ".join(f"{k}: {DESCRIPTIONS[k]}" for k in s["proxies"])
    table = Table(title=title, caption=notes)
    table.add_column("proxy")
    table.add_column("accuracy [95% CI]")
    table.add_column("ties")
    groups = s.get("groups", {})
    for g in groups:
        table.add_column(escape(f"{s['group_by']}={g}"))
    for name, acc in s["proxies"].items():
        cells = [name, _pts(acc), str(acc["n_ties"])]
        cells += [_pts(groups[g]["proxies"][name]) for g in groups]
        table.add_row(*cells)
    con.print(table)
    feats = Table(title="Top text features (text_lr weights; > 0: more of it wins)")
    for c in ("feature", "weight", "pairs", "examples"):
        feats.add_column(c)
    for _, row in out.features.head(10).iterrows():
        ex = ", ".join(x for x in (row["example_1"], row["example_2"]) if x)
        feats.add_row(escape(str(row["feature"])), f"{row['weight']:+.2f}", str(row["n_pairs"]), ex)
    con.print(feats)
    if s.get("excluded"):
        e = s["excluded"]
        con.print(
            f"excluded {e['excluded_records']} records listed in {e['file']} "
            f"({e['ids_not_in_input']} listed ids not in the data)",
            highlight=False,
        )
    for name, res in (s.get("sfd") or {}).items():
        con.print(f"SFD vs {name}: {res['sfd']:.1f} points", highlight=False)
    for f in files:
        con.print(f"wrote {f}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add `audit` to the `shortcutlab` app."""
    app.command("audit", help=AUDIT_HELP)(audit_cmd)
