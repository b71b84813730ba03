"""A study folder on the report page (layout: `shortcutlab.study.run`, read as files only).

    study.json                               environments (train / test / shift files)
    scores/s{seed}/{mode}__{train}__{test}.jsonl, scores/s{seed}/shift/...
    results/                                 methods, matrix, SFD, shift, length tables

The section shows the results' figures and tables; its example sets are each
environment's test file and shift split (the cue reversed), scored by every model of the
first seed, the proxy being the text-only model trained on that environment (else any
text-only model scored on it).
"""

from __future__ import annotations

import json
from pathlib import Path

from shortcutlab.html.examples import ExampleSource
from shortcutlab.html.sections import Section, figures_of, tables_of
from shortcutlab.objectives import TEXT_ONLY as TEXT_MODE  # the study's text-only models

RESULT_TABLES = [
    ("methods.csv", "Methods compared over seeds (points, mean and sd)"),
    ("methods_diff.csv", "Paired difference to standard (95% interval)"),
    ("matrix_summary.csv", "Generalization matrix summary (points)"),
    ("shift.csv", "Accuracy on the cue-reversed shift splits"),
    ("sfd.csv", "SFD of every o.o.d. cell"),
    ("correlation.csv", "MM vs text-only reward correlation"),
    ("length.csv", "Length balance"),
    ("cheap_vs_trained.csv", "Cheap vs trained proxy"),
]


def study_section(folder: Path) -> Section:
    """The study's figures, tables and example sets (first seed)."""
    spec = json.loads((folder / "study.json").read_text(encoding="utf-8", errors="replace"))
    sec = Section("study", folder, f"Study {spec.get('name', '')}".strip())
    sec.facts = [("seeds", ", ".join(map(str, spec.get("seeds", []))))]
    sec.facts.append(("modes", ", ".join(spec.get("modes", []))))
    res = folder / "results"
    stems = [("methods", "Methods compared over seeds", ["methods.csv", "methods_diff.csv"])]
    stems.append(("matrix", "Generalization matrices", ["matrix_summary.csv"]))
    stems += [(p.stem, p.stem.replace("_", " "), ["sfd.csv"]) for p in sorted(res.glob("sfd*.png"))]
    stems += [(p.stem, p.stem.replace("_", " "), ["length.csv"]) for p in res.glob("length*.png")]
    sec.figures = figures_of(res, stems)
    sec.tables = tables_of(res, RESULT_TABLES)
    seeds = spec.get("seeds") or [0]
    scores = folder / "scores" / f"s{seeds[0]}"
    for env in spec.get("environments", []):
        for split, sub in (("test", scores), ("shift", scores / "shift")):
            src = _example_set(env, split, sub)
            if src is not None:
                sec.examples.append(src)
    return sec


def _example_set(env: dict, split: str, scores: Path) -> ExampleSource | None:
    """The tables scored on `env`'s `split` file: models and a text-only proxy."""
    name, data = env.get("name"), env.get(split)
    if not name or not data:
        return None
    models, proxies = {}, {}
    for p in sorted(scores.glob(f"*__*__{name}.jsonl")):
        mode, train, _ = p.stem.split("__", 2)
        if mode == TEXT_MODE:
            proxies[train] = p
        else:
            models[f"{mode} ({train})"] = p
    if not models and not proxies:
        return None
    proxy = proxies.get(name) or next(iter(proxies.values()), None)
    proxy_name = f"text-only ({name if name in proxies else next(iter(proxies), '')})"
    return ExampleSource(
        name=f"{name} {split}", data=Path(data), models=models, proxy=proxy, proxy_name=proxy_name
    )
