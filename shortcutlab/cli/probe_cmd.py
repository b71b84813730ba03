"""`shortcutlab probe make | run | report`: counterfactual image and text tests of any RM
(a thin layer over `shortcutlab.probe`; docs/probe.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from shortcutlab import distributed
from shortcutlab.cli.common import (
    DATA_HELP,
    DataAlias,
    Json,
    NBoot,
    Quiet,
    data_file,
    print_json_file,
    print_table,
    start,
)
from shortcutlab.cli.report_cmd import NoHtml, html_index
from shortcutlab.errors import ConfigError

probe_app = typer.Typer(
    help="What does a reward model respond to? Counterfactual image and text tests for "
    "any RM, without labels: the image swapped, blanked or dropped, and text edits that "
    "should not matter (docs/probe.md).\n\n"
    "Examples:\n\n"
    "  shortcutlab probe run test.jsonl --model runs/sa -o probe/sa\n\n"
    "  shortcutlab probe make test.jsonl -o battery --max-records 1000 --tests swap,pad\n\n"
    "  shortcutlab probe report --battery probe/sa --scores probe/sa/scores -o card "
    "--name sa  # or tables scored elsewhere",
    no_args_is_help=True,
)

DataArg = Annotated[str | None, typer.Argument(metavar="DATA", help=DATA_HELP, show_default=False)]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed of the sample and the image swap.")]
MaxRecords = Annotated[
    int | None, typer.Option("--max-records", help="Probe a seeded sample of N records.")
]
GroupBy = Annotated[
    str | None,
    typer.Option("--group-by", help="Data field: image swaps stay within its groups."),
]
Edits = Annotated[
    Path | None,
    typer.Option(
        "--edits",
        help='Extra text edits, one JSON object a line: {"name": "thanks", "op": "suffix", '
        '"text": "I hope this helps!"} (op: prefix, suffix or replace with "find").',
    ),
]
Tests = Annotated[
    str | None,
    typer.Option(
        "--tests",
        help="Comma-separated subset of the tests (swap, blank, drop, pad, hedge, list, "
        "truncate, your --edits names). Default: all.",
    ),
]
Schema = Annotated[str | None, typer.Option("--schema", help="Force the data schema.")]
ImageRoot = Annotated[
    str | None, typer.Option("--image-root", help="Folder relative image paths resolve in.")
]
SkipInvalid = Annotated[
    bool, typer.Option("--skip-invalid", help="Skip invalid rows (counted) instead of failing.")
]


def _make_options(**kw: Any) -> Any:
    from shortcutlab.probe import MakeOptions

    return MakeOptions(
        seed=kw["seed"],
        max_records=kw["max_records"],
        group_by=kw["group_by"],
        edits_file=kw["edits"],
        schema=kw["schema"],
        image_root=kw["image_root"],
        skip_invalid=kw["skip_invalid"],
        tests=tuple(t.strip() for t in kw["tests"].split(",")) if kw["tests"] else None,
    )


@probe_app.command("make", no_args_is_help=True)
def make_command(
    data_arg: DataArg = None,
    data: DataAlias = None,
    output: Path = typer.Option(..., "--output", "-o", help="Battery folder to write."),
    seed: SeedOpt = 0,
    max_records: MaxRecords = None,
    group_by: GroupBy = None,
    edits: Edits = None,
    tests: Tests = None,
    schema: Schema = None,
    image_root: ImageRoot = None,
    skip_invalid: SkipInvalid = False,
    as_json: Json = False,
    quiet: Quiet = False,
) -> None:
    """Write the battery: one data file per test (swap, blank, drop, pad, hedge, list,
    truncate, your --edits), each row naming its base record and variant; score them
    with any pipeline, then `probe report`.

    Example: shortcutlab probe make test.jsonl -o battery --max-records 1000
    """
    from shortcutlab.probe import make_battery

    start(as_json=as_json, quiet=quiet)
    opts = _make_options(**locals())
    battery = make_battery(data_file(data_arg, data), output, opts)
    if as_json:
        print_json_file(output / "probe.json")
        return
    rows = [
        [name, t["kind"], t["file"] or "-", t["records"], _skips(t["skipped"])]
        for name, t in battery.manifest["tests"].items()
    ]
    print_table("probe battery", ["test", "kind", "file", "records", "left out"], rows)
    _notes(battery.notes(), [output / "probe.json"])


def _skips(skipped: dict[str, int]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in skipped.items()) or "-"


def _notes(notes: list[str], files: list[Path]) -> None:
    for n in notes:
        typer.echo(f"note: {n}")
    for f in files:
        typer.echo(f"wrote {f}")


def _render_card(card: dict[str, Any], out: Path) -> None:
    rows = []
    for name, t in card["tests"].items():
        m = t["metrics"]
        if t["kind"] == "image":
            main = ("flipped", m["flip_rate"], 100.0)
            second = ("|change| sd", m["mean_abs_change_sd"], 1.0)
        else:
            main = ("change sd", m["mean_change_sd"], 1.0)
            second = ("wins", m["win_rate"], 100.0)
        rows += [[name, label, _interval(v, s)] for label, v, s in (main, second)]
    print_table("probe: shortcut card", ["test", "metric", "value [95% CI]"], rows)
    files = [out / n for n in ("card.json", "card.md", "probe.csv", "probe.png")]
    _notes(card["notes"], files)


def _interval(m: dict[str, Any], scale: float) -> str:
    if m["value"] is None:
        return "n/a"
    lo, hi = m["ci_low"], m["ci_high"]
    s = f"{scale * m['value']:.2f}"
    return s + (f" [{scale * lo:.2f}, {scale * hi:.2f}]" if lo is not None else "")


@probe_app.command("run", no_args_is_help=True)
def run_command(
    data_arg: DataArg = None,
    data: DataAlias = None,
    model: str = typer.Option(
        ..., "--model", help="RewardModel folder, `train --output` run folder or base VLM."
    ),
    output: Path = typer.Option(..., "--output", "-o", help="Folder: battery, scores, card."),
    seed: SeedOpt = 0,
    max_records: MaxRecords = None,
    group_by: GroupBy = None,
    edits: Edits = None,
    tests: Tests = None,
    schema: Schema = None,
    image_root: ImageRoot = None,
    skip_invalid: SkipInvalid = False,
    batch_size: int = typer.Option(16, "--batch-size", help="Sequences per forward."),
    max_length: int = typer.Option(4096, "--max-length", help="Max tokens per sequence."),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Rescore instead of refusing a changed model or battery."
    ),
    num_processes: int | None = typer.Option(
        None, "--num-processes", help="Re-launch under `accelerate launch` with N processes."
    ),
    trust_remote_code: bool = typer.Option(
        False, "--trust-remote-code", help="Allow the model folder's custom code to run."
    ),
    n_boot: NBoot = 1000,
    no_html: NoHtml = False,
    as_json: Json = False,
    quiet: Quiet = False,
) -> None:
    """Make the battery, score it with the model (resumable, multi-process, each record's
    image + prompt encoded once for all its text variants) and write the shortcut card
    and OUTPUT/index.html (the records whose reward moved most; --no-html to skip).

    Example: shortcutlab probe run test.jsonl --model runs/sa -o probe/sa
    """
    from shortcutlab.probe import ReportOptions, ScoreOptions, run_probe

    start(as_json=as_json, quiet=quiet)
    path = data_file(data_arg, data)
    if batch_size < 1:
        raise ConfigError(f"--batch-size must be >= 1, got {batch_size}.")
    make = _make_options(**locals())
    if distributed.should_relaunch(num_processes):
        from shortcutlab.probe import make_battery

        make_battery(path, output, make)  # bad input: one message here, before any launch
        raise typer.Exit(distributed.relaunch(int(num_processes or 1)))
    scoring = ScoreOptions(batch_size, max_length, overwrite, trust_remote_code=trust_remote_code)
    report = ReportOptions(model=model, n_boot=n_boot)
    card = run_probe(model, path, output, make=make, scoring=scoring, report=report)
    if card is None:  # a rank > 0 of a multi-process run
        return
    html_index(output, no_html)
    if as_json:
        print_json_file(output / "card.json")
    else:
        _render_card(card, output)


@probe_app.command("report", no_args_is_help=True)
def report_command(
    scores: list[Path] = typer.Option(
        ...,
        "--scores",
        help="Score table of battery files, or a folder of them (repeatable; any grouping).",
    ),
    output: Path = typer.Option(..., "--output", "-o", help="Folder for the card and figure."),
    battery: Path | None = typer.Option(
        None, "--battery", help="The `probe make` folder (default: --output, if it is one)."
    ),
    name: str = typer.Option("", "--name", help="The model's name in the card."),
    n_boot: NBoot = 1000,
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap."),
    no_html: NoHtml = False,
    as_json: Json = False,
    quiet: Quiet = False,
) -> None:
    """The shortcut card from score tables of a battery (scored here or elsewhere):
    card.json, card.md, probe.csv, a figure and index.html. A table that misses a variant file's
    responses is an error naming the variant and its file.

    Example: shortcutlab probe report --battery battery --scores scored/*.jsonl -o card
    """
    from shortcutlab.probe import ReportOptions, read_battery, write_report

    start(as_json=as_json, quiet=quiet)
    folder = battery if battery is not None else output
    bat = read_battery(folder)
    card = write_report(bat, list(scores), output, ReportOptions(name, n_boot, seed))
    html_index(output, no_html)
    if as_json:
        print_json_file(output / "card.json")
    else:
        _render_card(card, output)


def register(app: typer.Typer) -> None:
    """Add the `probe` group to the root app."""
    app.add_typer(probe_app, name="probe")
