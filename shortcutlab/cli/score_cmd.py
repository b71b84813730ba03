"""`shortcutlab score`: a reward model + a data file -> a score table (thin layer over
`shortcutlab.scoring.run_scoring`). Resumable, multi-process with `--num-processes N`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from shortcutlab import distributed
from shortcutlab.cli.common import (
    DATA_HELP,
    DataAlias,
    Json,
    Quiet,
    data_file,
    print_json_file,
    start,
)
from shortcutlab.errors import ConfigError
from shortcutlab.preflight import check_inputs
from shortcutlab.progress import Reporter
from shortcutlab.scoring import run_scoring

HELP = """Score every response of a data file with a reward model -> a score table.

One row per response (id, response_index, reward, label, preference_score, lengths,
source, environment), JSONL or parquet by the output's extension. For pairwise or ranked
data the Eq. 2 accuracy (ties wrong) with a 95% bootstrap interval is printed and saved
to `<output stem>.summary.json` with provenance.

A model trained text-only (`train --mode text-only`) is scored the way it was trained
unless --text-only says otherwise (`--text-only none` forces the image in); the summary
records the effective mode.

Images: --text-only drop/blank never read image files (records whose images are absent
score fine). --check-images decodes every image before any work; --skip-invalid skips
records whose image is missing or fails to decode (also while scoring), counted by reason
in the summary.

Killed runs resume: rerun the same command and only missing records are scored. A
changed model, data file or option is refused unless `--overwrite`.

Examples:

  shortcutlab score test.jsonl --model runs/sa -o scores.jsonl

  shortcutlab score test.jsonl --model runs/sa -o sa_no_image.jsonl --text-only drop

  shortcutlab score test.jsonl --model runs/text/model -o t.jsonl  # saved mode

  shortcutlab score pairs.jsonl --model runs/sa --image-root imgs -o s.jsonl

  shortcutlab score vlrb.parquet --model runs/sa -o s.parquet --num-processes 4 --json

  shortcutlab score vl_rewardbench.jsonl --model runs/sa -o vlrb_scores.jsonl --group-by category
  --exclude-ids overlap_ids.txt

  accelerate launch -m shortcutlab score test.jsonl --model runs/sa -o s.jsonl
"""


def _argv(opts: dict[str, Any]) -> list[str]:
    """The `score ...` arguments that reproduce this call (for relaunch and provenance)."""
    argv = ["score"]
    for name, value in opts.items():
        flag = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            argv += [flag] if value else []
        elif value is not None and value != "":
            argv += [flag, str(value)]
    return argv


def _render(result: Any) -> None:
    """Print the run summary: rows, resumed, accuracy in points with CI, ties."""
    s = result.summary()
    table = Table(title="score summary", show_header=False)
    table.add_row("output", str(result.output))
    table.add_row("rows (responses)", str(s["rows"]))
    table.add_row("records", str(s["records"]))
    resumed = f"{s['resumed_records']}" + (" (already complete)" if s["already_complete"] else "")
    table.add_row("resumed records", resumed)
    table.add_row("scored now", str(s["scored_records"]))
    if s["skipped"]:
        table.add_row("skipped (invalid)", ", ".join(f"{k}: {v}" for k, v in s["skipped"].items()))
    if s["skipped_at_run_time"]:
        runtime = ", ".join(f"{k}: {v}" for k, v in s["skipped_at_run_time"].items())
        table.add_row("of which while scoring", runtime)
    mode = s["text_only"] or "none (with image)"
    origin = "saved with the model" if s["text_only_source"] == "model" else "--text-only"
    table.add_row("text-only mode", f"{mode} ({origin})")
    table.add_row("cut to max_length", f"{s['truncated']} (prompt + answer cuts)")
    table.add_row("processes", str(s["num_processes"]))
    acc = result.accuracy
    if acc is not None:
        table.add_row(
            "accuracy (Eq. 2)",
            f"{100 * acc.accuracy:.1f} [{100 * acc.ci_low:.1f}, {100 * acc.ci_high:.1f}] "
            f"(95% CI, {acc.n_pairs} pairs)",
        )
        table.add_row("ties (counted wrong)", str(acc.n_ties))
    else:
        table.add_row("accuracy", "n/a (no preference pairs in the data)")
    if s["excluded"]:
        e = s["excluded"]
        table.add_row(
            "excluded (--exclude-ids)",
            f"{e['excluded_records']} records ({e['ids_not_in_input']} listed ids not in the data)",
        )
    if result.groups is not None:
        for name, g in result.groups.groups.items():
            table.add_row(
                f"  {result.group_by} = {name}",
                f"{100 * g.accuracy:.1f} [{100 * g.ci_low:.1f}, {100 * g.ci_high:.1f}] "
                f"({g.n_pairs} pairs)",
            )
        table.add_row(f"macro accuracy over {result.group_by}", f"{100 * result.groups.macro:.1f}")
    if result.summary_path is not None:
        table.add_row("summary", str(result.summary_path))
    Console().print(table)


def score_command(
    data_arg: Annotated[
        str | None, typer.Argument(metavar="DATA", help=DATA_HELP, show_default=False)
    ] = None,
    data: DataAlias = None,
    model: str = typer.Option(
        ...,
        "--model",
        help="RewardModel folder, `train --output` run folder (uses its model/), base VLM "
        "folder or Hub id.",
    ),
    output: Path = typer.Option(
        ..., "--output", "-o", help="Score table to write (.jsonl/.parquet)."
    ),
    text_only: str | None = typer.Option(
        None,
        "--text-only",
        help="'drop' (no image tokens), 'blank' (white image) or 'none' (with image). "
        "Default: the mode saved with the model (text-only RMs score text-only).",
    ),
    batch_size: int = typer.Option(16, "--batch-size", help="Sequences (responses) per forward."),
    max_length: int = typer.Option(4096, "--max-length", help="Max tokens per sequence."),
    num_processes: int | None = typer.Option(
        None, "--num-processes", help="Re-launch under `accelerate launch` with N processes."
    ),
    schema: str | None = typer.Option(None, "--schema", help="Force the data schema."),
    skip_invalid: bool = typer.Option(
        False, "--skip-invalid", help="Skip invalid rows (counted by reason) instead of failing."
    ),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Replace an existing output / discard a stale journal."
    ),
    environment: str = typer.Option("", "--environment", help="Value of the environment column."),
    image_root: str | None = typer.Option(
        None, "--image-root", help="Folder relative image paths are resolved against."
    ),
    trust_remote_code: bool = typer.Option(
        False, "--trust-remote-code", help="Allow the model folder's custom code to run."
    ),
    check_images: bool = typer.Option(
        False,
        "--check-images",
        help="Decode every image before any work (a bad one: an error, or with "
        "--skip-invalid a counted skip).",
    ),
    exclude_ids: Path | None = typer.Option(
        None,
        "--exclude-ids",
        help="File of ids, one a line (overlap_ids.txt of `shortcutlab overlap`): not "
        "scored, counted in the summary.",
    ),
    group_by: str | None = typer.Option(
        None,
        "--group-by",
        help="Data field or score-table column (e.g. category): accuracy per group and "
        "the macro average over groups.",
    ),
    as_json: Json = False,
    quiet: Quiet = False,
    no_prefix_sharing: bool = typer.Option(
        False,
        "--no-prefix-sharing",
        help="Run every response in full instead of each record's image + prompt once "
        "with its answers on top (same rewards; sharing is the faster default).",
    ),
) -> None:
    """Score a data file with a reward model (see `shortcutlab score --help`)."""
    start(as_json=as_json, quiet=quiet)
    if text_only not in (None, "drop", "blank", "none"):
        raise ConfigError(f"--text-only must be 'drop', 'blank' or 'none', got '{text_only}'.")
    opts: dict[str, Any] = {"model": model, "data": data_file(data_arg, data), "output": output}
    opts |= {"text_only": text_only, "batch_size": batch_size, "max_length": max_length}
    opts |= {"schema": schema, "skip_invalid": skip_invalid, "overwrite": overwrite}
    opts |= {"environment": environment, "image_root": image_root}
    opts |= {"trust_remote_code": trust_remote_code, "json": as_json, "quiet": quiet}
    opts |= {"check_images": check_images, "exclude_ids": exclude_ids, "group_by": group_by}
    opts |= {"no_prefix_sharing": no_prefix_sharing}
    argv = _argv(opts)
    if distributed.should_relaunch(num_processes):
        check_inputs(
            data=[opts["data"]],
            model=model,
            schema=schema,
            skip_invalid=skip_invalid,
            image_root=image_root,
        )
        raise typer.Exit(distributed.relaunch(int(num_processes or 1), argv))
    run_opts = {k: v for k, v in opts.items() if k not in ("model", "data", "output")}
    run_opts = {k: v for k, v in run_opts.items() if k not in ("json", "quiet")}
    run_opts["prefix_sharing"] = not run_opts.pop("no_prefix_sharing")
    main = distributed.is_main()
    with Reporter("score", None, "records", enabled=main) as bar:
        result = run_scoring(
            model,
            opts["data"],
            output,
            progress=bar.update,
            command=["shortcutlab", *argv],
            **run_opts,
        )
    if not main:
        return
    if as_json and result.summary_path is not None:
        print_json_file(result.summary_path)
    elif not as_json:
        _render(result)


def register(app: typer.Typer) -> None:
    """Add the top-level `score` command."""
    app.command("score", help=HELP, no_args_is_help=True)(score_command)
