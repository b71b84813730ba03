"""Reading rows from data files: the read side of the file formats.

Owns the file formats (JSONL, JSON list, parquet, HF `datasets` folders written by
`Dataset.save_to_disk`), not their meaning: `iter_rows` yields raw dict rows with their
`SourceLoc` (file + 1-based line for JSONL/JSON, 0-based row for parquet/datasets) and the
schema adapters (`shortcutlab.data.adapters`) turn rows into canonical records.
`data_error` builds the located `DataError` every reader and adapter raises.

Writing (tables, JSONL appends, records) lives in `shortcutlab.data.writing`; data flows
records <- io <- (images, adapters, writing), never back.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from shortcutlab.data.records import SourceLoc
from shortcutlab.errors import DataError

JSONL_EXT = (".jsonl", ".ndjson")
JSON_EXT = (".json",)
PARQUET_EXT = (".parquet", ".pq")

Row = dict[str, Any]
OnError = Callable[[DataError], None]


def data_error(
    loc: SourceLoc | None,
    message: str,
    *,
    field: str | None = None,
    hint: str | None = None,
    reason: str = "invalid",
) -> DataError:
    """A `DataError` located at `loc` (file, line/row) and `field`."""
    if loc is None:
        return DataError(message, field=field, hint=hint, reason=reason)
    return DataError(
        message,
        file=loc.file,
        line=loc.line,
        field=field,
        hint=hint,
        reason=reason,
        row_word=loc.row_word,
    )


def detect_format(path: str | Path) -> str:
    """'jsonl', 'json', 'parquet' or 'datasets' from the extension, else from the content."""
    p = Path(path)
    if p.is_dir():
        return "datasets"
    suffix = p.suffix.lower()
    if suffix in JSONL_EXT:
        return "jsonl"
    if suffix in JSON_EXT:
        return "json"
    if suffix in PARQUET_EXT:
        return "parquet"
    with open(p, "rb") as fh:  # unknown extension: sniff the content
        head = fh.read(4096)
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.lstrip().startswith(b"["):
        return "json"
    return "jsonl"


def iter_rows(
    path: str | Path, *, on_error: OnError | None = None
) -> Iterator[tuple[SourceLoc, Row]]:
    """Yield `(loc, row)` for every row of a JSONL / JSON-list / parquet file or datasets folder.

    A malformed row (truncated JSON, non-UTF-8 bytes, not an object) raises `DataError`,
    or, when `on_error` is given, is passed to it and skipped (the caller counts it).
    A missing or empty file always raises.
    """
    p = Path(path)
    if not p.exists():
        raise DataError(
            "file not found.", file=str(p), hint="Check the path.", reason="missing_file"
        )
    fmt = detect_format(p)
    reader = {
        "jsonl": _iter_jsonl,
        "json": _iter_json_list,
        "parquet": _iter_parquet,
        "datasets": _iter_datasets,
    }[fmt]
    yield from reader(p, on_error)


def _empty(p: Path, hint: str | None = None) -> DataError:
    return DataError("the file is empty (no rows).", file=str(p), hint=hint, reason="empty_file")


def _emit(err: DataError, on_error: OnError | None) -> None:
    if on_error is None:
        raise err
    on_error(err)


def _iter_jsonl(p: Path, on_error: OnError | None) -> Iterator[tuple[SourceLoc, Row]]:
    """JSONL, read as bytes so a bad line is reported by number, not as a codec crash."""
    seen = 0
    with open(p, "rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            seen += 1
            loc = SourceLoc(str(p), lineno)
            try:
                text = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")  # BOM allowed
            except UnicodeDecodeError as exc:
                _emit(
                    data_error(
                        loc,
                        f"not valid UTF-8: byte 0x{exc.object[exc.start]:02X} at byte "
                        f"offset {exc.start} of the line (0-based).",
                        hint="Re-encode the file as UTF-8.",
                        reason="bad_encoding",
                    ),
                    on_error,
                )
                continue
            try:
                row = json.loads(text)
            except (json.JSONDecodeError, RecursionError) as exc:
                _emit(
                    data_error(
                        loc,
                        f"malformed JSON ({_json_msg(exc)}).",
                        hint="Each line must be one complete JSON object (truncated file?).",
                        reason="malformed_json",
                    ),
                    on_error,
                )
                continue
            if not isinstance(row, dict):
                _emit(_not_object(loc, row), on_error)
                continue
            yield loc, row
    if seen == 0:
        raise _empty(p, "Expected one JSON object per line.")


def _json_msg(exc: Exception) -> str:
    """'Expecting value at column 7' (json's own msg may end in ' at' already)."""
    if not isinstance(exc, json.JSONDecodeError):  # RecursionError from deep nesting
        return "nested too deeply to parse"
    return f"{exc.msg.removesuffix(' at')} at column {exc.colno}"


def _not_object(loc: SourceLoc, row: Any) -> DataError:
    return data_error(
        loc,
        f"expected a JSON object, found {type(row).__name__}.",
        hint='Each row must be an object such as {"prompt": ..., "chosen": ...}.',
        reason="not_an_object",
    )


def _iter_json_list(p: Path, on_error: OnError | None) -> Iterator[tuple[SourceLoc, Row]]:
    """A JSON file holding one list of objects; each item is located by its starting line."""
    raw = p.read_bytes()
    if not raw.strip():
        raise _empty(p)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise data_error(
            SourceLoc(str(p), line),
            f"not valid UTF-8: byte 0x{exc.object[exc.start]:02X} at byte offset "
            f"{exc.start} of the file (0-based).",
            hint="Re-encode the file as UTF-8.",
            reason="bad_encoding",
        ) from None
    decoder = json.JSONDecoder()
    pos = _skip_ws(text, 0)
    if not text.startswith("[", pos):
        raise DataError(
            "a .json data file must hold a list of objects.",
            file=str(p),
            hint="Use a list [{...}, {...}] or JSONL (one object per line).",
            reason="not_a_list",
        )
    pos = _skip_ws(text, pos + 1)
    if text.startswith("]", pos):
        raise _empty(p, "The JSON list has no items.")
    line = 1 + text.count("\n", 0, pos)
    last = pos
    while pos < len(text) and text[pos] != "]":
        line += text.count("\n", last, pos)
        last = pos
        loc = SourceLoc(str(p), line)
        try:
            item, end = decoder.raw_decode(text, pos)
        except (json.JSONDecodeError, RecursionError) as exc:  # the rest cannot be trusted
            raise data_error(
                SourceLoc(str(p), getattr(exc, "lineno", line)),
                f"malformed JSON ({_json_msg(exc)}).",
                hint="Check the file is complete and valid JSON.",
                reason="malformed_json",
            ) from None
        if isinstance(item, dict):
            yield loc, item
        else:
            _emit(_not_object(loc, item), on_error)
        pos = _skip_ws(text, end)
        if pos < len(text) and text[pos] == ",":
            pos = _skip_ws(text, pos + 1)


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _iter_parquet(p: Path, on_error: OnError | None) -> Iterator[tuple[SourceLoc, Row]]:
    """Parquet, streamed in record batches so large files with image bytes fit in memory."""
    import pyarrow.parquet as pq  # heavy; only parquet files need it

    if p.stat().st_size == 0:
        raise _empty(p)
    try:
        pf = pq.ParquetFile(p)
    except Exception as exc:  # pyarrow raises several types for a corrupt footer
        raise DataError(
            f"cannot read as parquet ({exc}).", file=str(p), reason="bad_parquet"
        ) from None
    if pf.metadata.num_rows == 0:
        raise _empty(p)
    row = 0
    for batch in pf.iter_batches(batch_size=256):
        for item in batch.to_pylist():
            yield SourceLoc(str(p), row, "row"), item
            row += 1


def _iter_datasets(p: Path, on_error: OnError | None) -> Iterator[tuple[SourceLoc, Row]]:
    """An HF `datasets` folder (save_to_disk); image columns are read undecoded."""
    import datasets  # heavy (imports pyarrow, fsspec, ...); only datasets folders need it

    try:
        ds = datasets.load_from_disk(str(p))
    except Exception as exc:
        raise DataError(
            f"not a readable HF datasets folder ({exc}).",
            file=str(p),
            hint="Pass a folder written by Dataset.save_to_disk, or a JSONL/parquet file.",
            reason="bad_datasets_folder",
        ) from None
    if isinstance(ds, datasets.DatasetDict):
        splits = list(ds)
        if len(splits) != 1 and "train" not in splits:
            raise DataError(
                f"the folder holds several splits {splits}.",
                file=str(p),
                hint="Pass the split's own folder, e.g. DATA/test.",
                reason="ambiguous_split",
            )
        ds = ds["train"] if "train" in splits else ds[splits[0]]
    for name, feature in ds.features.items():
        if isinstance(feature, datasets.Image):
            ds = ds.cast_column(name, datasets.Image(decode=False))
    if len(ds) == 0:
        raise _empty(p)
    for i, item in enumerate(ds):
        yield SourceLoc(str(p), i, "row"), item


# ----------------------------------------------------------------------------- tables


def read_table(path: str | Path) -> Any:
    """Read a JSONL / JSON-list / parquet table into a pandas DataFrame."""
    import pandas as pd  # heavy; reading rows does not need it

    p = Path(path)
    if p.is_file() and detect_format(p) == "parquet":
        return pd.read_parquet(p)
    return pd.DataFrame([row for _, row in iter_rows(p)])
