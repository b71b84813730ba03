"""`shortcutlab export`: a reward model folder with its Hub model card, ready to upload.

Parses options, calls `shortcutlab.modelcard.export_model`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shortcutlab.cli.common import Json, print_json

EXPORT_HELP = """Copy a reward model (a run folder means its model/) to --to with a model card.

The card (README.md, the Hub's model card format) gives the base model, mode and
objective, training data files with SHA-256, the training config, the evaluation numbers
shortcutlab recorded (plus any --results file: sfd's results.json, a score summary, or
`probe report`'s card.md as the shortcut card) and how to load and score the model.
The folder can be pushed to the Hub as is (`huggingface-cli upload ORG/NAME DIR`);
nothing is uploaded from here.

Examples:

  shortcutlab export runs/sa --to export/sa-rm

  shortcutlab export runs/sa --to export/sa-rm --results mm.summary.json --overwrite
"""


def export_cmd(
    model: Annotated[str, typer.Argument(help="Run folder or reward model folder.")],
    to: Annotated[Path, typer.Option("--to", help="Folder to write (created).")],
    results: Annotated[
        list[Path] | None,
        typer.Option(
            "--results", help="results.json / summary.json to quote, or probe's card.md (repeat)."
        ),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace a non-empty --to folder.")
    ] = False,
    as_json: Json = False,
) -> None:
    from shortcutlab.modelcard import export_model

    card = export_model(model, to, results=list(results or []), overwrite=overwrite)
    if as_json:
        print_json({"folder": str(to), "card": str(card)})
        return
    typer.echo(f"exported {model} -> {to} (model card: {card})")


def register(app: typer.Typer) -> None:
    """Add `shortcutlab export`."""
    app.command("export", help=EXPORT_HELP)(export_cmd)
