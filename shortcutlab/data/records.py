"""The canonical record every schema adapter produces and every later stage consumes.

A record is one prompt (with at most one image) and its K >= 1 responses, plus the
preference over them:
- pairwise data: responses = [chosen, rejected], pairs = [(0, 1)];
- multi-response data (VLFeedback-style, VL-RewardBench): per-response `scores`
  (higher is better; None = unparsable) and `pairs` = every (better, worse) index pair
  with a strict score difference. The K-response group is kept whole so training and
  scoring can run all K responses in one forward and read all pairs' losses from K
  rewards (not 2*C(K,2) sequences);
- inference data (`responses` only): no preference, pairs = [].
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations
from typing import Any


@dataclass(frozen=True)
class ImageRef:
    """Where a record's image comes from; decoded lazily by `shortcutlab.data.images`.

    Exactly one of `path` (absolute, already resolved against the data file's folder),
    `data` (encoded bytes) or `pil` (a PIL.Image) is set.
    """

    path: str | None = None
    data: bytes | None = None
    pil: Any = None
    origin: str = ""  # how the data file named it (for error messages)
    field: str = "image"  # the data file's field that held it (for error messages)

    def key(self) -> str:
        """A stable identity used to share one encoded image across responses."""
        if self.path is not None:
            return f"path:{self.path}"
        if self.data is not None:
            import hashlib

            return "bytes:" + hashlib.sha1(self.data).hexdigest()
        return f"pil:{id(self.pil)}"


@dataclass(frozen=True)
class SourceLoc:
    """File and line (JSONL/JSON, 1-based) or row (parquet/datasets, 0-based)."""

    file: str
    line: int
    row_word: str = "line"


@dataclass
class Record:
    """One prompt, optional image, K responses and the preference over them."""

    id: str
    prompt: str
    responses: list[str]
    image: ImageRef | None = None
    pairs: list[tuple[int, int]] = field(default_factory=list)  # (better, worse)
    scores: list[float | None] | None = None  # per-response rating, higher is better
    schema: str = ""
    loc: SourceLoc | None = None
    meta: dict[str, Any] = field(default_factory=dict)  # source-specific extras

    @property
    def is_pairwise(self) -> bool:
        return self.scores is None and self.pairs == [(0, 1)] and len(self.responses) == 2

    def labels(self) -> list[str]:
        """`chosen`/`rejected` per response for pairwise records, '' otherwise."""
        if self.is_pairwise:
            return ["chosen", "rejected"]
        return [""] * len(self.responses)


def pairs_from_scores(scores: list[float | None]) -> tuple[list[tuple[int, int]], int, int]:
    """All C(n, 2) (better, worse) pairs with a strict score difference.

    Returns (pairs, n_ties, n_unscored) where ties and pairs touching an unparsable
    (None) score are skipped and counted, as the official code does.
    """
    pairs: list[tuple[int, int]] = []
    ties = unscored = 0
    for i, j in combinations(range(len(scores)), 2):
        si, sj = scores[i], scores[j]
        if si is None or sj is None:
            unscored += 1
        elif si > sj:
            pairs.append((i, j))
        elif sj > si:
            pairs.append((j, i))
        else:
            ties += 1
    return pairs, ties, unscored


WRITE_LAYOUTS = ("pairwise", "vlfeedback", "inference")


def _layout_for(records: list[Record]) -> str:
    if all(r.is_pairwise for r in records):
        return "pairwise"
    if all(not r.pairs and r.scores is None for r in records):
        return "inference"
    return "vlfeedback"


def write_records(
    records: list[Record],
    path: Any,
    schema: str | None = None,
    *,
    image_dir: Any = None,
) -> Any:
    """Write records back in one of the official layouts; format by extension (JSONL/JSON/parquet).

    `schema`: "pairwise" ({id, prompt, img_path, chosen, rejected}; a multi-response record
    gives one row per pair, id `<id>-<better>-<worse>`), "vlfeedback" ({id, prompt, img_path,
    completions: {annotations, model, response}}: each score is written as one "Overall"
    Rating; pairwise records get ratings 2 / 1), or "inference" ({id, prompt, img_path,
    responses}). None picks pairwise, inference or vlfeedback from the records. Images held
    as bytes or PIL are saved as PNG/original bytes under `image_dir` (default:
    `<file stem>_images/` beside the output) and referenced by relative path, so the file
    reloads with `load_dataset_file`. Returns the written path.
    """
    from pathlib import Path

    from shortcutlab.data.io import write_table

    out = Path(path)
    layout = schema or _layout_for(records)
    if layout not in WRITE_LAYOUTS:
        from shortcutlab.errors import ConfigError

        raise ConfigError(f"cannot write schema '{layout}'; choose one of {WRITE_LAYOUTS}.")
    images = _ImageWriter(out, Path(image_dir) if image_dir else None)
    rows: list[dict[str, Any]] = []
    for rec in records:
        base = {"id": rec.id, "prompt": rec.prompt, "img_path": images.path_for(rec.image)}
        rows.extend(_rows_for(rec, base, layout))
    return write_table(rows, out)


def _rows_for(rec: Record, base: dict[str, Any], layout: str) -> list[dict[str, Any]]:
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

    def __init__(self, out: Any, image_dir: Any) -> None:
        self.out = out
        self.dir = image_dir or out.parent / f"{out.stem}_images"
        self.written: dict[str, str] = {}

    def path_for(self, ref: ImageRef | None) -> str | None:
        import io
        import os

        if ref is None:
            return None
        if ref.path is not None:
            return os.path.relpath(ref.path, self.out.parent.resolve())
        key = ref.key()
        if key not in self.written:
            self.dir.mkdir(parents=True, exist_ok=True)
            from PIL import Image

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
            self.written[key] = os.path.relpath(target.resolve(), self.out.parent.resolve())
        return self.written[key]
