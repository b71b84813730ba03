"""`probe report`: score tables of a battery -> the shortcut card.

Writes into the output folder:
- `card.json`: what was tested (data, records, seed, each test's edit), the numbers with
  their 95% record-bootstrap intervals (`shortcutlab.probe.stats`), notes, and the
  commands that reproduce it;
- `card.md`: the same as a markdown section to paste into a model card;
- `probe.csv`: one row per (test, metric): value, ci_low, ci_high, records;
- `probe.png` / `probe.svg`: image reliance and edit sensitivity with their intervals.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from shortcutlab.errors import DataError
from shortcutlab.files import atomic_write_text
from shortcutlab.probe.battery import Battery
from shortcutlab.probe.stats import TestStats, probe_stats

CARD_JSON, CARD_MD, TABLE = "card.json", "card.md", "probe.csv"


@dataclass
class ReportOptions:
    """How the report is computed and labelled."""

    model: str = ""  # the model's name in the card ("" for tables scored elsewhere)
    n_boot: int = 1000
    seed: int = 0
    confidence: float = 0.95
    command: list[str] = field(default_factory=list)  # the command line, for "reproduce"


TABLE_SUFFIXES = (".jsonl", ".json", ".parquet")


def table_files(paths: list[str | Path]) -> list[Path]:
    """Score-table files: each path as given, or a folder's tables (not recursive; the
    `.summary.json`, journal and partial files beside a scoring output are skipped)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if not p.is_dir():
            out.append(p)
            continue
        found = [
            f
            for f in sorted(p.iterdir())
            if f.is_file()
            and f.suffix in TABLE_SUFFIXES
            and not any(k in f.name for k in (".summary.", ".journal.", ".partial."))
        ]
        if not found:
            raise DataError(
                "no score table (.jsonl, .json, .parquet) in this folder.",
                file=str(p),
                reason="missing_file",
            )
        out.extend(found)
    return out


def read_tables(paths: list[str | Path]) -> pd.DataFrame:
    """Score tables (files or folders of them; one table per variant file or any other
    grouping) -> one validated table. A response scored twice is an error."""
    from shortcutlab.score_table import read_score_table, validate_score_table

    if not paths:
        raise DataError("no score table given.", hint="Pass --scores TABLE (repeatable).")
    frames = [read_score_table(p).assign(_file=str(p)) for p in table_files(paths)]
    df = pd.concat(frames, ignore_index=True)
    dup = df.duplicated(["id", "response_index"], keep=False)
    if dup.any():
        first = df[dup].iloc[0]
        files = sorted(set(df[dup & (df["id"] == first["id"])]["_file"]))
        raise DataError(
            f"id '{first['id']}', response_index {first['response_index']} is scored in "
            f"more than one table ({', '.join(files)}).",
            field="id",
            hint="Pass each variant file's score table once.",
            reason="duplicate",
        )
    return validate_score_table(df.drop(columns="_file"))


def write_report(
    battery: Battery, tables: list[str | Path], out_dir: str | Path, opts: ReportOptions
) -> dict[str, Any]:
    """Compute the numbers, write card.json, card.md, probe.csv and the figure; the card."""
    df = read_tables(tables)
    sd, tests = probe_stats(
        battery, df, n_boot=opts.n_boot, seed=opts.seed, confidence=opts.confidence
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    card = _card(battery, tables, sd, tests, opts)
    atomic_write_text(out / TABLE, _table(tests).to_csv(index=False))
    _figure(tests, out)
    atomic_write_text(out / CARD_MD, card_markdown(card))
    atomic_write_text(out / CARD_JSON, json.dumps(card, indent=2, ensure_ascii=False) + "\n")
    return card


def _card(
    battery: Battery, tables: list, sd: float, tests: list[TestStats], opts: ReportOptions
) -> dict[str, Any]:
    m = battery.manifest
    return {
        "model": opts.model,
        "data": m["data"],
        "records": m["records"],
        "records_in_data": m["records_in_data"],
        "battery": str(battery.folder),
        "options": m["options"],
        "scores": [str(t) for t in table_files(tables)],
        "reward_sd_original": None if sd != sd else round(sd, 6),
        "confidence": opts.confidence,
        "n_boot": opts.n_boot,
        "tests": {t.test: t.to_dict() for t in tests},
        "skipped_tests": sorted(k for k, v in m["tests"].items() if not v["records"]),
        "notes": battery.notes(),
        "reproduce": _reproduce(m, opts),
    }


def _reproduce(m: dict[str, Any], opts: ReportOptions) -> list[str]:
    if opts.command:
        return [shlex.join(opts.command)]
    o = m["options"]
    make = ["shortcutlab", "probe", "make", m["data"], "-o", "BATTERY", "--seed", str(o["seed"])]
    if o.get("max_records"):
        make += ["--max-records", str(o["max_records"])]
    if o.get("group_by"):
        make += ["--group-by", o["group_by"]]
    if o.get("edits_file"):
        make += ["--edits", o["edits_file"]]
    report = ["shortcutlab", "probe", "report", "--battery", "BATTERY", "--scores", "TABLE"]
    return [shlex.join(make), "(score each BATTERY/*.jsonl file)", shlex.join(report)]


def _table(tests: list[TestStats]) -> pd.DataFrame:
    rows = [
        {
            "test": t.test,
            "kind": t.kind,
            "metric": k,
            "value": v.value,
            "ci_low": v.ci_low,
            "ci_high": v.ci_high,
            "records": t.records,
        }
        for t in tests
        for k, v in t.metrics.items()
    ]
    return pd.DataFrame(
        rows, columns=["test", "kind", "metric", "value", "ci_low", "ci_high", "records"]
    )


def _figure(tests: list[TestStats], out: Path) -> None:
    from shortcutlab.plots import probe_bars, save_figure

    save_figure(probe_bars(_table(tests)), out, "probe")


def _fmt(m: dict[str, Any] | None, scale: float = 1.0, digits: int = 2, sign: bool = False) -> str:
    if not m or m["value"] is None:
        return "n/a"
    f = f"{{:{'+' if sign else ''}.{digits}f}}"
    s = f.format(scale * m["value"])
    if m["ci_low"] is not None and m["ci_high"] is not None:
        s += f" [{f.format(scale * m['ci_low'])}, {f.format(scale * m['ci_high'])}]"
    return s


def card_markdown(card: dict[str, Any]) -> str:
    """The card as a markdown section (numbers with their intervals, notes, reproduce)."""
    tests = card["tests"]
    conf = round(100 * card["confidence"])
    lines = [
        "## Shortcut card (shortcutlab probe)",
        "",
        f"Model: `{card['model'] or 'scored elsewhere'}`. Data: `{Path(card['data']).name}`, "
        f"{card['records']} of {card['records_in_data']} records (seed "
        f"{card['options']['seed']}). Intervals: {conf}% bootstrap over records "
        f"({card['n_boot']} resamples). Reward changes are in units of the model's reward "
        f"sd on the original responses ({card['reward_sd_original']}).",
        "",
        "### Image reliance: how much the preference depends on the image",
        "",
        "| test | what | preferences flipped (%) | mean abs. reward change (sd) "
        "| blind gap (accuracy points) |",
        "|---|---|---|---|---|",
    ]
    for t in (v for v in tests.values() if v["kind"] == "image"):
        mm = t["metrics"]
        lines.append(
            f"| {t['test']} | {t['what']} | {_fmt(mm['flip_rate'], 100, 1)} | "
            f"{_fmt(mm['mean_abs_change_sd'])} | {_fmt(mm['blind_gap'], 100, 1, True)} |"
        )
    lines += [
        "",
        "### Edit sensitivity: edits that should not change the reward",
        "",
        "| edit | what | mean reward change (sd) | edited beats its original (%) "
        "| preferences flipped (%) |",
        "|---|---|---|---|---|",
    ]
    for t in (v for v in tests.values() if v["kind"] == "edit"):
        mm = t["metrics"]
        lines.append(
            f"| {t['test']} | {t['what']} | {_fmt(mm['mean_change_sd'], sign=True)} | "
            f"{_fmt(mm['win_rate'], 100, 1)} | {_fmt(mm['flip_rate'], 100, 1)} |"
        )
    notes = card["notes"]  # a skipped test is among them (`battery._notes`)
    if notes:
        lines += ["", "Notes:", "", *[f"- {n}" for n in notes]]
    lines += ["", "Reproduce:", "", "```bash", *card["reproduce"], "```", ""]
    return "\n".join(lines)
