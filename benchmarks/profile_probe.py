"""Where `probe run`'s scoring passes spend their time (process CPU seconds per part).

    python benchmarks/profile_probe.py --size tiny --records 200 --threads 1
    python benchmarks/profile_probe.py --size realistic --records 4 --threads 1

Builds benchmarks/workload.py's model and records (K = 2), makes the battery and scores
the plain data file (as `score` does) and, as `probe run` does, swap, blank and the text
edits pass, each with a freshly loaded model, timing with wrappers:
collate (`RewardCollator.encode`: image decode + processor + tokenizer), vision
(`get_image_features`: vision tower + projector), LM prefix (the prefix forward less
vision), LM answers (the answers forward on the cache), and the rest (data loading,
journal, Python). Used for benchmarks/README.md's `probe run` cost section.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from workload import SIZES, build_model, make_records, write_data  # noqa: E402

import shortcutlab.modeling.prefix as prefix_mod  # noqa: E402
from shortcutlab.modeling.batching import RewardCollator  # noqa: E402
from shortcutlab.probe import MakeOptions, make_battery  # noqa: E402
from shortcutlab.probe.scoring import ScoreOptions, score_table, score_text_variants  # noqa: E402

PARTS: dict[str, float] = defaultdict(float)


def _wrap(fn: Any, part: str) -> Any:
    def inner(*a: Any, **k: Any) -> Any:
        c0 = time.process_time()
        try:
            return fn(*a, **k)
        finally:
            PARTS[part] += time.process_time() - c0

    return inner


def instrument() -> None:
    """Wrap the collator, the prefix and answers forwards (once per process)."""
    RewardCollator.encode = _wrap(RewardCollator.encode, "collate")
    prefix_mod.shared_prefix_rewards = _wrap(prefix_mod.shared_prefix_rewards, "prefix_fn")
    prefix_mod._answers_hidden = _wrap(prefix_mod._answers_hidden, "lm_answers")
    if hasattr(prefix_mod, "_tree_hidden"):  # answers laid out with branches
        prefix_mod._tree_hidden = _wrap(prefix_mod._tree_hidden, "lm_answers")


def loaded(folder: Path) -> Any:
    """A fresh model per pass, as `probe run` loads it (from a folder), vision wrapped."""
    from shortcutlab.modeling.reward_model import RewardModel

    model = RewardModel.from_pretrained(str(folder), seed=0).eval()
    inner = prefix_mod.base_model(model.backbone)
    inner.get_image_features = _wrap(inner.get_image_features, "vision")
    return model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", default="tiny")
    ap.add_argument("--records", type=int, default=200)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="probe-prof-"))
    size = SIZES[args.size]
    folder = build_model(size, work / "model", "cpu")
    instrument()
    data = write_data(make_records(size, args.records, work / "img", k=2), work / "d.jsonl")
    bat = make_battery(data, work / "probe", MakeOptions(seed=0))
    opts = ScoreOptions(batch_size=16)
    plain_opts = replace(opts, reuse_images=False)  # `score`'s default
    passes = {
        "plain": lambda m: score_table(m, data, work / "plain.jsonl", plain_opts),
        "swap": lambda m: score_table(m, bat.file("swap"), work / "swap.jsonl", opts),
        "blank": lambda m: score_table(m, bat.file("blank"), work / "blank.jsonl", opts),
        "edits": lambda m: score_text_variants(m, bat, work / "scores", opts),
    }
    for name, fn in passes.items():
        model = loaded(folder)
        PARTS.clear()
        c0 = time.process_time()
        fn(model)
        total = time.process_time() - c0
        parts = dict(PARTS)
        prefix = parts.pop("prefix_fn", 0.0)
        row = {
            "pass": name,
            "total_s": round(total, 2),
            "collate_s": round(parts.get("collate", 0.0), 2),
            "vision_s": round(parts.get("vision", 0.0), 2),
            "lm_prefix_s": round(prefix - parts.get("vision", 0.0) - parts.get("lm_answers", 0), 2),
            "lm_answers_s": round(parts.get("lm_answers", 0.0), 2),
        }
        row["rest_s"] = round(
            total - sum(v for k, v in row.items() if k.endswith("_s") and k != "total_s"), 2
        )
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
