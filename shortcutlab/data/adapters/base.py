"""The adapter base class and the field helpers every schema adapter shares.

Every adapter has a `name`, the `fields` it reads (listed in errors), `detect(row)` (does a
row look like this layout?) and `convert(row, loc, ctx) -> Record`. Multi-response adapters
set `scores` only; the loader (`shortcutlab.data.schemas`) derives `pairs` with
`pairs_from_scores` and counts ties and unscored pairs, as the official code does.

The helpers read one field each and raise a `DataError` naming file, line and field
(`require`, `as_text`, `text_field`, `prompt_text`, `text_list`, `record_id`, `image_of`),
or build the pairwise record layout (`pairwise_record`, `pair_record`). Every prompt has
the literal `<image>` placeholder removed: the collator inserts the model's own image
tokens, and a stray `<image>` would be read as an extra image token.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shortcutlab.data.images import image_ref
from shortcutlab.data.io import data_error
from shortcutlab.data.records import ImageRef, Record, SourceLoc

_IMAGE_TOKEN = re.compile(r"\s*<image>\s*")


@dataclass
class ConvertContext:
    """What adapters need beyond the row: where relative image paths resolve."""

    base_dir: Path
    image_root: str | None = None
    file_stem: str = "data"
    image_files_required: bool = True  # False: text-only work, a missing file is no error


class Adapter:
    """Base class: subclasses set `name`, `fields`, `summary` and implement detect/convert."""

    name: str = ""
    fields: tuple[str, ...] = ()  # every field convert() reads; others are kept in meta
    summary: str = ""

    def detect(self, row: dict[str, Any]) -> bool:
        raise NotImplementedError

    def convert(self, row: dict[str, Any], loc: SourceLoc, ctx: ConvertContext) -> Record:
        raise NotImplementedError


# ----------------------------------------------------------------------------- helpers


def has(row: dict[str, Any], *names: str) -> bool:
    """Whether `row` holds every field in `names` (what most `detect` methods test)."""
    return all(n in row for n in names)


def require(row: dict[str, Any], name: str, loc: SourceLoc, *, label: str | None = None) -> Any:
    """`row[name]`, or a DataError (field shown as `label`) when it is absent or null.

    The two are distinct messages: an absent field lists the fields present (a typo or a
    different schema), a null one says it is null (a hole in the data); both count as
    `missing_field` under --skip-invalid.
    """
    if name not in row:
        present = ", ".join(sorted(row)) or "none"
        raise data_error(
            loc,
            "missing field.",
            field=label or name,
            hint=f"Fields present: {present}.",
            reason="missing_field",
        )
    if row[name] is None:
        raise data_error(
            loc,
            "the field is null.",
            field=label or name,
            hint="Give it a value, or pass --skip-invalid to skip such records "
            "(counted as 'missing_field').",
            reason="missing_field",
        )
    return row[name]


def as_text(value: Any, loc: SourceLoc, field: str, *, allow_empty: bool = False) -> str:
    """A string field: wrong types and (unless allowed) empty text raise `DataError`."""
    if value is None:
        raise data_error(
            loc,
            "null where text is expected.",
            field=field,
            hint="Give it a value, or pass --skip-invalid to skip such records.",
            reason="missing_field",
        )
    if not isinstance(value, str):
        kind = type(value).__name__
        raise data_error(
            loc,
            f"expected text, found {kind} ({_short(value)}).",
            field=field,
            hint="Text fields must be JSON strings.",
            reason="wrong_type",
        )
    if not allow_empty and not value.strip():
        raise data_error(
            loc,
            "empty text.",
            field=field,
            hint="Drop the item or fill in the text.",
            reason="empty_text",
        )
    return value


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def text_field(row: dict[str, Any], name: str, loc: SourceLoc, *, prefix: str = "") -> str:
    """A required, non-empty string field (`prefix` names the enclosing field in errors)."""
    return as_text(require(row, name, loc, label=prefix + name), loc, prefix + name)


def prompt_text(value: Any, loc: SourceLoc, field: str) -> str:
    """A prompt with `<image>` placeholders removed; must not be empty after that."""
    text = as_text(value, loc, field, allow_empty=True)
    text = _IMAGE_TOKEN.sub("\n", text).strip()
    if not text:
        raise data_error(
            loc,
            "empty prompt.",
            field=field,
            hint="Every item needs a question.",
            reason="empty_text",
        )
    return text


def text_list(value: Any, loc: SourceLoc, field: str, *, min_len: int = 1) -> list[str]:
    """A list of non-empty strings of at least `min_len` items."""
    if not isinstance(value, list):
        raise data_error(
            loc,
            f"expected a list of responses, found {type(value).__name__}.",
            field=field,
            reason="wrong_type",
        )
    if len(value) < min_len:
        raise data_error(
            loc,
            f"expected at least {min_len} response(s), found {len(value)}.",
            field=field,
            reason="too_few_responses",
        )
    return [as_text(v, loc, f"{field}[{i}]") for i, v in enumerate(value)]


def record_id(
    row: dict[str, Any], keys: tuple[str, ...], loc: SourceLoc, ctx: ConvertContext
) -> str:
    """The first present id key as text; a stable `<file stem>-<line>` id when none is."""
    for key in keys:
        value = row.get(key)
        if value is None or value == "":
            continue
        if isinstance(value, float) and value.is_integer():  # parquet ints with nulls
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise data_error(
                loc,
                f"expected a string or integer id, found {type(value).__name__}.",
                field=key,
                reason="wrong_type",
            )
        return str(value)
    return f"{ctx.file_stem}-{loc.row_word[0]}{loc.line}"


def image_of(
    row: dict[str, Any], keys: tuple[str, ...], loc: SourceLoc, ctx: ConvertContext
) -> ImageRef | None:
    """The image of the first key holding one (None when the item has no image).

    An empty value (`{bytes: null, path: null}`, `[]`) falls through to the next key, so
    RLAIF-V's `image_path` is used when `image` carries nothing.
    """
    for key in keys:
        if row.get(key) is not None:
            ref = image_ref(
                row[key],
                loc=loc,
                field=key,
                base_dir=ctx.base_dir,
                image_root=ctx.image_root,
                check_exists=ctx.image_files_required,
            )
            if ref is not None:
                return ref
    return None


def pairwise_record(
    schema: str,
    row: dict[str, Any],
    loc: SourceLoc,
    ctx: ConvertContext,
    *,
    id_keys: tuple[str, ...],
    prompt_key: str,
    image_keys: tuple[str, ...],
    meta: dict[str, Any] | None = None,
    prefix: str = "",
) -> Record:
    """A pairwise record (responses [chosen, rejected], pairs [(0, 1)]) from flat fields.

    `prefix` names the enclosing field in errors (RLHF-V's JSON string `text.`).
    """
    return pair_record(
        schema,
        loc,
        id=record_id(row, id_keys, loc, ctx),
        prompt=prompt_text(
            require(row, prompt_key, loc, label=prefix + prompt_key), loc, prefix + prompt_key
        ),
        responses=[
            text_field(row, "chosen", loc, prefix=prefix),
            text_field(row, "rejected", loc, prefix=prefix),
        ],
        image=image_of(row, image_keys, loc, ctx),
        meta=meta,
    )


def pair_record(
    schema: str,
    loc: SourceLoc,
    *,
    id: str,
    prompt: str,
    responses: list[str],
    image: Any,
    meta: dict[str, Any] | None = None,
) -> Record:
    """The pairwise layout: `responses` = [chosen, rejected], pairs [(0, 1)], no scores.

    Callers pass already-validated fields as keyword arguments, so they are checked in the
    order written at the call (the first bad field is the one reported).
    """
    return Record(
        id=id,
        prompt=prompt,
        responses=responses,
        image=image,
        pairs=[(0, 1)],
        schema=schema,
        loc=loc,
        meta=meta or {},
    )
