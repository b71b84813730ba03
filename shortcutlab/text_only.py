"""Text-only modes: the one place that spells how an input loses its image (Eq. 3, App. F).

- `drop`: no image tokens at all (the default text-only RM);
- `blank`: a constant white 224x224 image in place of the record's, as the official code;
- scoring only, `none`: force the image in, even for a model trained text-only. Left
  unset, scoring uses the mode saved with the model (`shortcutlab_reward.json`).

Training (`TrainConfig.text_only`), the collator (`modeling.batching`), scoring
(`ScoreConfig.text_only`, `scoring.engine`), the `score` CLI (generated from ScoreConfig)
and the study take their choices from here; tests/test_text_only.py checks that each
accepts exactly these sets. A leaf module (no imports from the package), so the light
config and CLI modules can use it.
"""

from __future__ import annotations

import typing
from typing import Literal

TextOnlyMode = Literal["drop", "blank"]
"""How a text-only input removes the image (training, collator, a saved model)."""
TEXT_ONLY_MODES: tuple[str, ...] = typing.get_args(TextOnlyMode)

WITH_IMAGE = "none"
"""The scoring option that forces the image in (collator mode None)."""
ScoreTextOnly = Literal["drop", "blank", "none"]
"""The `score --text-only` choices: a removal mode, or `none` (with image)."""
SCORE_TEXT_ONLY: tuple[str, ...] = typing.get_args(ScoreTextOnly)
assert SCORE_TEXT_ONLY == (*TEXT_ONLY_MODES, WITH_IMAGE)


def is_mode(value: object, *, allow_none: bool = True) -> bool:
    """Whether `value` is a collator mode: a removal mode, or None (with image)."""
    return value in TEXT_ONLY_MODES or (allow_none and value is None)


def collator_mode(option: str | None) -> str | None:
    """A scoring option -> the collator's mode: "none" -> None (with image), others as is."""
    return None if option == WITH_IMAGE else option


def choices(modes: tuple[str, ...] = TEXT_ONLY_MODES) -> str:
    """`'drop', 'blank'` for error messages."""
    return ", ".join(repr(m) for m in modes)
