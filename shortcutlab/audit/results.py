"""Audit results: accuracies, shortcut features, the proxy score table and SFD.

Every accuracy is Eq. 2 (strict; ties wrong and counted) with the record-resampled
bootstrap interval of `shortcutlab.diagnostics.accuracy`; the chance level of a pair is
0.5. `proxy_score_table` writes the text regression's rewards in the score-table contract
(`shortcutlab.score_table`), so `shortcutlab sfd --proxy-scores` reads it as is.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from shortcutlab.audit.features import pair_matrix
from shortcutlab.audit.proxies import DESCRIPTIONS, LR_NAME
from shortcutlab.audit.run import AuditResult
from shortcutlab.diagnostics.accuracy import AccuracyResult, pairwise_accuracies
from shortcutlab.diagnostics.sfd import SFDResult, sfd
from shortcutlab.score_table import record_rows, to_frame

CHANCE = 0.5  # a coin flip per pair
FEATURE_COLUMNS = [
    "rank",
    "feature",
    "kind",
    "weight",
    "importance",
    "favours",
    "n_pairs",
    "n_pairs_with_label",
    "example_1",
    "example_2",
]


def pairs_frame(result: AuditResult, proxy: str, mask: np.ndarray | None = None) -> pd.DataFrame:
    """(id, better_index, worse_index, r_better, r_worse) of the audited pairs under `proxy`."""
    ps, r = result.data, result.rewards[proxy]
    b, w = ps.local()
    df = pd.DataFrame(
        {
            "id": ps.ids(),
            "better_index": b,
            "worse_index": w,
            "r_better": r[ps.better],
            "r_worse": r[ps.worse],
        }
    )
    return df if mask is None else df[mask].reset_index(drop=True)


def accuracies(result: AuditResult, mask: np.ndarray | None = None) -> dict[str, AccuracyResult]:
    """Eq. 2 accuracy with a 95% record-bootstrap interval of every proxy (optionally a subset).

    All proxies score the same pairs, so the record resampling is drawn once for all of
    them (`pairwise_accuracies`; the same intervals as one bootstrap per proxy).
    """
    cfg = result.config
    tables = {name: pairs_frame(result, name, mask) for name in result.proxies}
    return pairwise_accuracies(tables, n_boot=cfg.n_boot, seed=cfg.seed)


def group_accuracies(result: AuditResult) -> dict[str, dict[str, Any]]:
    """Per value of the --group-by column: records, pairs and every proxy's accuracy."""
    if result.groups is None:
        return {}
    pair_groups = result.groups[result.data.rec]  # (P,)
    out: dict[str, dict[str, Any]] = {}
    for value in sorted(set(pair_groups)):
        mask = pair_groups == value
        out[str(value)] = {
            "records": int(len(np.unique(result.data.rec[mask]))),
            "pairs": int(mask.sum()),
            "proxies": {k: v.to_dict() for k, v in accuracies(result, mask).items()},
        }
    return out


def macro_average(groups: dict[str, dict[str, Any]], proxy: str) -> float:
    """Mean over groups of one proxy's accuracy (each group weighs the same)."""
    vals = [g["proxies"][proxy]["accuracy"] for g in groups.values()]
    return float(np.mean(vals)) if vals else float("nan")


# ----------------------------------------------------------------------------- features


def feature_table(result: AuditResult, top: int = 50) -> pd.DataFrame:
    """The regression's most important features on the audited pairs.

    importance = |weight| * RMS of the feature's pair difference (the logit change it
    makes on a typical audited pair); `favours` = which side the feature pushes toward
    ("more wins": responses with more of it are preferred); `n_pairs` = pairs whose two
    responses differ in it; `n_pairs_with_label` = of those, pairs where it points to
    the chosen response; two example pair ids where it does.
    """
    ps, model = result.data, result.model
    rows = result.rows if result.rows is not None else model.featurizer.transform(ps.texts)
    x = pair_matrix(rows, ps.better, ps.worse).tocsc()  # (P, F)
    info = model.featurizer.info()
    rms = np.sqrt(np.asarray(x.multiply(x).mean(axis=0)).ravel())  # (F,)
    importance = np.abs(model.coef) * rms
    order = [j for j in np.argsort(-importance, kind="stable") if importance[j] > 0][:top]
    pair_ids = ps.pair_ids()
    rows = []
    for rank, j in enumerate(order, start=1):
        col = x.getcol(j)
        nz, vals = col.indices, col.data  # pairs where the feature differs, and by how much
        with_label = nz[model.coef[j] * vals > 0]
        examples = [pair_ids[i] for i in with_label[:2]]
        rows.append(
            {
                "rank": rank,
                "feature": info.names[j],
                "kind": info.kinds[j],
                "weight": float(model.coef[j]),
                "importance": float(importance[j]),
                "favours": "more wins" if model.coef[j] > 0 else "less wins",
                "n_pairs": int(len(nz)),
                "n_pairs_with_label": int(len(with_label)),
                "example_1": examples[0] if examples else "",
                "example_2": examples[1] if len(examples) > 1 else "",
            }
        )
    return pd.DataFrame(rows, columns=FEATURE_COLUMNS)


def feature_figure(features: pd.DataFrame, top: int = 20) -> Any:
    """Horizontal bars of the top features' signed weights (green: more wins)."""
    from shortcutlab.plots import _plt  # matplotlib is imported only when a figure is drawn

    plt = _plt()
    part = features.head(top).iloc[::-1]
    fig, ax = plt.subplots(figsize=(7, 0.32 * max(len(part), 3) + 1.2))
    colours = ["#2a9d8f" if w > 0 else "#e76f51" for w in part["weight"]]
    labels = [f"{f}  (n={n})" for f, n in zip(part["feature"], part["n_pairs"], strict=True)]
    ax.barh(range(len(part)), part["weight"], color=colours)
    ax.set_yticks(range(len(part)), labels, fontsize=8)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel("weight (logit per unit difference; > 0: more of it wins)")
    ax.set_title("Text-only features that predict the label (cheap proxy)")
    return fig


# ----------------------------------------------------------------------------- tables


def proxy_score_table(result: AuditResult, proxy: str = LR_NAME) -> pd.DataFrame:
    """Score table of `proxy` (one row per response, the contract's columns) plus
    `shortcut_success`: the proxy's right/wrong on the record's pair (records with one
    pair), or null for multi-pair records (see `proxy_pairs_table`)."""
    ps, r = result.data, result.rewards[proxy]
    rows: list[dict[str, Any]] = []
    success = _pair_success(result, proxy)
    n_pairs = np.bincount(ps.rec, minlength=len(ps.records))
    by_rec = dict(zip(ps.rec.tolist(), success.tolist(), strict=True))
    for i, rec in enumerate(ps.records):
        s = int(ps.start[i])
        flag = by_rec[i] if n_pairs[i] == 1 else None
        for row in record_rows(rec, r[s : s + len(rec.responses)]):
            rows.append({**row, "shortcut_success": flag})
    df = to_frame(rows, ps.records)
    flags = {(row["id"], row["response_index"]): row["shortcut_success"] for row in rows}
    df["shortcut_success"] = [flags[k] for k in zip(df["id"], df["response_index"], strict=True)]
    return df


def _pair_success(result: AuditResult, proxy: str) -> np.ndarray:
    r, ps = result.rewards[proxy], result.data
    return r[ps.better] > r[ps.worse]  # (P,) strict: a tie is a shortcut failure


def proxy_pairs_table(result: AuditResult, proxy: str = LR_NAME) -> pd.DataFrame:
    """One row per audited pair: ids, the proxy's margin b and its shortcut_success flag."""
    df = pairs_frame(result, proxy)
    df.insert(1, "pair_id", result.data.pair_ids())
    df["margin"] = df["r_better"] - df["r_worse"]
    df["shortcut_success"] = _pair_success(result, proxy)
    if result.groups is not None:
        df["group"] = result.groups[result.data.rec]
    return df.drop(columns=["r_better", "r_worse"])


def sfd_against(
    result: AuditResult, mm: pd.DataFrame, mm_file: str | None = None
) -> dict[str, SFDResult]:
    """Def. 3.1 SFD of the MM-RM score table `mm` against each cheap proxy."""
    cfg = result.config
    out = {}
    for name in result.proxies:
        table = proxy_score_table(result, name).drop(columns="shortcut_success")
        out[name] = sfd(
            mm,
            table,
            name=name,
            n_boot=cfg.n_boot,
            seed=cfg.seed,
            files=(mm_file, f"audit proxy {name}"),
        )
    return out


def summary(
    result: AuditResult,
    accs: dict[str, AccuracyResult],
    groups: dict[str, dict[str, Any]],
    features: pd.DataFrame,
    sfds: dict[str, SFDResult] | None,
) -> dict[str, Any]:
    """The audit.json content."""
    ps, cfg = result.data, result.config
    proxies = {
        k: {"description": DESCRIPTIONS[k], **v.to_dict(), "chance": CHANCE}
        for k, v in accs.items()
    }
    out: dict[str, Any] = {
        "proxy_note": "cheap text-only proxies (no VLM); the paper's proxy is a trained "
        "text-only reward model, which these approximate",
        "mode": result.mode,
        "records": len(ps.records),
        "pairs": ps.n_pairs,
        "responses": len(ps.texts),
        "chance": CHANCE,
        "proxies": proxies,
        "score_table_proxy": LR_NAME,
        "top_features": features.head(10).to_dict(orient="records"),
        "config": cfg.to_dict(),
    }
    if result.train is not None:
        out["train_records"], out["train_pairs"] = len(result.train.records), result.train.n_pairs
    if groups:
        out["group_by"] = cfg.group_by
        out["groups"] = groups
        out["macro_average"] = {k: macro_average(groups, k) for k in result.proxies}
    if sfds is not None:
        out["sfd"] = {k: v.to_dict() for k, v in sfds.items()}
    return out
