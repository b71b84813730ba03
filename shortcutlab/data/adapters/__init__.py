"""Schema adapters: one class per public data layout, each turning a raw row into a `Record`.

`ADAPTERS` below is THE ordered list of built-in schemas: it fixes `REGISTRY`'s order, which
is the order `shortcutlab data schemas` lists them, error messages name them and schema
votes break ties, independent of the order the modules are imported in. The classes live
in one module per family of schemas:
- `official`: the official code's layouts (vlfeedback, pairwise, inference);
- `preference_sets`: public training sets (RLAIF-V, RLHF-V, POVID, TRL);
- `benchmarks`: public evaluation sets (VL-RewardBench, LLaVA-Bench pairs);
- `prompts`: prompt-only files (prompts and images, no answers: `probe make`, `overlap`);
and share the field helpers of `base`.

Adding a schema is one `Adapter` subclass: append it to `ADAPTERS`, or, from user code,
decorate it with `@register` (added after the built-ins).
"""

from __future__ import annotations

from shortcutlab.data.adapters.base import (
    Adapter,
    ConvertContext,
    as_text,
    has,
    image_of,
    pair_record,
    pairwise_record,
    prompt_text,
    record_id,
    require,
    text_field,
    text_list,
)
from shortcutlab.data.adapters.benchmarks import LLaVABenchPairsAdapter, VLRewardBenchAdapter
from shortcutlab.data.adapters.official import (
    InferenceAdapter,
    PairwiseAdapter,
    VLFeedbackAdapter,
    parse_rating,
    score_annotation,
)
from shortcutlab.data.adapters.preference_sets import (
    POVIDAdapter,
    RLAIFVAdapter,
    RLHFVAdapter,
    TRLAdapter,
)
from shortcutlab.data.adapters.prompts import PromptOnlyAdapter

# The built-in schemas, in detection / listing order.
ADAPTERS: tuple[type[Adapter], ...] = (
    VLFeedbackAdapter,
    PairwiseAdapter,
    InferenceAdapter,
    RLAIFVAdapter,
    RLHFVAdapter,
    POVIDAdapter,
    VLRewardBenchAdapter,
    TRLAdapter,
    LLaVABenchPairsAdapter,
    PromptOnlyAdapter,
)

REGISTRY: dict[str, Adapter] = {cls.name: cls() for cls in ADAPTERS}  # name -> adapter


def register(cls: type[Adapter]) -> type[Adapter]:
    """Class decorator adding a user adapter to `REGISTRY` (after the built-ins)."""
    REGISTRY[cls.name] = cls()
    return cls


__all__ = [
    "ADAPTERS",
    "REGISTRY",
    "Adapter",
    "ConvertContext",
    "as_text",
    "has",
    "image_of",
    "pair_record",
    "pairwise_record",
    "parse_rating",
    "prompt_text",
    "record_id",
    "register",
    "require",
    "score_annotation",
    "text_field",
    "text_list",
    "InferenceAdapter",
    "LLaVABenchPairsAdapter",
    "PairwiseAdapter",
    "POVIDAdapter",
    "PromptOnlyAdapter",
    "RLAIFVAdapter",
    "RLHFVAdapter",
    "TRLAdapter",
    "VLFeedbackAdapter",
    "VLRewardBenchAdapter",
]
