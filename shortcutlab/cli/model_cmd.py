"""`shortcutlab model ...`: build tiny models and inspect model folders (thin typer layer).

Library calls: `shortcutlab.modeling.tiny.build_tiny_model`, `RewardModel.from_pretrained`.
torch / transformers are imported inside the commands so `--help` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from shortcutlab.cli.common import Json, OutAlias, UsageError, output_path, print_json
from shortcutlab.modeling.tiny import build_tiny_model

model_app = typer.Typer(
    name="model",
    help="Build tiny offline models and inspect model folders.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)

TINY_HELP = """Build a tiny random-initialised REAL architecture (hidden 64, 2 layers) with a
locally trained tokenizer and its real processor, saved as a normal HF folder. Runs offline
in seconds; use it for tests, demos and the synthetic shortcut benchmark.

Examples:

  shortcutlab model tiny --arch llava -o models/tiny-llava

  shortcutlab model tiny --arch qwen2_vl -o models/tiny-qwen --seed 1 --image-size 32

  shortcutlab model tiny --arch llava -o models/wider --hidden-size 128 --layers 4
"""

INFO_HELP = """Summarise a model folder: architecture, sizes, parameter groups, processor,
and (for a saved reward model) its head and text-only mode.

Examples:

  shortcutlab model info models/tiny-llava

  shortcutlab model info runs/sa --json
"""


@model_app.command("tiny", help=TINY_HELP)
def tiny_cmd(
    arch: Annotated[str, typer.Option("--arch", help="Architecture (llava, qwen2_vl, ...).")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Output folder.")] = None,
    out: OutAlias = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (weights, tokenizer).")] = 0,
    image_size: Annotated[int, typer.Option("--image-size", help="Image side in pixels.")] = 64,
    hidden_size: Annotated[
        int | None, typer.Option("--hidden-size", help="Text hidden size (default 64).")
    ] = None,
    layers: Annotated[
        int | None, typer.Option("--layers", help="Text decoder layers (default 2).")
    ] = None,
    vocab_size: Annotated[
        int | None, typer.Option("--vocab-size", help="BPE vocabulary target (default 800).")
    ] = None,
) -> None:
    overrides = {
        k: v
        for k, v in {
            "hidden_size": hidden_size,
            "num_hidden_layers": layers,
            "vocab_size": vocab_size,
        }.items()
        if v is not None
    }
    folder = output_path(output, out)
    folder = build_tiny_model(arch, folder, seed=seed, image_size=image_size, **overrides)
    typer.echo(f"wrote tiny {arch} model to {folder}")


@model_app.command("info", help=INFO_HELP)
def info_cmd(
    model: Annotated[
        str | None,
        typer.Argument(metavar="MODEL", help="Model folder (or Hub id, if reachable)."),
    ] = None,
    model_option: Annotated[
        str | None, typer.Option("--model", help="Same as MODEL.", show_default=False)
    ] = None,
    trust_remote_code: Annotated[
        bool, typer.Option("--trust-remote-code", help="Allow the folder's custom code.")
    ] = False,
    as_json: Json = False,
) -> None:
    from shortcutlab.modeling.reward_model import RewardModel  # lazy: imports torch

    path = _one_model(model, model_option)
    rm = RewardModel.from_pretrained(path, trust_remote_code=trust_remote_code)
    info: dict[str, Any] = {
        "model": path,
        "architecture": rm.arch,
        "backbone": type(rm.backbone).__name__,
        "hidden_size": rm.hidden_size,
        "parameters": {
            group: sum(p.numel() for _, p in params)
            for group, params in rm.named_parameter_groups().items()
        },
        "processor": type(rm.processor).__name__,
        "reward_head_saved": (Path(path) / "shortcutlab_reward.json").is_file(),
        "text_only": rm.text_only,
    }
    if as_json:
        print_json(info)
        return
    table = Table(title=str(path), show_header=False)
    table.add_row("architecture", f"{rm.arch} ({info['backbone']})")
    table.add_row("hidden size", str(rm.hidden_size))
    for group, n in info["parameters"].items():
        table.add_row(f"params: {group}", f"{n:,}")
    table.add_row("processor", info["processor"])
    saved = info["reward_head_saved"]
    table.add_row("reward model", "saved head" if saved else "base VLM (fresh head)")
    table.add_row("text-only mode", str(rm.text_only))
    Console().print(table)


def _one_model(positional: str | None, option: str | None) -> str:
    """The model given as MODEL or as --model (once)."""
    if positional is not None and option is not None and positional != option:
        raise UsageError(f"give the model once: MODEL ({positional}) or --model ({option}).")
    value = positional if positional is not None else option
    if value is None:
        raise UsageError("Missing argument 'MODEL' (a model folder; or --model PATH).")
    return value


def register(app: typer.Typer) -> None:
    """Attach the `model` group to the root app."""
    app.add_typer(model_app, name="model")
