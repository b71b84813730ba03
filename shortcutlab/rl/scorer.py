"""The one seam between `shortcutlab.rl` and scoring: a loaded reward model + its inputs.

`RewardScorer` loads a model exactly as `score` does (`scoring.engine.load_model`: a run
folder -> its `model/`, bf16 on GPUs that support it, eval mode) and turns records into
rewards through the same path as `score` (`plan_batches` + `forward_records`: the
collator's chat template, one image encoding per record, the shared-prefix KV cache), so
a reward from the TRL reward function or the HTTP server equals `score`'s reward for the
same record (tested to 1e-5). Everything else in `shortcutlab.rl` calls only this class:
when scoring's API moves, only this module follows.

    scorer = RewardScorer.load("runs/sfc")
    rewards = scorer.score([Record(id="0", prompt="...", responses=["a", "b"], image=ref)])
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shortcutlab.data.records import Record
from shortcutlab.modeling.source import resolve_model_source
from shortcutlab.scoring.engine import (
    forward_records,
    load_model,
    make_collator,
    plan_batches,
    resolve_text_only,
)


@dataclass
class RewardScorer:
    """A reward model on one device with the collator `score` would use for it.

    `text_only`: the effective input mode (None: with the record's image; "drop" /
    "blank": the model's saved text-only mode or the caller's choice). `source`: what the
    model argument resolved to (a folder or Hub id), for model info and cards.
    """

    model: Any
    collator: Any
    device: Any
    bf16: bool
    batch_size: int = 16
    max_length: int = 4096
    text_only: str | None = None
    source: str = ""
    prefix_sharing: bool = True
    _blank: Any = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def load(
        cls,
        model: Any,
        *,
        device: Any = None,
        bf16: bool | None = None,
        text_only: str | None = None,
        batch_size: int = 16,
        max_length: int = 4096,
        trust_remote_code: bool = False,
    ) -> RewardScorer:
        """Load `model` (a run folder, model folder, Hub id or a loaded RewardModel).

        `text_only` takes `score`'s values (None: the model's saved mode; "none": with
        image; "drop" / "blank"). `device` None: this process's GPU if any, else CPU.
        """
        source = ""
        if isinstance(model, (str, Path)):
            model = source = resolve_model_source(model)
        mode, _ = resolve_text_only(model, text_only)
        loaded, dev, use_bf16 = load_model(model, device, bf16, trust_remote_code=trust_remote_code)
        collator = make_collator(loaded, max_length=max_length, text_only=mode)
        return cls(
            model=loaded,
            collator=collator,
            device=dev,
            bf16=use_bf16,
            batch_size=batch_size,
            max_length=max_length,
            text_only=mode,
            source=str(source),
        )

    def score(self, records: Sequence[Record]) -> list[list[float]]:
        """Rewards per record and response: `out[i][j]` is response j of record i.

        Length-sorted batches of at most `batch_size` sequences, as `score` plans them;
        thread-safe (one forward at a time per scorer).
        """
        return self._score(records, self.collator)

    def score_blank(self, records: Sequence[Record]) -> list[list[float]]:
        """Rewards with every image replaced by `score --text-only blank`'s white image.

        The monitor's image-reliance probe: the reward change when the image is blanked.
        """
        if self._blank is None:
            self._blank = make_collator(self.model, max_length=self.max_length, text_only="blank")
        return self._score(records, self._blank)

    def _score(self, records: Sequence[Record], collator: Any) -> list[list[float]]:
        out: list[list[float]] = [[] for _ in records]
        with self._lock:
            for idx in plan_batches(records, self.batch_size):
                batch = [records[i] for i in idx]
                rewards, _ = forward_records(
                    self.model,
                    collator,
                    batch,
                    device=self.device,
                    bf16=self.bf16,
                    prefix_sharing=self.prefix_sharing,
                )
                for i, row in zip(idx, rewards, strict=True):
                    out[i] = row
        return out

    def info(self) -> dict[str, Any]:
        """What the model is: source, architecture, input mode, device, precision."""
        return {
            "model": self.source or type(self.model).__name__,
            "arch": getattr(self.model, "arch", ""),
            "base_model": getattr(self.model, "base_model", None),
            "text_only": self.text_only,
            "device": str(self.device),
            "bf16": self.bf16,
            "max_length": self.max_length,
            "batch_size": self.batch_size,
        }
