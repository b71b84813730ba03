"""The study runner: train reward models per environment and mode, score each on every
test set, then compute the generalization matrix (Fig. 1 / Table 5), SFD (Def. 3.1) and
the rest (`shortcutlab.study.results`).

What to run is a `Study` (`shortcutlab.study.spec`). Everything is cached under
`out_dir` (`shortcutlab.study.cache`): each finished cell (one training run, one score
table) writes a done-marker atomically, holding a fingerprint of what produced it; a
rerun skips every cell whose marker matches and redoes only what is missing or changed.
Diagnostics are recomputed each time (they read score tables only and take seconds).

Layout of out_dir:
    study.json                     the resolved study
    runs/s{seed}/{mode}__{env}/    training run folders (model/, proxy/, metrics.jsonl)
    scores/s{seed}/{mode}__{train_env}__{test_env}.jsonl  (diagnostics.matrix naming;
                                   mode `text-only` = the text-only models)
    scores/s{seed}/shift/...       the same models on each environment's shift split
    .done/                         one JSON done-marker per finished cell
    results/                       CSV / JSON / PNG written by `shortcutlab.study.results`

    result = run_study("study.yaml", "out/study")
    result.summary["matrix"], result.scores_dir
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shortcutlab.config import TrainConfig
from shortcutlab.errors import ConfigError
from shortcutlab.files import atomic_write_text
from shortcutlab.html import write_index
from shortcutlab.modeling.source import resolve_model_source
from shortcutlab.objectives import STATIC, cell_label, label_mode
from shortcutlab.progress import Reporter, quieted
from shortcutlab.progress import say as stage_line
from shortcutlab.run_folder import RunFolder
from shortcutlab.scoring import score
from shortcutlab.scoring.engine import saved_text_only
from shortcutlab.study.cache import Cells, fingerprint, source_digest
from shortcutlab.study.parallel import run_parallel
from shortcutlab.study.proxies import cheap_proxy_table
from shortcutlab.study.results import write_results
from shortcutlab.study.spec import TEXT_MODE, Study, StudyEnv, load_study
from shortcutlab.study.spec import run_dir as study_run_dir
from shortcutlab.text_only import TEXT_ONLY_MODES, choices, is_mode
from shortcutlab.training import train

Say = Callable[[str], None]  # one progress line
DEFAULT_TRAIN = {"progress": True, "tensorboard": False}  # progress: not in fingerprints


# ----------------------------------------------------------------------------- cells


@dataclass
class Model:
    """A trained model of the study: which run, where its folder is, how it is scored."""

    mode: str  # standard | shortcut-aware | text-only (incl. proxies)
    env: str
    seed: int
    path: Path
    fingerprint: str
    text_only: str | None = None


def _train_cell(
    study: Study,
    env: StudyEnv,
    mode: str,
    seed: int,
    out: Path,
    cells: Cells,
    base_fp: str,
    say: Say,
) -> dict[str, Any]:
    """Train one (mode, env, seed) run unless its done-marker matches; returns the marker.

    `mode` is a cell label (`Study.train_modes`): `shortcut-aware-poe` trains mode
    shortcut-aware with objective poe."""
    run_dir = study_run_dir(out, seed, mode, env.name)
    train_mode, objective = label_mode(mode)
    extra: dict[str, Any] = {"objective": objective} if objective else {}
    table_fp: list[str] = []
    if objective == STATIC:  # JTT-style: the cheap proxy's errors on the training file
        table = cheap_proxy_table(env, out, cells, say)
        extra = {"static_weights": str(table), "upweight": study.upweight}
        table_fp = [source_digest(table)]
    values = {
        **DEFAULT_TRAIN,
        **study.train,
        **extra,
        "mode": train_mode,
        "model": study.base_model,
        "data": env.train,
        "output_dir": str(run_dir),
        "seed": seed,
        **({"probe_data": env.test} if study.probe else {}),
    }
    cfg = TrainConfig.from_dict(values, source=f"study train options ({mode}, {env.name})")
    fp_src = {k: v for k, v in cfg.cache_dict().items() if k not in ("output_dir", "progress")}
    fp = fingerprint([fp_src, base_fp, source_digest(env.train), *table_fp])
    key = f"train__s{seed}__{mode}__{env.name}"
    done = cells.get(key, fp)
    if done is not None and RunFolder(run_dir).model.is_dir():
        return done
    if run_dir.exists():  # a crashed or outdated run: start it again
        shutil.rmtree(run_dir)
    t0 = time.time()
    trained = train(cfg, command=["shortcutlab-study", study.name, key])
    cells.ran["train"] += 1
    result = {
        "model": str(RunFolder(run_dir).model),
        "proxy": trained.proxy_dir,
        "seconds": round(time.time() - t0, 1),
        "steps": trained.steps,
    }
    cells.put(key, fp, result)
    say(
        f"trained {mode} on {env.name} (seed {seed}, {result['steps']} steps, "
        f"{result['seconds']} s)"
    )
    return cells.get(key, fp) or {"fingerprint": fp, "result": result}


def trained_models(
    study: Study, out: Path, cells: Cells, say: Say, *, only: tuple[int, str] | None = None
) -> list[Model]:
    """Train every missing run; the models to score (MM models and text-only models).
    `only=(seed, env)`: just that unit's runs (`shortcutlab.study.parallel`)."""
    base_fp = source_digest(study.base_model)
    text_mode = study.train.get("text_only", "drop")
    # the text-only models come from the first shortcut-aware cell's proxy/ (every
    # objective trains its proxy with the same mean(L_t) term)
    proxy_label = cell_label(study.proxy_objective or "sfc")
    models: list[Model] = []
    for seed in study.seeds:
        for env in study.environments:
            if only is not None and only != (seed, env.name):
                continue
            for mode in study.train_modes:
                done = _train_cell(study, env, mode, seed, out, cells, base_fp, say)
                res, fp = done["result"], done["fingerprint"]
                is_text = mode == TEXT_MODE
                models.append(
                    Model(
                        mode, env.name, seed, Path(res["model"]), fp, text_mode if is_text else None
                    )
                )
                if mode == proxy_label and study.proxy_from_runs:
                    if not res.get("proxy"):
                        raise ConfigError(f"shortcut-aware run {env.name} has no proxy/ folder.")
                    models.append(
                        Model(
                            TEXT_MODE, env.name, seed, Path(res["proxy"]), fp + "/proxy", text_mode
                        )
                    )
    return models


def score_file(out: Path, m: Model, test_env: str, *, shift: bool = False) -> Path:
    """Where the scores of model `m` on `test_env` live (diagnostics.matrix naming)."""
    folder = out / "scores" / f"s{m.seed}" / ("shift" if shift else "")
    return folder / f"{m.mode}__{m.env}__{test_env}.jsonl"


def _score_cell(
    study: Study, m: Model, test: StudyEnv, out: Path, cells: Cells, say: Say, *, shift: bool
) -> Path:
    """Score model `m` on a test set unless its done-marker matches."""
    data = test.shift if shift else test.test
    path = score_file(out, m, test.name, shift=shift)
    opts = {**{"batch_size": 32}, **study.score, "text_only": m.text_only}
    fp = fingerprint([m.fingerprint, source_digest(data), opts])
    key = f"score__s{m.seed}__{m.mode}__{m.env}__{test.name}" + ("__shift" if shift else "")
    if cells.get(key, fp) is not None and path.is_file():
        return path
    what = f"score {m.mode} {m.env} s{m.seed} on {test.name}" + (" shift" if shift else "")
    with Reporter(what, None, "records") as bar:
        result = score(
            str(m.path),
            data,
            str(path),
            environment=test.name,
            overwrite=True,
            progress=bar.update,
            **opts,
        )
    cells.ran["score"] += 1
    acc = result.summary()["accuracy"] or {}
    cells.put(key, fp, {"file": str(path), "accuracy": acc.get("accuracy")})
    what = f"{test.name} shift" if shift else test.name
    say(
        f"scored {m.mode} ({m.env}, seed {m.seed}) on {what}: "
        f"acc {acc.get('accuracy', float('nan')):.3f}"
    )
    return path


def score_all(study: Study, models: list[Model], out: Path, cells: Cells, say: Say) -> None:
    """Every model on every environment's test set, and on its own environment's shift."""
    for m in models:
        for test in study.environments:
            _score_cell(study, m, test, out, cells, say, shift=False)
            if test.shift and test.name == m.env:
                _score_cell(study, m, test, out, cells, say, shift=True)


# ----------------------------------------------------------------------------- entry


@dataclass(frozen=True)
class StudyResult:
    """What `run_study` did: the summary (also `results/summary.json`) and where it is.

    `summary` holds the accuracy matrices and their i.i.d./o.o.d. means per mode (mean
    and per seed), SFD of every o.o.d. cell, shift accuracies, correlations, length
    balance, the files written, `ran` and `scores_dir` (as written to summary.json).
    """

    out_dir: Path
    summary: dict[str, Any]
    seeds: tuple[int, ...]

    @property
    def ran(self) -> dict[str, int]:
        """Cells actually run this time ({"train": n, "score": n}; 0 on a cached rerun)."""
        return self.summary["ran"]

    @property
    def scores_dir(self) -> Path:
        """The first seed's score folder (`diagnostics.matrix` reads it)."""
        return self.out_dir / "scores" / f"s{self.seeds[0]}"

    @property
    def results_dir(self) -> Path:
        """The CSV / JSON / PNG files of the diagnostics."""
        return self.out_dir / "results"

    def score_folders(self) -> list[Path]:
        """Every seed's score folder (`scores/s*`), in name order."""
        return sorted(p for p in (self.out_dir / "scores").glob("s*") if p.is_dir())


def run_unit(study: Study, out: Path, seed: int, env: str, *, progress: bool) -> dict[str, int]:
    """Train and score one (seed, environment) unit: its runs, each scored on every test
    set (a worker's job in `shortcutlab.study.parallel`); returns the cells it ran."""
    cells = Cells(out)
    say = printer(progress)
    with quieted(not progress):
        models = trained_models(study, out, cells, say, only=(seed, env))
        score_all(study, models, out, cells, say)
    return dict(cells.ran)


def run_study(
    study_yaml_or_dict: str | Path | dict[str, Any] | Study,
    out_dir: str | Path,
    *,
    progress: bool = True,
    workers: int = 1,
    html: bool = True,
) -> StudyResult:
    """Train what is missing, score every model on every test set, write the diagnostics
    (`out_dir/results/`, `summary.json` among them). `workers` > 1 runs the (seed,
    environment) units in that many processes first (`shortcutlab.study.parallel`); `html`:
    the page `out_dir/index.html` (`shortcutlab.html`)."""
    study = load_study(study_yaml_or_dict)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "study.json", json.dumps(study.to_dict(), indent=2) + "\n")
    say = printer(progress)
    cells = Cells(out)
    if workers > 1:
        for kind, n in run_parallel(study, out, workers, progress=progress, unit=run_unit).items():
            cells.ran[kind] += n
    with quieted(not progress):  # the cells' step / batch progress too
        models = trained_models(study, out, cells, say)
        score_all(study, models, out, cells, say)
    summary = write_results(study, out, say=say)
    summary["ran"] = dict(cells.ran)
    summary["scores_dir"] = str(out / "scores" / f"s{study.seeds[0]}")
    atomic_write_text(
        out / "results" / "summary.json", json.dumps(summary, indent=2, default=str) + "\n"
    )
    write_index(out, enabled=html)
    return StudyResult(out_dir=out, summary=summary, seeds=tuple(study.seeds))


def study_score_folders(study: str | Path | dict[str, Any] | Study, out_dir: Path) -> list[Path]:
    """Run the study (cached) and return its per-seed score folders (`matrix --study`)."""
    result = run_study(study, out_dir)
    folders = result.score_folders()
    if not folders:
        raise ConfigError(f"the study wrote no score folders under {out_dir / 'scores'}.")
    return folders


def score_mm_and_proxy(
    mm_model: str | None,
    proxy_model: str | None,
    data: list[str],
    out_dir: Path,
    *,
    text_only: str | None = None,
    overwrite: bool = False,
) -> tuple[list[str], list[str]]:
    """Score each data file with an MM-RM and with a text-only proxy RM (`sfd --mm-model`).

    Writes `out_dir/{stem}__mm.jsonl` and `{stem}__proxy.jsonl` per file (the proxy sees
    no image: `text_only` is drop or blank; None: the proxy's saved mode, else drop);
    returns the two lists of score-table paths.
    A rerun with the same models and data reuses the tables; with changed ones it is
    refused (naming what changed) unless `overwrite`.
    """
    if not (mm_model and proxy_model and data):
        raise ConfigError("--mm-model needs --proxy-model and at least one --data.")
    if not is_mode(text_only):
        raise ConfigError(f"--proxy-text-only must be {choices(TEXT_ONLY_MODES)}.")
    mm_model, proxy_model = resolve_model_source(mm_model), resolve_model_source(proxy_model)
    text_only = text_only or saved_text_only(proxy_model) or "drop"
    mm_out, px_out = [], []
    for d in data:
        stem = Path(d).stem
        mm_out.append(str(out_dir / f"{stem}__mm.jsonl"))
        px_out.append(str(out_dir / f"{stem}__proxy.jsonl"))
        with Reporter(f"score {stem} (MM-RM)", None, "records") as bar:
            score(mm_model, d, mm_out[-1], overwrite=overwrite, progress=bar.update)
        with Reporter(f"score {stem} (proxy)", None, "records") as bar:
            score(
                proxy_model,
                d,
                px_out[-1],
                text_only=text_only,
                overwrite=overwrite,
                progress=bar.update,
            )
    return mm_out, px_out


def printer(progress: bool) -> Say:
    """A `say` that prints one stage line (`shortcutlab.progress.say`), or does nothing."""
    return stage_line if progress else (lambda msg: None)
