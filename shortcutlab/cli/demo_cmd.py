"""`shortcutlab demo`: the one-command demo (thin layer over `shortcutlab.study.demo.run_demo`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shortcutlab.cli.common import Json, OutAlias, Quiet, output_path, print_json_file, start
from shortcutlab.cli.report_cmd import NoHtml
from shortcutlab.study.demo import run_demo

DEMO_HELP = """Run the whole method on the built-in shortcut benchmark and write a report:
synth -> tiny LLaVA -> a "seeing" initialisation pre-trained on shortcut-free data ->
per environment and seed, a standard RM and one RM per shortcut mitigation (SFC, product
of experts, confidence reweighting, GroupDRO, static upweighting) -> generalization
matrix, SFD, shift accuracy, correlation, length balance, methods compared over seeds
(mean +- sd, paired difference to standard with a 95% interval) -> OUTPUT/report.md
(figures + JSON); OUTPUT/demo.json holds every number (what --json prints).

Every stage is cached in OUTPUT: rerunning only does what is missing. Budgets are fixed in
steps, so a seed reproduces its models on the same machine (other CPUs give slightly
different numbers; demo.json records the CPU and threads). --quick is a smoke run of
about 2 minutes on 2 CPU cores (one seed, too few steps to learn); the full run (3 seeds,
every method) took 19.7 minutes on 2 cores (2026-11-28), --seeds 1 about 8.

Examples:

  shortcutlab demo --quick

  shortcutlab demo -o demo-full > demo.log       # 3 seeds; progress lines in the log

  shortcutlab demo -o demo-one --seeds 1         # one seed: a quicker look
"""


def demo_cmd(
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Output folder. [default: shortcutlab-demo]"),
    ] = None,
    out: OutAlias = None,
    seeds: Annotated[
        int | None,
        typer.Option("--seeds", help="Training seeds per study cell. [default: 3; --quick: 1]"),
    ] = None,
    quick: Annotated[bool, typer.Option("--quick", help="Tiny sizes and step budgets.")] = False,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the benchmark and the init.")] = 0,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=1,
            help="Processes for the study's (seed, environment) units. "
            "[default: CPU count, at most 4]",
        ),
    ] = None,
    no_html: NoHtml = False,
    as_json: Json = False,
    quiet: Quiet = False,
) -> None:
    from transformers.utils import logging as hf_logging  # lazy: transformers is heavy

    start(as_json=as_json, quiet=quiet)
    hf_logging.disable_progress_bar()  # one line per stage, not per model load / save
    folder = output_path(output, out, Path("shortcutlab-demo"))
    run_demo(folder, seeds=seeds, quick=quick, seed=seed, workers=workers, html=not no_html)
    if as_json:
        print_json_file(folder / "demo.json")


def register(app: typer.Typer) -> None:
    app.command("demo", help=DEMO_HELP)(demo_cmd)
