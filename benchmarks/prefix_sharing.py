"""Prototype (benchmarks only): score K answers of one record over a shared prefix KV cache.

    python benchmarks/prefix_sharing.py MODEL_DIR [--records 2] [--threads 1]

The K sequences of a record share their image and prompt tokens (~640 of ~820 tokens at
LLaVA-1.5 shapes). Encoding that prefix once (use_cache) and running only the K answers on
top of the repeated KV cache gives the same rewards (checked, float32) with ~2.3x fewer LM
tokens. This is the change that would lift scoring above 2x on compute-bound hardware;
it is measured here against one-by-one and shortcutlab's current shared-image scorer.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from shortcutlab.modeling.reward_model import RewardModel
from shortcutlab.scoring.engine import (
    forward_records,
    make_collator,
    score_one_by_one,
    single_response,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as a script: find workload
from workload import SIZES, make_records  # noqa: E402 (needs the path set just above)


def prefix_rewards(model, collator, rec):
    """Rewards (K,) of one record: prefix once, answers batched on the repeated cache."""
    import torch

    rows = [collator.encode([single_response(rec, j)]).inputs for j in range(len(rec.responses))]
    ids = [r["input_ids"][0] for r in rows]
    n = min(len(i) for i in ids)
    p = next((t for t in range(n) if any(int(i[t]) != int(ids[0][t]) for i in ids)), n)
    p = min(p, n - 1)  # keep >= 1 answer token per row
    prefix = {k: v for k, v in rows[0].items() if k not in ("input_ids", "attention_mask")}
    out = model.backbone(
        input_ids=ids[0][:p][None],
        attention_mask=torch.ones(1, p, dtype=torch.long),
        use_cache=True,
        return_dict=True,
        **prefix,
    )
    cache = out.past_key_values
    k = len(ids)
    cache.batch_repeat_interleave(k)
    suf = [i[p:] for i in ids]
    t = max(len(s) for s in suf)
    pad = collator.tokenizer.pad_token_id or 0
    sids = torch.full((k, t), pad, dtype=torch.long)
    mask = torch.zeros(k, p + t, dtype=torch.long)
    mask[:, :p] = 1
    for j, s in enumerate(suf):  # right padding: answers start right after the prefix
        sids[j, : len(s)] = s
        mask[j, p : p + len(s)] = 1
    pos = torch.arange(p, p + t)[None].expand(k, t)
    h = model.backbone(
        input_ids=sids,
        attention_mask=mask,
        past_key_values=cache,
        position_ids=pos,
        use_cache=False,
        return_dict=True,
    ).last_hidden_state
    last = torch.tensor([len(s) - 1 for s in suf])
    return model.head(h[torch.arange(k), last]).squeeze(-1)


def main() -> None:
    a = argparse.ArgumentParser()
    a.add_argument("model")
    a.add_argument("--records", type=int, default=2)
    a.add_argument("--threads", type=int, default=None)
    args = a.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    model = RewardModel.from_pretrained(args.model, seed=0).eval()
    size = SIZES["realistic" if model.config.vision_config.image_size > 64 else "tiny"]
    records = make_records(size, args.records, Path(tempfile.mkdtemp()), seed=1)
    coll = make_collator(model, max_length=4096, text_only=None)
    cpu = torch.device("cpu")
    with torch.inference_mode():
        prefix_rewards(model, coll, records[0])  # warm-up
        t0 = time.perf_counter()
        pre = [prefix_rewards(model, coll, r).tolist() for r in records]
        t_pre = time.perf_counter() - t0
    t0 = time.perf_counter()
    forward_records(model, coll, records, device=cpu)
    t_shared = time.perf_counter() - t0
    t0 = time.perf_counter()
    ref = score_one_by_one(model, coll, records, device=cpu)
    t_one = time.perf_counter() - t0
    diff = max(
        abs(x - y) for a_, b_ in zip(pre, ref, strict=True) for x, y in zip(a_, b_, strict=True)
    )
    print(
        f"one-by-one {t_one:.2f} s | shared image (shortcutlab) {t_shared:.2f} s "
        f"({t_one / t_shared:.2f}x) | shared prefix KV {t_pre:.2f} s ({t_one / t_pre:.2f}x) "
        f"| max |diff| vs one-by-one {diff:.1e}"
    )


if __name__ == "__main__":
    main()
