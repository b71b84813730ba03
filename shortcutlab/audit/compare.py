"""Cheap proxy vs trained text-only RM: SFD from each, on a study's reward models.

For a finished study (`shortcutlab.study`, e.g. the demo's `OUT/study`), per seed, mode,
training environment and test set (every environment's test split and the training
environment's shift split): SFD (Def. 3.1) of the mode's reward model against the
study's trained text-only RM (`text-only` score tables) and against the cheap `text_lr`
proxy fit on the same training file. Shows how close the approximation is.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shortcutlab.audit.proxies import LR_NAME, TextLR, fit_text_lr, pair_set
from shortcutlab.audit.results import proxy_score_table
from shortcutlab.audit.run import AuditConfig, run_audit
from shortcutlab.data.schemas import load_dataset_file
from shortcutlab.diagnostics.sfd import sfd
from shortcutlab.errors import ConfigError
from shortcutlab.objectives import TEXT_ONLY as TEXT_MODE  # the study's text-only RMs
from shortcutlab.score_table import read_score_table


def _score_path(study: Path, seed: int, mode: str, train: str, test: str, shift: bool) -> Path:
    folder = study / "scores" / f"s{seed}" / ("shift" if shift else "")
    return folder / f"{mode}__{train}__{test}.jsonl"


def compare_with_study(study_dir: str | Path, *, n_boot: int = 1000) -> pd.DataFrame:
    """One row per (seed, mode, train env, test set) with both SFDs and proxy accuracies.

    Columns: seed, mode, train_env, test_env, split ("iid" / "ood" / "shift"), pairs,
    sfd_trained, sfd_cheap (points), acc_trained_proxy, acc_cheap_proxy (fractions),
    split_agreement (share of pairs both proxies put in the same subset). Cells whose
    score tables are missing are left out.
    """
    study = Path(study_dir)
    spec_file = study / "study.json"
    if not spec_file.is_file():
        raise ConfigError(f"{spec_file} not found: pass a finished study's output folder.")
    spec = json.loads(spec_file.read_text(encoding="utf-8"))
    envs = {e["name"]: e for e in spec["environments"]}
    modes = [m for m in spec["modes"] if m != TEXT_MODE]
    rows: list[dict[str, Any]] = []
    cfg = AuditConfig(n_boot=n_boot)
    kw = {"ngram_max": cfg.ngram_max, "c": cfg.c, "max_features": cfg.max_features}
    for train_env, env in envs.items():
        train = load_dataset_file(env["train"], images="ignore").records
        fitted = fit_text_lr(pair_set(train, where=env["train"]), **kw)  # once per train file
        tests = [(t, e["test"], False) for t, e in envs.items()]
        tests += [(train_env, env["shift"], True)] if env.get("shift") else []
        for test_env, test_file, shift in tests:
            cheap = _cheap_table(train, test_file, cfg, fitted)
            for seed in spec["seeds"]:
                for mode in modes:
                    args = (study, seed, mode, train_env, test_env, shift)
                    row = _cell(args, cheap, n_boot)
                    if row is not None:
                        split = "shift" if shift else ("iid" if test_env == train_env else "ood")
                        key = {"seed": seed, "mode": mode, "train_env": train_env}
                        rows.append(key | {"test_env": test_env, "split": split, **row})
    return pd.DataFrame(rows)


def _cheap_table(
    train: list[Any], test_file: str, cfg: AuditConfig, fitted: TextLR
) -> pd.DataFrame:
    test = load_dataset_file(test_file, images="ignore").records
    res = run_audit(test, train, cfg, fitted=fitted)
    return proxy_score_table(res, LR_NAME).drop(columns="shortcut_success")


def _cell(args: tuple, cheap: pd.DataFrame, n_boot: int) -> dict[str, Any] | None:
    study, seed, mode, train_env, test_env, shift = args
    mm_path = _score_path(study, seed, mode, train_env, test_env, shift)
    px_path = _score_path(study, seed, TEXT_MODE, train_env, test_env, shift)
    if not (mm_path.is_file() and px_path.is_file()):
        return None
    mm, trained = read_score_table(mm_path), read_score_table(px_path)
    a = sfd(mm, trained, n_boot=n_boot, files=(str(mm_path), str(px_path)))
    b = sfd(mm, cheap, n_boot=n_boot, files=(str(mm_path), "cheap proxy"))
    key = ["id", "better_index", "worse_index"]
    both = a.pairs[[*key, "proxy_correct"]].merge(b.pairs[[*key, "proxy_correct"]], on=key)
    agree = float(np.mean(both["proxy_correct_x"] == both["proxy_correct_y"]))
    return {
        "pairs": a.mm.n_pairs,
        "sfd_trained": a.sfd,
        "sfd_cheap": b.sfd,
        "acc_trained_proxy": a.proxy.accuracy,
        "acc_cheap_proxy": b.proxy.accuracy,
        "split_agreement": agree,
    }
