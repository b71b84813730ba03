"""`shortcutlab score`: a reward model + a data file -> a score table (thin layer over
`shortcutlab.scoring.score`). Resumable, multi-process with `--num-processes N`.

Every `ScoreConfig` field is a `--kebab-case` flag (generated from the dataclass by
`cli.config_options`, as `train`'s from TrainConfig); the inputs (DATA, --model,
--output) and the process options (--num-processes, --json, --quiet) are this command's.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from shortcutlab import distributed
from shortcutlab.cli.common import (
    DATA_HELP,
    DataAlias,
    Json,
    Quiet,
    data_file,
    out_console,
    print_json_file,
    start,
)
from shortcutlab.cli.config_options import config_parameters, flags_argv
from shortcutlab.preflight import check_inputs
from shortcutlab.progress import Reporter
from shortcutlab.scoring import ScoreConfig, ScoreResult, score

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
rerun also retries records skipped because their image did not decode (fixed since?),
saying how many on stderr. A changed model, data file or option is refused unless
`--overwrite`.

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


def _render(result: ScoreResult) -> None:
    """Print the run summary: rows, resumed, accuracy in points with CI, ties."""
    s = result.summary()
    table = Table(title="score summary", show_header=False)
    table.add_row("output", str(result.output))
    table.add_row("rows (responses)", str(s["rows"]))
    table.add_row("records", str(s["records"]))
    resumed = f"{s['resumed_records']}" + (" (already complete)" if s["already_complete"] else "")
    table.add_row("resumed records", resumed)
    table.add_row("scored now", str(s["scored_records"]))
    if s["retried"]:
        retried = ", ".join(f"{k}: {v}" for k, v in s["retried"].items())
        table.add_row("retried (skipped before)", retried)
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
    out_console().print(table)


def _parameters() -> list[inspect.Parameter]:
    """DATA, --data, --model, --output, the ScoreConfig flags, --num-processes, --json, -q."""

    def param(name: str, annotation: Any, default: Any = None) -> inspect.Parameter:
        return inspect.Parameter(
            name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation
        )

    data_arg = typer.Argument(metavar="DATA", help=DATA_HELP, show_default=False)
    model_help = (
        "RewardModel folder, `train --output` run folder (uses its model/), base VLM "
        "folder or Hub id."
    )
    output_help = "Score table to write (.jsonl/.parquet)."
    relaunch = "Re-launch under `accelerate launch` with N processes."
    return [
        param("data_arg", Annotated[str | None, data_arg]),
        param("data", DataAlias),
        param("model", Annotated[str, typer.Option("--model", help=model_help)], ...),
        param("output", Annotated[Path, typer.Option("--output", "-o", help=output_help)], ...),
        *config_parameters(ScoreConfig),
        param("num_processes", Annotated[int | None, typer.Option(help=relaunch)]),
        param("as_json", Json, False),
        param("quiet", Quiet, False),
    ]


def score_command(**kwargs: Any) -> None:
    """Score a data file with a reward model (see `shortcutlab score --help`)."""
    as_json, quiet = kwargs.pop("as_json"), kwargs.pop("quiet")
    start(as_json=as_json, quiet=quiet)
    data = data_file(kwargs.pop("data_arg"), kwargs.pop("data"))
    model, output = kwargs.pop("model"), kwargs.pop("output")
    num_processes = kwargs.pop("num_processes")
    cfg = ScoreConfig.from_flags(kwargs).validate()
    argv = ["score", "--model", model, "--data", str(data), "--output", str(output)]
    argv += flags_argv(kwargs) + (["--json"] if as_json else []) + (["--quiet"] if quiet else [])
    if distributed.should_relaunch(num_processes):
        check_inputs(
            data=[data],
            model=model,
            schema=cfg.schema,
            skip_invalid=cfg.skip_invalid,
            image_root=cfg.image_root,
        )
        raise typer.Exit(distributed.relaunch(int(num_processes or 1), argv))
    main = distributed.is_main()
    with Reporter("score", None, "records", enabled=main) as bar:
        result = score(
            model, data, output, cfg, progress=bar.update, command=["shortcutlab", *argv]
        )
    if not main:
        return
    if as_json and result.summary_path is not None:
        print_json_file(result.summary_path)
    elif not as_json:
        _render(result)


score_command.__signature__ = inspect.Signature(_parameters())  # type: ignore[attr-defined]


def register(app: typer.Typer) -> None:
    """Add the top-level `score` command."""
    app.command("score", help=HELP, no_args_is_help=True)(score_command)
