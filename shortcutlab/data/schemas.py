"""Load any supported data file into canonical records, detecting its schema.

`load_dataset_file(path)` reads rows (`shortcutlab.data.io.iter_rows`), picks the schema
adapter from the fields of the first rows (or the one forced by `schema=`), converts every
row to a `Record`, derives multi-response pairs with `pairs_from_scores` (ties and unscored
pairs skipped and counted, as the official code does), and checks images: existence by
default (cheap), decoding only with `check_images=True`, neither with `images="ignore"`
(text-only work: the image files may be absent).

Ids: an id repeated with the *same* content (prompt and responses) is a duplicate and an
error (`duplicate_id`); repeated with *different* content (VL-RewardBench repeats 18 ids),
the record keeps its own identity: its id becomes the unique key `<id>#<8 hex digits of
its content hash>` (the first occurrence keeps the plain id), `meta["source_id"]` keeps the
file's id, and `LoadResult.repeated_ids` lists every renamed record.

Invalid rows raise `DataError` naming file, line/row and field; with `skip_invalid=True`
they are skipped and counted by reason in `LoadResult.skipped` instead.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import chain, islice
from pathlib import Path
from typing import Any

from shortcutlab.data.adapters import REGISTRY, Adapter, ConvertContext
from shortcutlab.data.images import DEFAULT_MAX_PIXELS, load_image
from shortcutlab.data.io import data_error, iter_rows
from shortcutlab.data.records import Record, SourceLoc, pairs_from_scores
from shortcutlab.errors import ConfigError, DataError
from shortcutlab.files import sha256_json

SCHEMAS = REGISTRY  # name -> adapter; add a schema with @adapters.register


@dataclass
class LoadResult:
    """Records of one file plus what loading skipped and counted."""

    records: list[Record]
    schema: str
    path: str
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> count
    n_pairs: int = 0
    ties: int = 0  # multi-response pairs dropped for equal scores
    unscored: int = 0  # multi-response pairs dropped for an unparsable rating
    skip_examples: list[str] = field(default_factory=list)  # first few skip messages
    repeated_ids: list[dict[str, Any]] = field(default_factory=list)  # renamed repeats

    @property
    def n_skipped(self) -> int:
        return sum(self.skipped.values())


IMAGE_MODES = ("require", "ignore")  # image files must exist / may be absent (text-only)


NO_IMAGES_HINT = (
    "No image file was found. Where the images are, pass --image-root; without them, "
    "text-only work still runs: `data convert --images ignore` keeps the image references "
    "unchecked, `score --text-only drop` scores without images, and `audit`, "
    "`length-balance` and `overlap` never need them."
)


def nothing_left_error(path: str, skipped: dict[str, int], examples: list[str]) -> DataError:
    """The error for a file whose every row was skipped (under --skip-invalid).

    The hint names what would work, never the flag just passed: the first skipped row's
    own hint (which suggests --skip-invalid) is cut, and rows skipped for missing images
    get the ways to work without them.
    """
    summary = ", ".join(f"{k}: {v}" for k, v in sorted(skipped.items()))
    hint = f"First skipped row: {examples[0].split(' Hint: ')[0]}" if examples else ""
    if skipped.get("missing_image"):
        hint = f"{hint} {NO_IMAGES_HINT}".strip()
    return DataError(
        f"no valid records (skipped {summary or 'none'}).",
        file=path,
        hint=hint or None,
        reason="no_valid_records",
    )


def check_image_mode(images: str) -> None:
    """`ConfigError` unless `images` is one of `IMAGE_MODES`."""
    if images not in IMAGE_MODES:
        raise ConfigError(f"images must be one of {', '.join(IMAGE_MODES)}; got '{images}'.")


def content_key(rec: Record) -> str:
    """A record's identity beyond its id: prompt + responses (VL-RewardBench's own key)."""
    return sha256_json([rec.prompt, rec.responses])


def unique_id(rid: str, key: str) -> str:
    """The key of a record whose id an earlier, different record already holds."""
    return f"{rid}#{key[:8]}"


def list_schemas() -> list[tuple[str, str, tuple[str, ...]]]:
    """(name, summary, fields) of every registered schema, in registry order."""
    return [(a.name, a.summary, a.fields) for a in REGISTRY.values()]


def _schema_listing() -> str:
    return "; ".join(f"{a.name} ({', '.join(a.fields)})" for a in REGISTRY.values())


def get_adapter(name: str) -> Adapter:
    """The adapter named `name`; `ConfigError` listing the schemas otherwise."""
    if name not in REGISTRY:
        raise ConfigError(f"unknown schema '{name}'. Known schemas: {', '.join(REGISTRY)}.")
    return REGISTRY[name]


def detect_schema(row: dict[str, Any], loc: SourceLoc | None = None) -> Adapter:
    """The one adapter whose `detect` accepts `row`; `DataError` when none or several do."""
    matches = [a for a in REGISTRY.values() if a.detect(row)]
    if len(matches) == 1:
        return matches[0]
    present = ", ".join(sorted(row)) or "none"
    if not matches:
        raise data_error(
            loc,
            f"cannot detect the data schema from the fields present ({present}).",
            hint=f"Known schemas and their fields: {_schema_listing()}. "
            "Rename the fields or pass --schema.",
            reason="unknown_schema",
        )
    names = ", ".join(a.name for a in matches)
    raise data_error(
        loc,
        f"the fields ({present}) match several schemas: {names}.",
        hint=f"Pass --schema (schema=...) with one of: {', '.join(REGISTRY)}.",
        reason="ambiguous_schema",
    )


DETECT_ROWS = 20  # rows read ahead to detect the schema


def detect_from_rows(rows: list[tuple[SourceLoc, dict[str, Any]]]) -> Adapter:
    """The schema most of `rows` detect unambiguously; else the first row's detection error.

    Voting over the first rows means one bad first row gets its own precise error
    ("missing field 'rejected'") instead of failing detection for the whole file.
    """
    votes: Counter[str] = Counter()
    for _, row in rows:
        matches = [a.name for a in REGISTRY.values() if a.detect(row)]
        if len(matches) == 1:
            votes[matches[0]] += 1
    if not votes:
        loc, row = rows[0]
        return detect_schema(row, loc)  # raises the 'none' or 'several' error
    return REGISTRY[votes.most_common(1)[0][0]]


def keep_extras(rec: Record, row: dict[str, Any], adapter: Adapter) -> None:
    """Copy the row's other JSON-able fields (env, category, ...) into `rec.meta`.

    Diagnostics group by such fields (e.g. a benchmark's `env` or `shortcut_agrees`);
    binary values (image bytes) and fields the adapter already read are left out.
    """
    for key, value in row.items():
        if key in adapter.fields or key in rec.meta:
            continue
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            continue
        rec.meta[key] = value


def finish_record(rec: Record) -> tuple[int, int]:
    """Derive `pairs` from `scores` for multi-response records; returns (ties, unscored)."""
    if rec.scores is None:
        return 0, 0
    rec.pairs, ties, unscored = pairs_from_scores(rec.scores)
    return ties, unscored


class _Loader:
    """State of one file load: counters, seen ids, decoded-image cache."""

    def __init__(self, path: Path, skip_invalid: bool, check_images: bool, max_pixels: int):
        self.path = path
        self.skip_invalid = skip_invalid
        self.check_images = check_images
        self.max_pixels = max_pixels
        self.skipped: Counter[str] = Counter()
        self.examples: list[str] = []
        self.seen: dict[str, dict[str, SourceLoc]] = {}  # file id -> content key -> where
        self.repeated: list[dict[str, Any]] = []
        self.image_ok: dict[str, DataError | None] = {}

    def on_error(self, err: DataError) -> None:
        """Count a skipped row (only reached with skip_invalid)."""
        self.skipped[err.reason] += 1
        if len(self.examples) < 5:
            self.examples.append(str(err))

    def nothing_left(self) -> DataError:
        """The error for a file whose every row was skipped."""
        return nothing_left_error(str(self.path), self.skipped, self.examples)

    def validate(self, rec: Record, loc: SourceLoc) -> None:
        """Reject an identical pair or a duplicate; decode the image when check_images is on.

        A pair whose chosen and rejected answers are the same text (up to surrounding
        whitespace) carries no preference: its two rewards are equal, so it only adds a
        constant log 2 to the loss and a guaranteed tie (counted wrong) to accuracy.
        """
        if rec.is_pairwise and rec.responses[0].strip() == rec.responses[1].strip():
            raise data_error(
                loc,
                "chosen and rejected are the same text, so the pair has no preference.",
                field="rejected",
                hint="Drop the pair, or pass --skip-invalid to skip such pairs (counted as "
                "'identical_responses').",
                reason="identical_responses",
            )
        if self.check_images and rec.image is not None:
            self._check_image(rec, loc)
        self._check_id(rec, loc)

    def _check_id(self, rec: Record, loc: SourceLoc) -> None:
        """A repeated id: same content -> `duplicate_id` error; other content -> a unique key."""
        contents = self.seen.get(rec.id)
        key = content_key(rec)
        if contents is None:
            return
        first = contents.get(key)
        if first is not None:
            raise data_error(
                loc,
                f"duplicate id '{rec.id}' (first at {first.row_word} {first.line}), "
                "with the same prompt and responses.",
                field="id",
                hint="Drop the repeated record, or pass --skip-invalid to skip such records "
                "(counted as 'duplicate_id'). Records that share an id but differ in content "
                "load as separate records.",
                reason="duplicate_id",
            )
        head = next(iter(contents.values()))
        uid = unique_id(rec.id, key)
        where = f"{loc.row_word} {loc.line}"
        first_at = f"{head.row_word} {head.line}"
        self.repeated.append({"id": rec.id, "uid": uid, "at": where, "first_at": first_at})
        rec.meta["source_id"] = rec.id
        rec.id = uid

    def remember(self, rec: Record, loc: SourceLoc) -> None:
        """Record a loaded record's id and content (after every check passed)."""
        rid = str(rec.meta.get("source_id", rec.id))
        self.seen.setdefault(rid, {})[content_key(rec)] = loc

    def _check_image(self, rec: Record, loc: SourceLoc) -> None:
        assert rec.image is not None
        key = rec.image.key()
        if key not in self.image_ok:
            try:
                load_image(rec.image, loc=loc, max_pixels=self.max_pixels).close()
                self.image_ok[key] = None
            except DataError as err:
                self.image_ok[key] = err
        err = self.image_ok[key]
        if err is not None:
            raise data_error(loc, err.message, field=err.field, hint=err.hint, reason=err.reason)


def iter_records(
    path: str | Path,
    *,
    schema: str | None = None,
    skip_invalid: bool = False,
    image_root: str | None = None,
    check_images: bool = False,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    stats: LoadResult | None = None,
    images: str = "require",
) -> Iterator[Record]:
    """Stream records one by one (for files whose images do not fit in memory at once).

    Same options and errors as `load_dataset_file`. When `stats` is given, its schema is
    set once detected and its counters (skipped, n_pairs, ties, unscored, repeated_ids)
    once the file is exhausted; `stats.records` is left alone.
    """
    check_image_mode(images)
    p = Path(path)
    adapter = get_adapter(schema) if schema else None
    state = _Loader(p, skip_invalid, check_images and images == "require", max_pixels)
    ctx = ConvertContext(
        base_dir=p if p.is_dir() else p.parent,
        image_root=image_root,
        file_stem=p.stem or p.name,
        image_files_required=images == "require",
    )
    rows = iter_rows(p, on_error=state.on_error if skip_invalid else None)
    ahead = list(islice(rows, DETECT_ROWS))
    if adapter is None and ahead:
        adapter = detect_from_rows(ahead)
    if stats is not None and adapter is not None:
        stats.schema = adapter.name
    n = n_pairs = ties = unscored = 0
    for loc, row in chain(ahead, rows):
        assert adapter is not None
        try:
            rec = adapter.convert(row, loc, ctx)
            state.validate(rec, loc)
            keep_extras(rec, row, adapter)
        except DataError as err:
            if not skip_invalid:
                raise
            state.on_error(err)
            continue
        state.remember(rec, loc)
        t, u = finish_record(rec)
        n, n_pairs, ties, unscored = n + 1, n_pairs + len(rec.pairs), ties + t, unscored + u
        yield rec
    if n == 0:
        raise state.nothing_left()
    if stats is not None:
        stats.skipped, stats.skip_examples = dict(state.skipped), state.examples
        stats.n_pairs, stats.ties, stats.unscored = n_pairs, ties, unscored
        stats.repeated_ids = state.repeated


def load_dataset_file(
    path: str | Path,
    *,
    schema: str | None = None,
    skip_invalid: bool = False,
    image_root: str | None = None,
    check_images: bool = False,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    images: str = "require",
) -> LoadResult:
    """Read a JSONL / JSON / parquet file or HF datasets folder into canonical records.

    `schema`: force one (see `SCHEMAS`), else detected from the first rows' fields.
    `skip_invalid`: skip bad rows, counted by reason in `.skipped`, instead of raising.
    `image_root`: folder relative image paths resolve in (and must stay inside).
    `check_images`: decode every distinct image now (existence is checked regardless).
    `images`: "require" (default: image files must exist) or "ignore" (text-only work:
    image references are kept unchecked, a missing file is no error, nothing is decoded).
    """
    result = LoadResult(records=[], schema=schema or "", path=str(path))
    result.records = list(
        iter_records(
            path,
            schema=schema,
            skip_invalid=skip_invalid,
            image_root=image_root,
            check_images=check_images,
            max_pixels=max_pixels,
            stats=result,
            images=images,
        )
    )
    return result


def load_records(path: str | Path, **kwargs: Any) -> list[Record]:
    """`load_dataset_file(path, **kwargs).records`."""
    return load_dataset_file(path, **kwargs).records
