"""The one-command demo: benchmark -> tiny VLM -> seeing init -> study -> report.md.

    shortcutlab demo --quick            # ~2 min on 2 CPU cores: a smoke run
    shortcutlab demo                    # the full run: 3 seeds, every method
    shortcutlab demo --seeds 1          # one seed: a quicker look

Stages (each cached under `out_dir`; a rerun only does what is missing):
1. `synth`: the shortcut benchmark (`shortcutlab.synth.benchmark`);
2. a tiny random-init LLaVA (`build_tiny_model("llava")`);
3. the common "seeing" initialisation, in two steps: a vision warm-up (the vision tower
   and projector learn to classify the pretrain images' colour and shape,
   `shortcutlab.study.warmup`), then a standard RM (Eq. 1) trained on the shortcut-free
   `pretrain` set with the vision tower frozen; its held-out accuracy with and without
   the image is reported (a text-only reading of that set is at chance by construction,
   so a high accuracy with the image means it sees). Why: trained from scratch, both SFC
   branches fit the text cue alike and SFC stays ~0.5 (no reweighting); the paper's
   branches start from a VLM that already sees (docs/demo.md);
4. the study (`shortcutlab.study.run.run_study`): per environment and seed, from that
   init (vision encoder frozen, as in the paper), a standard RM and one RM per shortcut
   mitigation (SFC, product of experts, confidence reweighting, GroupDRO, static
   upweighting), each scored on every test set and on its environment's shift split,
   and probed while it trains (image swap and text edits of its environment's test
   records, the planted cue among them); matrix, SFD, correlation, length, the probe
   curves, and the methods compared over seeds;
5. `report.md`: figures, tables, a short reading, and the JSON files behind each number.

Budgets are fixed in optimizer steps (not seconds), so a seed gives the same models on
any machine (up to floating-point nondeterminism of the backend).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from shortcutlab.audit.compare import compare_with_study
from shortcutlab.config import TrainConfig
from shortcutlab.errors import ConfigError
from shortcutlab.files import atomic_write_text
from shortcutlab.html import write_index
from shortcutlab.modeling.tiny import build_tiny_model
from shortcutlab.objectives import study_methods
from shortcutlab.progress import quieted
from shortcutlab.provenance import environment_info
from shortcutlab.run_folder import RunFolder
from shortcutlab.scoring import score
from shortcutlab.study.cache import Cells, fingerprint, source_digest
from shortcutlab.study.demo_markdown import write_report
from shortcutlab.study.run import Say, printer, run_study
from shortcutlab.study.warmup import warm_up_vision
from shortcutlab.synth.benchmark import build_benchmark, read_spec
from shortcutlab.synth.environments import probe_cue_edits
from shortcutlab.training import train
from shortcutlab.training.state import read_metrics


@dataclass(frozen=True)
class DemoPlan:
    """Sizes and step budgets of one demo variant."""

    size: str  # benchmark size preset
    warmup_steps: int  # vision warm-up steps (batches of `warmup_batch` images)
    pretrain_steps: int  # seeing-init reward-model steps (vision tower frozen)
    env_steps: int  # steps of each environment run
    batch: int  # records per step
    learning_rate: float
    n_boot: int  # bootstrap resamples of every interval
    score_batch: int = 64
    warmup_batch: int = 64
    warmup_lr: float = 2e-3
    probe_records: int = 40  # held-out records each run probes (train --probe-data)
    probe_every: int = 125  # steps between probes (and before training, and at the end)


QUICK = DemoPlan(
    size="tiny",
    warmup_steps=10,
    pretrain_steps=40,
    env_steps=12,
    batch=8,
    learning_rate=3e-4,
    n_boot=200,
    warmup_batch=16,
    probe_records=12,
    probe_every=6,
)
# Budgets measured (docs/demo.md, "How the seeing init was found"): reward-model
# pre-training alone stalled at 70-78% held-out in 6000 steps (shape never learned); a
# vision warm-up of 800 batches, then 2000 frozen-vision steps, reaches ~93%.
FULL = DemoPlan(
    size="small",
    warmup_steps=800,
    pretrain_steps=2000,
    env_steps=250,
    batch=8,
    learning_rate=3e-4,
    n_boot=1000,
)
OBJECTIVES = list(study_methods())  # the study's mitigations: every objective + static
ENVIRONMENTS = ("vlf", "povid", "rlhfv")
DEFAULT_SEEDS = 3
MAX_WORKERS = 4  # study processes by default (each ~1 GB; tiny models gain little per thread)
BENCH_KEYS = ("seed", "size", "sizes", "rates", "shortcuts", "stats")  # copied into demo.json


def stage_synth(out: Path, plan: DemoPlan, seed: int, say: Say) -> dict[str, Any]:
    """Build the benchmark unless out/bench holds one with the same seed and size."""
    bench = out / "bench"
    if (bench / "spec.json").is_file():
        spec = read_spec(bench)
        if spec.get("seed") == seed and spec.get("size") == plan.size:
            return spec
    t0 = time.time()
    spec = build_benchmark(bench, seed=seed, size=plan.size).spec
    say(f"synth: benchmark ({plan.size}, seed {seed}) in {bench} ({time.time() - t0:.1f} s)")
    return spec


def stage_base(out: Path, arch: str, seed: int, say: Say) -> Path:
    """A tiny random-init `arch` VLM folder (built once)."""
    base = out / "models" / f"tiny-{arch}"
    marker = base / ".built.json"
    if marker.is_file() and json.loads(marker.read_text()) == {"arch": arch, "seed": seed}:
        return base
    t0 = time.time()
    build_tiny_model(arch, base, seed=seed)
    atomic_write_text(marker, json.dumps({"arch": arch, "seed": seed}))
    say(f"model: tiny {arch} built in {base} ({time.time() - t0:.1f} s)")
    return base


def stage_warmup(out: Path, base: Path, plan: DemoPlan, seed: int, say: Say) -> dict[str, Any]:
    """The vision warm-up (`shortcutlab.study.warmup`), cached; returns its result."""
    bench, folder = out / "bench" / "pretrain", out / "models" / "vision-warmup"
    opts = {"steps": plan.warmup_steps, "batch": plan.warmup_batch, "lr": plan.warmup_lr}
    fp = fingerprint([opts, seed, source_digest(base), source_digest(bench / "train.jsonl")])
    cells = Cells(out)
    done = cells.get("warmup", fp)
    if done is not None and (folder / "config.json").is_file():
        return done["result"]
    result = warm_up_vision(
        base,
        bench / "train.jsonl",
        bench / "test.jsonl",
        folder,
        steps=plan.warmup_steps,
        batch=plan.warmup_batch,
        learning_rate=plan.warmup_lr,
        seed=seed,
    )
    result["model"] = str(folder)
    cells.put("warmup", fp, result)
    accs = ", ".join(f"{k} {100 * v:.1f}" for k, v in result["heldout_accuracy"].items())
    say(
        f"vision warm-up: {plan.warmup_steps} steps, held-out classification {accs} "
        f"({result['seconds']} s)"
    )
    return result


def pretrain_config(out: Path, base: Path, plan: DemoPlan, seed: int) -> TrainConfig:
    """The seeing init's run: a standard RM on the pretrain set from the warmed-up
    backbone, vision tower frozen (it was trained by the warm-up)."""
    bench, run = out / "bench" / "pretrain", out / "models" / "seeing-init"
    return TrainConfig.from_dict(
        {
            "mode": "standard",
            "model": str(base),
            "data": str(bench / "train.jsonl"),
            "output_dir": str(run),
            "max_steps": plan.pretrain_steps,
            "seed": seed,
            "eval_data": str(bench / "test.jsonl"),
            "eval_steps": max(plan.pretrain_steps // 5, 1),
            "per_device_train_batch_size": plan.batch,
            "learning_rate": plan.learning_rate,
            "freeze_vision": True,
            "progress": True,  # step lines in a log: this stage takes minutes
            "tensorboard": False,
            "logging_steps": 20,
        }
    )


def stage_pretrain(out: Path, base: Path, plan: DemoPlan, seed: int, say: Say) -> dict[str, Any]:
    """Train the seeing init on the shortcut-free pretrain set; held-out accuracies."""
    bench, run = out / "bench" / "pretrain", out / "models" / "seeing-init"
    cfg = pretrain_config(out, base, plan, seed)
    cells = Cells(out)
    # keyed as before progress was reported (progress=False), so cached inits stay valid
    key_cfg = cfg.cache_dict() | {"progress": False}
    fp = fingerprint([key_cfg, source_digest(base), source_digest(cfg.data)])
    done = cells.get("pretrain", fp)
    if done is not None and RunFolder(run).model.is_dir():
        return done["result"]
    t0 = time.time()
    # not cached (first run, changed plan or a killed one): its folder is stale, replace it
    train(cfg, command=["shortcutlab", "demo", "pretrain"], overwrite=True)
    test = str(bench / "test.jsonl")
    result: dict[str, Any] = {
        "model": str(RunFolder(run).model),
        "steps": plan.pretrain_steps,
        "seconds": round(time.time() - t0, 1),
    }
    result["eval_curve"] = _eval_curve(RunFolder(run).metrics)
    result |= _heldout(run, test, plan)
    cells.put("pretrain", fp, result)
    acc, txt = result["with_image"]["accuracy"], result["text_only"]["accuracy"]
    say(
        f"seeing init: {plan.pretrain_steps} steps, held-out accuracy {100 * acc:.1f} "
        f"with image, {100 * txt:.1f} text-only ({result['seconds']} s)"
    )
    return result


def _heldout(run: Path, test: str, plan: DemoPlan) -> dict[str, Any]:
    """Held-out accuracy of the seeing init with the image and with it dropped."""
    accs = {}
    for name, text_only in (("with_image", None), ("text_only", "drop")):
        result = score(
            str(RunFolder(run).model),
            test,
            str(run / f"heldout_{name}.jsonl"),
            text_only=text_only,
            batch_size=plan.score_batch,
            overwrite=True,
        )
        accs[name] = result.summary()["accuracy"]
    return accs


def _eval_curve(metrics: Path) -> list[dict[str, float]]:
    """(step, held-out accuracy) of the evaluations logged during a run."""
    if not metrics.is_file():
        return []
    return [
        {"step": r["step"], "eval_acc": r["eval_acc"]}
        for r in read_metrics(metrics)
        if r.get("split") == "eval"
    ]


def stage_cheap_proxy(out: Path, plan: DemoPlan) -> dict[str, Any]:
    """SFD of the study's models against the cheap text-only proxy (`shortcutlab audit`'s
    regression) beside SFD against the trained text-only RM: how close the CPU-seconds
    approximation is (`shortcutlab.audit.compare`). Writes the per-cell CSV."""
    table = compare_with_study(out / "study", n_boot=plan.n_boot)
    res = out / "study" / "results"
    atomic_write_text(res / "cheap_vs_trained.csv", table.to_csv(index=False))
    summary: dict[str, Any] = {"file": str(res / "cheap_vs_trained.csv"), "by": []}
    for (mode, split), g in table.groupby(["mode", "split"], sort=False):
        diff = g["sfd_cheap"] - g["sfd_trained"]
        summary["by"].append(
            {
                "mode": mode,
                "split": split,
                "cells": len(g),
                "sfd_trained": float(g["sfd_trained"].mean()),
                "sfd_cheap": float(g["sfd_cheap"].mean()),
                "mean_abs_diff": float(diff.abs().mean()),
                "pearson": _finite(g["sfd_trained"].corr(g["sfd_cheap"])),
                "split_agreement": float(g["split_agreement"].mean()),
            }
        )
    return summary


def _finite(x: float) -> float | None:
    """x, or None when undefined (a constant column has no correlation)."""
    return float(x) if np.isfinite(x) else None


def write_probe_edits(out: Path) -> Path:
    """The probe's extra edits (povid's detail sentence), beside the benchmark."""
    path = out / "bench" / "probe_edits.jsonl"
    text = "".join(json.dumps(e) + "\n" for e in probe_cue_edits())
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        atomic_write_text(path, text)
    return path


def demo_study(out: Path, init: str, plan: DemoPlan, seeds: int) -> dict[str, Any]:
    """The study of the demo: standard vs shortcut-aware on every environment."""
    bench = out / "bench"
    return {
        "name": "demo",
        "base_model": init,
        "environments": [
            {
                "name": e,
                "train": str(bench / e / "train.jsonl"),
                "test": str(bench / e / "test.jsonl"),
                "shift": str(bench / e / "shift.jsonl"),
            }
            for e in ENVIRONMENTS
        ],
        "modes": ["standard", "shortcut-aware"],
        "objectives": list(OBJECTIVES),
        "text_only_models": "proxy",
        "seeds": list(range(seeds)),
        "train": {
            "max_steps": plan.env_steps,
            "per_device_train_batch_size": plan.batch,
            "learning_rate": plan.learning_rate,
            "freeze_vision": True,
            "logging_steps": 20,
            "probe_records": plan.probe_records,
            "probe_every": plan.probe_every,
            "probe_edits": str(write_probe_edits(out)),
        },
        "probe": True,
        "score": {"batch_size": plan.score_batch},
        "n_boot": plan.n_boot,
        "length_unit": "words",
    }


def run_demo(
    out_dir: str | Path = "shortcutlab-demo",
    *,
    seeds: int | None = None,
    quick: bool = False,
    seed: int = 0,
    arch: str = "llava",
    progress: bool = True,
    workers: int | None = None,
    html: bool = True,
) -> dict[str, Any]:
    """Run every stage (cached) and write `out_dir/report.md` and `out_dir/demo.json`.

    `seeds`: training seeds of the study (default 3, `--quick` 1); `workers`: processes
    for the study's units (default: the CPU count, at most 4; `shortcutlab.study.parallel`);
    `html`: the pages `out_dir/index.html` and `out_dir/study/index.html` (`shortcutlab.html`).
    """
    workers = workers or max(1, min(os.cpu_count() or 1, MAX_WORKERS))
    seeds = seeds if seeds is not None else (1 if quick else DEFAULT_SEEDS)
    if seeds < 1:
        raise ConfigError(f"--seeds must be >= 1, got {seeds}.")
    plan = QUICK if quick else FULL
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    say = printer(progress)
    t0 = time.time()
    spec = stage_synth(out, plan, seed, say)
    base = stage_base(out, arch, seed, say)
    warm = stage_warmup(out, base, plan, seed, say)
    with quieted(not progress):  # the pre-training's step lines
        init = stage_pretrain(out, Path(warm["model"]), plan, seed, say)
    init["vision_warmup"] = warm
    study = demo_study(out, init["model"], plan, seeds)
    studied = run_study(study, out / "study", progress=progress, workers=workers, html=html)
    summary = dict(studied.summary)
    cheap = stage_cheap_proxy(out, plan)
    say(f"cheap proxy vs trained text-only RM: {cheap['file']}")
    demo = {
        "plan": asdict(plan),
        "quick": quick,
        "seeds": seeds,
        "workers": workers,
        "seed": seed,
        "arch": arch,
        "benchmark": {k: spec[k] for k in BENCH_KEYS},
        "seeing_init": init,
        "study": summary,
        "cheap_proxy": cheap,
        "seconds": round(time.time() - t0, 1),
        "environment": environment_info(),  # CPU model and threads: numbers drift by machine
    }
    atomic_write_text(out / "demo.json", json.dumps(demo, indent=2, default=str) + "\n")
    report = write_report(demo, out)
    say(f"report: {report} ({demo['seconds']} s in all)")
    demo["report"] = str(report)
    write_index(out, enabled=html)
    return demo
