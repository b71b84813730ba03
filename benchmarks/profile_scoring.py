"""Where scoring time goes: vision tower vs language model, for each scorer.

    python benchmarks/profile_scoring.py MODEL_DIR [--records 2] [--threads 1]

Times the vision tower and the whole forward of the shared-prefix scorer (the default),
the shared-image batches (`prefix_sharing=False`) and one-by-one with forward hooks, and
prints torch.profiler's top operators of the default path. Used to explain
the scoring ratio in benchmarks/README.md (what bounds it, what would move it).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from shortcutlab.modeling.reward_model import RewardModel
from shortcutlab.scoring.engine import forward_records, make_collator, score_one_by_one

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # run as a script: find workload
from workload import SIZES, make_records  # noqa: E402 (needs the path set just above)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("model")
    p.add_argument("--records", type=int, default=2)
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    model = RewardModel.from_pretrained(args.model, seed=0).eval()
    size = SIZES["realistic" if model.config.vision_config.image_size > 64 else "tiny"]
    records = make_records(size, args.records, Path(tempfile.mkdtemp()), seed=1)
    collator = make_collator(model, max_length=4096, text_only=None)
    vision = model.backbone.vision_tower
    spent = {"vision": 0.0}

    def pre(*_):
        spent["t0"] = time.perf_counter()

    def post(*_):
        spent["vision"] += time.perf_counter() - spent["t0"]

    vision.register_forward_pre_hook(pre)
    vision.register_forward_hook(post)
    cpu = torch.device("cpu")
    forward_records(model, collator, records[:1], device=cpu)  # warm-up
    for name, fn in (
        ("prefix", lambda: forward_records(model, collator, records, device=cpu)),
        (
            "image only",
            lambda: forward_records(model, collator, records, device=cpu, prefix_sharing=False),
        ),
        ("one-by-one", lambda: score_one_by_one(model, collator, records, device=cpu)),
    ):
        spent["vision"] = 0.0
        t0 = time.perf_counter()
        fn()
        total = time.perf_counter() - t0
        print(
            f"{name:11s} total {total:6.2f} s  vision tower {spent['vision']:6.2f} s "
            f"({spent['vision'] / total:.0%})  rest (LM, head, collate) "
            f"{total - spent['vision']:6.2f} s"
        )
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        forward_records(model, collator, records, device=cpu)
    print(prof.key_averages().table(sort_by="cpu_time_total", row_limit=12))


if __name__ == "__main__":
    main()
