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

# VL-RewardBench's categories, derived as the benchmark's own evaluation script derives
# them (github.com/vl-rewardbench/VL_RewardBench, cal.py at commit
# 7918386178b59895c9c40522c9878554f91be60e: `get_dataset_from_id` and `group_mapping`):
# - the id's prefix is the text before its first "_" or "-" (compared case-sensitively);
# - RLAIF -> rlaif-v, RLHF -> rlhf-v, mathverse / mmmu -> reasoning_tasks,
#   wildvision -> wildvision-battle, povid (any case) -> povid, and EVERY other id ->
#   vlfeedback (its VLFeedback ids carry their own sources' names: LRVInstruction-...);
# - vlfeedback, wildvision-battle -> general; povid, rlhf-v, rlaif-v -> hallucination;
#   reasoning_tasks -> reasoning.
# One deliberate addition: the POVID pairs are published as `hallucination_pair-N`, a
# prefix ("hallucination") the id rule above does not know, so it would send them to
# general. The benchmark's data file (data/data.jsonl at e492d6548558d9fcac8959de60be8f4e8a640dc8)
# stores every such record's image under images/povid/, and the script's earlier version
# (cal.py at 6f64385bccccd2f22a8b321075e561eb2cf5f933) took the subset from that folder
# name, so they are POVID -> hallucination. A row's `image_path` of the form
# images/<subset>/... is used first, exactly as that earlier version does.
VLRB_PREFIXES = {
    "RLAIF": "rlaif-v",
    "RLHF": "rlhf-v",
    "mathverse": "reasoning_tasks",
    "mmmu": "reasoning_tasks",
    "wildvision": "wildvision-battle",
}
VLRB_DEFAULT_SUBSET = "vlfeedback"
VLRB_POVID_PREFIXES = ("povid", "hallucination")  # compared lower-case
VLRB_GROUPS = {
    "vlfeedback": "general",
    "wildvision-battle": "general",
    "povid": "hallucination",
    "rlhf-v": "hallucination",
    "rlaif-v": "hallucination",
    "reasoning_tasks": "reasoning",
}


def _id_prefix(record_id: str) -> str:
    """The text before the id's first '_' or '-' (the whole id when it has neither)."""
    cuts = [i for i in (record_id.find("_"), record_id.find("-")) if i != -1]
    return record_id[: min(cuts)] if cuts else record_id


def vlrb_subset(record_id: str, image_path: str | None = None) -> str:
    """The VL-RewardBench source subset of a record ('RLAIF-V-14' -> 'rlaif-v').

    From `image_path`'s folder when it is images/<known subset>/..., else from the id's
    prefix; an id no rule knows is VLFeedback, as in the benchmark's script.
    """
    parts = str(image_path or "").replace("\\", "/").split("/")
    if len(parts) > 2 and parts[0] == "images" and parts[1] in VLRB_GROUPS:
        return parts[1]
    prefix = _id_prefix(record_id)
    if prefix in VLRB_PREFIXES:
        return VLRB_PREFIXES[prefix]
    if prefix.lower() in VLRB_POVID_PREFIXES:
        return "povid"
    return VLRB_DEFAULT_SUBSET


def vlrb_category(record_id: str, image_path: str | None = None) -> str:
    """The VL-RewardBench category (general / hallucination / reasoning) of a record."""
    return VLRB_GROUPS[vlrb_subset(record_id, image_path)]


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
        path = row.get("image_path") if isinstance(row.get("image_path"), str) else None
        meta["subset"] = vlrb_subset(rid, path)
        if "category" not in row:
            meta["category"] = VLRB_GROUPS[meta["subset"]]  # a file's own field wins
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
