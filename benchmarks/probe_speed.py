"""Cost of `shortcutlab probe run` against one plain scoring pass of the same records.

    python benchmarks/probe_speed.py --sizes tiny --records 1250 --threads 1
    python benchmarks/probe_speed.py --sizes realistic --records 8     # CPU-cut depth

Per size (benchmarks/workload.py: a random-init LLaVA, seeded records with one PNG image,
a ~50-token question and K answers of ~100-150 tokens), in one process, in this order:
1. plain: `shortcutlab.scoring.run_scoring` of the data file (a fresh output);
2. `probe run`'s steps timed one by one: make the battery (swap, blank, drop, pad, hedge,
   list, truncate), score its originals, swap, blank, drop, the text edits in one
   shared-prefix pass, and the report (1,000 bootstrap resamples, the figure).

Ratios printed and written to --out (JSON): the issue's battery (swap + blank + the 4
edits) over the plain pass, and the whole `probe run` (everything above but the plain
pass) over the plain pass. Every pass uses the same batch size (16 sequences) and prefix
sharing, as `probe run` does by default; `probe run`'s passes reuse image work across
records (`ScoreConfig.reuse_images`), the plain pass does not (`score`'s default).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from workload import SIZES, build_model, make_records, write_data  # noqa: E402

from shortcutlab.probe import MakeOptions, ReportOptions, make_battery, write_report  # noqa: E402
from shortcutlab.probe.scoring import ScoreOptions, score_table, score_text_variants  # noqa: E402

CPU: dict[str, float] = {}  # step -> process CPU seconds (robust on a shared machine)


def timed(fn: Any, step: str = "") -> tuple[Any, float]:
    """(fn(), wall seconds); the step's process CPU seconds go to CPU[step]."""
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    CPU[step] = time.process_time() - c0
    return out, time.perf_counter() - t0


def run_size(name: str, n: int, k: int, work: Path) -> dict[str, Any]:
    """Time the plain pass and every step of `probe run` on one size."""
    size = SIZES[name]
    model = build_model(size, work / f"model_{name}", "cpu")
    data = write_data(make_records(size, n, work / f"img_{name}", k=k), work / f"{name}.jsonl")
    opts = ScoreOptions(batch_size=16)
    plain_opts = replace(opts, reuse_images=False)  # `score`'s default: no image reuse
    CPU.clear()
    _, plain = timed(
        lambda: score_table(model, data, work / f"plain_{name}.jsonl", plain_opts), "plain"
    )
    out = work / f"probe_{name}"
    bat, t_make = timed(lambda: make_battery(data, out, MakeOptions(seed=0)), "make")
    t: dict[str, float] = {"make": t_make}
    for test in ("original", "swap", "blank", "drop"):
        src = bat.original if test == "original" else bat.file(test)
        _, t[test] = timed(
            lambda s=src, x=test: score_table(model, s, out / f"scores/{x}.jsonl", opts), test
        )
    tables, t["edits"] = timed(
        lambda: score_text_variants(model, bat, out / "scores", opts), "edits"
    )
    every = [out / f"scores/{x}.jsonl" for x in ("original", "swap", "blank", "drop")]
    _, t["report"] = timed(
        lambda: write_report(bat, every + list(tables.values()), out, ReportOptions("bench")),
        "report",
    )
    res: dict[str, Any] = {"size": name, "records": n, "k": k}
    for unit, times, base in (("wall", t, plain), ("cpu", CPU, CPU["plain"])):
        steps = {key: v for key, v in times.items() if key != "plain"}
        battery = steps["swap"] + steps["blank"] + steps["edits"]
        res[unit] = {
            "plain_s": round(base, 2),
            "steps_s": {key: round(v, 2) for key, v in steps.items()},
            "battery_swap_blank_4edits_over_plain": round(battery / base, 2),
            "probe_run_s": round(sum(steps.values()), 2),
            "probe_run_over_plain": round(sum(steps.values()) / base, 2),
        }
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="tiny")
    ap.add_argument("--records", type=int, default=1000)
    ap.add_argument("--k", type=int, default=2, help="Answers per record.")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=None, help="JSON results file.")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    results = []
    with tempfile.TemporaryDirectory(prefix="probe-speed-") as tmp:
        for name in args.sizes.split(","):
            res = run_size(name, args.records, args.k, Path(tmp))
            res["threads"] = args.threads
            print(json.dumps(res), flush=True)
            results.append(res)
    if args.out is not None:
        args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
