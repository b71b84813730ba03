"""What a folder holds: the outputs of `sfd`, `audit`, `matrix`, a study or the demo.

`discover(folder)` recognises each writer's folder by its marker file and returns one
`Section` per output found: its figures (PNG, with the tables they were drawn from), its
tables (CSV), and the test sets the example browser shows (`ExampleSource`: data file,
model score tables, proxy table). Input paths come from the folder's `run_info.json`
(`inputs`), resolved as written, else relative to the folder. Nothing here reads a
model; it only reads files the writers left.

    marker                          kind     section
    audit.json                      audit    features, proxy accuracy, the audit's pairs
    results.json with "sfd"         sfd      SFD bars and table, one example set per test set
    matrix_summary.csv              matrix   heatmaps, per-mode matrices
    study.json + results/           study    methods, matrix, SFD; examples per test env
                                             (+ the probes of its runs, if any)
    demo.json + study/              demo     the demo's figures, then its study
    probe.json + card.json          probe    the shortcut card; biggest reward changes
    a run folder with probe/        probe    the run's end-of-training probe
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from shortcutlab.html.examples import ExampleSource
from shortcutlab.html.probe_folder import (
    is_probe_folder,
    probe_section,
    run_probe_section,
    study_probe_section,
)
from shortcutlab.html.sections import (
    Section,
    figures_of,
    read_json,
    read_table,
    run_inputs,
    tables_of,
)
from shortcutlab.html.study_folder import study_section


def discover(folder: Path) -> list[Section]:
    """Every known output in `folder` (a demo: also its study), in a fixed order."""
    folder = Path(folder)
    out: list[Section] = []
    if (folder / "demo.json").is_file():
        out.append(_demo(folder))
        if (folder / "study" / "study.json").is_file():
            out += _study(folder / "study")
        return out
    if (folder / "study.json").is_file() and (folder / "results").is_dir():
        return _study(folder)
    if is_probe_folder(folder):
        return [probe_section(folder)]
    run = run_probe_section(folder)
    if run is not None:
        out.append(run)
    if (folder / "audit.json").is_file():
        out.append(_audit(folder))
    results = read_json(folder / "results.json")
    if isinstance(results, dict) and "sfd" in results:
        out.append(_sfd(folder, results))
    if (folder / "matrix_summary.csv").is_file():
        out.append(_matrix(folder))
    return out


# ----------------------------------------------------------------------------- kinds


def _study(folder: Path) -> list[Section]:
    """A study's section, then (when its runs hold probes) the section of their probes."""
    sec = study_section(folder)
    probes = study_probe_section(folder, sec.title.removeprefix("Study").strip())
    return [sec] if probes is None else [sec, probes]


def _sfd(folder: Path, results: dict[str, Any]) -> Section:
    sec = Section("sfd", folder, "Shortcut-Failure Degradation (sfd)")
    sec.figures = figures_of(folder, [("sfd", "SFD per test set (points, 95% CI)", ["sfd.csv"])])
    sec.tables = tables_of(folder, [("sfd.csv", "SFD"), ("sfd_groups.csv", "SFD per group")])
    inputs = run_inputs(folder)
    for i, res in enumerate(results.get("sfd") or []):
        mm = inputs.get(f"mm_scores[{i}]")
        if mm is None:
            continue
        name = str(res.get("name", i))
        value = res.get("sfd")  # None where a subset is empty (SFD undefined)
        shown = f"{value:.1f} points" if isinstance(value, int | float) else "undefined"
        sec.facts.append((name, f"SFD {shown}"))
        sec.examples.append(
            ExampleSource(
                name=name,
                data=inputs.get(f"data[{i}]"),
                models={"MM-RM": mm},
                proxy=inputs.get(f"proxy_scores[{i}]"),
            )
        )
    return sec


def _audit(folder: Path) -> Section:
    info = read_json(folder / "audit.json") or {}
    sec = Section("audit", folder, "Text-only audit (audit)")
    sec.facts = [(k, str(info[k])) for k in ("records", "pairs", "mode") if k in info]
    for name, acc in (info.get("proxies") or {}).items():
        if isinstance(acc, dict) and isinstance(acc.get("accuracy"), (int, float)):
            sec.facts.append((f"accuracy of {name}", f"{100 * acc['accuracy']:.1f}"))
    sec.figures = figures_of(folder, [("features", "Top text features", ["features.csv"])])
    if (folder / "features.csv").is_file():
        table = read_table(folder / "features.csv", "Top text features (text_lr)", 30)
        feats = pd.read_csv(folder / "features.csv", encoding_errors="replace").head(30)
        table.links = [_feature_link(r) for r in feats.to_dict("records")]
        sec.tables.append(table)
        ngrams = feats[feats.get("kind", pd.Series(dtype=str)) == "ngram"]["feature"]
        sec.highlight = [str(f) for f in ngrams if len(str(f)) > 2][:10]  # "a", "of": noise
        sec.include_ids = {i for link in table.links for i in link["ids"]}
    sec.tables += tables_of(folder, [("sfd.csv", "SFD against the audit's proxies")])
    inputs = run_inputs(folder)
    models = {"MM-RM": inputs["mm_scores"]} if "mm_scores" in inputs else {}
    proxy = folder / "proxy_scores.jsonl"
    sec.examples.append(
        ExampleSource(
            name=Path(inputs.get("data", folder)).stem,
            data=inputs.get("data"),
            models=models,
            proxy=proxy if proxy.is_file() else None,
            proxy_name="text_lr",
        )
    )
    return sec


def _feature_link(row: dict[str, Any]) -> dict[str, Any]:
    ids = [str(row[k]) for k in ("example_1", "example_2") if isinstance(row.get(k), str)]
    term = str(row["feature"]) if row.get("kind") == "ngram" else ""
    return {"ids": ids, "term": term}


def _matrix(folder: Path) -> Section:
    sec = Section("matrix", folder, "Generalization matrix (matrix)")
    mats = sorted(p.name for p in folder.glob("matrix_*.csv"))
    sec.figures = figures_of(folder, [("matrix", "Generalization matrices", mats)])
    sec.tables = tables_of(folder, [("matrix_summary.csv", "Summary (points)")])
    sec.tables += tables_of(
        folder, [(m, m[:-4]) for m in mats if m not in ("matrix_summary.csv", "matrix_cells.csv")]
    )
    return sec


def _demo(folder: Path) -> Section:
    demo = read_json(folder / "demo.json") or {}
    sec = Section("demo", folder, "Demo (shortcutlab demo)")
    sec.facts = [(k, str(demo[k])) for k in ("quick", "seeds", "arch", "seconds") if k in demo]
    if (folder / "report.md").is_file():
        sec.facts.append(("report", "report.md"))
    res = folder / "results"
    if res.is_dir():
        sec.tables = tables_of(res, [("cheap_vs_trained.csv", "Cheap vs trained proxy (SFD)")])
    return sec
