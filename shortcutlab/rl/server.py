"""`shortcutlab serve`: a reward model behind HTTP for RL frameworks that call a remote RM.

Endpoints (wire format and limits: `shortcutlab.rl.protocol`, docs/rl.md):
`GET /health` (no key needed), `GET /info` (model, limits, replicas, counters),
`GET /monitor` (shortcut statistics over a sliding window of recent requests),
`POST /score` (multimodal: prompt, image as base64 or a path under `--image-root`, K
responses -> K rewards), `POST /score_batch` (a list of those) and `POST /get_reward`
(OpenRLHF's `--remote_rm_url` text protocol).

Library choice: FastAPI + uvicorn (the `serve` extra). Both are widely used and well
kept, it is the stack OpenRLHF's own RM server uses, pydantic gives field-level 422
messages, and requests are awaited on one event loop while the model runs in worker
threads. Batching is ours (`rl.batcher`): a request is a record whose K responses share
one image and prompt encoding, which per-item batching engines (LitServe, Ray Serve
`@serve.batch`) would split; those engines can still host `RewardScorer` (docs/rl.md).

Safety: binds 127.0.0.1 by default; any other host needs `--api-key` (clients send
`Authorization: Bearer KEY` or `X-API-Key: KEY`) or an explicit `--no-auth`. Every
limit is checked before a request is queued; a bad request gets a 4xx with one clear
line and the server keeps serving. A client that disconnects while its request waits is
dropped from the queue (logged, counted as `disconnected`).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.requests import ClientDisconnect

from shortcutlab.errors import ConfigError
from shortcutlab.rl.batcher import Batcher
from shortcutlab.rl.monitor import ShortcutWindow
from shortcutlab.rl.protocol import (
    BatchIn,
    Limits,
    OpenRLHFIn,
    RequestError,
    ScoreIn,
    batch_records,
    openrlhf_records,
    parse_json,
    to_record,
    validate,
)

log = logging.getLogger(__name__)
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class RewardService:
    """The state behind the app: replicas, batcher, limits, key, monitor window, counters."""

    def __init__(
        self,
        scorers: list[Any],
        *,
        limits: Limits | None = None,
        api_key: str | None = None,
        max_batch: int = 32,
        max_wait_ms: float = 0.0,
        window: ShortcutWindow | None = None,
    ) -> None:
        self.scorers = scorers
        self.limits = limits or Limits()
        self.api_key = api_key
        self.batcher = Batcher(scorers, max_batch=max_batch, max_wait_ms=max_wait_ms)
        self.window = window if window is not None else ShortcutWindow(blank_fraction=0.0)
        self.counts: Counter[str] = Counter()
        self._n = 0

    def authorised(self, request: Request) -> bool:
        if self.api_key is None:
            return True
        auth = request.headers.get("authorization", "")
        given = (
            auth[7:] if auth.lower().startswith("bearer ") else request.headers.get("x-api-key", "")
        )
        return hmac.compare_digest(given.encode(), self.api_key.encode())

    async def read_body(self, request: Request) -> bytes:
        """The body, refused (413) as soon as it passes max_body_bytes."""
        limit = self.limits.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise RequestError(413, f"body of {declared} bytes > max_body_bytes={limit}")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise RequestError(413, f"body over max_body_bytes={limit}")
            chunks.append(chunk)
        return b"".join(chunks)

    async def rewards(self, request: Request, records: list) -> list[list[float]] | None:
        """Queue `records`, await their rewards; None when the client went away first."""
        future = asyncio.wrap_future(self.batcher.submit(records))
        while True:
            done, _ = await asyncio.wait({future}, timeout=0.05)
            if done:
                break
            if await request.is_disconnected():
                future.cancel()  # dropped before scoring when still queued
                return None
        rewards = future.result()
        if self.window.blank_fraction > 0:  # an extra forward: off the event loop
            await asyncio.to_thread(self.window.observe, records, rewards, self.scorers[0])
        else:
            self.window.observe(records, rewards, None)
        return rewards

    def next_id(self) -> int:
        self._n += 1
        return self._n

    def info(self) -> dict[str, Any]:
        return {
            "model": self.scorers[0].info(),
            "replicas": [str(s.device) for s in self.scorers],
            "limits": asdict(self.limits),
            "auth": self.api_key is not None,
            "batches": self.batcher.batches,
            "requests": dict(self.counts),
        }


def create_app(service: RewardService) -> FastAPI:
    """The FastAPI app over `service` (routes listed in the module doc)."""
    app = FastAPI(title="shortcutlab reward server")

    async def handle(request: Request, build: Any) -> JSONResponse:
        if not service.authorised(request):
            service.counts["401"] += 1
            return JSONResponse({"error": "missing or wrong API key"}, status_code=401)
        try:
            data = parse_json(await service.read_body(request))
            records, shape = build(data)
            rewards = await service.rewards(request, records)
        except RequestError as exc:
            service.counts[str(exc.status)] += 1
            return JSONResponse({"error": exc.message}, status_code=exc.status)
        except ClientDisconnect:
            service.counts["disconnected"] += 1
            log.info("client disconnected while sending its request")
            return JSONResponse({"error": "client disconnected"}, status_code=499)
        if rewards is None:
            service.counts["disconnected"] += 1
            log.info("client disconnected before its rewards were ready")
            return JSONResponse({"error": "client disconnected"}, status_code=499)
        service.counts["200"] += 1
        return JSONResponse(shape(rewards))

    def one(data: Any) -> tuple[list, Any]:
        rec = to_record(validate(ScoreIn, data), "", service.limits, service.next_id())
        return [rec], lambda r: {"id": rec.id, "rewards": r[0]}

    def many(data: Any) -> tuple[list, Any]:
        recs = batch_records(validate(BatchIn, data), service.limits, service.next_id())
        return recs, lambda r: {"rewards": r}

    def openrlhf(data: Any) -> tuple[list, Any]:
        recs = openrlhf_records(validate(OpenRLHFIn, data), service.limits)
        return recs, lambda r: {"rewards": [x[0] for x in r], "scores": [x[0] for x in r]}

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/info")
    async def info(request: Request) -> JSONResponse:
        if not service.authorised(request):
            return JSONResponse({"error": "missing or wrong API key"}, status_code=401)
        return JSONResponse(service.info())

    @app.get("/monitor")
    async def monitor(request: Request) -> JSONResponse:
        if not service.authorised(request):
            return JSONResponse({"error": "missing or wrong API key"}, status_code=401)
        stats = service.window.summary()
        return JSONResponse({k: (None if v != v else v) for k, v in stats.items()})  # NaN->null

    @app.post("/score")
    async def score(request: Request) -> JSONResponse:
        return await handle(request, one)

    @app.post("/score_batch")
    async def score_batch(request: Request) -> JSONResponse:
        return await handle(request, many)

    @app.post("/get_reward")
    async def get_reward(request: Request) -> JSONResponse:
        return await handle(request, openrlhf)

    return app


def check_bind(host: str, api_key: str | None, no_auth: bool) -> None:
    """Refuse a non-loopback bind without an API key unless `no_auth` says so."""
    if host not in LOOPBACK and api_key is None and not no_auth:
        raise ConfigError(
            f"--host {host} exposes the reward model beyond this machine without a key. "
            "Hint: pass --api-key KEY (or SHORTCUTLAB_API_KEY), or --no-auth on a trusted network."
        )


@contextmanager
def running(app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve `app` in a background thread; yields its base URL; stops on exit.

    Port 0 picks a free port. For tests and the load benchmark (loopback only).
    """
    import uvicorn

    # proto IPPROTO_TCP: asyncio then sets TCP_NODELAY on accepted connections (with proto 0
    # it does not, and every response waits ~40 ms for a delayed ACK)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    config = uvicorn.Config(app, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("reward server did not start")
        threading.Event().wait(0.02)
    try:
        yield f"http://{host}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def build_service(
    model: Any,
    *,
    devices: list[str] | None = None,
    text_only: str | None = None,
    batch_size: int = 16,
    max_length: int = 4096,
    bf16: bool | None = None,
    limits: Limits | None = None,
    api_key: str | None = None,
    max_batch: int = 32,
    max_wait_ms: float = 0.0,
    window: ShortcutWindow | None = None,
    trust_remote_code: bool = False,
) -> RewardService:
    """Load one replica of `model` per device (None: this machine's default device)."""
    from shortcutlab.rl.scorer import RewardScorer

    scorers = [
        RewardScorer.load(
            model,
            device=dev,
            bf16=bf16,
            text_only=text_only,
            batch_size=batch_size,
            max_length=max_length,
            trust_remote_code=trust_remote_code,
        )
        for dev in (devices or [None])
    ]
    return RewardService(
        scorers,
        limits=limits,
        api_key=api_key,
        max_batch=max_batch,
        max_wait_ms=max_wait_ms,
        window=window,
    )


def serve(service: RewardService, *, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Run the app in the foreground until interrupted (Ctrl-C)."""
    import uvicorn

    try:
        uvicorn.run(create_app(service), host=host, port=port, log_level="info")
    finally:
        service.batcher.close()
