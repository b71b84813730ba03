"""Adapters for public evaluation sets: VL-RewardBench (ranked responses) and the
LLaVA-Bench (In-the-Wild) pairs built from GPT-4 reviews. See docs/data-formats.md.
"""

from __future__ import annotations

from typing import Any

from shortcutlab.data.adapters.base import (
    Adapter,
    ConvertContext,
    has,
    image_of,
    pairwise_record,
    prompt_text,
    record_id,
    require,
    text_list,
)
from shortcutlab.data.io import data_error
from shortcutlab.data.records import Record, SourceLoc

# VL-RewardBench's categories from the id's source prefix, as its own evaluation script
# derives them: general = VLFeedback / WildVision, hallucination = POVID / RLHF-V /
# RLAIF-V, reasoning = MathVerse / MMMU (prefixes compared lower-case, without - and _).
VLRB_CATEGORIES = (
    ("vlfeedback", "general"),
    ("wildvision", "general"),
    ("povid", "hallucination"),
    ("rlhfv", "hallucination"),
    ("rlaifv", "hallucination"),
    ("mathverse", "reasoning"),
    ("mmmu", "reasoning"),
)


def vlrb_category(record_id: str) -> str | None:
    """The VL-RewardBench category of an id ('RLAIF-V-Dataset_2107' -> 'hallucination')."""
    key = record_id.lower().replace("-", "").replace("_", "")
    for prefix, category in VLRB_CATEGORIES:
        if key.startswith(prefix):
            return category
    return None


class VLRewardBenchAdapter(Adapter):
    name = "vl_rewardbench"
    fields = ("id", "query", "response", "human_ranking", "image", "image_path")
    summary = "VL-RewardBench: {id, query, response: [a, b], human_ranking (lower = better)}"

    def detect(self, row: dict[str, Any]) -> bool:
        return has(row, "query", "response", "human_ranking")

    def convert(self, row: dict[str, Any], loc: SourceLoc, ctx: ConvertContext) -> Record:
        responses = text_list(require(row, "response", loc), loc, "response", min_len=2)
        ranks = require(row, "human_ranking", loc)
        if (
            not isinstance(ranks, list)
            or len(ranks) != len(responses)
            or not all(isinstance(r, (int, float)) and not isinstance(r, bool) for r in ranks)
        ):
            raise data_error(
                loc,
                f"expected {len(responses)} numeric ranks, found {ranks!r}.",
                field="human_ranking",
                reason="wrong_type",
            )
        worst = max(ranks)
        meta = {k: row[k] for k in ("models", "query_source", "category") if k in row}
        rid = record_id(row, ("id",), loc, ctx)
        category = vlrb_category(rid)
        if category is not None and "category" not in row:
            meta["category"] = category  # derived; a file's own category field wins
        return Record(
            id=rid,
            prompt=prompt_text(require(row, "query", loc), loc, "query"),
            responses=responses,
            image=image_of(row, ("image", "image_path"), loc, ctx),
            scores=[float(worst - r) for r in ranks],  # rank 0 (best) -> highest score
            schema=self.name,
            loc=loc,
            meta=meta,
        )


class LLaVABenchPairsAdapter(Adapter):
    name = "llava_bench_pairs"
    fields = ("pair_id", "image", "question", "chosen", "rejected", "chosen_score_mean")
    summary = "LLaVA-Bench in-the-wild pairs from GPT-4 reviews (pair_id, question, ...)"

    def detect(self, row: dict[str, Any]) -> bool:
        return has(row, "pair_id", "question", "chosen", "rejected", "image")

    def convert(self, row: dict[str, Any], loc: SourceLoc, ctx: ConvertContext) -> Record:
        meta = {k: row[k] for k in ("category", "chosen_model", "rejected_model") if k in row}
        if "chosen_score_mean" in row and "rejected_score_mean" in row:
            # the judge's own ratings: read as the score table's preference_score
            meta["preference_scores"] = [row["chosen_score_mean"], row["rejected_score_mean"]]
        return pairwise_record(
            self.name,
            row,
            loc,
            ctx,
            id_keys=("pair_id",),
            prompt_key="question",
            image_keys=("image",),
            meta=meta,
        )
