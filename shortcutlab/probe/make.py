"""`probe make`: a data file -> a counterfactual battery, as ordinary data files.

One file per test in the output folder, each written with the package's own record
writer (`data.writing.write_records`), so every command loads it and any other pipeline
can score it. Every row names its base record and variant (`base_id`, `variant`; an
edit row also lists the response indices it changed in `edited`); a variant record's id
is `<base id>::<variant>`:

    DIR/original.jsonl      the (sampled) records themselves
    DIR/swap.jsonl          each record with another record's image (seeded derangement)
    DIR/blank.jsonl         the image replaced by the Eq. 3 blank (white 224 x 224)
    DIR/drop.jsonl          no image at all (the `drop` text-only input)
    DIR/<edit>.jsonl        every response edited on its own (pad, hedge, list, truncate,
                            and each `--edits` entry); the others are compared unchanged
    DIR/images/             the blank image (and images held as bytes in the data)
    DIR/probe.json          the manifest: data, seed, tests, counts, notes (written last)

Every input is checked before anything is written, and each file is written atomically,
so a failed or killed `make` leaves nothing that blocks a rerun.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from shortcutlab.data.records import ImageRef, Record
from shortcutlab.errors import ConfigError, DataError
from shortcutlab.files import sha256_file
from shortcutlab.probe.edits import Edit

MANIFEST = "probe.json"
BLANK_SIZE = 224  # = modeling.batching.BLANK_SIZE (the Eq. 3 blank), kept torch-free here
SEP = "::"


@dataclass
class MakeOptions:
    """What `make_battery` samples and builds (CLI flags of `probe make` / `probe run`)."""

    seed: int = 0
    max_records: int | None = None
    group_by: str | None = None
    edits_file: str | Path | None = None
    schema: str | None = None
    image_root: str | None = None
    skip_invalid: bool = False
    tests: tuple[str, ...] | None = None  # a subset of the tests (None: every one)

    def to_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "max_records": self.max_records,
            "group_by": self.group_by,
            "edits_file": str(self.edits_file) if self.edits_file else None,
            "edits_sha256": sha256_file(self.edits_file) if self.edits_file else None,
            "tests": list(self.tests) if self.tests is not None else None,
        }


@dataclass
class Family:
    """One test's variant records, with what was counted while making them."""

    name: str
    kind: str  # "image" or "edit"
    records: list[Record] = field(default_factory=list)
    edited: dict[str, list[int]] = field(default_factory=dict)  # variant id -> changed indices
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> records left out
    unchanged: int = 0  # edit: responses the edit left as they were
    description: str = ""


def variant_id(base_id: str, variant: str) -> str:
    return f"{base_id}{SEP}{variant}"


def sample(records: list[Record], max_records: int | None, seed: int) -> list[Record]:
    """At most `max_records` records, a seeded sample kept in file order."""
    if max_records is not None and max_records < 1:
        raise ConfigError(f"--max-records must be >= 1, got {max_records}.")
    if max_records is None or max_records >= len(records):
        return records
    keep = sorted(random.Random(seed).sample(range(len(records)), max_records))
    return [records[i] for i in keep]


def _derangement(keys: list[str], rng: random.Random) -> list[int | None]:
    """partner[i]: a record index whose image key differs from i's, or None if none can.

    Sattolo's shuffle gives a random cyclic permutation (no fixed point); pairs that would
    still see the same image (two records sharing one picture) are repaired by exchanging
    partners with a random other record; those that cannot be repaired get None.
    """
    n = len(keys)
    perm = list(range(n))
    for i in range(n - 1, 0, -1):  # Sattolo: j < i, so every cycle has length n
        j = rng.randrange(i)
        perm[i], perm[j] = perm[j], perm[i]
    out: list[int | None] = list(perm) if n > 1 else [None] * n
    for i in range(n):
        if out[i] is None or keys[out[i]] != keys[i]:
            continue
        order = rng.sample(range(n), min(n, 200))
        for j in order:
            pi, pj = out[i], out[j]
            if pj is not None and keys[pj] != keys[i] and keys[pi] != keys[j] and pi != j:
                out[i], out[j] = pj, pi
                break
        else:
            out[i] = None
    return out


def swap_family(records: list[Record], seed: int, groups: dict[str, str] | None) -> Family:
    """Each record with the image of another record (of its group with `groups`)."""
    fam = Family("swap", "image", description="the image of another record (seeded derangement)")
    by_group: dict[str, list[Record]] = {}
    for rec in records:
        if rec.image is None:
            _count(fam.skipped, "no_image")
            continue
        by_group.setdefault(groups[str(rec.id)] if groups else "", []).append(rec)
    rng = random.Random(seed)
    partner: dict[str, Record] = {}
    for name in sorted(by_group):
        members = by_group[name]
        keys = [r.image.key() for r in members]  # type: ignore[union-attr]
        for rec, j in zip(members, _derangement(keys, rng), strict=True):
            if j is None:
                reason = "alone_in_group" if len(members) == 1 else "no_other_image"
                _count(fam.skipped, reason)
            else:
                partner[str(rec.id)] = members[j]
    for rec in records:
        if str(rec.id) in partner:
            other = partner[str(rec.id)]
            fam.records.append(_variant(rec, "swap", image=other.image))
    return fam


def blank_png() -> bytes:
    """The Eq. 3 blank as PNG bytes (same bytes each call: a stable file name and hash)."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (BLANK_SIZE, BLANK_SIZE), (255, 255, 255)).save(buf, format="PNG")
    return buf.getvalue()


def image_family(records: list[Record], name: str) -> Family:
    """`blank` (the white Eq. 3 image) or `drop` (no image) for every record with an image."""
    blank = ImageRef(data=blank_png())
    words = {"blank": "the image replaced by a white 224x224 one", "drop": "no image"}
    fam = Family(name, "image", description=words[name])
    for rec in records:
        if rec.image is None:
            _count(fam.skipped, "no_image")
            continue
        fam.records.append(_variant(rec, name, image=blank if name == "blank" else None))
    return fam


def edit_family(records: list[Record], edit: Edit) -> Family:
    """Every response edited on its own; a record with no changed response is left out."""
    fam = Family(edit.name, "edit", description=edit.describe())
    for rec in records:
        new = [edit.apply(r) for r in rec.responses]
        changed = [i for i, (a, b) in enumerate(zip(rec.responses, new, strict=True)) if a != b]
        fam.unchanged += len(new) - len(changed)
        if not changed:
            _count(fam.skipped, "nothing_changed")
            continue
        v = _variant(rec, edit.name, responses=new)
        fam.records.append(v)
        fam.edited[v.id] = changed
    if edit.op != "builtin" and not fam.records:
        raise DataError(
            f"edit '{edit.name}' changes no response of the {len(records)} records "
            f"({edit.describe()}).",
            file=edit.file or None,
            line=edit.line,
            field="find" if edit.op == "replace" else "text",
            hint="A replace edit's 'find' must occur in at least one response.",
            reason="edit_unchanged",
        )
    return fam


def _variant(rec: Record, variant: str, **changes: Any) -> Record:
    meta = {**rec.meta, "base_id": str(rec.id), "variant": variant}
    return replace(rec, id=variant_id(str(rec.id), variant), meta=meta, **changes)


def _count(counts: dict[str, int], reason: str) -> None:
    counts[reason] = counts.get(reason, 0) + 1
