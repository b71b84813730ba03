"""Prompt-only files: prompts (and images) without any answer (issue 21 item 8).

Evaluation inputs are often published before anyone answered them: LLaVA-Bench's raw
`questions.jsonl` ({question_id, image, text, category}), the RLAIF-V evaluation inputs
({question_id / idx, image, question}), a probe set's prompts. Such a file has no
preference, so it cannot be scored or trained on, but it is what `overlap` compares with
a training set (same image, same question) and what `probe make` builds probes from.

Fields are detected, first present wins:
- prompt: `question`, `prompt`, `text`, `query`, `instruction`;
- image: `image`, `image_path`, `img_path` (a path, bytes or a HF image dict);
- id: `question_id`, `id`, `idx`, `pair_id` (else `<file stem>-l<line>`).

A row holding any answer field (`PROMPT_ONLY_EXCLUDES`) is not prompt-only, so this
schema never competes with the preference schemas; it is listed last. The row's other
fields (LLaVA-Bench's `category`) are kept for --group-by like every schema's extras.
"""

from __future__ import annotations

from typing import Any

from shortcutlab.data.adapters.base import (
    Adapter,
    ConvertContext,
    image_of,
    prompt_text,
    record_id,
    require,
)
from shortcutlab.data.records import Record, SourceLoc
from shortcutlab.errors import DataError

PROMPT_FIELDS = ("question", "prompt", "text", "query", "instruction")
IMAGE_FIELDS = ("image", "image_path", "img_path")
ID_FIELDS = ("question_id", "id", "idx", "pair_id")
# any of these means the row carries answers (or is an answer file's row)
PROMPT_ONLY_EXCLUDES = frozenset(
    {
        "chosen",
        "rejected",
        "response",
        "responses",
        "completions",
        "answer",
        "answers",
        "answer_id",
        "output",
        "outputs",
        "human_ranking",
        "conversations",
        "rejected_conversations",
    }
)


class PromptOnlyAdapter(Adapter):
    name = "prompt_only"
    fields = (*PROMPT_FIELDS, *IMAGE_FIELDS, *ID_FIELDS)
    summary = "prompts without answers (LLaVA-Bench questions.jsonl, RLAIF-V eval inputs)"

    def detect(self, row: dict[str, Any]) -> bool:
        field = next((k for k in PROMPT_FIELDS if k in row), None)
        if field is None or PROMPT_ONLY_EXCLUDES & set(row):
            return False
        value = row[field]  # RLHF-V packs question and answers as a JSON string in `text`
        return not (isinstance(value, str) and value.lstrip().startswith("{"))

    def convert(self, row: dict[str, Any], loc: SourceLoc, ctx: ConvertContext) -> Record:
        field = next((k for k in PROMPT_FIELDS if k in row), PROMPT_FIELDS[0])
        return Record(
            id=record_id(row, ID_FIELDS, loc, ctx),
            prompt=prompt_text(require(row, field, loc), loc, field),
            responses=[],
            image=image_of(row, IMAGE_FIELDS, loc, ctx),
            schema=self.name,
            loc=loc,
        )


def require_responses(records: list[Record], path: Any) -> None:
    """DataError when `records` hold prompts only: there is nothing to score or rank."""
    if records and not any(r.responses for r in records):
        raise DataError(
            f"the {len(records)} records hold prompts only (no responses), so there is "
            "nothing to score.",
            file=str(path),
            hint="prompt-only files are for `overlap` (and `probe make`); to score, give each "
            "record its responses (inference schema: {id, prompt, img_path, responses}).",
            reason="no_responses",
        )
