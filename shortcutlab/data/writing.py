"""Writing tables and records: the write side of `shortcutlab.data.io`.

- `write_table`: a DataFrame or dict rows -> JSONL / JSON list / parquet, atomically
  (`shortcutlab.files.atomic_write`), so an interrupted run never leaves half a table;
- `dumps_row` / `append_jsonl`: one JSON line per row; appends are flushed and fsynced
  (`shortcutlab.files.append_lines`) so resumable scoring can trust every line it finds
  after a crash;
- `write_records`: canonical records back into one of the official layouts, so a filtered
  or converted data set reloads with `load_dataset_file`.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from PIL import Image

from shortcutlab.data.io import JSON_EXT, JSONL_EXT, PARQUET_EXT, Row
from shortcutlab.data.records import ImageRef, Record
from shortcutlab.errors import ConfigError, DataError
from shortcutlab.files import append_lines, atomic_write, atomic_write_text

# ----------------------------------------------------------------------------- tables


def _json_default(obj: Any) -> Any:
    """JSON for numpy scalars/arrays and bytes that pandas rows may hold."""
    if hasattr(obj, "item") and callable(obj.item) and getattr(obj, "ndim", 0) == 0:
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, (bytes, bytearray)):
        raise TypeError("bytes cannot be written to JSON; use a .parquet output")
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _clean_nan(value: Any) -> Any:
    if isinstance(value, float) and value != value:
        return None
    return value


def _rows_of(table: Any) -> list[Row]:
    if hasattr(table, "to_dict"):  # pandas DataFrame
        return [{k: _clean_nan(v) for k, v in r.items()} for r in table.to_dict("records")]
    return [dict(r) for r in table]


def dumps_row(row: Row) -> str:
    """One JSON line (UTF-8 kept, NaN written as null)."""
    clean = {k: _clean_nan(v) for k, v in row.items()}
    return json.dumps(clean, ensure_ascii=False, default=_json_default, allow_nan=False)


def write_table(table: Any, path: str | Path) -> Path:
    """Write a DataFrame or list of dict rows atomically; format by extension.

    `.jsonl`/`.ndjson`: one object per line; `.json`: one list; `.parquet`: parquet.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix in PARQUET_EXT:
        import pandas as pd  # heavy; only parquet output needs it

        df = table if isinstance(table, pd.DataFrame) else pd.DataFrame(_rows_of(table))
        return atomic_write(p, lambda fh: df.to_parquet(fh, index=False))
    rows = _rows_of(table)
    if suffix in JSONL_EXT:
        text = "".join(dumps_row(r) + "\n" for r in rows)
    elif suffix in JSON_EXT:
        text = "[\n" + ",\n".join(dumps_row(r) for r in rows) + "\n]\n"
    else:
        raise DataError(
            f"unknown table format '{p.suffix}'.",
            file=str(p),
            hint="Use .jsonl, .json or .parquet.",
            reason="bad_extension",
        )
    return atomic_write_text(p, text)


def append_jsonl(path: str | Path, rows: Iterable[Row]) -> int:
    """Append rows as JSON lines in one write, then flush and fsync; returns the number written."""
    return append_lines(path, [dumps_row(r) + "\n" for r in rows])


# ----------------------------------------------------------------------------- records

WRITE_LAYOUTS = ("pairwise", "vlfeedback", "inference")


def _layout_for(records: list[Record]) -> str:
    if all(r.is_pairwise for r in records):
        return "pairwise"
    if all(not r.pairs and r.scores is None for r in records):
        return "inference"
    return "vlfeedback"


def write_records(
    records: list[Record],
    path: str | Path,
    schema: str | None = None,
    *,
    image_dir: str | Path | None = None,
    extra: Callable[[Record], Row] | None = None,
) -> Path:
    """Write records back in one of the official layouts; format by extension (JSONL/JSON/parquet).

    `schema`: "pairwise" ({id, prompt, img_path, chosen, rejected}; a multi-response record
    gives one row per pair, id `<id>-<better>-<worse>`), "vlfeedback" ({id, prompt, img_path,
    completions: {annotations, model, response}}: each score is written as one "Overall"
    Rating; pairwise records get ratings 2 / 1), or "inference" ({id, prompt, img_path,
    responses}). None picks pairwise, inference or vlfeedback from the records. Images held
    as bytes or PIL are saved as PNG/original bytes under `image_dir` (default:
    `<file stem>_images/` beside the output) and referenced by relative path, so the file
    reloads with `load_dataset_file`; image files outside the output's folder are referenced
    by absolute path. `extra(record)` gives fields added to each of the record's rows (e.g.
    `probe make`'s base_id and variant; loaders ignore unknown fields). Returns the written
    path.
    """
    out = Path(path)
    layout = schema or _layout_for(records)
    if layout not in WRITE_LAYOUTS:
        raise ConfigError(f"cannot write schema '{layout}'; choose one of {WRITE_LAYOUTS}.")
    images = _ImageWriter(out, Path(image_dir) if image_dir else None)
    rows: list[Row] = []
    for rec in records:
        base = {"id": rec.id, "prompt": rec.prompt, "img_path": images.path_for(rec.image)}
        more = extra(rec) if extra is not None else {}
        rows.extend({**row, **more} for row in _rows_for(rec, base, layout))
    return write_table(rows, out)


def _rows_for(rec: Record, base: Row, layout: str) -> list[Row]:
    if layout == "inference":
        return [{**base, "responses": list(rec.responses)}]
    if layout == "pairwise":
        if rec.is_pairwise:
            return [{**base, "chosen": rec.responses[0], "rejected": rec.responses[1]}]
        return [
            {
                **base,
                "id": f"{rec.id}-{b}-{w}",
                "chosen": rec.responses[b],
                "rejected": rec.responses[w],
            }
            for b, w in rec.pairs
        ]
    scores = rec.scores if rec.scores is not None else _scores_from_pairs(rec)
    annotations = [
        {"Overall": {"Rating": "N/A" if s is None else str(float(s)), "Rationale": ""}}
        for s in scores
    ]
    models = rec.meta.get("models") or [""] * len(rec.responses)
    completions = {"annotations": annotations, "model": models, "response": rec.responses}
    return [{**base, "completions": completions}]


def _scores_from_pairs(rec: Record) -> list[float | None]:
    """Ratings reproducing a pairwise record's preference (chosen 2, rejected 1)."""
    if rec.is_pairwise:
        return [2.0, 1.0]
    if not rec.pairs:
        return [None] * len(rec.responses)
    raise ValueError(f"record {rec.id}: pairs without scores cannot be written as vlfeedback")


class _ImageWriter:
    """Gives each record image a path string relative to the output file."""

    def __init__(self, out: Path, image_dir: Path | None) -> None:
        self.out = out
        self.dir = image_dir or out.parent / f"{out.stem}_images"
        self.written: dict[str, str] = {}

    def path_for(self, ref: ImageRef | None) -> str | None:
        if ref is None:
            return None
        if ref.path is not None:
            return self._as_written(ref.path)
        key = ref.key()
        if key not in self.written:
            self.dir.mkdir(parents=True, exist_ok=True)
            if ref.data is not None:
                data = ref.data
                try:
                    ext = (Image.open(io.BytesIO(data)).format or "img").lower()
                except Exception:  # written as is; loading reports it with its location
                    ext = "img"
            else:
                buf = io.BytesIO()
                ref.pil.save(buf, format="PNG")
                data, ext = buf.getvalue(), "png"
            name = key.split(":", 1)[1].replace("/", "_")[:40]
            target = self.dir / f"{name}.{ext}"
            target.write_bytes(data)
            self.written[key] = self._as_written(str(target.resolve()))
        return self.written[key]

    def _as_written(self, path: str) -> str:
        """Relative to the output when inside its folder, else absolute (no ../ chains,
        which break as soon as the output folder moves)."""
        rel = os.path.relpath(path, self.out.parent.resolve())
        return path if rel == ".." or rel.startswith(".." + os.sep) else rel
