"""`shortcutlab train`: a thin layer over `shortcutlab.training.train`.

Every `TrainConfig` field is a `--kebab-case` flag (generated from the dataclass, so the
CLI and the config never drift); `--config FILE.yaml` loads a YAML first and the flags
given on the command line override it. `--num-processes N` relaunches the same command
under `accelerate launch` (DDP; gloo on CPU).
"""

from __future__ import annotations

import inspect
from typing import Annotated, Any

import typer
from rich.console import Console

from shortcutlab import distributed
from shortcutlab.cli.common import DATA_HELP, Json, Quiet, data_file, print_json_file, start
from shortcutlab.cli.config_options import config_parameters, flags_argv
from shortcutlab.config import TrainConfig
from shortcutlab.preflight import check_inputs, check_output
from shortcutlab.run_folder import RunFolder
from shortcutlab.training import TrainResult, train

HELP = """Train a reward model: standard (Eq. 1), text-only (Eq. 3) or shortcut-aware (Eq. 7).

The training data is DATA (or --data, or `data:` in the --config YAML).

Examples:

  shortcutlab train train.jsonl --mode standard --model models/tiny -o runs/std

  shortcutlab train train.jsonl --mode shortcut-aware --model models/tiny
  --eval-data test.jsonl -o runs/sa --sfc-normalize

  shortcutlab train vlf.jsonl --config configs/paper_shortcut_aware.yaml --trust-remote-code
  --model OpenGVLab/InternVL2-8B -o runs/sa

  shortcutlab train train.jsonl --model models/tiny -o runs/ddp --num-processes 2 --json

  shortcutlab train train.jsonl --mode shortcut-aware --objective groupdro --model models/tiny
  -o runs/dro

  shortcutlab train train.jsonl --model models/tiny -o runs/jtt
  --static-weights proxy_scores.jsonl --upweight 5

  shortcutlab train d.jsonl --mode shortcut-aware --model m -o runs/q --lora --load-in-4bit

  shortcutlab train --config runs/sa/config.yaml --resume latest

Outputs: OUTPUT/model (the reward model to score with), OUTPUT/proxy (shortcut-aware),
metrics.jsonl, tensorboard/, config.yaml, command.txt, run_info.json, summary.json (what
--json prints). An OUTPUT holding a finished run, or a run with other options, is refused
unless --overwrite; --resume latest continues the run in it.
"""

Overwrite = Annotated[
    bool,
    typer.Option(
        "--overwrite",
        help="Replace a finished or different run in OUTPUT (clears its model/, proxy/, "
        "checkpoints/, tensorboard/ and logs). Without it such a folder is refused.",
    ),
]
ALIASES = {"output_dir": ["--output", "-o"]}  # extra flag names per field


def _parameters() -> list[inspect.Parameter]:
    params = [
        inspect.Parameter(
            "data_arg",
            inspect.Parameter.KEYWORD_ONLY,
            default=None,
            annotation=Annotated[
                str | None, typer.Argument(metavar="DATA", help=DATA_HELP, show_default=False)
            ],
        ),
        inspect.Parameter(
            "as_json", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=Json
        ),
        inspect.Parameter("quiet", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=Quiet),
        inspect.Parameter(
            "config",
            inspect.Parameter.KEYWORD_ONLY,
            default=None,
            annotation=Annotated[
                str | None, typer.Option("--config", help="YAML file of TrainConfig fields.")
            ],
        ),
        inspect.Parameter(
            "num_processes",
            inspect.Parameter.KEYWORD_ONLY,
            default=None,
            annotation=Annotated[
                int | None,
                typer.Option(help="Relaunch under `accelerate launch` with N processes (DDP)."),
            ],
        ),
        inspect.Parameter(
            "overwrite", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=Overwrite
        ),
    ]
    params += config_parameters(TrainConfig, aliases=ALIASES)
    return params


def build_config(config: str | None, flags: dict[str, Any]) -> TrainConfig:
    """YAML (if any) overridden by the flags actually given."""
    return TrainConfig.from_flags(flags, config=config)


def train_command(**kwargs: Any) -> None:
    config = kwargs.pop("config")
    num_processes, overwrite = kwargs.pop("num_processes"), kwargs.pop("overwrite")
    as_json, quiet = kwargs.pop("as_json"), kwargs.pop("quiet")
    start(as_json=as_json, quiet=quiet)
    kwargs["data"] = data_file(kwargs.pop("data_arg"), kwargs["data"], required=False)

    cfg = build_config(config, kwargs).validate()
    check_output(cfg.output_dir)  # also when it comes from the --config YAML
    if distributed.should_relaunch(num_processes):
        check_inputs(
            data=[cfg.data, cfg.eval_data],
            model=cfg.model,
            schema=cfg.schema,
            skip_invalid=cfg.skip_invalid,
            image_root=cfg.image_root,
        )
        raise typer.Exit(distributed.relaunch(num_processes))

    summary = train(cfg, command=_command_line(config, kwargs), overwrite=overwrite)
    if not distributed.is_main():
        return
    if as_json:
        print_json_file(RunFolder(summary.output_dir).summary)
    else:
        _print_summary(summary)


def _command_line(config: str | None, flags: dict[str, Any]) -> list[str]:
    """The command as given: `shortcutlab train` + --config + the flags that were set."""
    cmd = ["shortcutlab", "train"] + (["--config", config] if config else [])
    cmd += flags_argv(flags)
    return cmd


def _print_summary(result: TrainResult) -> None:
    console = Console()
    last = result.final_train or {}
    console.print(
        f"[bold green]trained[/] {result.mode}: {result.steps} steps, "
        f"last loss {last.get('loss', float('nan')):.4f}, {result.seconds:.1f} s"
    )
    for skipped, what in ((result.skipped, "data"), (result.eval_skipped, "eval data")):
        if skipped:
            counts = ", ".join(f"{k}: {v}" for k, v in sorted(skipped.items()))
            n = sum(skipped.values())
            line = f"skipped {n} invalid rows of the {what} (--skip-invalid): {counts}"
            console.print(line, soft_wrap=True)
    if result.eval:
        console.print(f"eval accuracy {result.eval['eval_acc']:.4f}")
    console.print(f"model: {result.model_dir}")
    if result.proxy_dir:
        console.print(f"proxy: {result.proxy_dir}")


train_command.__signature__ = inspect.Signature(_parameters())  # type: ignore[attr-defined]


def register(app: typer.Typer) -> None:
    """Add the top-level `train` command."""
    app.command("train", help=HELP, no_args_is_help=True)(train_command)
