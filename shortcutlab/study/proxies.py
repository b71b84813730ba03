"""The fixed text-only proxy of a study's `static` objective (JTT-style upweighting).

JTT (Liu et al., 2021) trains an identification model first and upweights the training
pairs it gets wrong. Here the identification model is `shortcutlab audit`'s text-only
regression, cross-validated on the environment's training file (each record scored by a
fit on the other folds, so it cannot memorise the pair it scores): CPU seconds instead
of a second GPU run, and it reads the text only, exactly the shortcut the upweighting
targets. The score table goes to `out/proxies/{env}/proxy_scores.jsonl` (the score-table
contract `TrainConfig.static_weights` reads) and is cached like every study cell.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from shortcutlab.audit.results import proxy_pairs_table, proxy_score_table
from shortcutlab.audit.run import run_audit
from shortcutlab.data.schemas import load_dataset_file
from shortcutlab.score_table import write_score_table
from shortcutlab.study.cache import Cells, fingerprint, source_digest
from shortcutlab.study.spec import StudyEnv

PROXY_KIND = "audit text_lr, 5-fold cross-validated, seed 0"


def cheap_proxy_table(env: StudyEnv, out: Path, cells: Cells, say: Callable[[str], None]) -> Path:
    """The cheap proxy's score table of `env.train` (computed once, then cached)."""
    path = out / "proxies" / env.name / "proxy_scores.jsonl"
    fp = fingerprint([PROXY_KIND, source_digest(env.train)])
    key = f"proxy__{env.name}"
    if cells.get(key, fp) is not None and path.is_file():
        return path
    t0 = time.time()
    records = load_dataset_file(env.train, images="ignore").records
    result = run_audit(records, data_name=env.train)
    table = proxy_score_table(result)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_score_table(table, path)
    success = proxy_pairs_table(result)["shortcut_success"].astype(bool)  # (P,)
    wrong = int((~success).sum())
    cells.put(key, fp, {"file": str(path), "kind": PROXY_KIND, "pairs_wrong": wrong})
    say(
        f"cheap proxy for static upweighting on {env.name}: wrong on {wrong} of "
        f"{len(success)} training pairs ({time.time() - t0:.1f} s)"
    )
    return path
