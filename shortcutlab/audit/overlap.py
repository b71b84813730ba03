"""Train/test contamination check: which test records a training set already contains.

Per test record, against every training record:
- `image_identical`: the same picture (equal perceptual hash, size and pixels);
- `image_near`: a perceptual hash (`imagehash.phash`, 64 bits) within `max_distance`
  bits of a training image's (resized, re-encoded, lightly edited copies), not identical;
- `prompt`: the same prompt (case and whitespace ignored);
- `response`: one of its responses is also a training response (same normalisation);
- `prompt_and_response`: both of the above with the same training record's prompt, i.e.
  the same text example;
- `id_prefix`: its id prefix (the id up to its first digit, trailing separators cut:
  "RLAIF-V_0042" -> "RLAIF-V") also starts training ids.

The overlapping test ids (by default: identical or near images, or the same text
example) are what `overlap_ids.txt` lists. Images that are missing or cannot be decoded
are counted, never fatal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import imagehash
import numpy as np
import pandas as pd

from shortcutlab.data.images import load_image
from shortcutlab.data.records import Record
from shortcutlab.diagnostics.result_files import jsonable
from shortcutlab.errors import ConfigError, DataError
from shortcutlab.files import atomic_write_json, atomic_write_text
from shortcutlab.provenance import write_run_info

KINDS = (
    "image_identical",
    "image_near",
    "prompt",
    "response",
    "prompt_and_response",
    "id_prefix",
)
DEFAULT_ID_KINDS = ("image_identical", "image_near", "prompt_and_response")
_PREFIX_RE = re.compile(r"^(.*?)[\W_]*\d")


def normalise(text: str) -> str:
    """Lower case, whitespace collapsed: the identity of a prompt or response."""
    return " ".join(text.lower().split())


def id_prefix(rid: str) -> str:
    """The id up to its first digit, trailing separators cut; the whole id when no digit."""
    m = _PREFIX_RE.match(rid)
    return (m.group(1) if m else rid).strip("-_:/. ")


@dataclass
class ImageHashes:
    """Perceptual hashes of a record list's images, -1 where a record has none or it fails."""

    phash: np.ndarray  # (R,) uint64 bit pattern (as int64 view); valid only where ok
    ok: np.ndarray  # (R,) bool: a decodable image
    sizes: list[tuple[int, int] | None]
    missing: int = 0  # records without an image
    unreadable: int = 0  # images that could not be read or decoded
    errors: list[str] = field(default_factory=list)


def hash_images(records: list[Record]) -> ImageHashes:
    """phash of every record's image; decode failures are counted, not raised."""
    n = len(records)
    hashes, ok, sizes = np.zeros(n, dtype=np.uint64), np.zeros(n, dtype=bool), [None] * n
    out = ImageHashes(phash=hashes, ok=ok, sizes=sizes)
    cache: dict[str, tuple[int, tuple[int, int]] | None] = {}
    for i, rec in enumerate(records):
        if rec.image is None:
            out.missing += 1
            continue
        key = rec.image.key()
        if key not in cache:
            cache[key] = _phash(rec, out)
        if cache[key] is None:
            continue
        hashes[i], sizes[i] = np.uint64(cache[key][0]), cache[key][1]
        ok[i] = True
    return out


def _phash(rec: Record, out: ImageHashes) -> tuple[int, tuple[int, int]] | None:
    try:
        im = load_image(rec.image, loc=rec.loc)
    except DataError as err:
        out.unreadable += 1
        if len(out.errors) < 5:
            out.errors.append(str(err))
        return None
    with im:
        bits = imagehash.phash(im).hash.ravel()  # (64,) bool
        return int("".join("1" if b else "0" for b in bits), 2), im.size


def _same_pixels(a: Record, b: Record) -> bool:
    with load_image(a.image, loc=a.loc) as ia, load_image(b.image, loc=b.loc) as ib:
        return ia.size == ib.size and np.array_equal(np.asarray(ia), np.asarray(ib))


def nearest_images(
    test: ImageHashes, train: ImageHashes, *, chunk: int = 2048
) -> tuple[np.ndarray, np.ndarray]:
    """Per test record: the smallest phash Hamming distance to a training image and the
    index of that training record; (-1, -1) where either side has no image. Shapes (T,)."""
    dist = np.full(len(test.ok), -1, dtype=np.int64)
    arg = np.full(len(test.ok), -1, dtype=np.int64)
    tr_idx = np.flatnonzero(train.ok)
    if not len(tr_idx):
        return dist, arg
    tr = train.phash[tr_idx]  # (M,)
    te_idx = np.flatnonzero(test.ok)
    for s in range(0, len(te_idx), chunk):
        part = te_idx[s : s + chunk]
        d = np.bitwise_count(test.phash[part][:, None] ^ tr[None, :])  # (chunk, M)
        best = d.argmin(axis=1)
        dist[part] = d[np.arange(len(part)), best]
        arg[part] = tr_idx[best]
    return dist, arg


@dataclass
class OverlapResult:
    """Per test record flags (`table`), counts per kind and the ids to exclude."""

    table: pd.DataFrame
    counts: dict[str, int]
    ids: list[str]
    id_kinds: tuple[str, ...]
    shared_prefixes: dict[str, dict[str, int]]
    images: dict[str, Any]


def overlap(
    train: list[Record],
    test: list[Record],
    *,
    max_distance: int = 4,
    id_kinds: tuple[str, ...] = DEFAULT_ID_KINDS,
    images: bool = True,
) -> OverlapResult:
    """Compare `test` records with `train` records (see the module docstring)."""
    bad = set(id_kinds) - set(KINDS)
    if bad:
        raise ConfigError(f"unknown overlap kind(s) {sorted(bad)}; choose from {list(KINDS)}.")
    table = _text_flags(train, test)
    info: dict[str, Any] = {"checked": images, "max_distance": max_distance}
    if images:
        table, info = _image_flags(train, test, table, max_distance, info)
    else:
        table["image_identical"] = table["image_near"] = False
    counts = {k: int(table[k].sum()) for k in KINDS}
    counts["test_records"], counts["train_records"] = len(test), len(train)
    mask = table[list(id_kinds)].any(axis=1)
    counts["overlapping"] = int(mask.sum())
    tr_pre = pd.Series([id_prefix(str(r.id)) for r in train]).value_counts()
    te_pre = table["prefix"].value_counts()
    shared = {
        p: {"test": int(te_pre[p]), "train": int(tr_pre[p])} for p in te_pre.index if p in tr_pre
    }
    ids = table.loc[mask, "id"].tolist()
    return OverlapResult(table, counts, ids, tuple(id_kinds), shared, info)


def _text_flags(train: list[Record], test: list[Record]) -> pd.DataFrame:
    prompts: dict[str, str] = {}
    responses: dict[str, str] = {}
    by_pair: set[tuple[str, str]] = set()
    for r in train:
        p = normalise(r.prompt)
        prompts.setdefault(p, str(r.id))
        for a in r.responses:
            responses.setdefault(normalise(a), str(r.id))
            by_pair.add((p, normalise(a)))
    prefixes = {id_prefix(str(r.id)) for r in train}
    rows = []
    for r in test:
        p, resp = normalise(r.prompt), [normalise(a) for a in r.responses]
        hit = next((responses[a] for a in resp if a in responses), "")
        rows.append(
            {
                "id": str(r.id),
                "prompt": p in prompts,
                "response": bool(hit),
                "prompt_and_response": any((p, a) in by_pair for a in resp),
                "id_prefix": id_prefix(str(r.id)) in prefixes,
                "prefix": id_prefix(str(r.id)),
                "train_id_prompt": prompts.get(p, ""),
                "train_id_response": hit,
            }
        )
    return pd.DataFrame(rows)


def _image_flags(
    train: list[Record],
    test: list[Record],
    table: pd.DataFrame,
    max_distance: int,
    info: dict[str, Any],
) -> tuple[pd.DataFrame, dict[str, Any]]:
    h_tr, h_te = hash_images(train), hash_images(test)
    dist, arg = nearest_images(h_te, h_tr)
    identical = np.zeros(len(test), dtype=bool)
    for i in np.flatnonzero(dist == 0):  # equal hashes: confirm on size and pixels
        identical[i] = h_te.sizes[i] == h_tr.sizes[arg[i]] and _same_pixels(test[i], train[arg[i]])
    table["image_identical"] = identical
    table["image_near"] = (dist >= 0) & (dist <= max_distance) & ~identical
    table["image_distance"] = dist
    table["train_id_image"] = [str(train[a].id) if a >= 0 else "" for a in arg]
    info |= {
        "test_without_image": h_te.missing,
        "train_without_image": h_tr.missing,
        "test_unreadable": h_te.unreadable,
        "train_unreadable": h_tr.unreadable,
        # test records with an image that was not compared (theirs or no train image read)
        "test_records_not_checked": int(
            sum(r.image is not None for r in test) - (h_te.ok.sum() if h_tr.ok.any() else 0)
        ),
        "unreadable_examples": h_te.errors + h_tr.errors,
    }
    return table, info


def image_check_note(images: dict[str, Any]) -> str | None:
    """'not checked: N images unreadable' when image kinds were not (fully) compared."""
    if not images.get("checked"):
        return "not checked (--no-images)"
    n = int(images.get("test_unreadable", 0)) + int(images.get("train_unreadable", 0))
    if not n:
        return None
    return f"not checked: {n} image{'s' if n != 1 else ''} unreadable"


def write_overlap(
    res: OverlapResult,
    output: str | Path,
    *,
    train: str,
    test: str,
    command: list[str],
    config: dict[str, Any],
) -> list[Path]:
    """Write overlap.json (counts), overlap.csv (flags per test record), overlap_ids.txt
    (the overlapping test ids, one a line: the `--exclude-ids` file) and run_info.json."""
    out = Path(output)
    summary = {
        "train": train,
        "test": test,
        "counts": res.counts,
        "ids_from": list(res.id_kinds),
        "shared_id_prefixes": res.shared_prefixes,
        "images": res.images,
        "overlap_ids_file": "overlap_ids.txt",
    }
    return [
        atomic_write_json(out / "overlap.json", jsonable(summary)),
        atomic_write_text(out / "overlap.csv", res.table.to_csv(index=False)),
        atomic_write_text(out / "overlap_ids.txt", "".join(f"{i}\n" for i in res.ids)),
        write_run_info(out, command=command, inputs={"train": train, "test": test}, config=config),
    ]
