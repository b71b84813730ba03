"""`shortcutlab serve`: a reward model as an HTTP reward server for RL frameworks.

Parses options, calls `rl.server.build_service` + `rl.server.serve` (docs/rl.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

SERVE_HELP = """Serve a reward model over HTTP for RL (OpenRLHF, verl, EasyR1, your own loop).

Endpoints: POST /score {prompt, responses, image: {base64} | {path}} -> {rewards};
POST /score_batch {items: [...]}; POST /get_reward (OpenRLHF --remote_rm_url: {query,
prompts} -> {rewards}); GET /health, /info, /monitor (shortcut statistics over recent
requests). Concurrent requests are batched; one replica per --device. Binds 127.0.0.1;
another --host needs --api-key (or --no-auth). Needs the serve extra:
pip install 'shortcutlab[serve]'. Recipes: docs/rl.md.

Examples:

  shortcutlab serve runs/sa --port 8000

  shortcutlab serve runs/sa --device cuda:0 --device cuda:1 --image-root data/images

  shortcutlab serve runs/sa --host 0.0.0.0 --api-key secret
"""


def serve_cmd(
    model: Annotated[str, typer.Argument(help="Run folder, model folder or Hub id.")],
    host: Annotated[str, typer.Option("--host", help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.")] = 8000,
    api_key: Annotated[
        str | None,
        typer.Option("--api-key", envvar="SHORTCUTLAB_API_KEY", help="Key clients must send."),
    ] = None,
    no_auth: Annotated[
        bool, typer.Option("--no-auth", help="Allow a non-loopback --host without a key.")
    ] = False,
    device: Annotated[
        list[str] | None, typer.Option("--device", help="One replica per device (repeat).")
    ] = None,
    text_only: Annotated[
        str | None, typer.Option("--text-only", help="drop, blank or none (as for score).")
    ] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Sequences per forward.")] = 16,
    max_batch: Annotated[
        int, typer.Option("--max-batch", help="Sequences gathered from concurrent requests.")
    ] = 32,
    max_wait_ms: Annotated[
        float, typer.Option("--max-wait-ms", help="Longest wait to fill a batch.")
    ] = 0.0,
    max_length: Annotated[int, typer.Option("--max-length", help="Tokens per sequence.")] = 4096,
    image_root: Annotated[
        Path | None, typer.Option("--image-root", help="Image paths allowed under this folder.")
    ] = None,
    max_responses: Annotated[
        int, typer.Option("--max-responses", help="Responses per record.")
    ] = 64,
    max_image_mb: Annotated[float, typer.Option("--max-image-mb", help="Image size limit.")] = 10,
    max_body_mb: Annotated[float, typer.Option("--max-body-mb", help="Request size limit.")] = 32,
    blank_fraction: Annotated[
        float,
        typer.Option("--monitor-blank-fraction", help="Share of responses re-scored blanked."),
    ] = 0.0,
    phrase: Annotated[
        list[str] | None, typer.Option("--monitor-phrase", help="Phrase to count (repeat).")
    ] = None,
) -> None:
    from shortcutlab.rl.monitor import ShortcutWindow
    from shortcutlab.rl.protocol import Limits
    from shortcutlab.rl.server import build_service, check_bind, serve

    check_bind(host, api_key, no_auth)
    limits = Limits(
        max_body_bytes=int(max_body_mb * 2**20),
        max_image_bytes=int(max_image_mb * 2**20),
        max_responses=max_responses,
        image_root=str(image_root) if image_root is not None else None,
    )
    service = build_service(
        model,
        devices=device,
        text_only=text_only,
        batch_size=batch_size,
        max_length=max_length,
        limits=limits,
        api_key=api_key,
        max_batch=max_batch,
        max_wait_ms=max_wait_ms,
        window=ShortcutWindow(blank_fraction=blank_fraction, phrases=phrase or ()),
    )
    serve(service, host=host, port=port)


def register(app: typer.Typer) -> None:
    """Add `shortcutlab serve`."""
    app.command("serve", help=SERVE_HELP)(serve_cmd)
