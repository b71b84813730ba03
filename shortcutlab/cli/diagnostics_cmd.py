"""`shortcutlab sfd | matrix | length-balance | bon | correlate`: diagnostics on score tables.

Each command: parse options -> one `shortcutlab.diagnostics` call -> a rich table, JSON/CSV
results, PNG+SVG figures and `run_info.json` (input hashes, versions) in `--output`.
Accuracies are computed as fractions and shown in points.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from shortcutlab.errors import ConfigError

Output = Annotated[Path, typer.Option("--output", "-o", help="Folder for results and figures.")]
NBoot = Annotated[int, typer.Option("--n-boot", help="Bootstrap replicates (records resampled).")]
Seed = Annotated[int, typer.Option("--seed", help="Seed of the bootstrap / subsampling.")]


# ----------------------------------------------------------------------------- helpers


def _named(spec: str) -> tuple[str, str]:
    """'NAME=FILE' -> (NAME, FILE); a plain FILE -> (its stem, FILE)."""
    if "=" in spec and not os.path.exists(spec):
        name, path = spec.split("=", 1)
        return name, path
    return Path(spec).stem, spec


def _finish(
    out: Path,
    inputs: dict[str, str],
    seed: int | None,
    results: dict[str, Any],
    params: dict[str, Any],
) -> None:
    """Write `results.json` and run_info.json into `out`."""
    from shortcutlab.diagnostics.report import write_results

    write_results(
        out,
        results,
        command=["shortcutlab", *sys.argv[1:]],
        inputs=inputs,
        config=params,
        seed=seed,
    )


def _pts(x: float, lo: float | None = None, hi: float | None = None, scale: float = 100) -> str:
    if x != x:
        return "n/a"
    s = f"{scale * x:.1f}"
    if lo is not None and hi is not None and lo == lo and hi == hi:
        s += f" [{scale * lo:.1f}, {scale * hi:.1f}]"
    return s


def _print_table(
    title: str, columns: list[str], rows: list[list[str]], files: list[Path] | None = None
) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for c in columns:
        table.add_column(c)
    for r in rows:
        table.add_row(*[str(x) for x in r])
    con = Console()
    con.print(table)
    for f in files or []:
        con.print(f"wrote {f}", highlight=False)


def _csv(df: Any, path: Path) -> Path:
    from shortcutlab.diagnostics.report import write_csv

    return write_csv(df, path)


# ----------------------------------------------------------------------------- sfd

SFD_HELP = """Shortcut-Failure Degradation (Def. 3.1) of an MM-RM against a text-only proxy.

Pairs where the proxy is right (strictly) form the shortcut-success subset, the rest
(proxy wrong or tied) the shortcut-fail subset; SFD = MM-RM accuracy on success minus on
fail, in points, with a record-bootstrap 95% interval. Repeat the options (matched by
position) for several test sets. With --data the subsets are also written as data files.

Examples:

  shortcutlab sfd --mm-scores mm.jsonl --proxy-scores text.jsonl -o out/sfd

  shortcutlab sfd --mm-scores mm_povid.jsonl --proxy-scores t_povid.jsonl --data povid.jsonl
  --name povid --mm-scores mm_rlhfv.jsonl --proxy-scores t_rlhfv.jsonl --data rlhfv.jsonl
  --name rlhfv -o out/sfd

  shortcutlab sfd --mm-model runs/std --proxy-model runs/text --data test.jsonl -o out/sfd
"""


def sfd_cmd(
    output: Output,
    mm_scores: Annotated[
        list[str] | None, typer.Option("--mm-scores", help="MM-RM score table.")
    ] = None,
    proxy_scores: Annotated[
        list[str] | None, typer.Option("--proxy-scores", help="Text-only proxy score table.")
    ] = None,
    data: Annotated[list[str] | None, typer.Option("--data", help="The scored test file.")] = None,
    name: Annotated[list[str] | None, typer.Option("--name", help="Test set name.")] = None,
    mm_model: Annotated[str | None, typer.Option("--mm-model", help="Score --data first.")] = None,
    proxy_model: Annotated[str | None, typer.Option("--proxy-model", help="Text-only RM.")] = None,
    proxy_text_only: Annotated[
        str, typer.Option("--proxy-text-only", help="How the proxy sees no image: drop|blank.")
    ] = "drop",
    n_boot: NBoot = 1000,
    seed: Seed = 0,
) -> None:
    from shortcutlab.diagnostics.sfd import sfd_table
    from shortcutlab.plots import save_figure, sfd_bars

    data = data or []
    if mm_model or proxy_model:
        mm_scores, proxy_scores = _score_first(output, mm_model, proxy_model, data, proxy_text_only)
    mm_scores, proxy_scores = mm_scores or [], proxy_scores or []
    if not mm_scores or len(mm_scores) != len(proxy_scores):
        raise ConfigError(
            "give one --proxy-scores per --mm-scores (or --mm-model, --proxy-model and --data)."
        )
    if data and len(data) != len(mm_scores):
        raise ConfigError("give one --data per test set (or none).")
    stems = [Path(d).stem for d in data] if mm_model else [Path(m).stem for m in mm_scores]
    names = list(name or []) + stems[len(name or []) :]
    sets = list(zip(names, mm_scores, proxy_scores, data or [None] * len(names), strict=True))
    results, inputs, written = _sfd_all(sets, output, n_boot, seed)
    table = sfd_table(results)
    written += [_csv(table, output / "sfd.csv"), *save_figure(sfd_bars(table), output, "sfd")]
    _finish(output, inputs, seed, {"sfd": [r.to_dict() for r in results]}, _params())
    columns = ["test set", "SFD", "n success / fail", "acc success", "acc fail", "acc MM"]
    columns += ["acc proxy", "proxy ties"]
    _print_table("SFD (points, 95% CI)", columns, [_sfd_row(r) for r in results], written)


def _sfd_all(
    sets: list[tuple[str, str, str, str | None]], output: Path, n_boot: int, seed: int
) -> tuple[list[Any], dict[str, str], list[Path]]:
    """Def. 3.1 on each (name, mm table, proxy table, data file or None); write subsets."""
    from shortcutlab.diagnostics.sfd import sfd, write_subsets
    from shortcutlab.score_table import read_score_table

    results, inputs, written = [], {}, []
    for i, (name, mm, px, data) in enumerate(sets):
        tables = read_score_table(mm), read_score_table(px)
        res = sfd(*tables, name=name, n_boot=n_boot, seed=seed, files=(mm, px))
        results.append(res)
        inputs |= {f"mm_scores[{i}]": mm, f"proxy_scores[{i}]": px}
        if data:
            inputs[f"data[{i}]"] = data
        written += write_subsets(res, output / "subsets", data).values()
    return results, inputs, written


def _sfd_row(r: Any) -> list[str]:
    return [
        r.name,
        _pts(r.sfd, r.ci_low, r.ci_high, scale=1),
        f"{r.success.n_pairs} / {r.fail.n_pairs}",
        _pts(r.success.accuracy, r.success.ci_low, r.success.ci_high),
        _pts(r.fail.accuracy, r.fail.ci_low, r.fail.ci_high),
        _pts(r.mm.accuracy),
        _pts(r.proxy.accuracy),
        str(r.proxy.n_ties),
    ]


def _params() -> dict[str, Any]:
    """The invoked command's parameters (for run_info.json)."""
    import click

    ctx = click.get_current_context(silent=True)
    return dict(ctx.params) if ctx else {}


def _score_first(
    output: Path, mm_model: str | None, proxy_model: str | None, data: list[str], text_only: str
) -> tuple[list[str], list[str]]:
    """Score each --data file with both models (lazily imports shortcutlab.scoring)."""
    if not (mm_model and proxy_model and data):
        raise ConfigError("--mm-model needs --proxy-model and at least one --data.")
    if text_only not in ("drop", "blank"):
        raise ConfigError("--proxy-text-only must be 'drop' or 'blank'.")
    try:
        from shortcutlab.scoring import score
    except ImportError as exc:
        raise ConfigError(f"scoring is not available ({exc}); pass score tables.") from None
    mm_out, px_out = [], []
    for d in data:
        stem = Path(d).stem
        mm_out.append(str(output / "scores" / f"{stem}__mm.jsonl"))
        px_out.append(str(output / "scores" / f"{stem}__proxy.jsonl"))
        score(mm_model, d, mm_out[-1])
        score(proxy_model, d, px_out[-1], text_only=text_only)
    return mm_out, px_out


# ----------------------------------------------------------------------------- matrix

MATRIX_HELP = """Generalization matrix (Figure 1 / Table 5): i.i.d. and o.o.d. accuracy means.

Diagonal cells (trained and tested on the same environment) are i.i.d., the rest
o.o.d.; per training row, in-distribution = its diagonal cell and out-of-distribution =
the mean of its other cells. With two modes, a shortcut-aware minus standard panel is
added.

--from-accuracies: a CSV whose first column is the training environment, header row the
test environments, values in points; `MODE=FILE` names the mode (default: file stem).
--from-scores: a folder of score tables named `{mode}__{train_env}__{test_env}.jsonl`
(or .parquet), e.g. `standard__vlfeedback__povid.jsonl`.

Examples:

  shortcutlab matrix --from-accuracies standard=std.csv
  --from-accuracies shortcut-aware=sa.csv -o out/m

  shortcutlab matrix --from-scores runs/scores -o out/matrix

  shortcutlab matrix --study study.yaml -o out/matrix
"""


def matrix_cmd(
    output: Output,
    from_accuracies: Annotated[
        list[str] | None, typer.Option("--from-accuracies", help="[MODE=]accuracy CSV.")
    ] = None,
    from_scores: Annotated[
        Path | None, typer.Option("--from-scores", help="Folder of mode__train__test tables.")
    ] = None,
    study: Annotated[
        Path | None, typer.Option("--study", help="Study YAML: train, score, then matrix.")
    ] = None,
    n_boot: NBoot = 1000,
    seed: Seed = 0,
) -> None:
    from shortcutlab.diagnostics import matrix as mx
    from shortcutlab.plots import heatmaps, save_figure

    if sum(x is not None and x != [] for x in (from_accuracies, from_scores, study)) != 1:
        raise ConfigError("give exactly one of --from-accuracies, --from-scores, --study.")
    mats, inputs, written = _load_matrices(
        from_accuracies, from_scores, study, output, n_boot, seed
    )
    summaries = {m: mx.matrix_summary(mat) for m, mat in mats.items()}
    diff = mx.matrix_difference(mats)
    for mode, mat in mats.items():
        written.append(_csv(mat.reset_index(), output / f"matrix_{mode}.csv"))
    written.append(_csv(mx.summary_table(mats), output / "matrix_summary.csv"))
    fig = heatmaps(mats, diff, summaries=summaries)
    written += save_figure(fig, output, "matrix")
    results = {
        "summaries": summaries,
        "matrices": {m: mat.to_dict("index") for m, mat in mats.items()},
    }
    if diff is not None:
        results["difference"] = {"title": diff[0], "matrix": diff[1].to_dict("index")}
    _finish(output, inputs, seed, results, _params())
    rows = [
        [
            m,
            r["train_env"],
            f"{r['in_distribution']:.1f}",
            f"{r['out_of_distribution']:.1f}",
            f"{s['iid_mean']:.1f}",
            f"{s['ood_mean']:.1f}",
        ]
        for m, s in summaries.items()
        for r in s["rows"]
    ]
    _print_table(
        "Generalization matrix (points)",
        ["mode", "train env", "in-dist", "out-of-dist", "i.i.d. mean", "o.o.d. mean"],
        rows,
        written,
    )


def _load_matrices(
    from_accuracies: list[str] | None,
    from_scores: Path | None,
    study: Path | None,
    output: Path,
    n_boot: int,
    seed: int,
) -> tuple[dict[str, Any], dict[str, Any], list[Path]]:
    """({mode: matrix}, inputs for run_info, files written) from the one given source."""
    from shortcutlab.diagnostics import matrix as mx

    inputs: dict[str, Any] = {}
    if from_accuracies:
        mats = {}
        for spec in from_accuracies:
            mode, path = _named(spec)
            mats[mode] = mx.read_accuracy_csv(path)
            inputs[f"accuracies[{mode}]"] = path
        return mats, inputs, []
    if study is not None:
        inputs["study"] = str(study)
        folders = _run_study(study, output)
        mats, long = mx.matrix_from_seed_folders(folders, n_boot=n_boot, seed=seed)
    else:
        mats, long = mx.matrix_from_score_files(from_scores, n_boot=n_boot, seed=seed)
    inputs |= {f"scores[{Path(f).parent.name}/{Path(f).name}]": f for f in long["file"]}
    return mats, inputs, [_csv(long, output / "matrix_cells.csv")]


def _run_study(study: Path, output: Path) -> list[Path]:
    """Train + score the study's models (`shortcutlab.study.run_study`, which writes its
    own results under `output`); return its per-seed score folders (`scores/s*`)."""
    try:
        from shortcutlab.study import run_study
    except ImportError:
        raise ConfigError(
            "--study needs shortcutlab.study, which is not installed in this version; "
            "train and score the models, then use --from-scores."
        ) from None
    run_study(study, output)
    folders = sorted(p for p in (output / "scores").glob("s*") if p.is_dir())
    if not folders:
        raise ConfigError(f"the study wrote no score folders under {output / 'scores'}.")
    return folders


# ----------------------------------------------------------------------------- length

LENGTH_HELP = """Length bias (Section 3.5.1, Figure 5) and a length-balanced test subset.

Counts pairs whose chosen answer is longer / shorter / equal (unit stated: chars, words
or tokens of --tokenizer; --tolerance treats differences up to that many units as
equal), draws a seeded subset with equally many chosen-longer and rejected-longer pairs,
writes it, and compares the accuracy of each --scores table on the full and balanced
pairs. A length-only shortcut scores 50 on the balanced set.

Examples:

  shortcutlab length-balance test.jsonl -o out/len

  shortcutlab length-balance povid.parquet --unit tokens --tokenizer models/tiny-llava
  --scores text=text_scores.jsonl --scores mm=mm_scores.jsonl --seed 1 -o out/len
"""


def length_cmd(
    data: Annotated[str, typer.Argument(help="Preference data file (any supported schema).")],
    output: Output,
    scores: Annotated[
        list[str] | None, typer.Option("--scores", help="[NAME=]score table of this data.")
    ] = None,
    unit: Annotated[str, typer.Option("--unit", help="chars, words or tokens.")] = "words",
    tokenizer: Annotated[
        str | None, typer.Option("--tokenizer", help="Tokenizer folder for --unit tokens.")
    ] = None,
    tolerance: Annotated[float, typer.Option("--tolerance", help="Equal-length margin.")] = 0.0,
    schema: Annotated[str | None, typer.Option("--schema", help="Force a schema.")] = None,
    skip_invalid: Annotated[bool, typer.Option("--skip-invalid", help="Skip bad rows.")] = False,
    n_boot: NBoot = 1000,
    seed: Seed = 0,
) -> None:
    from shortcutlab.diagnostics.length import length_balance, write_balanced
    from shortcutlab.plots import length_bars, save_figure
    from shortcutlab.score_table import read_score_table

    named = [_named(s) for s in scores or []]
    tables = {n: read_score_table(p) for n, p in named}
    load_kw = {"schema": schema, "skip_invalid": skip_invalid}
    rep = length_balance(
        data,
        scores=tables,
        unit=unit,
        tokenizer=tokenizer,
        tolerance=tolerance,
        seed=seed,
        n_boot=n_boot,
        load_kw=load_kw,
        files=dict(named),
    )
    written = list(write_balanced(rep, data, output, load_kw=load_kw).values())
    written.append(_csv(rep.accuracies, output / "length_accuracy.csv"))
    stats = rep.stats.to_dict()
    written += save_figure(length_bars(stats, rep.accuracies), output, "length")
    results = {
        "length": stats,
        "balanced_pairs": len(rep.balanced),
        "accuracies": rep.accuracies.to_dict("records"),
    }
    _finish(
        output, {"data": data} | {f"scores[{n}]": p for n, p in named}, seed, results, _params()
    )
    _print_table(
        f"Length balance (length in {stats['unit']})",
        ["", "pair set", "pairs", "share %", "accuracy"],
        _length_rows(stats, len(rep.balanced), rep.accuracies.to_dict("records")),
        written,
    )


def _length_rows(stats: dict[str, Any], n_balanced: int, accs: list[dict]) -> list[list[str]]:
    rows = [["all pairs", "", str(stats["n_pairs"]), "", ""]]
    for label, key in (
        ("chosen longer", "chosen_longer"),
        ("rejected longer", "rejected_longer"),
        ("equal length", "equal"),
    ):
        rows.append([label, "", str(stats[key]), _pts(stats[f"share_{key}"]), ""])
    rows.append(["balanced subset", "", str(n_balanced), "", ""])
    for r in accs:
        acc = _pts(r["accuracy"], r["ci_low"], r["ci_high"])
        rows.append([r["model"], r["pair_set"], str(r["n_pairs"]), "", acc])
    return rows


# ----------------------------------------------------------------------------- bon

BON_HELP = """Best-of-N with the unbiased estimator of Appendix H, N = 1..n.

For each prompt, answers are sorted by reward ascending (ties: the lower response_index
ranks higher) and the judge score of answer i gets weight C(i-1, N-1) / C(n, N). The
judge table has columns id, response_index, score; reward tables follow the score-table
contract. One curve per --rewards table.

Examples:

  shortcutlab bon --judge judge.jsonl --rewards std=std.jsonl --rewards sa=sa.jsonl -o out/bon

  shortcutlab bon --judge gpt4_scores.parquet --rewards rm.parquet --max-n 64 -o out/bon
"""


def bon_cmd(
    output: Output,
    judge: Annotated[str, typer.Option("--judge", help="Judge table: id, response_index, score.")],
    rewards: Annotated[list[str], typer.Option("--rewards", help="[NAME=]reward score table.")],
    max_n: Annotated[int | None, typer.Option("--max-n", help="Largest N.")] = None,
) -> None:
    from shortcutlab.diagnostics.bon import bon_curves
    from shortcutlab.plots import bon_plot, save_figure
    from shortcutlab.score_table import JUDGE_REQUIRED, read_score_table

    named = [_named(s) for s in rewards]
    jt = read_score_table(judge, required=JUDGE_REQUIRED)
    curves = bon_curves(
        {n: read_score_table(p) for n, p in named},
        jt,
        max_n=max_n,
        judge_file=judge,
        reward_files=dict(named),
    )
    written = [_csv(curves, output / "bon.csv"), *save_figure(bon_plot(curves), output, "bon")]
    _finish(
        output,
        {"judge": judge} | {f"rewards[{n}]": p for n, p in named},
        None,
        {"curves": curves.to_dict("records")},
        _params(),
    )
    wide = curves.pivot(index="N", columns="model", values="expected_score")
    rows = [[str(n), *[f"{v:.3f}" for v in wide.loc[n]]] for n in wide.index]
    _print_table(
        "Best-of-N expected judge score (App. H)", ["N", *map(str, wide.columns)], rows, written
    )


# ----------------------------------------------------------------------------- correlate

CORR_HELP = """Correlation of MM-RM rewards with text-only proxy rewards (Figure 3).

Pearson and Spearman coefficients over the answers of one test set (--level responses)
or over pair margins r(a+) - r(a-) (--level margins), plus a scatter plot.

Examples:

  shortcutlab correlate --mm-scores mm.jsonl --proxy-scores text.jsonl -o out/corr

  shortcutlab correlate --mm-scores mm.parquet --proxy-scores text.parquet --level margins -o out/c
"""


def correlate_cmd(
    output: Output,
    mm_scores: Annotated[str, typer.Option("--mm-scores", help="MM-RM score table.")],
    proxy_scores: Annotated[str, typer.Option("--proxy-scores", help="Proxy score table.")],
    level: Annotated[str, typer.Option("--level", help="responses or margins.")] = "responses",
) -> None:
    from shortcutlab.diagnostics.correlation import correlate, correlation_points
    from shortcutlab.plots import save_figure, score_scatter
    from shortcutlab.score_table import read_score_table

    pts = correlation_points(
        read_score_table(mm_scores),
        read_score_table(proxy_scores),
        level=level,
        files=(mm_scores, proxy_scores),
    )
    res = correlate(pts, level)
    fig = score_scatter(pts, pearson=res.pearson, spearman=res.spearman, level=level)
    written = [
        _csv(pts, output / "correlation_points.csv"),
        *save_figure(fig, output, "correlation"),
    ]
    _finish(
        output,
        {"mm_scores": mm_scores, "proxy_scores": proxy_scores},
        None,
        {"correlation": res.to_dict()},
        _params(),
    )
    _print_table(
        f"MM vs proxy rewards ({level})",
        ["n", "Pearson", "p", "Spearman", "p"],
        [
            [
                res.n,
                f"{res.pearson:.3f}",
                f"{res.pearson_p:.2g}",
                f"{res.spearman:.3f}",
                f"{res.spearman_p:.2g}",
            ]
        ],
        written,
    )


def register(app: typer.Typer) -> None:
    """Add the top-level diagnostics commands to the `shortcutlab` app."""
    app.command("sfd", help=SFD_HELP)(sfd_cmd)
    app.command("matrix", help=MATRIX_HELP)(matrix_cmd)
    app.command("length-balance", help=LENGTH_HELP)(length_cmd)
    app.command("bon", help=BON_HELP)(bon_cmd)
    app.command("correlate", help=CORR_HELP)(correlate_cmd)
