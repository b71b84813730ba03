"""Add a data schema: teach shortcutlab to read your own layout, then train and score on it.

A schema is one `Adapter` subclass registered with `@register`: `detect(row)` says
whether a raw row looks like this layout (exactly one registered schema may accept a
row, or the file is ambiguous), `convert(row, loc, ctx)` turns it into a canonical
`Record`. Errors go through the helpers (`require`, `as_text`, `data_error`), so a bad
row is reported with its file, line and field. Once registered, every command and
function that reads data (`load_dataset_file`, `train`, `score`, `length-balance`, ...)
detects the schema, and `schema="graded-answers"` forces it.

The layout here: one question about a picture and several graded answers,

    {"uid": "q1", "question": "...", "picture": "img/1.png",
     "answers": [{"text": "...", "grade": 4}, {"text": "...", "grade": 1}]}

A multi-response adapter sets the per-response `scores` only: the loader derives the
(better, worse) pairs from them (ties skipped and counted).

    python examples/new_data_schema.py --out runs/example-schema
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from PIL import Image

from shortcutlab import build_tiny_model, score
from shortcutlab.data.adapters import (
    Adapter,
    ConvertContext,
    as_text,
    image_of,
    prompt_text,
    record_id,
    register,
    require,
)
from shortcutlab.data.io import data_error
from shortcutlab.data.records import Record, SourceLoc
from shortcutlab.data.schemas import load_dataset_file


@register
class GradedAnswersAdapter(Adapter):
    name = "graded-answers"
    fields = ("uid", "question", "picture", "answers")  # other fields are kept in meta
    summary = "graded answers: {uid, question, picture, answers: [{text, grade}]}"

    def detect(self, row: dict[str, Any]) -> bool:
        return {"question", "picture", "answers"} <= set(row)

    def convert(self, row: dict[str, Any], loc: SourceLoc, ctx: ConvertContext) -> Record:
        answers = require(row, "answers", loc)
        if not isinstance(answers, list) or len(answers) < 2:
            raise data_error(
                loc,
                "expected a list of at least two answers.",
                field="answers",
                reason="wrong_type",
            )
        texts, grades = [], []
        for i, a in enumerate(answers):
            field = f"answers[{i}]"
            if not isinstance(a, dict):
                raise data_error(loc, "expected {text, grade}.", field=field, reason="wrong_type")
            texts.append(
                as_text(require(a, "text", loc, label=f"{field}.text"), loc, f"{field}.text")
            )
            grade = require(a, "grade", loc, label=f"{field}.grade")
            if isinstance(grade, bool) or not isinstance(grade, (int, float)):
                raise data_error(
                    loc, "expected a number.", field=f"{field}.grade", reason="wrong_type"
                )
            grades.append(float(grade))
        return Record(
            id=record_id(row, ("uid",), loc, ctx),  # a `<file>-line<n>` id when uid is absent
            prompt=prompt_text(require(row, "question", loc), loc, "question"),
            responses=texts,
            image=image_of(row, ("picture",), loc, ctx),  # relative to the data file
            scores=grades,  # higher is better; pairs are derived from these
            schema=self.name,
            loc=loc,
        )


def write_example_file(folder: Path) -> Path:
    """Three items in the new layout, with their pictures."""
    (folder / "img").mkdir(parents=True, exist_ok=True)
    rows = []
    colours = {"red": (220, 20, 20), "green": (20, 200, 20), "blue": (20, 20, 220)}
    for i, (colour, rgb) in enumerate(colours.items()):
        Image.new("RGB", (32, 32), rgb).save(folder / "img" / f"{i}.png")
        rows.append(
            {
                "uid": f"q{i}",
                "question": "What colour is the square?",
                "picture": f"img/{i}.png",
                "answers": [
                    {"text": f"The square is {colour}.", "grade": 5},
                    {"text": "It is purple.", "grade": 1},
                    {"text": "A square.", "grade": 3},
                ],
            }
        )
    path = folder / "graded.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def main(out: Path) -> dict:
    data = write_example_file(out / "data")
    loaded = load_dataset_file(data)  # the schema is detected from the fields
    print(f"schema {loaded.schema}: {len(loaded.records)} records, {loaded.n_pairs} pairs")
    rec = loaded.records[0]
    print(f"first record: {rec.id} pairs {rec.pairs}")

    # Score it with a (tiny, untrained) reward model: one row per response.
    model = build_tiny_model("llava", out / "tiny-llava", seed=0)
    df = score(str(model), str(data), str(out / "scores.jsonl"), overwrite=True).table
    print(df[["id", "response_index", "reward", "preference_score"]].head(6).to_string())
    return {"schema": loaded.schema, "n_pairs": loaded.n_pairs, "rows": len(df)}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("runs/example-schema"))
    print(json.dumps(main(ap.parse_args().out)))
