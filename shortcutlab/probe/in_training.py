"""Probing while training (`train --probe-data FILE`): when does a shortcut form?

The trainer (`shortcutlab.training.trainer`) builds a `TrainingProbe` when probe_data is
set and calls it with its own forward; everything else is the probe package's.

At set-up rank 0 builds a small battery of held-out records into the run folder's
`probe/` with `shortcutlab.probe`'s own `make_battery` (the image swap, the built-in text
edits pad / hedge / list / truncate, and the `--probe-edits` entries). Before the first
step of a fresh run, every `probe_every` steps (default: at each evaluation) and at the
last step, the model being trained scores the battery through the trainer's own forward
(eval mode, no gradient, the same packed shared-prefix path training uses) and the
probe's own statistics (`probe.stats.probe_stats`) give one metrics row:

    {"split": "probe", "step": 40, "probe_reward_sd": 1.7, "probe_swap_flip_rate": 0.05,
     "probe_swap_mean_abs_change_sd": 0.2, "probe_pad_mean_change_sd": 0.9,
     "probe_pad_win_rate": 0.97, "probe_pad_flip_rate": 0.4, ...}

written to metrics.jsonl and TensorBoard (`probe/...`). At the last step the score tables
also go to `probe/scores/` and the report (`card.json` with 95% intervals, `card.md`,
`probe.csv`, the figure) to `probe/`: the same folder `shortcutlab probe run` writes, so
`probe report` and `shortcutlab report` read it.

Scoring the battery reads no random state and changes no weight (no gradient, dropout
off), so a run trains the same with or without it (tests/test_training_probe.py checks
bit-identical weights). The originals and their swap variants are scored in batches of
the same records in the same order, so a model that never sees the image (mode
text-only) gets the same rewards for both: its image reliance is exactly 0.
Multi-process: batches are dealt to ranks; every rank runs the same number of forwards
(FSDP needs it; a rank short of work repeats its last batch, discarded); the rewards are
gathered to every rank and rank 0 writes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from shortcutlab import distributed as dist
from shortcutlab.config import TrainConfig
from shortcutlab.data.records import Record
from shortcutlab.data.schemas import load_dataset_file
from shortcutlab.probe.battery import Battery, make_battery, read_battery
from shortcutlab.probe.edits import builtin_edits, load_edits
from shortcutlab.probe.make import MakeOptions
from shortcutlab.probe.report import ReportOptions, write_report
from shortcutlab.probe.run import SCORES, run_command
from shortcutlab.probe.scoring import ScoreOptions, merged_text_records, split_text_table
from shortcutlab.probe.stats import probe_stats
from shortcutlab.run_folder import RunFolder
from shortcutlab.score_table import record_rows, write_score_table

PREFIX = "probe_"  # metrics keys: probe_<test>_<metric>
TESTS = ("swap",)  # image test of the in-training battery (the edits come on top)

# records -> their rewards, flattened in record and response order: (sum of K,)
RewardFn = Callable[[list[Record]], list[float]]


def make_options(cfg: TrainConfig) -> MakeOptions:
    """What the in-training battery holds (also the card's reproduce command)."""
    edits = builtin_edits() + (load_edits(cfg.probe_edits) if cfg.probe_edits else [])
    return MakeOptions(
        seed=cfg.seed,
        max_records=cfg.probe_records,
        edits_file=cfg.probe_edits,
        image_root=cfg.image_root,
        tests=(*TESTS, *(e.name for e in edits)),
    )


class TrainingProbe:
    """The battery of one run and the steps it is scored at."""

    def __init__(self, cfg: TrainConfig, out: Path, *, rank: int, world: int) -> None:
        self.cfg, self.rank, self.world = cfg, rank, world
        self.folder = RunFolder(out).probe
        self.make = make_options(cfg)
        if dist.is_main():
            make_battery(cfg.probe_data, self.folder, self.make)  # type: ignore[arg-type]
        dist.barrier()
        self.battery: Battery = read_battery(self.folder)
        self.every = cfg.probe_every or cfg.eval_steps
        self.originals = load_dataset_file(self.battery.original).records
        swap = self.battery.tests.get("swap")
        swaps = load_dataset_file(self.battery.file("swap")).records if swap else []
        self.swap_of = {str(r.meta["base_id"]): r for r in swaps}  # base id -> swap variant
        self.text, self.where = merged_text_records(self.battery)
        self.edit_ids = {  # edit test -> its variant ids in file order (the table's order)
            test: [str(r.id) for r in _variants(self.battery, test)]
            for test, entry in self.battery.tests.items()
            if entry["kind"] == "edit"
        }

    def due(self, done: int, total: int) -> bool:
        """Whether to probe after `done` optimizer steps (0: before training)."""
        return done in (0, total) or (self.every > 0 and done % self.every == 0)

    def run(self, rewards: RewardFn, step: int, *, final: bool, model_dir: str) -> dict[str, Any]:
        """Score the battery with `rewards`; the metrics row (and, when `final`, the report)."""
        tables = self.score(rewards)
        sd, tests = probe_stats(
            self.battery, pd.concat(tables.values(), ignore_index=True), n_boot=0
        )
        row: dict[str, Any] = {"split": "probe", "step": step, f"{PREFIX}reward_sd": sd}
        for t in tests:
            for name, m in t.metrics.items():
                row[f"{PREFIX}{t.test}_{name}"] = m.value
        if final and dist.is_main():
            self.write(tables, model_dir)
        return row

    def score(self, rewards: RewardFn) -> dict[str, pd.DataFrame]:
        """Score tables (the score-table contract) of the originals, swap and each edit.

        Each swap batch holds the variants of one originals batch, in its order."""
        bs = self.cfg.per_device_eval_batch_size
        chunks = _batches(self.originals, bs)
        swap = [[self.swap_of[str(r.id)] for r in c if str(r.id) in self.swap_of] for c in chunks]
        tables = {
            "original": _score(rewards, chunks, self.world, self.rank),
            "swap": _score(rewards, swap, self.world, self.rank),
        }
        merged = _score(rewards, _batches(self.text, bs), self.world, self.rank)
        by_variant = split_text_table(merged, self.where)
        for test, ids in self.edit_ids.items():
            tables[test] = pd.DataFrame([row for vid in ids for row in by_variant.get(vid, [])])
        return {k: v for k, v in tables.items() if len(v)}

    def write(self, tables: dict[str, pd.DataFrame], model_dir: str) -> dict[str, Any]:
        """The final model's tables under probe/scores/ and its report in probe/."""
        paths = [
            write_score_table(df, self.folder / SCORES / f"{t}.jsonl") for t, df in tables.items()
        ]
        data = self.cfg.probe_data or ""
        scoring = ScoreOptions(
            max_length=self.cfg.max_length, trust_remote_code=self.cfg.trust_remote_code
        )
        rerun = self.folder.parent / "probe-rerun"
        command = run_command(model_dir, data, rerun, self.make, scoring)
        opts = ReportOptions(model=model_dir, command=command)
        return write_report(self.battery, paths, self.folder, opts)


def _batches(records: list[Record], size: int) -> list[list[Record]]:
    return [records[i : i + size] for i in range(0, len(records), size)]


def _variants(battery: Battery, test: str) -> list[Record]:
    return load_dataset_file(battery.file(test), images="ignore").records


def _score(rewards: RewardFn, chunks: list[list[Record]], world: int, rank: int) -> pd.DataFrame:
    """Rows of every record of `chunks` (batches dealt round-robin to ranks, gathered)."""
    chunks = [c for c in chunks if c]
    mine = chunks[rank::world]
    n_calls = -(-len(chunks) // world)  # every rank the same number of forwards
    rows: list[dict[str, Any]] = []
    for i in range(n_calls):
        batch = mine[i] if i < len(mine) else (mine[-1] if mine else chunks[-1])
        flat = rewards(batch)  # (sum of K,)
        if i >= len(mine):
            continue  # a padding call: its rewards are dropped
        at = 0
        for rec in batch:
            k = len(rec.responses)
            rows += record_rows(rec, flat[at : at + k])
            at += k
    if world > 1:
        rows = [r for part in dist.gather_objects(rows) for r in part]
    return pd.DataFrame(rows)
