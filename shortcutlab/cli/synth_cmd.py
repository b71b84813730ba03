"""`shortcutlab synth`: build the shortcut benchmark (thin layer over
`shortcutlab.synth.benchmark.build_benchmark`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from shortcutlab.cli.common import Json, OutAlias, output_path, print_json_file
from shortcutlab.synth.benchmark import build_benchmark

SYNTH_HELP = """Build the shortcut benchmark: three environments (vlf, povid, rlhfv) whose
preference the image decides, each with a planted text-only shortcut (agreeing with the
label in 90% of train/test records, 10% in the `shift` split), plus a shortcut-free
`pretrain` set. Images come from easy-vqa. Writes `DIR/spec.json`,
`DIR/ENV/{train,test,shift}.jsonl` for each ENV, `DIR/pretrain/{train,test}.jsonl`
and `DIR/images/`.

Examples:

  shortcutlab synth -o bench

  shortcutlab synth -o bench-tiny --size tiny --seed 1 --json
"""


def synth_cmd(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Output folder.")] = None,
    out: OutAlias = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of every random choice.")] = 0,
    size: Annotated[
        str, typer.Option("--size", help="Size preset: tiny, small or large.")
    ] = "small",
    as_json: Json = False,
) -> None:
    summary = build_benchmark(output_path(output, out), seed=seed, size=size)
    if as_json:
        print_json_file(summary.out_dir / "spec.json")
        return
    table = Table(title=f"shortcut benchmark in {summary.out_dir} (seed {seed}, size {size})")
    for col in ("env", "split", "records", "pairs", "cue agrees", "chosen longer"):
        table.add_column(col)
    for env, splits in summary.stats.items():
        for split, st in splits.items():
            rate = st.get("shortcut_agree_rate")
            table.add_row(
                env,
                split,
                str(st["records"]),
                str(st["pairs"]),
                "-" if rate is None else f"{rate:.0%}",
                f"{st['chosen_longer_share_chars']:.0%}",
            )
    Console().print(table)
    Console().print(f"spec: {summary.out_dir / 'spec.json'}")


def register(app: typer.Typer) -> None:
    app.command("synth", help=SYNTH_HELP)(synth_cmd)
