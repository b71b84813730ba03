"""`shortcutlab data ...`: look at data files before training on them (thin layer over
`shortcutlab.data.inspect` and `shortcutlab.data.schemas`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from shortcutlab.cli.common import (
    DATA_HELP,
    DataAlias,
    Json,
    UsageError,
    data_file,
    out_console,
    print_json,
)
from shortcutlab.data.inspect import inspect_file
from shortcutlab.data.schemas import list_schemas, load_dataset_file
from shortcutlab.data.writing import write_records

data_app = typer.Typer(
    help="Inspect preference data files (any supported schema).\n\n"
    "Examples:\n\n"
    "  shortcutlab data inspect train.jsonl\n\n"
    "  shortcutlab data schemas\n\n"
    "  shortcutlab data convert rlaif_v.parquet -o rlaif_v.jsonl --to pairwise",
    no_args_is_help=True,
)

INSPECT_HELP = """Summarise a data file: schema, counts, length bias, images, skipped rows.

Every image's header is checked (exists, non-empty, a known format, size within the
pixel limit; every pixel with --check-images) and problems are counted by reason: the
exit code stays 0 (data published without images inspects fine) unless --strict.
Ids repeated with different content are reported (each such record gets a unique key).

Examples:

  shortcutlab data inspect data/train.jsonl

  shortcutlab data inspect rlaif_v.parquet --unit words --examples 2

  shortcutlab data inspect vlf.jsonl --schema vlfeedback --skip-invalid --json

  shortcutlab data inspect pairs.jsonl --unit tokens --tokenizer models/tiny-llava
"""


@data_app.command("inspect", help=INSPECT_HELP)
def inspect_cmd(
    data: Annotated[str | None, typer.Argument(help=DATA_HELP, show_default=False)] = None,
    data_option: DataAlias = None,
    schema: Annotated[
        str | None, typer.Option("--schema", help="Force a schema (see `data schemas`).")
    ] = None,
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="Skip invalid rows, counted by reason.")
    ] = False,
    unit: Annotated[
        str, typer.Option("--unit", help="Length unit: chars, words or tokens.")
    ] = "chars",
    tokenizer: Annotated[
        str | None, typer.Option("--tokenizer", help="Local tokenizer folder for --unit tokens.")
    ] = None,
    examples: Annotated[int, typer.Option("--examples", help="Records to show.")] = 3,
    image_root: Annotated[
        str | None, typer.Option("--image-root", help="Folder relative image paths live in.")
    ] = None,
    check_images: Annotated[
        bool, typer.Option("--check-images", help="Decode every image (slower).")
    ] = False,
    strict: Annotated[
        bool,
        typer.Option("--strict", help="Image problems are an error (exit 2) instead of counts."),
    ] = False,
    as_json: Json = False,
) -> None:
    report = inspect_file(
        data_file(data, data_option),
        schema=schema,
        skip_invalid=skip_invalid,
        unit=unit,
        tokenizer=tokenizer,
        examples=examples,
        image_root=image_root,
        check_images=check_images,
        strict=strict,
    )
    if as_json:
        print_json(report)
    else:
        _render(report)


@data_app.command(
    "schemas",
    help="List the supported schemas and their fields.\n\nExample:\n\n  shortcutlab data schemas",
)
def schemas_cmd() -> None:
    table = Table(title="schemas (auto-detected from fields; force with --schema)")
    for col in ("name", "fields", "layout"):
        table.add_column(col)
    for name, summary, fields in list_schemas():
        table.add_row(name, ", ".join(fields), escape(summary))
    out_console().print(table)


CONVERT_HELP = """Rewrite a data file (any schema) in an official layout.

Images held as bytes (parquet, datasets folders) are saved beside the output and
referenced by relative path, so the result loads anywhere the folder goes. With
--skip-invalid every image is decoded first and records whose image is missing or does
not decode are dropped, counted by reason. --images ignore converts data published
without its images (VL-RewardBench's data.jsonl): the image references are kept
unchecked (absolute paths), so text-only work runs on the result and the images can be
added later. Image paths are written relative to the output when they lie in its folder,
else absolute (never a chain of ../).

Examples:

  shortcutlab data convert rlaif_v.parquet -o data/rlaif_v.jsonl --to pairwise

  shortcutlab data convert vlrewardbench/ -o vlrb.jsonl --to vlfeedback --skip-invalid

  shortcutlab data convert vl_rewardbench.jsonl -o vlrb_text.jsonl --images ignore
"""


@data_app.command("convert", help=CONVERT_HELP)
def convert_cmd(
    data: Annotated[str | None, typer.Argument(help=DATA_HELP, show_default=False)] = None,
    legacy_output: Annotated[
        str | None,
        typer.Argument(metavar="OUTPUT", help="Same as --output (the old form).", hidden=True),
    ] = None,
    data_option: DataAlias = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Output .jsonl, .json or .parquet file."),
    ] = None,
    to: Annotated[
        str | None,
        typer.Option("--to", help="pairwise, vlfeedback or inference (default: from the data)."),
    ] = None,
    schema: Annotated[str | None, typer.Option("--schema", help="Force the input schema.")] = None,
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="Skip invalid rows, counted by reason.")
    ] = False,
    image_root: Annotated[
        str | None, typer.Option("--image-root", help="Folder relative image paths live in.")
    ] = None,
    images: Annotated[
        str,
        typer.Option(
            "--images",
            help="'require' (image files must exist) or 'ignore' (keep the image references "
            "unchecked: data published without its images, e.g. VL-RewardBench).",
        ),
    ] = "require",
    as_json: Json = False,
) -> None:
    src = data_file(data, data_option)
    if output is not None and legacy_output is not None:
        raise UsageError("give the output once: --output/-o (or the old second argument).")
    out = output if output is not None else legacy_output
    if out is None:
        raise UsageError("Missing option '--output' / '-o' (the file to write).")
    res = load_dataset_file(
        src,
        schema=schema,
        skip_invalid=skip_invalid,
        image_root=image_root,
        # --skip-invalid: the output then holds only images that decode
        check_images=skip_invalid and images == "require",
        images=images,
    )
    path = write_records(res.records, out, schema=to)
    if as_json:
        summary = {"records": len(res.records), "schema": res.schema, "input": src}
        print_json(summary | {"output": str(path), "skipped": dict(sorted(res.skipped.items()))})
        return
    skipped = ", ".join(f"{k}: {v}" for k, v in sorted(res.skipped.items())) or "none"
    typer.echo(f"{len(res.records)} {res.schema} records -> {path} (skipped: {skipped})")


def _render(r: dict[str, Any]) -> None:
    console = out_console()
    length = r["length"]
    share = length["chosen_longer_share"]
    k = r["responses_per_record"]
    table = Table(title=escape(r["path"]), show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    rows = [
        ("schema", r["schema"]),
        ("records", str(r["records"])),
        ("pairs", str(r["pairs"])),
        ("responses / record", f"min {k['min']}, max {k['max']}, mean {k['mean']:.2f}"),
        ("pairs dropped: score ties", str(r["score_ties"])),
        ("pairs dropped: unscored", str(r["unscored_pairs"])),
        (
            f"chosen longer ({length['unit']})",
            "n/a"
            if share is None
            else f"{share:.1%} of {length['pairs']} pairs "
            f"(rejected longer {length['rejected_longer']}, equal {length['equal_length']})",
        ),
        ("images", _images_line(r["images"])),
        ("repeated ids", _repeats_line(r["repeated_ids"])),
        ("skipped", ", ".join(f"{k}: {v}" for k, v in r["skipped"].items()) or "none"),
    ]
    for name, value in rows:
        table.add_row(name, escape(value))
    console.print(table)
    for msg in r["images"]["examples"][:3]:
        console.print(f"image problem: {msg}", highlight=False, markup=False, soft_wrap=True)
    if r["images"]["problem_images"]:
        n = r["images"]["records_with_problem_image"]
        console.print(
            f"{n} records have an image problem: counted, not an error (text-only work "
            "needs no image; --strict makes it one, --skip-invalid --strict skips them).",
            highlight=False,
            markup=False,
        )
    for ex in r["examples"]:
        scores = None if ex["scores"] is None else [_num(s) for s in ex["scores"]]
        head = f"image={ex['image']} pairs={ex['pairs']} scores={scores}"
        console.print(f"[bold]{escape(ex['id'])}[/] {escape(head)}", highlight=False)
        console.print(f"  prompt: {ex['prompt']}", highlight=False, markup=False)
        for i, resp in enumerate(ex["responses"]):
            console.print(f"  [{i}] {resp}", highlight=False, markup=False)


def _images_line(im: dict[str, Any]) -> str:
    """'3 records with image, 2 distinct (header checked); problems: missing_image: 1'."""
    problems = ", ".join(f"{k}: {v}" for k, v in im["problems"].items()) or "none"
    how = "fully decoded" if im["decoded"] else "headers read; --check-images decodes"
    return (
        f"{im['with_image']} records with image, {im['distinct']} distinct ({how}); "
        f"problems: {problems}"
    )


def _repeats_line(rep: dict[str, Any]) -> str:
    if not rep["ids"]:
        return "none"
    return (
        f"{_count(rep['ids'], 'id repeats', 'ids repeat')} with different content: "
        f"{_count(rep['records_renamed'], 'record', 'records')} keyed <id>#<content hash>"
    )


def _count(n: int, one: str, many: str) -> str:
    """'1 id repeats' / '2 ids repeat': the number with the right form of the words."""
    return f"{n} {one if n == 1 else many}"


def _num(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


def register(app: typer.Typer) -> None:
    """Add the `data` group to the root app."""
    app.add_typer(data_app, name="data")
