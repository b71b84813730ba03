"""`shortcutlab overlap TRAIN TEST`: contamination check before calling a test set o.o.d.

Thin layer over `shortcutlab.audit.overlap`: load both files, compare and write
(`write_overlap`), print a rich table.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from shortcutlab.audit.overlap import (
    DEFAULT_ID_KINDS,
    KINDS,
    image_check_note,
    overlap,
    write_overlap,
)
from shortcutlab.cli.common import Json, out_console, print_json_file, start
from shortcutlab.data.schemas import load_dataset_file

OVERLAP_HELP = f"""Train/test overlap: identical or near-identical images, prompts, responses, ids.

Per test record: an identical image (same pixels), a near-identical one (perceptual hash
within --max-distance of 64 bits), the same prompt, a response that is also a training
response, the same text example (prompt and response of one training record), and an id
prefix shared with training ids (e.g. "RLAIF-V" of "RLAIF-V_0042"). Writes overlap.json
(counts), overlap.csv (flags per test record, with the matching training id) and
overlap_ids.txt: the overlapping test ids, one a line (kinds from --ids-from, default
{", ".join(DEFAULT_ID_KINDS)}). Missing or broken images are counted, not fatal.

Kinds: {", ".join(KINDS)}.

Examples:

  shortcutlab overlap train.jsonl test.jsonl --output out/overlap

  shortcutlab overlap rlaif_v.parquet vl_rewardbench.jsonl --max-distance 6
  --ids-from image_identical --ids-from prompt -o out/overlap
"""


def overlap_cmd(
    train: Annotated[str, typer.Argument(help="Training data file (any supported schema).")],
    test: Annotated[str, typer.Argument(help="Test data file (any supported schema).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the results.")],
    max_distance: Annotated[
        int, typer.Option("--max-distance", help="Near-identical: phash bits that may differ.")
    ] = 4,
    ids_from: Annotated[
        list[str] | None, typer.Option("--ids-from", help="Kinds that make a test id overlap.")
    ] = None,
    no_images: Annotated[
        bool, typer.Option("--no-images", help="Compare text only (skip image hashing).")
    ] = False,
    schema: Annotated[str | None, typer.Option("--schema", help="Force a schema.")] = None,
    skip_invalid: Annotated[bool, typer.Option("--skip-invalid", help="Skip bad rows.")] = False,
    as_json: Json = False,
) -> None:
    start(as_json=as_json)
    # missing image files are counted by `overlap`, never fatal: the loader keeps them unchecked
    kw = {"schema": schema, "skip_invalid": skip_invalid, "images": "ignore"}
    tr, te = load_dataset_file(train, **kw).records, load_dataset_file(test, **kw).records
    kinds = tuple(ids_from) if ids_from else DEFAULT_ID_KINDS
    res = overlap(tr, te, max_distance=max_distance, id_kinds=kinds, images=not no_images)
    files = write_overlap(
        res,
        output,
        train=train,
        test=test,
        command=["shortcutlab", *sys.argv[1:]],
        config={"max_distance": max_distance, "ids_from": list(kinds), "images": not no_images},
    )
    note = image_check_note(res.images)
    if note and res.images.get("checked"):
        first = (res.images.get("unreadable_examples") or ["?"])[0]
        typer.echo(
            f"warning: overlap: image_identical / image_near {note} ("
            f"{res.images['test_unreadable']} test, {res.images['train_unreadable']} "
            f"training); {res.images['test_records_not_checked']} test records' images were "
            f"not compared. First: {first}",
            err=True,
        )
    if as_json:
        print_json_file(output / "overlap.json")
        return
    _print(res.counts, files, note)


def _print(counts: dict[str, int], files: list[Path], note: str | None = None) -> None:
    n = max(counts["test_records"], 1)
    table = Table(title=f"Test records found in training data (of {counts['test_records']})")
    table.add_column("kind")
    table.add_column("test records")
    table.add_column("%")
    for k in (*KINDS, "overlapping"):
        value = str(counts[k])
        if note and k in ("image_identical", "image_near"):
            value += f" ({note})"
        table.add_row(k, value, f"{100 * counts[k] / n:.1f}")
    con = out_console()
    con.print(table)
    for f in files:
        con.print(f"wrote {f}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add `overlap` to the `shortcutlab` app."""
    app.command("overlap", help=OVERLAP_HELP)(overlap_cmd)
