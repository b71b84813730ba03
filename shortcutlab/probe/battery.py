"""A battery folder: build it (`make_battery`) and read it back (`read_battery`).

The folder's layout is described in `shortcutlab.probe.make`; `probe.json` (the
manifest) is written last, so a folder without it is an unfinished `make` (rerun it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shortcutlab.data.io import iter_rows
from shortcutlab.data.records import Record
from shortcutlab.data.schemas import load_dataset_file
from shortcutlab.data.subsets import record_groups
from shortcutlab.data.writing import write_records
from shortcutlab.errors import ConfigError, DataError
from shortcutlab.files import atomic_write_json, sha256_file
from shortcutlab.probe.edits import IMAGE_TESTS, builtin_edits, load_edits
from shortcutlab.probe.make import (
    MANIFEST,
    Family,
    MakeOptions,
    edit_family,
    image_family,
    sample,
    swap_family,
)

VERSION = 1


@dataclass
class Battery:
    """A finished battery folder: its manifest and, per test, its variant file."""

    folder: Path
    manifest: dict[str, Any]

    @property
    def tests(self) -> dict[str, dict[str, Any]]:
        """Test name -> its manifest entry (kind, file, records, skipped, ...), built ones."""
        return {k: v for k, v in self.manifest["tests"].items() if v["records"] > 0}

    def file(self, test: str) -> Path:
        return self.folder / self.manifest["tests"][test]["file"]

    @property
    def original(self) -> Path:
        return self.folder / self.manifest["original"]["file"]

    def notes(self) -> list[str]:
        return list(self.manifest.get("notes", []))


def make_battery(data: str | Path, out_dir: str | Path, opts: MakeOptions | None = None) -> Battery:
    """Build the battery of `data` into `out_dir` (see `shortcutlab.probe.make`).

    Checks every input (edits file, data, --group-by) before writing anything. Records
    without an image take part in the text tests only (counted); a record with no swap
    partner (alone in its group, or every other image identical) is left out of `swap`.
    """
    opts = opts or MakeOptions()
    edits = builtin_edits() + (load_edits(opts.edits_file) if opts.edits_file else [])
    wanted = _wanted(opts.tests, [e.name for e in edits])
    edits = [e for e in edits if e.name in wanted]
    loaded = load_dataset_file(
        data, schema=opts.schema, skip_invalid=opts.skip_invalid, image_root=opts.image_root
    )
    records = sample(loaded.records, opts.max_records, opts.seed)
    groups = None
    if opts.group_by:
        groups = record_groups(records, opts.group_by, str(data))
    families = [swap_family(records, opts.seed, groups)] if "swap" in wanted else []
    families += [image_family(records, name) for name in ("blank", "drop") if name in wanted]
    families += [edit_family(records, e) for e in edits]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / MANIFEST).unlink(missing_ok=True)  # a half-rewritten folder is never "finished"
    images = out / "images"
    write_records(records, out / "original.jsonl", image_dir=images, extra=_fields({}))
    for fam in families:
        if fam.records:
            path = out / f"{fam.name}.jsonl"
            write_records(fam.records, path, image_dir=images, extra=_fields(fam.edited))
    manifest = _manifest(data, opts, loaded, records, families)
    atomic_write_json(out / MANIFEST, manifest)
    return Battery(out, manifest)


def _wanted(tests: tuple[str, ...] | None, edit_names: list[str]) -> set[str]:
    """The tests to build: all, or the `tests` subset (an unknown name: ConfigError)."""
    every = [*IMAGE_TESTS, *edit_names]
    if tests is None:
        return set(every)
    unknown = [t for t in tests if t not in every]
    if unknown or not tests:
        raise ConfigError(
            f"unknown probe test(s) {', '.join(unknown) or '(none given)'}; choose from "
            f"{', '.join(every)} (user edits: their names in --edits)."
        )
    return set(tests)


def _fields(edited: dict[str, list[int]]) -> Any:
    def extra(rec: Record) -> dict[str, Any]:
        row = {"base_id": rec.meta.get("base_id", str(rec.id))}
        row["variant"] = rec.meta.get("variant", "original")
        if str(rec.id) in edited:
            row["edited"] = edited[str(rec.id)]
        return row

    return extra


def _manifest(
    data: str | Path, opts: MakeOptions, loaded: Any, records: list[Record], fams: list[Family]
) -> dict[str, Any]:
    tests, notes = {}, []
    n = len(records)
    for fam in fams:
        tests[fam.name] = {
            "kind": fam.kind,
            "file": f"{fam.name}.jsonl" if fam.records else None,
            "what": fam.description,
            "records": len(fam.records),
            "skipped": dict(sorted(fam.skipped.items())),
        }
        if fam.kind == "edit":
            tests[fam.name]["responses_changed"] = sum(len(v) for v in fam.edited.values())
            tests[fam.name]["responses_unchanged"] = fam.unchanged
        notes.extend(_notes(fam, n))
    skipped = dict(getattr(loaded, "skipped", {}) or {})
    return {
        "version": VERSION,
        "data": str(Path(data).resolve()),
        "data_sha256": sha256_file(data) if Path(data).is_file() else None,
        "schema": loaded.schema,
        "options": opts.to_dict(),
        "records_in_data": len(loaded.records),
        "records": n,
        "skipped_invalid": skipped,
        "original": {"file": "original.jsonl", "records": n},
        "tests": tests,
        "notes": notes,
    }


_REASONS = {
    "no_image": "have no image",
    "alone_in_group": "are alone in their --group-by group (no swap partner)",
    "no_other_image": "have no partner with a different image",
    "nothing_changed": "have no response this edit changes",
}


def _notes(fam: Family, n: int) -> list[str]:
    out = [
        f"{fam.name}: {k} of {n} records {_REASONS.get(r, r)}; left out of this test."
        for r, k in fam.skipped.items()
    ]
    if not fam.records:
        out.append(f"{fam.name}: no record could be built; the test is skipped.")
    if fam.kind == "edit" and fam.unchanged:
        total = fam.unchanged + sum(len(v) for v in fam.edited.values())
        out.append(
            f"{fam.name}: {fam.unchanged} of {total} responses unchanged by the edit; "
            "they are not counted in its numbers."
        )
    return out


def read_battery(folder: str | Path) -> Battery:
    """A finished battery folder (its `probe.json`); DataError when there is none."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise DataError(
            f"no {MANIFEST} here: not a finished `probe make` folder.",
            file=str(folder),
            hint="Run `shortcutlab probe make DATA -o FOLDER` (again, if it was interrupted).",
            reason="missing_file",
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"cannot read it ({exc}).", file=str(path), reason="bad_file") from exc
    if not isinstance(manifest, dict) or manifest.get("version") != VERSION:
        raise DataError(
            f"not a version-{VERSION} `probe make` manifest.",
            file=str(path),
            hint="Run `shortcutlab probe make` again into a fresh folder.",
            reason="bad_file",
        )
    return Battery(Path(folder), manifest)


def variant_rows(battery: Battery, test: str) -> dict[str, dict[str, Any]]:
    """Variant id -> {base_id, edited (changed indices; all for an image test), n} of a test."""
    out = {}
    for _, row in iter_rows(battery.file(test)):
        n = _n_responses(row)
        edited = row.get("edited")
        out[str(row["id"])] = {
            "base_id": str(row.get("base_id")),
            "edited": list(edited) if edited is not None else list(range(n)),
        }
    return out


def _n_responses(row: dict[str, Any]) -> int:
    if "completions" in row:
        return len(row["completions"]["response"])
    if "responses" in row:
        return len(row["responses"])
    return 2
