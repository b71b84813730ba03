"""The diagnostics' output layer: compute -> tables (CSV / JSON) -> figures, per diagnostic.

One `report_*` function per diagnostic reads score tables (never a model), computes the
numbers with the diagnostics modules, writes the CSV tables, the PNG+SVG figures,
`results.json` and `run_info.json` into one folder, and returns a typed result whose
objects the caller renders. The CLI commands (`shortcutlab.cli.*_cmd`) are each one call
of a `report_*` function; the study report (`shortcutlab.study.results`) writes its
per-seed tables and figures through the same `*_outputs` writers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from shortcutlab.data.agreement import check_agreement
from shortcutlab.data.schemas import load_dataset_file
from shortcutlab.data.subsets import read_id_list
from shortcutlab.diagnostics import matrix as mx
from shortcutlab.diagnostics.bon import bon_curves
from shortcutlab.diagnostics.correlation import CorrelationResult, correlate, correlation_points
from shortcutlab.diagnostics.groups import exclude_ids, group_values
from shortcutlab.diagnostics.length import (
    LengthReport,
    length_balance,
    text_only_load,
    write_balanced,
)
from shortcutlab.diagnostics.result_files import write_csv, write_results
from shortcutlab.diagnostics.sfd import (
    SFDResult,
    macro_over_groups,
    sfd,
    sfd_by_group,
    sfd_table,
    write_subsets,
)
from shortcutlab.errors import ConfigError
from shortcutlab.plots import bon_plot, heatmaps, length_bars, save_figure, score_scatter, sfd_bars
from shortcutlab.score_table import JUDGE_REQUIRED, read_score_table


@dataclass
class Provenance:
    """What `run_info.json` records: the command line and its parameters."""

    command: list[str]
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Written:
    """The files a report wrote (CSV, data subsets, figures), in writing order."""

    files: list[Path] = field(default_factory=list)


def _finish(
    out: Path, prov: Provenance, inputs: dict[str, Any], seed: int | None, results: dict
) -> None:
    """`results.json` and `run_info.json` (input hashes, versions, command) into `out`."""
    write_results(out, results, command=prov.command, inputs=inputs, config=prov.params, seed=seed)


# ----------------------------------------------------------------------------- sfd


@dataclass(frozen=True)
class SfdSet:
    """One test set of an SFD report: MM-RM and proxy score tables, the scored data file."""

    name: str
    mm_scores: str
    proxy_scores: str
    data: str | None = None


@dataclass
class SfdReport(Written):
    results: list[SFDResult] = field(default_factory=list)
    groups: dict[str, list[SFDResult]] = field(default_factory=dict)  # set -> per group
    excluded: dict[str, dict[str, Any]] = field(default_factory=dict)  # set -> counts


def sfd_outputs(
    results: list[SFDResult], out: Path, stem: str = "sfd"
) -> tuple[pd.DataFrame, list[Path]]:
    """The SFD table (one row per test set) and its bar figure `{stem}.png/svg`."""
    table = sfd_table(results)
    return table, save_figure(sfd_bars(table), out, stem)


def report_sfd(
    sets: list[SfdSet],
    out: Path,
    prov: Provenance,
    *,
    n_boot: int,
    seed: int,
    exclude: str | Path | None = None,
    group_by: str | None = None,
) -> SfdReport:
    """Def. 3.1 on each set; success/fail subsets, `sfd.csv`, `sfd.png`, results.json.

    `exclude`: a file of ids (overlap_ids.txt) left out of both tables, counted per set.
    `group_by`: a score-table column or data field (needs the set's data file): SFD per
    group in `sfd_groups.csv` plus the macro averages over groups.
    """
    rep = SfdReport()
    inputs: dict[str, str] = {}
    ids = read_id_list(exclude) if exclude is not None else None
    for i, s in enumerate(sets):
        mm, px = read_score_table(s.mm_scores), read_score_table(s.proxy_scores)
        if s.data:  # the data file decides the subsets: it must be the data scored
            recs = load_dataset_file(s.data, images="ignore").records
            check_agreement(recs, mm, data_file=s.data, table_file=s.mm_scores)
            check_agreement(recs, px, data_file=s.data, table_file=s.proxy_scores)
        if ids is not None:
            mm, excl = exclude_ids(mm, ids, str(exclude))
            px, _ = exclude_ids(px, ids, str(exclude))
            rep.excluded[s.name] = excl.to_dict()
        kw = {"n_boot": n_boot, "seed": seed, "files": (s.mm_scores, s.proxy_scores)}
        res = sfd(mm, px, name=s.name, **kw)
        rep.results.append(res)
        if group_by:
            rep.groups[s.name] = sfd_by_group(mm, px, _set_groups(group_by, mm, s), **kw)
        inputs |= {f"mm_scores[{i}]": s.mm_scores, f"proxy_scores[{i}]": s.proxy_scores}
        if s.data:
            inputs[f"data[{i}]"] = s.data
        rep.files += write_subsets(res, out / "subsets", s.data).values()
    table, figs = sfd_outputs(rep.results, out)
    rep.files += [write_csv(table, out / "sfd.csv"), *figs]
    results: dict[str, Any] = {"sfd": [r.to_dict() for r in rep.results]}
    if group_by:
        results["group_by"] = _groups_json(group_by, rep.groups)
        rep.files.append(write_csv(_groups_table(rep.groups), out / "sfd_groups.csv"))
    if ids is not None:
        results["excluded"] = rep.excluded
    _finish(out, prov, inputs, seed, results)
    return rep


def _set_groups(column: str, mm: pd.DataFrame, s: SfdSet) -> dict[str, str]:
    """Record id -> group: the MM table's column, else the set's data file's field."""
    if column in mm.columns or not s.data:
        return group_values(column, table=mm, where=s.mm_scores)
    records = load_dataset_file(s.data, images="ignore").records
    return group_values(column, table=mm, records=records, where=s.data)


def _groups_table(groups: dict[str, list[SFDResult]]) -> pd.DataFrame:
    frames = [sfd_table(res).assign(test_set=name) for name, res in groups.items() if res]
    if not frames:
        return pd.DataFrame()
    table = pd.concat(frames, ignore_index=True).rename(columns={"name": "group"})
    return table[
        ["test_set", "group", *[c for c in table.columns if c not in ("test_set", "group")]]
    ]


def _groups_json(column: str, groups: dict[str, list[SFDResult]]) -> dict[str, Any]:
    return {
        "column": column,
        "sets": {
            name: {"groups": [r.to_dict() for r in res], **macro_over_groups(res)}
            for name, res in groups.items()
        },
    }


# ----------------------------------------------------------------------------- matrix


@dataclass
class MatrixReport(Written):
    matrices: dict[str, pd.DataFrame] = field(default_factory=dict)
    summaries: dict[str, dict[str, Any]] = field(default_factory=dict)


def matrix_outputs(
    mats: dict[str, pd.DataFrame], out: Path
) -> tuple[dict[str, dict[str, Any]], Any, list[Path]]:
    """`matrix_{mode}.csv`, `matrix_summary.csv` and the heatmaps `matrix.png/svg`.

    Returns the per-mode summaries (`matrix_summary`), the shortcut-aware - standard
    difference (None unless both modes) and the files written.
    """
    summaries = {m: mx.matrix_summary(mat) for m, mat in mats.items()}
    diff = mx.matrix_difference(mats)
    files = [write_csv(mat.reset_index(), out / f"matrix_{mode}.csv") for mode, mat in mats.items()]
    files.append(write_csv(mx.summary_table(mats), out / "matrix_summary.csv"))
    files += save_figure(heatmaps(mats, diff, summaries=summaries), out, "matrix")
    return summaries, diff, files


def load_matrices(
    *,
    accuracies: list[tuple[str, str]] | None = None,
    scores: Path | None = None,
    seed_folders: list[Path] | None = None,
    n_boot: int,
    seed: int,
    exclude: str | Path | None = None,
) -> tuple[dict[str, pd.DataFrame], dict[str, Any], pd.DataFrame | None]:
    """({mode: matrix}, inputs for run_info, per-cell long table or None) from one source:
    (mode, accuracy CSV) pairs, a folder of score tables, or per-seed score folders.

    `exclude`: a file of ids left out of every score table (not possible for accuracy
    CSVs, which hold no records); the long table counts them per file."""
    inputs: dict[str, Any] = {}
    ids = read_id_list(exclude) if exclude is not None else None
    if ids is not None:
        if accuracies:
            raise ConfigError(
                "--exclude-ids needs score tables (--from-scores or --study); accuracy "
                "CSVs hold no records to exclude."
            )
        inputs["exclude_ids"] = str(exclude)
    if accuracies:
        mats = {}
        for mode, path in accuracies:
            mats[mode] = mx.read_accuracy_csv(path)
            inputs[f"accuracies[{mode}]"] = path
        return mats, inputs, None
    if seed_folders is not None:
        mats, long = mx.matrix_from_seed_folders(
            seed_folders, n_boot=n_boot, seed=seed, exclude=ids
        )
    else:
        mats, long = mx.matrix_from_score_files(scores, n_boot=n_boot, seed=seed, exclude=ids)
    inputs |= {f"scores[{Path(f).parent.name}/{Path(f).name}]": f for f in long["file"]}
    return mats, inputs, long


def report_matrix(
    mats: dict[str, pd.DataFrame],
    out: Path,
    prov: Provenance,
    *,
    inputs: dict[str, Any],
    long: pd.DataFrame | None,
    seed: int,
) -> MatrixReport:
    """The matrices' CSVs and heatmaps (`matrix_outputs`), `matrix_cells.csv` when the
    matrices came from score tables, and results.json."""
    rep = MatrixReport(matrices=mats)
    if long is not None:
        rep.files.append(write_csv(long, out / "matrix_cells.csv"))
    rep.summaries, diff, files = matrix_outputs(mats, out)
    rep.files += files
    results: dict[str, Any] = {
        "summaries": rep.summaries,
        "matrices": {m: mat.to_dict("index") for m, mat in mats.items()},
    }
    if diff is not None:
        results["difference"] = {"title": diff[0], "matrix": diff[1].to_dict("index")}
    _finish(out, prov, inputs, seed, results)
    return rep


# ----------------------------------------------------------------------------- length


@dataclass
class LengthOutputs(Written):
    report: LengthReport | None = None
    stats: dict[str, Any] = field(default_factory=dict)


def length_outputs(rep: LengthReport, out: Path, stem: str = "length") -> list[Path]:
    """The length bars (shares and accuracies on full / balanced pairs) `{stem}.png/svg`."""
    return save_figure(length_bars(rep.stats.to_dict(), rep.accuracies), out, stem)


def report_length(
    data: str,
    out: Path,
    prov: Provenance,
    *,
    scores: list[tuple[str, str]],
    unit: str,
    tokenizer: str | None,
    tolerance: float,
    load_kw: dict[str, Any],
    n_boot: int,
    seed: int,
) -> LengthOutputs:
    """Section 3.5.1 on `data`: the balanced subset, `length_accuracy.csv`, the figure."""
    tables = {n: read_score_table(p) for n, p in scores}
    rep = length_balance(
        data,
        scores=tables,
        unit=unit,
        tokenizer=tokenizer,
        tolerance=tolerance,
        seed=seed,
        n_boot=n_boot,
        load_kw=load_kw,
        files=dict(scores),
    )
    if tables:  # the pairs come from `data`, the rewards from the tables: same responses
        recs = load_dataset_file(data, **text_only_load(load_kw)).records
        for (_, path), table in zip(scores, tables.values(), strict=True):
            check_agreement(recs, table, data_file=data, table_file=path)
    res = LengthOutputs(report=rep, stats=rep.stats.to_dict())
    res.files += write_balanced(rep, data, out, load_kw=load_kw).values()
    res.files.append(write_csv(rep.accuracies, out / "length_accuracy.csv"))
    res.files += length_outputs(rep, out)
    results = {
        "length": res.stats,
        "balanced_pairs": len(rep.balanced),
        "accuracies": rep.accuracies.to_dict("records"),
    }
    _finish(out, prov, {"data": data} | {f"scores[{n}]": p for n, p in scores}, seed, results)
    return res


# ----------------------------------------------------------------------------- bon


@dataclass
class BonReport(Written):
    curves: pd.DataFrame | None = None


def report_bon(
    judge: str, rewards: list[tuple[str, str]], out: Path, prov: Provenance, *, max_n: int | None
) -> BonReport:
    """Best-of-N curves (App. H) of each reward table: `bon.csv`, `bon.png`, results.json."""
    jt = read_score_table(judge, required=JUDGE_REQUIRED)
    curves = bon_curves(
        {n: read_score_table(p) for n, p in rewards},
        jt,
        max_n=max_n,
        judge_file=judge,
        reward_files=dict(rewards),
    )
    rep = BonReport(curves=curves)
    rep.files = [write_csv(curves, out / "bon.csv"), *save_figure(bon_plot(curves), out, "bon")]
    inputs = {"judge": judge} | {f"rewards[{n}]": p for n, p in rewards}
    _finish(out, prov, inputs, None, {"curves": curves.to_dict("records")})
    return rep


# ----------------------------------------------------------------------------- correlate


@dataclass
class CorrelationReport(Written):
    result: CorrelationResult | None = None


def report_correlation(
    mm_scores: str, proxy_scores: str, out: Path, prov: Provenance, *, level: str
) -> CorrelationReport:
    """Pearson / Spearman of MM vs proxy rewards (Fig. 3): points CSV, scatter, results."""
    pts = correlation_points(
        read_score_table(mm_scores),
        read_score_table(proxy_scores),
        level=level,
        files=(mm_scores, proxy_scores),
    )
    res = correlate(pts, level)
    fig = score_scatter(pts, pearson=res.pearson, spearman=res.spearman, level=level)
    rep = CorrelationReport(result=res)
    rep.files = [
        write_csv(pts, out / "correlation_points.csv"),
        *save_figure(fig, out, "correlation"),
    ]
    inputs = {"mm_scores": mm_scores, "proxy_scores": proxy_scores}
    _finish(out, prov, inputs, None, {"correlation": res.to_dict()})
    return rep
