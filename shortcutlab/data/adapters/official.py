"""Adapters for the official code's own layouts: VLFeedback-style multi-response, pairwise,
and the inference input (responses without a preference). See docs/data-formats.md.
"""

from __future__ import annotations

import math
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
    text_field,
    text_list,
)
from shortcutlab.data.io import data_error
from shortcutlab.data.records import Record, SourceLoc


def parse_rating(value: Any) -> float | None:
    """A '1'..'5' rating as float; None when missing or unparsable ('N/A', '')."""
    if isinstance(value, bool):
        return None
    try:
        rating = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(rating) or math.isinf(rating) else rating


def score_annotation(annotation: Any) -> float | None:
    """Mean 'Rating' over aspects (Helpfulness, Ethical Considerations, Visual Faithfulness).

    None when the annotation is absent or any aspect's rating is unparsable, so the
    response's pairs are skipped and counted as unscored. A null aspect (how parquet
    structs store an aspect a row lacks) is left out of the mean; an aspect given as a
    bare rating ("4") is accepted.
    """
    if not isinstance(annotation, dict):
        return None
    ratings = []
    for aspect in annotation.values():
        if aspect is None:
            continue
        rating = parse_rating(aspect.get("Rating") if isinstance(aspect, dict) else aspect)
        if rating is None:
            return None
        ratings.append(rating)
    return sum(ratings) / len(ratings) if ratings else None


class VLFeedbackAdapter(Adapter):
    name = "vlfeedback"
    fields = ("id", "prompt", "img_path", "completions")
    summary = "official multi-response: completions {annotations, model, response}"

    def detect(self, row: dict[str, Any]) -> bool:
        return has(row, "prompt", "completions")

    def convert(self, row: dict[str, Any], loc: SourceLoc, ctx: ConvertContext) -> Record:
        comp = require(row, "completions", loc)
        if isinstance(comp, dict):  # dict of parallel lists
            responses = text_list(
                require(comp, "response", loc, label="completions.response"),
                loc,
                "completions.response",
            )
            annotations = comp.get("annotations") or [None] * len(responses)
            models = comp.get("model") or []
            if not isinstance(annotations, list) or len(annotations) != len(responses):
                raise data_error(
                    loc,
                    "annotations and responses differ in length.",
                    field="completions.annotations",
                    reason="length_mismatch",
                )
        elif isinstance(comp, list):  # list of {annotations, model, response}
            responses, annotations, models = self._from_list(comp, loc)
        else:
            raise data_error(
                loc,
                f"expected a dict of lists or a list of dicts, found {type(comp).__name__}.",
                field="completions",
                reason="wrong_type",
            )
        return Record(
            id=record_id(row, ("id",), loc, ctx),
            prompt=prompt_text(require(row, "prompt", loc), loc, "prompt"),
            responses=responses,
            image=image_of(row, ("img_path",), loc, ctx),
            scores=[score_annotation(a) for a in annotations],
            schema=self.name,
            loc=loc,
            meta={"models": list(models)} if models else {},
        )

    @staticmethod
    def _from_list(comp: list, loc: SourceLoc) -> tuple[list[str], list[Any], list[Any]]:
        responses, annotations, models = [], [], []
        for i, item in enumerate(comp):
            if not isinstance(item, dict):
                raise data_error(
                    loc,
                    f"expected an object, found {type(item).__name__}.",
                    field=f"completions[{i}]",
                    reason="wrong_type",
                )
            responses.append(text_field(item, "response", loc, prefix=f"completions[{i}]."))
            annotations.append(item.get("annotations"))
            models.append(item.get("model"))
        if not responses:
            raise data_error(
                loc, "no completions.", field="completions", reason="too_few_responses"
            )
        return responses, annotations, models if any(m is not None for m in models) else []


class PairwiseAdapter(Adapter):
    name = "pairwise"
    fields = ("id", "prompt", "img_path", "chosen", "rejected")
    summary = "official pairwise: {id, prompt, img_path, chosen, rejected}"

    def detect(self, row: dict[str, Any]) -> bool:
        return has(row, "prompt", "chosen", "rejected", "img_path")

    def convert(self, row: dict[str, Any], loc: SourceLoc, ctx: ConvertContext) -> Record:
        return pairwise_record(
            self.name,
            row,
            loc,
            ctx,
            id_keys=("id",),
            prompt_key="prompt",
            image_keys=("img_path",),
        )


class InferenceAdapter(Adapter):
    name = "inference"
    fields = ("id", "prompt", "img_path", "image", "responses")
    summary = "official inference input: {prompt, img_path, responses} (no preference)"

    def detect(self, row: dict[str, Any]) -> bool:
        return has(row, "prompt", "responses") and "completions" not in row

    def convert(self, row: dict[str, Any], loc: SourceLoc, ctx: ConvertContext) -> Record:
        return Record(
            id=record_id(row, ("id",), loc, ctx),
            prompt=prompt_text(require(row, "prompt", loc), loc, "prompt"),
            responses=text_list(require(row, "responses", loc), loc, "responses"),
            image=image_of(row, ("img_path", "image"), loc, ctx),
            schema=self.name,
            loc=loc,
        )
