"""A probe folder's part of the page: its numbers, notes and, per test, the records whose
reward moved most (`shortcutlab.probe.examples`), with thumbnails and highlighted edits.

`probe_view(src, thumbs, k)` returns a dict the template renders as static HTML:

    label, folder, compact, table (compact) | None, notes [str], tests [
        {test, kind, what, records, rows [
            {id, base_id, prompt, moved_sd, flips, pairs,
             images {original, variant}: {uri} | {missing: reason} | {none: text},  (image tests)
             edits [{index, original [(text, marked)], edited [(text, marked)]}], (edit tests)
             responses [{index, before, after, delta_sd, changed}]}]}]

Whatever cannot be read (card, battery, a score table, a test the tables miss) becomes a
note naming the file, never an exception: the rest of the page is still written.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any

import pandas as pd

from shortcutlab.data.records import Record
from shortcutlab.errors import ShortcutlabError
from shortcutlab.html.probe_folder import ProbeSource, battery_folder, compact_table
from shortcutlab.html.sections import read_json
from shortcutlab.html.thumbs import Thumbnails
from shortcutlab.probe.battery import Battery, read_battery
from shortcutlab.probe.examples import Change, biggest_changes, originals
from shortcutlab.probe.report import CARD_JSON, table_files
from shortcutlab.probe.run import SCORES
from shortcutlab.probe.stats import Rewards, reward_lookup
from shortcutlab.score_table import read_score_table

MAX_EDITS_SHOWN = 4  # edited responses shown per record (each with its diff)
TOKENS = re.compile(r"\s+|[^\s]+")


def probe_view(src: ProbeSource, thumbs: Thumbnails, k: int) -> dict[str, Any]:
    """The probe folder's view (see the module docstring); problems become notes."""
    view: dict[str, Any] = {"label": src.label, "folder": src.folder, "notes": [], "tests": []}
    view["compact"] = src.compact  # a study's run: notes beside its numbers, not on top
    view["table"] = compact_table(src.folder) if src.compact else None
    card = read_json(src.folder / CARD_JSON)
    if not isinstance(card, dict):
        view["notes"].append(f"{src.folder / CARD_JSON}: not readable as a probe card.")
        return view
    view["notes"] += [str(n) for n in card.get("notes") or []]  # skipped tests among them
    if not src.examples or k <= 0:
        return view
    try:
        battery = read_battery(battery_folder(src.folder) or src.folder)
        rewards = _rewards(src.folder, card, view["notes"])
        if rewards is not None:
            view["tests"] = _tests(battery, rewards, card, thumbs, k, view["notes"])
    except (ShortcutlabError, OSError, ValueError, KeyError, TypeError) as err:
        view["notes"].append(f"examples not shown: {type(err).__name__}: {err}")
    return view


def score_table_paths(folder: Path, card: dict[str, Any]) -> list[Path]:
    """The card's score tables; those inside the battery folder the card was made from
    are read from this battery folder (a probe folder moved or copied with its run).
    The folder's own `scores/` when the card lists none."""
    here = battery_folder(folder) or folder
    listed = [Path(str(p)) for p in card.get("scores") or []]
    if not listed:
        return table_files([here / SCORES]) if (here / SCORES).is_dir() else []
    made_in = Path(str(card.get("battery") or here))
    out = []
    for p in listed:
        try:
            out.append(here / p.relative_to(made_in))
        except ValueError:  # a table scored elsewhere (`probe report --scores`)
            out.append(p)
    return out


def _rewards(folder: Path, card: dict[str, Any], notes: list[str]) -> Rewards | None:
    """Rewards of every table that can be read; a note per table that cannot."""
    paths = score_table_paths(folder, card)
    if not paths:
        notes.append(f"examples not shown: no score table in {folder / SCORES}.")
        return None
    frames = []
    for p in paths:
        try:
            frames.append(read_score_table(p))
        except ShortcutlabError as err:
            notes.append(f"score table {p} not read: {err}")
    if not frames:
        return None
    df = pd.concat(frames, ignore_index=True).drop_duplicates(["id", "response_index"])
    return reward_lookup(df)


def _tests(
    battery: Battery,
    rewards: Rewards,
    card: dict[str, Any],
    thumbs: Thumbnails,
    k: int,
    notes: list[str],
) -> list[dict[str, Any]]:
    """Each test's top-k records; a test whose tables are incomplete gets a note instead."""
    sd = card.get("reward_sd_original")
    sd = float(sd) if isinstance(sd, int | float) else float("nan")
    if sd != sd:
        notes.append("the card has no reward sd: changes are in raw reward units.")
    base = originals(battery)
    out = []
    for test, entry in battery.tests.items():
        try:
            changes = biggest_changes(battery, rewards, test, sd, k, base=base)
        except ShortcutlabError as err:
            notes.append(f"{test}: no examples: {err}")
            continue
        rows = [_row(c, entry["kind"], thumbs) for c in changes]
        out.append(
            {"test": test, "kind": entry["kind"], "what": entry.get("what", ""),
             "records": entry["records"], "rows": rows}
        )  # fmt: skip
    return out


def _row(c: Change, kind: str, thumbs: Thumbnails) -> dict[str, Any]:
    rec, var = c.original, c.variant
    row: dict[str, Any] = {"id": c.variant_id, "base_id": c.base_id, "moved_sd": c.moved_sd}
    row |= {"flips": c.flips, "pairs": c.pairs, "prompt": rec.prompt if rec else ""}
    row["responses"] = [
        {"index": i, "before": b, "after": a, "delta_sd": d, "changed": i in c.edited}
        for i, (b, a, d) in enumerate(zip(c.before, c.after, c.deltas_sd, strict=True))
    ]
    if kind == "image":
        row["images"] = {"original": _image(rec, thumbs), "variant": _image(var, thumbs)}
    else:
        moved = sorted(c.edited, key=lambda i: -abs(c.deltas_sd[i]))[:MAX_EDITS_SHOWN]
        row["edits"] = [_edit(i, rec, var) for i in sorted(moved)]
    return row


def _image(rec: Record | None, thumbs: Thumbnails) -> dict[str, str]:
    """A thumbnail's data URI, a missing image's reason, or "no image" (`drop`)."""
    if rec is None:
        return {"missing": "record not found in the battery"}
    if rec.image is None:
        return {"none": "no image"}
    got = thumbs.add(rec.image)
    if "img" in got:
        return {"uri": thumbs.uris[got["img"]]}
    return {"missing": got.get("img_missing", "unreadable")}


def _edit(i: int, rec: Record | None, var: Record | None) -> dict[str, Any]:
    before = rec.responses[i] if rec and i < len(rec.responses) else ""
    after = var.responses[i] if var and i < len(var.responses) else ""
    old, new = word_diff(before, after)
    return {"index": i, "original": old, "edited": new}


def word_diff(before: str, after: str) -> tuple[list[tuple[str, bool]], list[tuple[str, bool]]]:
    """(before, after) as segments (text, changed): removed words marked in `before`,
    inserted ones in `after` (difflib on words and the whitespace between them)."""
    a, b = TOKENS.findall(before), TOKENS.findall(after)
    old: list[tuple[str, bool]] = []
    new: list[tuple[str, bool]] = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if i2 > i1:
            old.append(("".join(a[i1:i2]), op != "equal"))
        if j2 > j1:
            new.append(("".join(b[j1:j2]), op != "equal"))
    return old, new
