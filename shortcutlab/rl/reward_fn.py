"""`RewardFunction`: a shortcutlab reward model as a TRL `reward_funcs` entry.

TRL's `GRPOTrainer` / `RLOOTrainer` call a custom reward function as
`f(prompts=..., completions=..., completion_ids=..., **columns)` and expect one float per
completion (TRL 1.x, `GRPOTrainer._calculate_rewards`). With a vision-language policy the
prompts are conversational (`[{"role": "user", "content": [{"type": "image", "image": PIL},
{"type": "text", "text": ...}]}]`), the completions are `[{"role": "assistant", "content":
str}]`, and the dataset's other columns arrive as keyword lists, one entry per
completion: `image` (one image) or `images` (a list). Plain-text prompts and completions
are accepted too. Extra keywords TRL adds (`trainer_state`, `log_extra`, `log_metric`,
...) are ignored except `log_metric`, through which the monitor's statistics are logged.

Each prompt's G completions (TRL repeats a prompt G times in a row) become one record
with G responses, so the reward model encodes the image and prompt once for all of them
(`score`'s shared-prefix path); rewards equal `score`'s on the same records.

    from shortcutlab.rl import RewardFunction
    trainer = GRPOTrainer(model=policy, reward_funcs=RewardFunction("runs/sfc"), ...)
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from shortcutlab.data.images import image_ref
from shortcutlab.data.records import ImageRef, Record
from shortcutlab.errors import DataError
from shortcutlab.rl.monitor import ShortcutMonitor
from shortcutlab.rl.scorer import RewardScorer


def message_text(message: Any) -> str:
    """The text of a message, a content list or a plain string (text parts joined by \\n)."""
    if isinstance(message, dict):
        message = message.get("content", "")
    if isinstance(message, str):
        return message
    if isinstance(message, list):
        texts = []
        for part in message:
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, dict) and part.get("type", "text") == "text":
                texts.append(str(part.get("text", "")))
        return "\n".join(texts)
    raise DataError(f"expected a string or chat messages, found {type(message).__name__}")


def prompt_parts(prompt: Any) -> tuple[str, Any]:
    """(question text, image or None) from a TRL prompt: a string or chat messages.

    The question is the last user turn's text; the image the first image part carrying
    an `image` payload (TRL's `prepare_multimodal_messages` puts it there).
    """
    if isinstance(prompt, str):
        return prompt, None
    users = [m for m in prompt if isinstance(m, dict) and m.get("role") == "user"]
    if not users:
        raise DataError("a conversational prompt without a user turn")
    image = None
    for m in users:
        content = m.get("content")
        if isinstance(content, list):
            for part in content:
                if isinstance(part, dict) and part.get("type") == "image" and image is None:
                    image = part.get("image")
    return message_text(users[-1]), image


def _column_image(kwargs: dict[str, Any], i: int) -> Any:
    """The dataset's image for completion i (`image`, or the first of `images`)."""
    if kwargs.get("image") is not None:
        return kwargs["image"][i]
    if kwargs.get("images") is not None:
        images = kwargs["images"][i]
        return images[0] if images else None
    return None


def build_records(
    prompts: Sequence[Any],
    completions: Sequence[Any],
    kwargs: dict[str, Any],
    image_root: str | Path | None = None,
) -> tuple[list[Record], list[tuple[int, int]]]:
    """Records (consecutive completions of one prompt and image grouped) and, per
    completion, its (record, response) position."""
    if len(prompts) != len(completions):
        raise DataError(f"{len(prompts)} prompts for {len(completions)} completions")
    records: list[Record] = []
    where: list[tuple[int, int]] = []
    last_key: tuple[str, Any] | None = None
    for i, (prompt, completion) in enumerate(zip(prompts, completions, strict=True)):
        text, inline = prompt_parts(prompt)
        raw = _column_image(kwargs, i)
        raw = inline if raw is None else raw
        key = (text, _image_identity(raw))
        if key != last_key:
            ref = _to_ref(raw, image_root)
            records.append(Record(id=f"rl{i}", prompt=text, responses=[], image=ref))
            last_key = key
        rec = records[-1]
        where.append((len(records) - 1, len(rec.responses)))
        rec.responses.append(
            message_text(
                completion[-1] if isinstance(completion, list) and completion else completion
            )
        )
    return records, where


def _image_identity(raw: Any) -> Any:
    """Equal for equal images: TRL decodes a prompt's image once per completion."""
    if raw is None or isinstance(raw, str):
        return raw
    if hasattr(raw, "tobytes"):  # PIL image: (size, mode, pixel hash)
        return (raw.size, raw.mode, hashlib.sha1(raw.tobytes()).hexdigest())
    if isinstance(raw, dict):
        return (raw.get("path"), hashlib.sha1(raw.get("bytes") or b"").hexdigest())
    if isinstance(raw, (bytes, bytearray)):
        return hashlib.sha1(raw).hexdigest()
    return id(raw)


def _to_ref(raw: Any, image_root: str | Path | None) -> ImageRef | None:
    if raw is None:
        return None
    base = Path(image_root) if image_root is not None else Path.cwd()
    return image_ref(raw, base_dir=base, image_root=image_root)


class RewardFunction:
    """A shortcutlab reward model as a TRL reward function (see the module doc).

    `model`: what `score` accepts (a run folder, model folder, Hub id or loaded
    RewardModel). `device`: None puts it on this process's GPU (the policy's, under
    `accelerate launch`) or the CPU; `bf16` None: on where the GPU supports it.
    `text_only`, `batch_size`, `max_length`: as for `score`. `monitor`: a
    `ShortcutMonitor` fed every call (also pass it to the trainer's `callbacks`).
    `image_root`: folder that relative image paths in the dataset resolve against.
    """

    __name__ = "shortcutlab_reward"  # TRL logs rewards under the function's name

    def __init__(
        self,
        model: Any,
        *,
        device: Any = None,
        bf16: bool | None = None,
        text_only: str | None = None,
        batch_size: int = 16,
        max_length: int = 4096,
        monitor: ShortcutMonitor | None = None,
        image_root: str | Path | None = None,
        trust_remote_code: bool = False,
    ) -> None:
        self.scorer = RewardScorer.load(
            model,
            device=device,
            bf16=bf16,
            text_only=text_only,
            batch_size=batch_size,
            max_length=max_length,
            trust_remote_code=trust_remote_code,
        )
        self.monitor = monitor
        self.image_root = image_root

    def __call__(self, prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any):
        """One reward (float) per completion, in order."""
        records, where = build_records(prompts, completions, kwargs, self.image_root)
        rewards = self.scorer.score(records)
        if self.monitor is not None:
            stats = self.monitor.observe(records, rewards, self.scorer)
            log_metric = kwargs.get("log_metric")
            if callable(log_metric):
                for name, value in sorted(stats.items()):
                    if math.isfinite(value):  # NaN (too little data yet) would log as None
                        log_metric(name, value)
        return [float(rewards[r][j]) for r, j in where]
