"""`shortcutlab score`: a reward model + a data file -> a score table (thin layer over
`shortcutlab.scoring.run_scoring`). Resumable, multi-process with `--num-processes N`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn
from rich.table import Table

from shortcutlab import distributed
from shortcutlab.errors import ConfigError
from shortcutlab.scoring import run_scoring

HELP = """Score every response of a data file with a reward model -> a score table.

One row per response (id, response_index, reward, label, preference_score, lengths,
source, environment), JSONL or parquet by the output's extension. For pairwise or ranked
data the Eq. 2 accuracy (ties wrong) with a 95% bootstrap interval is printed and saved
to `<output stem>.summary.json` with provenance.

A model trained text-only (`train --mode text-only`) is scored the way it was trained
unless --text-only says otherwise (`--text-only none` forces the image in); the summary
records the effective mode.

Killed runs resume: rerun the same command and only missing records are scored. A
changed model, data file or option is refused unless `--overwrite`.

Examples:

  shortcutlab score --model runs/sa --data test.jsonl --output scores.jsonl

  shortcutlab score --model runs/sa --data test.jsonl --output text.jsonl --text-only drop

  shortcutlab score --model runs/text/model --data test.jsonl --output t.jsonl  # saved mode

  shortcutlab score --model runs/sa --data pairs.jsonl --image-root /data/imgs --output s.jsonl

  shortcutlab score --model runs/sa --data vlrb.parquet --output s.parquet --num-processes 4

  accelerate launch -m shortcutlab score --model runs/sa --data test.jsonl --output s.jsonl
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


def _progress_bar() -> tuple[Any, Any]:
    """A rich progress bar on stderr and the callback that drives it."""
    bar = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    task = bar.add_task("scoring records", total=None)

    def update(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    return bar, update


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
    if result.summary_path is not None:
        table.add_row("summary", str(result.summary_path))
    Console().print(table)


def score_command(
    model: str = typer.Option(
        ..., "--model", help="RewardModel folder, base VLM folder or Hub id."
    ),
    data: Path = typer.Option(..., "--data", help="Data file (JSONL/JSON/parquet/datasets dir)."),
    output: Path = typer.Option(..., "--output", help="Score table to write (.jsonl/.parquet)."),
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
    no_prefix_sharing: bool = typer.Option(
        False,
        "--no-prefix-sharing",
        help="Run every response in full instead of each record's image + prompt once "
        "with its answers on top (same rewards; sharing is the faster default).",
    ),
) -> None:
    """Score a data file with a reward model (see `shortcutlab score --help`)."""
    if text_only not in (None, "drop", "blank", "none"):
        raise ConfigError(f"--text-only must be 'drop', 'blank' or 'none', got '{text_only}'.")
    opts = dict(
        model=model, data=data, output=output, text_only=text_only, batch_size=batch_size,
        max_length=max_length, schema=schema, skip_invalid=skip_invalid, overwrite=overwrite,
        environment=environment, image_root=image_root, trust_remote_code=trust_remote_code,
        no_prefix_sharing=no_prefix_sharing,
    )  # fmt: skip
    argv = _argv(opts)
    if distributed.should_relaunch(num_processes):
        raise typer.Exit(distributed.relaunch(int(num_processes or 1), argv))

    main = distributed.is_main()
    bar, update = _progress_bar() if main else (None, None)
    if bar is not None:
        bar.start()
    try:
        result = run_scoring(
            model, data, output, text_only=text_only, batch_size=batch_size,
            max_length=max_length, schema=schema, skip_invalid=skip_invalid,
            overwrite=overwrite, environment=environment, progress=update,
            command=["shortcutlab", *argv], image_root=image_root,
            trust_remote_code=trust_remote_code, prefix_sharing=not no_prefix_sharing,
        )  # fmt: skip
    finally:
        if bar is not None:
            bar.stop()
    if main:
        _render(result)


def register(app: typer.Typer) -> None:
    """Add the top-level `score` command."""
    app.command("score", help=HELP, no_args_is_help=True)(score_command)
