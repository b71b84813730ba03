"""Reward-server request bodies -> records, with every limit checked and a clear 4xx.

Owns the wire format of `shortcutlab serve` (docs/rl.md):
- `POST /score`: `{"prompt": str, "responses": [str, ...], "image": null | {"path": str}
  | {"base64": str}, "id": str?}` -> `{"rewards": [float, ...]}` (one per response);
- `POST /score_batch`: `{"items": [<a /score body>, ...]}` -> `{"rewards": [[...], ...]}`;
- `POST /get_reward` (OpenRLHF `--remote_rm_url`): `{"query": [str], "prompts": [str]?,
  "labels": [...]?}` -> `{"rewards": [float], "scores": [float]}`. OpenRLHF sends
  `query` = prompt + response as its policy rendered them and `prompts` = the prompt
  part; the response is `query` with that prefix removed (the whole query when it does
  not start with its prompt). No image: this protocol is text-only.

Errors are `RequestError(status, message)`: 400 malformed JSON / undecodable image /
image path refused, 413 body, image or response count over a limit, 422 missing or
wrongly typed fields (pydantic's messages, with the field's location).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from shortcutlab.data.images import image_ref, load_image
from shortcutlab.data.records import ImageRef, Record
from shortcutlab.errors import DataError


class RequestError(Exception):
    """A request the client must fix: HTTP `status` and a one-line `message`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Limits:
    """What one request may hold (all configurable with `shortcutlab serve` options)."""

    max_body_bytes: int = 32 * 2**20
    max_image_bytes: int = 10 * 2**20
    max_responses: int = 64  # per record (K)
    max_items: int = 256  # records per /score_batch or queries per /get_reward
    max_chars: int = 100_000  # per prompt or response
    image_root: str | None = None  # image paths allowed only under this folder


class ImageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str | None = None
    base64: str | None = None


class ScoreIn(BaseModel):
    prompt: str
    responses: list[str]
    image: ImageIn | None = None
    id: str | None = None


class BatchIn(BaseModel):
    items: list[ScoreIn]


class OpenRLHFIn(BaseModel):
    query: list[str]
    prompts: list[str] | None = None
    labels: list[Any] | None = None


def parse_json(body: bytes) -> Any:
    """The body as JSON, or 400 naming where it broke."""
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RequestError(400, f"malformed JSON: {exc}") from None


def validate(model: type[BaseModel], data: Any) -> Any:
    """`model.model_validate(data)`, or 422 listing each bad field as `a.b.0: message`."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        parts = [
            f"{'.'.join(str(x) for x in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()
        ]
        raise RequestError(422, "invalid request: " + "; ".join(parts[:5])) from None


def _check_text(item: ScoreIn, where: str, limits: Limits) -> None:
    if not item.responses:
        raise RequestError(422, f"{where}responses: at least one response is needed")
    if len(item.responses) > limits.max_responses:
        raise RequestError(
            413, f"{where}responses: {len(item.responses)} > max_responses={limits.max_responses}"
        )
    for text in [item.prompt, *item.responses]:
        if len(text) > limits.max_chars:
            raise RequestError(413, f"{where}a text of {len(text)} chars > {limits.max_chars}")


def decode_image(image: ImageIn | None, where: str, limits: Limits) -> ImageRef | None:
    """The request's image as a decoded `ImageRef` (checked now, not inside a batch)."""
    if image is None or (image.path is None and image.base64 is None):
        return None
    if image.path is not None and image.base64 is not None:
        raise RequestError(422, f"{where}image: give 'path' or 'base64', not both")
    if image.base64 is not None:
        if len(image.base64) * 3 // 4 > limits.max_image_bytes:
            raise RequestError(413, f"{where}image: over max_image_bytes={limits.max_image_bytes}")
        try:
            raw = base64.b64decode(image.base64, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise RequestError(400, f"{where}image.base64: not valid base64 ({exc})") from None
        ref = ImageRef(data=raw, origin="<base64>", field="image.base64")
    else:
        ref = _path_ref(str(image.path), where, limits)
    try:
        pil = load_image(ref)
    except DataError as exc:
        raise RequestError(400, f"{where}image: cannot be decoded ({exc.message})") from None
    return ImageRef(pil=pil, origin=ref.origin, field=ref.field)


def _path_ref(path: str, where: str, limits: Limits) -> ImageRef:
    if limits.image_root is None:
        raise RequestError(
            400, f"{where}image.path: paths are off; start the server with --image-root DIR"
        )
    try:
        ref = image_ref(path, field="image.path", image_root=limits.image_root)
    except DataError as exc:
        raise RequestError(400, f"{where}image.path: {exc.message}") from None
    assert ref is not None and ref.path is not None
    if Path(ref.path).stat().st_size > limits.max_image_bytes:
        raise RequestError(413, f"{where}image.path: over max_image_bytes={limits.max_image_bytes}")
    return ref


def to_record(item: ScoreIn, where: str, limits: Limits, n: int) -> Record:
    """One checked request item -> a Record (id from the request or `req{n}`)."""
    _check_text(item, where, limits)
    image = decode_image(item.image, where, limits)
    rid = item.id if item.id is not None else f"req{n}"
    return Record(id=rid, prompt=item.prompt, responses=list(item.responses), image=image)


def batch_records(batch: BatchIn, limits: Limits, n: int) -> list[Record]:
    if not batch.items:
        raise RequestError(422, "items: at least one item is needed")
    if len(batch.items) > limits.max_items:
        raise RequestError(413, f"items: {len(batch.items)} > max_items={limits.max_items}")
    return [to_record(it, f"items.{i}.", limits, n) for i, it in enumerate(batch.items)]


def openrlhf_records(req: OpenRLHFIn, limits: Limits) -> list[Record]:
    """One single-response record per query: (prompt, query minus its prompt prefix)."""
    if len(req.query) > limits.max_items:
        raise RequestError(413, f"query: {len(req.query)} > max_items={limits.max_items}")
    prompts = req.prompts or [""] * len(req.query)
    if len(prompts) != len(req.query):
        raise RequestError(422, f"prompts: {len(prompts)} prompts for {len(req.query)} queries")
    out = []
    for i, (q, p) in enumerate(zip(req.query, prompts, strict=True)):
        response = q[len(p) :] if p and q.startswith(p) else q
        prompt = p if p and q.startswith(p) else ""
        item = ScoreIn(prompt=prompt, responses=[response])
        _check_text(item, f"query.{i}: ", limits)
        out.append(Record(id=f"q{i}", prompt=prompt, responses=[response]))
    return out
