"""Never losing scoring work: fingerprints, per-batch journals, resume and merge.

Files next to an output `scores.jsonl` while a run is in progress:
- `scores.jsonl.journal.json`: the run's fingerprint (model content hash, data sha256,
  text_only, max_length, schema, ...), written once, atomically.
- `scores.jsonl.partial.r<RANK>.jsonl`: score rows appended per completed batch, each
  batch followed by a commit line `{"__commit__": n, "ids": [...], "rows": k}`, in one
  write, flushed and fsynced. Rows count only once their commit line is on disk, so a
  process killed at any moment leaves at worst a torn, uncommitted tail that resume drops.

On (re)start, rank 0 folds every partial file into one compacted `partial.r0` (committed
rows only, each (id, response_index) once, written atomically) before any rank appends;
the committed ids are the records resumed. At the end rank 0 merges all partial files
into the final table (atomic temp + rename), then removes the journal and partial files.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shortcutlab.data.writing import append_jsonl, dumps_row
from shortcutlab.errors import ShortcutlabError
from shortcutlab.files import atomic_write_text, sha256_folder, sha256_path
from shortcutlab.provenance import environment_info

if TYPE_CHECKING:
    from shortcutlab.data.records import Record
    from shortcutlab.data.schemas import LoadResult
    from shortcutlab.modeling.reward_model import RewardModel

JsonDict = dict[str, Any]  # a JSON object: a score-table row, a fingerprint, journal meta
COMMIT = "__commit__"
MODEL_FILE_SUFFIXES = (".json", ".safetensors", ".bin", ".pt", ".pth", ".model", ".txt", ".jinja")


# ----------------------------------------------------------------------------- fingerprints


def data_fingerprint(data: str | Path | Sequence[Record]) -> str:
    """sha256 of the data file (or folder); for in-memory records, of their content."""
    if isinstance(data, (str, Path)):
        p = Path(data)
        return sha256_path(p)
    h = hashlib.sha256()
    for rec in data:
        img = rec.image.key() if rec.image is not None else None
        item = [str(rec.id), rec.prompt, rec.responses, img, rec.pairs, rec.scores]
        h.update(json.dumps(item, default=str).encode() + b"\n")
    return h.hexdigest()


def model_fingerprint(model: str | Path | RewardModel) -> dict[str, str]:
    """{"path", "sha256"}: content hash of a model folder's weights and configs.

    A Hub id (no local folder) is identified by its name; an in-memory model by a hash of
    its parameters and buffers.
    """
    if isinstance(model, (str, Path)):
        p = Path(model)
        if p.is_dir():
            return {"path": str(p.resolve()), "sha256": sha256_folder(p, MODEL_FILE_SUFFIXES)}
        return {"path": str(model), "sha256": "hub:" + str(model)}
    import torch  # lazy: only an in-memory model needs it; paths hash without torch

    h = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        t = tensor.detach().cpu().contiguous().reshape(-1)
        h.update(f"{name}\0{t.dtype}\0{tuple(tensor.shape)}\n".encode())
        h.update(t.view(torch.uint8).numpy().tobytes())  # raw bytes, any dtype (bf16 too)
    path = getattr(model, "name_or_path", None) or getattr(model, "source", None) or "<memory>"
    return {"path": str(path), "sha256": h.hexdigest()}


def fingerprint(
    model: str | Path | RewardModel,
    data: str | Path | LoadResult | Sequence[Record],
    records: list[Record],
    opts: JsonDict,
    command: Sequence[str] | None,
) -> tuple[JsonDict, JsonDict]:
    """(fingerprint compared on resume, provenance recorded in the summary).

    Paths are provenance only: moving an unchanged file does not invalidate a journal.
    """
    m = model_fingerprint(model)
    is_path = isinstance(data, (str, Path))
    data_sha = data_fingerprint(data if is_path else records)
    fp = {"model_sha256": m["sha256"], "data_sha256": data_sha, **opts}
    prov = {
        "model": m,
        "data": {"path": str(Path(data).resolve()) if is_path else "<records>", "sha256": data_sha},
        "versions": environment_info(),
        "command": list(sys.argv if command is None else command),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    return fp, prov


_FIELD_NAMES = {
    "model_sha256": "model weights/config",
    "data_sha256": "data file",
}
_PROV_KEY = {"model_sha256": "model", "data_sha256": "data"}


def describe_change(
    old: JsonDict,
    new: JsonDict,
    old_prov: JsonDict | None = None,
    new_prov: JsonDict | None = None,
) -> str:
    """Which fingerprint fields differ, each with its old and new value, in words.

    e.g. "model weights/config (runs/std/model, sha256 1a2b3c4d... -> 9f8e7d6c...),
    max_length (4096 -> 512)". Paths come from the provenance when given.
    """
    changed = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if a == b:
            continue
        name = _FIELD_NAMES.get(key, key)
        if key in _PROV_KEY:
            paths = [_prov_path(p, _PROV_KEY[key]) for p in (old_prov, new_prov)]
            where = paths[1] if paths[0] in (None, paths[1]) else f"{paths[0]} -> {paths[1]}"
            where = f"{where}, " if where else ""
            changed.append(f"{name} ({where}sha256 {_short(a)} -> {_short(b)})")
        else:
            changed.append(f"{name} ({a!r} -> {b!r})")
    return ", ".join(changed) or "nothing"


def _prov_path(prov: JsonDict | None, key: str) -> str | None:
    part = (prov or {}).get(key) or {}
    return part.get("path") if isinstance(part, dict) else None


def _short(value: Any) -> str:
    text = str(value)
    return text[:12] + "..." if len(text) > 15 and not text.startswith("hub:") else text


# ----------------------------------------------------------------------------- journal


def read_committed(path: Path) -> tuple[list[JsonDict], list[str], int]:
    """Committed rows, ids and truncation count of one partial file.

    An uncommitted or torn tail (a run killed mid-batch) is dropped.
    """
    rows: list[JsonDict] = []
    ids: list[str] = []
    pending: list[JsonDict] = []
    truncated = 0
    with open(path, "rb") as fh:
        for raw in fh:
            if not raw.endswith(b"\n"):
                break  # torn last line of a killed write
            try:
                obj = json.loads(raw)
            except json.JSONDecodeError:
                break
            if COMMIT not in obj:
                pending.append(obj)
                continue
            if obj.get("rows") != len(pending):
                raise ShortcutlabError(
                    f"{path}: commit {obj[COMMIT]} names {obj.get('rows')} rows but "
                    f"{len(pending)} precede it; delete the partial files and rerun with "
                    "--overwrite."
                )
            rows.extend(pending)
            ids.extend(str(i) for i in obj["ids"])
            truncated += int(obj.get("truncated", 0))
            pending = []
    return rows, ids, truncated


class Journal:
    """The journal and partial files of one output path (see the module docstring)."""

    def __init__(self, output: str | Path) -> None:
        self.output = Path(output)
        self.meta_path = self.output.with_name(self.output.name + ".journal.json")
        self._batches = 0

    def partial_path(self, rank: int) -> Path:
        return self.output.with_name(f"{self.output.name}.partial.r{rank}.jsonl")

    def partial_files(self) -> list[Path]:
        return sorted(self.output.parent.glob(f"{self.output.name}.partial.r*.jsonl"))

    def exists(self) -> bool:
        return self.meta_path.exists() or bool(self.partial_files())

    def read_meta(self) -> JsonDict | None:
        if not self.meta_path.exists():
            return None
        try:
            return json.loads(self.meta_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            return None  # atomic writes make this unlikely; treat as no journal

    def write_meta(self, meta: JsonDict) -> None:
        atomic_write_text(self.meta_path, json.dumps(meta, indent=2, default=str) + "\n")

    def remove(self) -> None:
        """Delete the journal and every partial file (after a merge, or on overwrite)."""
        for p in self.partial_files():
            p.unlink(missing_ok=True)
        self.meta_path.unlink(missing_ok=True)

    def collect(self, valid_ids: set[str] | None = None) -> tuple[list[JsonDict], set[str], int]:
        """Committed rows of all partial files (each (id, response_index) once), their ids,
        and the summed truncation count."""
        rows: list[JsonDict] = []
        seen: set[tuple[str, int]] = set()
        ids: set[str] = set()
        truncated = 0
        for path in self.partial_files():
            part_rows, part_ids, part_trunc = read_committed(path)
            truncated += part_trunc
            ids.update(i for i in part_ids if valid_ids is None or i in valid_ids)
            for row in part_rows:
                key = (str(row["id"]), int(row["response_index"]))
                if key not in seen and (valid_ids is None or key[0] in valid_ids):
                    seen.add(key)
                    rows.append(row)
        return rows, ids, truncated

    def compact(self, valid_ids: set[str]) -> int:
        """Fold every partial file into one committed `partial.r0` (rank 0, before appends).

        Returns the number of committed records kept. Safe to kill at any point: the new
        r0 replaces the old one atomically, and the other files are removed only after.
        """
        files = self.partial_files()
        if not files:
            return 0
        rows, ids, truncated = self.collect(valid_ids)
        rows = [r for r in rows if str(r["id"]) in ids]
        target = self.partial_path(0)
        text = "".join(dumps_row(r) + "\n" for r in rows)
        if ids:
            marker = {COMMIT: 0, "ids": sorted(ids), "rows": len(rows), "truncated": truncated}
            text += dumps_row(marker) + "\n"
        atomic_write_text(target, text)
        for p in files:
            if p != target:
                p.unlink(missing_ok=True)
        return len(ids)

    def committed_ids(self) -> set[str]:
        """Ids committed in the compacted `partial.r0`, scored or skipped (after compact)."""
        path = self.partial_path(0)
        return set(read_committed(path)[1]) if path.exists() else set()

    def done_ids(self) -> set[str]:
        """Ids committed with rows in `partial.r0` (read by every rank after compact).

        A record committed without rows was skipped (its image did not decode): it is not
        done, so a resumed run tries it again (the image may have been fixed meanwhile).
        """
        path = self.partial_path(0)
        if not path.exists():
            return set()
        rows, ids, _ = read_committed(path)
        return set(ids) & {str(r["id"]) for r in rows}

    def adopt(self, rows: list[JsonDict], ids: set[str]) -> None:
        """`partial.r0` := the rows of a finished table, committed for `ids` (a retry).

        Every id of the finished run is committed, those without rows as skipped, so the
        retry counts them as retried and scores them again.
        """
        text = "".join(dumps_row(r) + "\n" for r in rows)
        marker = {COMMIT: 0, "ids": sorted(ids), "rows": len(rows), "truncated": 0}
        atomic_write_text(self.partial_path(0), text + dumps_row(marker) + "\n")

    def commit(self, rank: int, rows: list[JsonDict], ids: list[str], truncated: int = 0) -> None:
        """Append one batch's rows and its commit line in one fsynced write."""
        self._batches += 1
        marker = {COMMIT: self._batches, "ids": ids, "rows": len(rows), "truncated": truncated}
        append_jsonl(self.partial_path(rank), [*rows, marker])


# ----------------------------------------------------------------------------- resume


def summary_path_for(output: str | Path) -> Path:
    """`scores.jsonl` -> `scores.summary.json` (next to the table)."""
    p = Path(output)
    return p.with_name(p.stem + ".summary.json")


def _read_json(path: Path) -> JsonDict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def decide(
    journal: Journal, out: Path, fp: JsonDict, overwrite: bool, prov: dict | None = None
) -> str:
    """'fresh', 'resume', 'complete' or 'overwrite'; raises when a changed input is found.

    Read-only, so every rank reaches the same answer before anyone writes. A journal of a
    changed run that committed no rows holds no work, so it is replaced ('overwrite')
    instead of blocking the rerun (e.g. a run that stopped before its first batch).
    `prov` (this run's provenance) names the paths in a refusal.
    """
    if overwrite:
        return "overwrite"
    summary = _read_json(summary_path_for(out)) or {}
    partials = journal.partial_files()
    if out.exists() and summary.get("fingerprint") == fp and not partials:
        return "complete"
    meta = journal.read_meta()
    if meta is not None:
        old = meta.get("fingerprint", {})
        if old == fp:
            return "resume"
        if not journal.collect()[1]:
            return "overwrite"
        change = describe_change(old, fp, meta.get("provenance"), prov)
        raise ShortcutlabError(
            f"{out}: an unfinished scoring run is journaled in {journal.meta_path.name}, but "
            f"its inputs differ from this run's: {change}. Pass --overwrite "
            "(overwrite=True) to discard its scores and start over, or rerun with the "
            "original model, data and options to resume it."
        )
    if partials:
        raise ShortcutlabError(
            f"{out}: partial score files ({partials[0].name}, ...) exist without their "
            "journal, so they cannot be trusted. Pass --overwrite to start over."
        )
    if out.exists():
        old = summary.get("fingerprint")
        change = describe_change(old or {}, fp, summary.get("provenance"), prov)
        what = (
            f"other inputs than this run: {change}"
            if old
            else "unknown inputs (no matching .summary.json)"
        )
        raise ShortcutlabError(
            f"{out} already exists and was scored with {what}. Pass --overwrite "
            "(overwrite=True) to replace it, or choose another --output."
        )
    return "fresh"


def prepare(
    journal: Journal,
    out: Path,
    action: str,
    meta: JsonDict,
    ids: set[str],
    kept: list[JsonDict] | None = None,
) -> None:
    """Rank 0 only: clear on overwrite, write the journal, compact partial files.

    `action` "retry" (a complete output that lacks records skipped earlier): its rows
    `kept` become the committed work, so only the skipped records are scored again.
    """
    if action == "overwrite":
        journal.remove()
        summary_path_for(out).unlink(missing_ok=True)
    if journal.read_meta() is None:
        journal.write_meta(meta)
    if action == "retry":
        journal.adopt([r for r in kept or [] if str(r["id"]) in ids], ids)
    journal.compact(ids)
