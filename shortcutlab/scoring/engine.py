"""The scoring forward pass: length-sorted batches, one prefix encoding per record.

Owns how records become rewards on one process:
- `plan_batches`: records sorted by total length (prompt + responses, in characters; a
  cheap stand-in for tokens), longest first so an out-of-memory batch shows up at once,
  then packed into batches of at most `batch_size` sequences (a record's K responses
  are never split). Padding shrinks because neighbours have similar lengths; the caller
  restores the data file's order afterwards.
- `forward_records`: by default each record with K >= 2 responses runs its shared prefix
  (image + prompt) once and its K answers on top (`modeling.prefix`, KV cache); other
  records, and every record of an architecture where sharing is not verified exact
  (`PrefixSharingUnsupported`, logged once with the reason), go through one
  `RewardCollator.encode` + one `RewardModel.forward` per batch, each image encoded once
  per record (`share_images`). `prefix_sharing=False` turns the first path off.
  `reuse_images` (the keys `repeated_images` finds in a run's records) also encodes an
  image shared by several records once (`modeling.image_cache`; `probe run`'s blank).
- `score_one_by_one`: the reference path (one response per forward, no sharing), used
  by the parity tests: both fast paths must match it to 1e-5 in float32.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shortcutlab import distributed
from shortcutlab.data.records import Record
from shortcutlab.errors import ConfigError, ModelError
from shortcutlab.modeling.batching import RewardCollator, image_key
from shortcutlab.modeling.forward import with_shared_images
from shortcutlab.modeling.loading import looks_like_path
from shortcutlab.modeling.signals import PrefixSharingUnsupported
from shortcutlab.text_only import SCORE_TEXT_ONLY, choices, collator_mode, is_mode

if TYPE_CHECKING:
    import torch

    from shortcutlab.modeling.reward_model import RewardModel

log = logging.getLogger(__name__)
_LOGGED: set[str] = set()  # fallback reasons already logged by this process


def record_length(rec: Record) -> int:
    """Characters the record's K sequences hold: K * prompt + sum of responses."""
    return len(rec.responses) * len(rec.prompt) + sum(len(r) for r in rec.responses)


def plan_batches(records: Sequence[Record], batch_size: int) -> list[list[int]]:
    """Indices of `records` grouped into length-sorted batches of <= batch_size sequences.

    A record with more responses than `batch_size` gets a batch of its own.
    """
    order = sorted(range(len(records)), key=lambda i: (-record_length(records[i]), i))
    batches: list[list[int]] = []
    current: list[int] = []
    rows = 0
    for i in order:
        k = len(records[i].responses)
        if current and rows + k > batch_size:
            batches.append(current)
            current, rows = [], 0
        current.append(i)
        rows += k
    if current:
        batches.append(current)
    return batches


def autocast_context(device: torch.device, bf16: bool) -> contextlib.AbstractContextManager:
    """bf16 autocast on the model's device type, or a no-op context."""
    if not bf16:
        return contextlib.nullcontext()
    import torch  # lazy: torch stays out of light imports of the scoring package

    return torch.autocast(device_type=getattr(device, "type", str(device)), dtype=torch.bfloat16)


def _to_device(inputs: dict[str, Any], device: torch.device) -> dict[str, Any]:
    return {k: (v.to(device) if hasattr(v, "to") else v) for k, v in inputs.items()}


def forward_records(
    model: RewardModel,
    collator: RewardCollator,
    records: Sequence[Record],
    *,
    device: torch.device,
    bf16: bool = False,
    share_images: bool = True,
    prefix_sharing: bool = True,
    reuse_images: Collection[str] = frozenset(),
) -> tuple[list[list[float]], int]:
    """Rewards of every response of `records`; returns (rewards, cuts).

    `cuts` counts rows cut to fit max_length (prompt cuts + answer-tail cuts).

    `rewards[i][j]` is the reward of response j of record i (float32 on the CPU). With
    `prefix_sharing` each record of K >= 2 responses is scored over its shared prefix (see
    the module doc); the rest run in one batched forward. When the backbone cannot share
    image encodings (multi-tile images: `SharedImageUnsupported`) that batch is redone
    without. `reuse_images`: keys (`batching.image_key`) of the images whose work is
    reused across records (`ScoreConfig.reuse_images`; `repeated_images` gives them).
    """
    out: list[list[float]] = [[float("nan")] * len(r.responses) for r in records]
    cuts = 0
    rest = list(range(len(records)))
    if prefix_sharing:
        rest, cuts = _prefix_records(model, collator, records, out, device, bf16, reuse_images)
    if rest:
        left = [records[i] for i in rest]
        (values, more), _ = with_shared_images(
            lambda share: _forward(model, collator, left, device, bf16, share), share_images
        )
        for i, row in zip(rest, values, strict=True):
            out[i] = row
        cuts += more
    return out, cuts


def repeated_images(records: Sequence[Record], text_only: str | None) -> frozenset[str]:
    """Keys of the images more than one of `records` is encoded with (`text_only` mode).

    Computed over a run's whole record list, so whether a record's image work is reused
    is a property of the run's data, not of which records a process scored before it.
    """
    seen: set[str] = set()
    twice: set[str] = set()
    for rec in records:
        key = image_key(rec, text_only)
        if key is not None:
            (twice if key in seen else seen).add(key)
    return frozenset(twice)


def _fallback(reason: str) -> None:
    """Log once per process and reason that a record is scored without prefix sharing."""
    if reason not in _LOGGED:
        _LOGGED.add(reason)
        log.warning("prefix sharing off (%s); scoring each response in full", reason)


def _prefix_records(
    model: RewardModel,
    collator: RewardCollator,
    records: Sequence[Record],
    out: list[list[float]],
    device: torch.device,
    bf16: bool,
    reuse_images: Collection[str] = frozenset(),
) -> tuple[list[int], int]:
    """Fill `out` for the records scored over a shared prefix; (indices left, cuts)."""
    # lazy: modeling.prefix imports torch, kept out of light imports of the scoring package
    import torch

    from shortcutlab.modeling.prefix import check_prefix_arch, shared_prefix_rewards

    try:
        check_prefix_arch(model)
    except PrefixSharingUnsupported as exc:
        _fallback(str(exc))
        return list(range(len(records))), 0
    rest, cuts = [], 0
    for i, rec in enumerate(records):
        if len(rec.responses) < 2:  # nothing to share
            rest.append(i)
            continue
        batch = collator.encode([rec], share_images=True)
        inputs = _to_device(dict(batch.inputs), device)
        try:
            with torch.inference_mode(), autocast_context(device, bf16):
                reuse = image_key(rec, collator.text_only) in reuse_images
                rewards = shared_prefix_rewards(model, inputs, reuse_images=reuse)
        except PrefixSharingUnsupported as exc:
            _fallback(str(exc))
            rest.append(i)
            continue
        out[i] = rewards.detach().float().cpu().reshape(-1).tolist()
        cuts += int(batch.truncated) + int(batch.answer_truncated)
    return rest, cuts


def _forward(
    model: RewardModel,
    collator: RewardCollator,
    records: Sequence[Record],
    device: torch.device,
    bf16: bool,
    share: bool,
) -> tuple[list[list[float]], int]:
    import torch  # lazy: torch stays out of light imports of the scoring package

    batch = collator.encode(list(records), share_images=share)
    inputs = _to_device(dict(batch.inputs), device)
    with torch.inference_mode(), autocast_context(device, bf16):
        rewards = model(**inputs)  # (N,) one reward per (record, response) row
    values = rewards.detach().float().cpu().reshape(-1).tolist()
    if len(values) != len(batch.index):
        raise RuntimeError(f"model returned {len(values)} rewards for {len(batch.index)} rows")
    out: list[list[float]] = [[float("nan")] * len(r.responses) for r in records]
    for (i, j), value in zip(batch.index, values, strict=True):
        out[i][j] = value
    # prompt cuts + answer-tail cuts (the collator also logs each answer cut)
    return out, batch.truncated + batch.answer_truncated


def single_response(rec: Record, j: int) -> Record:
    """A copy of `rec` holding only response j (no pairs), for the reference path."""
    return Record(
        id=rec.id,
        prompt=rec.prompt,
        responses=[rec.responses[j]],
        image=rec.image,
        schema=rec.schema,
        loc=rec.loc,
        meta=dict(rec.meta),
    )


def score_one_by_one(
    model: RewardModel,
    collator: RewardCollator,
    records: Sequence[Record],
    *,
    device: torch.device,
    bf16: bool = False,
) -> list[list[float]]:
    """Reference rewards: each response alone in its own forward (no sharing, no padding)."""
    out = []
    for rec in records:
        row = []
        for j in range(len(rec.responses)):
            r, _ = forward_records(
                model,
                collator,
                [single_response(rec, j)],
                device=device,
                bf16=bf16,
                share_images=False,
                prefix_sharing=False,
            )
            row.append(r[0][0])
        out.append(row)
    return out


def resolve_device(
    model: str | Path | RewardModel, device: str | torch.device | None
) -> torch.device:
    """The device to score on: `device` if given, else this rank's device (GPU if any)."""
    import torch  # lazy: torch stays out of light imports of the scoring package

    if device is not None:
        return torch.device(device)
    if not isinstance(model, (str, Path)) and not distributed.launched():
        current = getattr(model, "device", None)
        if isinstance(current, torch.device):
            return current
    return distributed.device()


def load_model(
    model: str | Path | RewardModel,
    device: str | torch.device | None,
    bf16: bool | None,
    *,
    trust_remote_code: bool = False,
) -> tuple[RewardModel, torch.device, bool]:
    """(RewardModel in eval mode on its device, device, use bf16) from a folder or a model.

    bf16 defaults to on for GPUs that support it, off on CPU (autocast, weights unchanged).
    A base VLM folder's freshly initialised head is seeded (0), so scores are reproducible.
    """
    import torch  # lazy: torch stays out of light imports of the scoring package

    dev = resolve_device(model, device)
    if isinstance(model, (str, Path)):
        # lazy: reward_model imports torch and transformers
        from shortcutlab.modeling.reward_model import RewardModel

        # seed=0: a base VLM folder gets a fresh head; it must be the same head on every
        # rank and every resumed run (a saved RewardModel folder loads its own head).
        model = RewardModel.from_pretrained(str(model), seed=0, trust_remote_code=trust_remote_code)
    model.to(dev).eval()
    if bf16 is None:
        bf16 = dev.type == "cuda" and torch.cuda.is_bf16_supported()
    return model, dev, bool(bf16)


def make_collator(model: RewardModel, *, max_length: int, text_only: str | None) -> RewardCollator:
    """The modeling layer's RewardCollator for `model.processor`."""
    return RewardCollator(model.processor, max_length=max_length, text_only=text_only)


# --------------------------------------------------------------------- text-only mode
def saved_text_only(model: str | Path | RewardModel) -> str | None:
    """The text-only mode a RewardModel was trained with (`shortcutlab_reward.json`).

    None for a model trained with images, a base VLM, or a Hub id whose reward config is
    not reachable. Read from the file, so a complete or resumed run need not load weights.
    """
    from shortcutlab.modeling.reward_model import REWARD_CONFIG  # lazy: imports torch

    if not isinstance(model, (str, Path)):
        mode = getattr(model, "text_only", None)
    else:
        f = _reward_config_file(str(model), REWARD_CONFIG)
        try:
            mode = json.loads(f.read_text()).get("text_only") if f else None
        except (OSError, ValueError) as exc:
            raise ModelError(f"{f}: not valid JSON ({exc})") from exc
    if not is_mode(mode):
        raise ModelError(f"{model}: unknown saved text_only mode {mode!r} in {REWARD_CONFIG}.")
    return mode


def _reward_config_file(model: str, name: str) -> Path | None:
    """`name` in a local folder, else from the Hub cache / Hub (None when not there)."""
    local = Path(model).expanduser()
    if local.exists() or looks_like_path(model):
        return local / name if (local / name).is_file() else None
    try:
        from huggingface_hub import hf_hub_download

        return Path(hf_hub_download(model, name))
    except Exception:  # noqa: BLE001 - no reward config: a base model (or loading fails later)
        return None


def resolve_text_only(
    model: str | Path | RewardModel, text_only: str | None
) -> tuple[str | None, str]:
    """(effective mode for the collator, where it came from: "option" or "model").

    An explicit `text_only` wins ("none" forces scoring with the image); without one a
    text-only RM is scored the way it was trained (its saved mode, Eq. 3 inputs).
    """
    if text_only is not None and text_only not in SCORE_TEXT_ONLY:
        raise ConfigError(
            f"text_only must be {choices(SCORE_TEXT_ONLY)} (with image) or unset (the "
            f"model's saved mode), got {text_only!r}."
        )
    if text_only is not None:
        return collator_mode(text_only), "option"
    return saved_text_only(model), "model"
