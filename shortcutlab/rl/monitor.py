"""A shortcut monitor for RL: is the policy learning to please the reward model's shortcuts?

During RL a policy optimised against a shortcut-prone reward model learns to pad, hedge
and ignore the image. `ShortcutWindow` keeps a sliding window of the most recent scored
completions and reports, over it:

- `length_corr`: Pearson correlation between reward and completion length (characters);
  near 1 means longer answers are rewarded for being longer;
- `image_reliance`: the mean reward drop when the image is replaced by a white one
  (`score --text-only blank`'s image), measured on a sampled fraction of the completions
  that have an image (one extra forward for the sample); near 0 means the reward model
  no longer looks at the image;
- `phrase_rate`: the fraction of completions containing any phrase of a user-given list
  (case-insensitive), e.g. hedges ("I cannot be sure") or padding.

`ShortcutMonitor` is the same window as a `transformers.TrainerCallback`: `RewardFunction`
feeds it every call and logs its statistics through TRL's `log_metric` (so they reach the
trainer's own loggers: TensorBoard, W&B, ... as configured, under `shortcut/*`), and at
every logging step it checks the user's thresholds and warns (Python `logging` and the
`alerts` list) when one is crossed. The HTTP server keeps one window over its recent
requests (`GET /monitor`).
"""

from __future__ import annotations

import logging
import math
import random
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from transformers import TrainerCallback

from shortcutlab.data.records import Record

log = logging.getLogger(__name__)
METRIC_PREFIX = "shortcut/"


@dataclass
class Thresholds:
    """When to warn. None turns a check off.

    `max_length_corr`: warn when corr(reward, length) rises above it;
    `min_image_reliance`: warn when the mean reward drop on blanking the image falls below it;
    `max_phrase_rate`: warn when the phrase rate rises above it.
    """

    max_length_corr: float | None = 0.5
    min_image_reliance: float | None = None
    max_phrase_rate: float | None = None


def pearson(x: Sequence[float], y: Sequence[float]) -> float:
    """Pearson correlation; NaN with fewer than 3 points or a constant series."""
    n = len(x)
    if n < 3:
        return float("nan")
    mx, my = sum(x) / n, sum(y) / n
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y, strict=True))
    sxx = sum((a - mx) ** 2 for a in x)
    syy = sum((b - my) ** 2 for b in y)
    if sxx <= 0 or syy <= 0:
        return float("nan")
    return sxy / math.sqrt(sxx * syy)


@dataclass
class ShortcutWindow:
    """Sliding-window shortcut statistics over the last `window` scored completions.

    `blank_fraction` of the completions with an image are re-scored with a blank image
    (by the caller's `score_blank`); `phrases` are matched case-insensitively.
    """

    window: int = 512
    blank_fraction: float = 0.1
    phrases: Sequence[str] = ()
    seed: int = 0
    _rows: deque = field(init=False)  # (reward, length, has_phrase)
    _deltas: deque = field(init=False)  # reward(image) - reward(blank image)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._rows = deque(maxlen=self.window)
        self._deltas = deque(maxlen=self.window)
        self._rng = random.Random(self.seed)
        self._phrases = [p.lower() for p in self.phrases if p]

    def observe(self, records: Sequence[Record], rewards: Sequence[Sequence[float]], scorer: Any):
        """Add every (record, response) reward; blank-image a sample via `scorer`."""
        rows = []
        for rec, row in zip(records, rewards, strict=True):
            for text, reward in zip(rec.responses, row, strict=True):
                low = text.lower()
                rows.append((float(reward), len(text), any(p in low for p in self._phrases)))
        deltas = self._blank_deltas(records, rewards, scorer)
        with self._lock:
            self._rows.extend(rows)
            self._deltas.extend(deltas)

    def _blank_deltas(self, records: Sequence[Record], rewards: Any, scorer: Any) -> list[float]:
        """reward(image) - reward(blank) for a `blank_fraction` sample of the responses."""
        if self.blank_fraction <= 0 or scorer is None:
            return []
        picked: list[tuple[int, list[int]]] = []
        for i, rec in enumerate(records):
            if rec.image is None:
                continue
            js = [j for j in range(len(rec.responses)) if self._rng.random() < self.blank_fraction]
            if js:
                picked.append((i, js))
        if not picked:
            return []
        sample = [_subset(records[i], js) for i, js in picked]
        blank = scorer.score_blank(sample)
        return [
            float(rewards[i][j]) - float(b)
            for (i, js), row in zip(picked, blank, strict=True)
            for j, b in zip(js, row, strict=True)
        ]

    def summary(self) -> dict[str, float]:
        """The window's statistics (NaN where there is not enough data yet)."""
        with self._lock:
            rows, deltas = list(self._rows), list(self._deltas)
        rewards = [r for r, _, _ in rows]
        nan = float("nan")
        return {
            "length_corr": pearson(rewards, [n for _, n, _ in rows]),
            "image_reliance": sum(deltas) / len(deltas) if deltas else nan,
            "phrase_rate": (sum(p for _, _, p in rows) / len(rows)) if rows else nan,
            "reward_mean": sum(rewards) / len(rewards) if rewards else nan,
            "completions": float(len(rows)),
            "blanked": float(len(deltas)),
        }


def _subset(rec: Record, js: list[int]) -> Record:
    """`rec` with only responses `js` (same id, prompt and image)."""
    return Record(
        id=rec.id,
        prompt=rec.prompt,
        responses=[rec.responses[j] for j in js],
        image=rec.image,
        loc=rec.loc,
    )


def crossed(stats: dict[str, float], limits: Thresholds) -> list[str]:
    """One message per threshold the statistics cross (NaN never crosses)."""
    out = []
    corr, rel, rate = stats["length_corr"], stats["image_reliance"], stats["phrase_rate"]
    if limits.max_length_corr is not None and corr > limits.max_length_corr:
        out.append(f"reward-length correlation {corr:.3f} > {limits.max_length_corr}")
    if limits.min_image_reliance is not None and rel < limits.min_image_reliance:
        out.append(f"image reliance {rel:.4f} < {limits.min_image_reliance}")
    if limits.max_phrase_rate is not None and rate > limits.max_phrase_rate:
        out.append(f"phrase rate {rate:.3f} > {limits.max_phrase_rate}")
    return out


class ShortcutMonitor(TrainerCallback):
    """A TrainerCallback watching the reward model's shortcuts during RL (see module doc).

    Pass it to both the reward function and the trainer:

        monitor = ShortcutMonitor(phrases=["as an ai"], thresholds=Thresholds(0.5))
        reward = RewardFunction("runs/sfc", monitor=monitor)
        GRPOTrainer(..., reward_funcs=reward, callbacks=[monitor])
    """

    def __init__(
        self,
        *,
        window: int = 512,
        blank_fraction: float = 0.1,
        phrases: Sequence[str] = (),
        thresholds: Thresholds | None = None,
        seed: int = 0,
    ) -> None:
        self.stats = ShortcutWindow(window, blank_fraction, phrases, seed)
        self.thresholds = thresholds or Thresholds()
        self.alerts: list[dict[str, Any]] = []  # {"step", "message"} per crossed threshold

    def observe(self, records: Sequence[Record], rewards: Any, scorer: Any) -> dict[str, float]:
        """Feed one reward call; returns the window's statistics (`shortcut/*` names)."""
        self.stats.observe(records, rewards, scorer)
        return {METRIC_PREFIX + k: v for k, v in self.stats.summary().items()}

    def on_log(self, args: Any, state: Any, control: Any, logs: dict | None = None, **kw: Any):
        """At each logging step: warn for every threshold the window crosses."""
        for message in crossed(self.stats.summary(), self.thresholds):
            self.alerts.append({"step": state.global_step, "message": message})
            log.warning("shortcut monitor, step %d: %s", state.global_step, message)
        return control
