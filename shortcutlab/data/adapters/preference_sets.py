"""Adapters for public training preference sets: RLAIF-V, RLHF-V, POVID (LLaVA turns) and
TRL-style preference data. See docs/data-formats.md for example rows.
"""

from __future__ import annotations

import json
from typing import Any

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
)
from shortcutlab.data.io import data_error
from shortcutlab.data.records import Record, SourceLoc


class RLAIFVAdapter(Adapter):
    name = "rlaif_v"
    fields = ("question", "chosen", "rejected", "image", "image_path", "idx", "id")
    summary = "RLAIF-V parquet: {question, chosen, rejected, image: {bytes, path}}"

    def detect(self, row: dict[str, Any]) -> bool:
        has_image = "image" in row or "image_path" in row
        return has(row, "question", "chosen", "rejected") and has_image and "pair_id" not in row

    def convert(self, row: dict[str, Any], loc: SourceLoc, ctx: ConvertContext) -> Record:
        meta = {k: row[k] for k in ("ds_name", "origin_dataset", "origin_split") if k in row}
        return pairwise_record(
            self.name,
            row,
            loc,
            ctx,
            id_keys=("idx", "id"),
            prompt_key="question",
            image_keys=("image", "image_path"),
            meta=meta,
        )


class RLHFVAdapter(Adapter):
    name = "rlhf_v"
    fields = ("image", "text", "image_path", "idx", "id")
    summary = "RLHF-V: {image, text} with text = JSON string {question, chosen, rejected}"

    def detect(self, row: dict[str, Any]) -> bool:
        text = row.get("text")
        return (
            has(row, "image", "text")
            and isinstance(text, str)
            and text.lstrip().startswith("{")
            and "question" not in row
        )

    def convert(self, row: dict[str, Any], loc: SourceLoc, ctx: ConvertContext) -> Record:
        raw = as_text(require(row, "text", loc), loc, "text")
        try:
            inner = json.loads(raw)
        except (json.JSONDecodeError, RecursionError) as exc:
            raise data_error(
                loc,
                f"'text' is not valid JSON ({getattr(exc, 'msg', 'nested too deeply')}).",
                field="text",
                hint="RLHF-V keeps question/chosen/rejected in a JSON string.",
                reason="malformed_json",
            ) from None
        if not isinstance(inner, dict):
            raise data_error(
                loc, "'text' JSON is not an object.", field="text", reason="wrong_type"
            )
        rec = pairwise_record(
            self.name,
            inner,
            loc,
            ctx,
            id_keys=(),
            prompt_key="question",
            image_keys=(),
            prefix="text.",
        )
        rec.id = record_id(row, ("idx", "id"), loc, ctx)
        rec.image = image_of(row, ("image", "image_path"), loc, ctx)
        return rec


def _turn_text(turn: Any, loc: SourceLoc, field: str) -> tuple[str, str]:
    if not isinstance(turn, dict):
        raise data_error(loc, "expected a {from, value} turn.", field=field, reason="wrong_type")
    who = turn.get("from", turn.get("role"))
    value = turn.get("value", turn.get("content"))
    if value is None:
        raise data_error(loc, "missing field.", field=f"{field}.value", reason="missing_field")
    return str(who), as_text(value, loc, f"{field}.value", allow_empty=True)


def _split_conversation(conv: Any, loc: SourceLoc, field: str) -> tuple[str, str]:
    """(last human turn, final gpt turn) of a LLaVA-style conversation."""
    if not isinstance(conv, list) or len(conv) < 2:
        raise data_error(
            loc,
            "expected a list of at least two {from, value} turns.",
            field=field,
            reason="wrong_type",
        )
    turns = [_turn_text(t, loc, f"{field}[{i}]") for i, t in enumerate(conv)]
    who, answer = turns[-1]
    if who not in ("gpt", "assistant"):
        raise data_error(
            loc,
            f"the last turn is from '{who}', expected 'gpt'.",
            field=f"{field}[-1]",
            reason="bad_conversation",
        )
    humans = [value for w, value in turns[:-1] if w in ("human", "user")]
    if not humans:
        raise data_error(loc, "no human turn.", field=field, reason="bad_conversation")
    answer = as_text(answer, loc, f"{field}[{len(turns) - 1}].value")
    return humans[-1], answer


class POVIDAdapter(Adapter):
    name = "povid"
    fields = ("id", "image", "img_path", "conversations", "rejected_conversations")
    summary = "POVID: {id, image, conversations, rejected_conversations} (LLaVA turns)"

    def detect(self, row: dict[str, Any]) -> bool:
        return has(row, "conversations", "rejected_conversations")

    def convert(self, row: dict[str, Any], loc: SourceLoc, ctx: ConvertContext) -> Record:
        question, chosen = _split_conversation(
            require(row, "conversations", loc), loc, "conversations"
        )
        question_r, rejected = _split_conversation(
            require(row, "rejected_conversations", loc), loc, "rejected_conversations"
        )
        return pair_record(
            self.name,
            loc,
            id=record_id(row, ("id",), loc, ctx),
            prompt=prompt_text(question, loc, "conversations[0].value"),
            responses=[chosen, rejected],
            image=image_of(row, ("image", "img_path"), loc, ctx),
        )


def _message_text(value: Any, loc: SourceLoc, field: str, roles: tuple[str, ...]) -> str:
    """Text of a TRL string or conversational list [{role, content}] (content str or parts)."""
    if isinstance(value, str) or not isinstance(value, list):
        return as_text(value, loc, field, allow_empty=True)
    texts = []
    for i, msg in enumerate(value):
        if not isinstance(msg, dict) or "content" not in msg:
            raise data_error(
                loc,
                "expected messages {role, content}.",
                field=f"{field}[{i}]",
                reason="wrong_type",
            )
        if msg.get("role") not in roles:
            continue
        content = msg["content"]
        if isinstance(content, list):  # [{type: text, text}, {type: image}]
            content = "\n".join(
                p.get("text", "")
                for p in content
                if isinstance(p, dict) and p.get("type") == "text"
            )
        texts.append(as_text(content, loc, f"{field}[{i}].content", allow_empty=True))
    return "\n".join(t for t in texts if t)


class TRLAdapter(Adapter):
    name = "trl"
    fields = ("prompt", "chosen", "rejected", "images", "image", "id")
    summary = "TRL preference: {prompt, chosen, rejected, images} (strings or messages)"

    def detect(self, row: dict[str, Any]) -> bool:
        return has(row, "prompt", "chosen", "rejected") and "img_path" not in row

    def convert(self, row: dict[str, Any], loc: SourceLoc, ctx: ConvertContext) -> Record:
        prompt = _message_text(require(row, "prompt", loc), loc, "prompt", ("user", "system"))
        chosen = _message_text(require(row, "chosen", loc), loc, "chosen", ("assistant",))
        rejected = _message_text(require(row, "rejected", loc), loc, "rejected", ("assistant",))
        return pair_record(
            self.name,
            loc,
            id=record_id(row, ("id",), loc, ctx),
            prompt=prompt_text(prompt, loc, "prompt"),
            responses=[as_text(chosen, loc, "chosen"), as_text(rejected, loc, "rejected")],
            image=image_of(row, ("images", "image"), loc, ctx),
        )
