"""The Python API from a notebook: build a model, train it (shortcut-aware), score it, read
the numbers. Each `# %%` block is one notebook cell (VS Code / Jupytext run them as such).

    python examples/notebook_api.py --out runs/example-notebook
"""

# %% imports: the public API is `shortcutlab` (lazy: torch loads on the first model call)
from __future__ import annotations

import argparse
import json
from pathlib import Path

import shortcutlab as sl


def main(out: Path, steps: int) -> dict:
    # %% data: one environment of the built-in benchmark (use your own files here)
    bench = sl.build_benchmark(out / "bench", seed=0, size="tiny")
    train_file, test_file = bench.files["povid"]["train"], bench.files["povid"]["test"]
    records = sl.load_records(train_file)  # canonical records, any supported schema
    print(f"{len(records)} training records; first prompt: {records[0].prompt!r}")

    # %% a base model: a tiny random-init LLaVA (a Hub id or folder of a real VLM works too)
    base = sl.build_tiny_model("llava", out / "tiny-llava", seed=0)

    # %% train: shortcut-aware (Eq. 7) trains the MM-RM and a text-only proxy together
    cfg = sl.TrainConfig(
        mode="shortcut-aware",
        model=str(base),
        data=str(train_file),
        output_dir=str(out / "run"),
        max_steps=steps,
        per_device_train_batch_size=4,
        learning_rate=3e-4,
        progress=False,
        tensorboard=False,
    )
    summary = sl.train(cfg)
    print(f"trained {summary['steps']} steps; model in {summary['output_dir']}")

    # %% score: a ScoreResult; `.table` is the score table, one row per response (the
    # score-table contract, docs/scoring.md); options in a ScoreConfig or as keywords
    mm = sl.score(str(out / "run" / "model"), str(test_file), str(out / "mm.jsonl"), overwrite=True)
    proxy_cfg = sl.ScoreConfig(text_only="drop", overwrite=True)
    proxy = sl.score(summary["proxy_dir"], str(test_file), str(out / "proxy.jsonl"), proxy_cfg)
    acc = mm.accuracy  # Eq. 2 with its record-bootstrap interval (None without pairs)
    assert acc is not None
    lo, hi = 100 * acc.ci_low, 100 * acc.ci_high
    print(f"MM-RM accuracy {100 * acc.accuracy:.1f} [{lo:.1f}, {hi:.1f}]")

    # %% diagnose the score tables: SFD (Def. 3.1) against the jointly trained proxy
    res = sl.sfd(mm.table, proxy.table, name="povid", n_boot=200)
    print(
        f"SFD {res.sfd:.1f} points ({res.success.n_pairs} success / {res.fail.n_pairs} fail pairs)"
    )
    return {"steps": summary["steps"], "accuracy": acc.accuracy, "sfd": res.sfd}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("runs/example-notebook"))
    ap.add_argument("--steps", type=int, default=4)
    args = ap.parse_args()
    print(json.dumps(main(args.out, args.steps), default=str))
