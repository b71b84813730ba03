"""`shortcutlab overlap TRAIN TEST`: contamination check before calling a test set o.o.d.

Thin layer over `shortcutlab.audit.overlap`: load both files, compare, write
overlap.json, overlap.csv (one row per test record) and overlap_ids.txt (one test id a
line), print a rich table and write run_info.json.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from shortcutlab.audit.overlap import DEFAULT_ID_KINDS, KINDS, overlap
from shortcutlab.data.schemas import load_dataset_file
from shortcutlab.diagnostics.report import jsonable
from shortcutlab.files import atomic_write_json, atomic_write_text
from shortcutlab.provenance import write_run_info

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
) -> None:
    # missing image files are counted by `overlap`, never fatal: the loader keeps them unchecked
    kw = {"schema": schema, "skip_invalid": skip_invalid, "images": "ignore"}
    tr, te = load_dataset_file(train, **kw).records, load_dataset_file(test, **kw).records
    kinds = tuple(ids_from) if ids_from else DEFAULT_ID_KINDS
    res = overlap(tr, te, max_distance=max_distance, id_kinds=kinds, images=not no_images)
    output.mkdir(parents=True, exist_ok=True)
    summary = {
        "train": train,
        "test": test,
        "counts": res.counts,
        "ids_from": list(res.id_kinds),
        "shared_id_prefixes": res.shared_prefixes,
        "images": res.images,
        "overlap_ids_file": "overlap_ids.txt",
    }
    files = [
        atomic_write_json(output / "overlap.json", jsonable(summary)),
        atomic_write_text(output / "overlap.csv", res.table.to_csv(index=False)),
        atomic_write_text(output / "overlap_ids.txt", "".join(f"{i}\n" for i in res.ids)),
    ]
    files.append(
        write_run_info(
            output,
            command=["shortcutlab", *sys.argv[1:]],
            inputs={"train": train, "test": test},
            config={"max_distance": max_distance, "ids_from": list(kinds), "images": not no_images},
        )
    )
    _print(res.counts, files)


def _print(counts: dict[str, int], files: list[Path]) -> None:
    n = max(counts["test_records"], 1)
    table = Table(title=f"Test records found in training data (of {counts['test_records']})")
    table.add_column("kind")
    table.add_column("test records")
    table.add_column("%")
    for k in (*KINDS, "overlapping"):
        table.add_row(k, str(counts[k]), f"{100 * counts[k] / n:.1f}")
    con = Console()
    con.print(table)
    for f in files:
        con.print(f"wrote {f}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add `overlap` to the `shortcutlab` app."""
    app.command("overlap", help=OVERLAP_HELP)(overlap_cmd)
