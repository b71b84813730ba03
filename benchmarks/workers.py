"""Benchmark workers: one configuration per fresh process (clean peak memory), plus parity.

- `train_ours`: shortcutlab's own trainer (`shortcutlab.training.trainer.Trainer.train_step`:
  collate with shared images, one forward over all K responses per record (packed: one
  row per record, prefix once; per-row: one row per response), losses from
  `shortcutlab.losses`, backward, clipping, AdamW, schedule).
- `train_official`: `official_reference.OfficialStep` on the same model, data and optimizer.
- `score`: `shortcutlab.scoring.score` (shared prefix; and `prefix_sharing=False`: length-
  sorted batches, shared images) vs `shortcutlab.scoring.engine.score_one_by_one` (one
  response per forward), interleaved rounds, each scorer's peak memory.
- `parity`: losses of both training paths on the same weights in float32.
Each returns a JSON-able dict; `run.py` starts them as `python benchmarks/run.py --worker`.
"""

from __future__ import annotations

import contextlib
import gc
import resource
import time
from pathlib import Path
from typing import Any

import torch
from official_reference import OfficialStep, encode_official, official_losses
from workload import SIZES, make_records

from shortcutlab.config import TrainConfig
from shortcutlab.modeling.batching import RewardCollator
from shortcutlab.modeling.prefix import common_prefix
from shortcutlab.modeling.reward_model import RewardModel
from shortcutlab.scoring import score as score_fn
from shortcutlab.scoring.engine import make_collator, score_one_by_one
from shortcutlab.training.branches import build_branches
from shortcutlab.training.setup import load_training_records, make_optimizer
from shortcutlab.training.trainer import Trainer


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def rss_mb() -> float:
    """Current resident set size of this process (MiB), from /proc."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_mb(device: torch.device) -> float:
    """Peak memory over the process's life: CUDA max allocated, or max RSS (MiB)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def reset_peak(device: torch.device) -> bool:
    """Start a fresh peak window before the timed steps, so model loading's transient
    copies do not count: CUDA peak stats, or the kernel's RSS high-water mark
    (`echo 5 > /proc/self/clear_refs`, Linux >= 4.0). False if it cannot be reset."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
        return True
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def step_peak_mb(device: torch.device, was_reset: bool) -> float:
    """Peak since `reset_peak`: CUDA max allocated, or VmHWM (peak RSS) from /proc."""
    if device.type == "cuda" or not was_reset:
        return peak_mb(device)
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return peak_mb(device)


def train_config(job: dict[str, Any], out: Path) -> TrainConfig:
    return TrainConfig(
        mode=job["mode"],
        model=job["model"],
        data=job["data"],
        output_dir=str(out),
        per_device_train_batch_size=job["batch"],
        max_steps=10_000,
        lora=job.get("lora", False),
        lora_dropout=job.get("lora_dropout", 0.05),
        text_only=job.get("text_only", "drop"),
        bf16=job.get("bf16", False),
        prefix_sharing=job.get("packed", True),
        tensorboard=False,
        progress=False,
        logging_steps=10_000,
        seed=0,
    )


def lm_tokens(inputs: dict[str, Any]) -> int:
    """Tokens the LM actually runs: non-padding tokens, or per packed record (rows with
    `pack_groups`) its common prefix once plus each answer."""
    mask = inputs["attention_mask"].bool()
    if "pack_groups" not in inputs:
        return int(mask.sum())
    ids, groups = inputs["input_ids"], inputs["pack_groups"].tolist()
    total = 0
    for g in sorted(set(groups)):
        rows = [ids[r][mask[r]] for r, x in enumerate(groups) if x == g]
        p = common_prefix(rows)
        total += p + sum(len(r) - p for r in rows)
    return total


def _unwrap(model: Any) -> Any:
    return getattr(model, "module", model)


def non_embedding_params(rm: Any) -> int:
    """Parameters of the LM + projector + head that touch every token (not embeddings,
    not the vision tower): N of the 6*N*tokens FLOPs estimate."""
    groups = rm.named_parameter_groups()
    lang = sum(p.numel() for n, p in groups["language"] if "embed_tokens" not in n)
    return lang + sum(p.numel() for _, p in groups["projector"] + groups["head"])


def _base_rm(branches: Any) -> Any:
    """The primary RewardModel under LoRA/PEFT wrappers."""
    rm = branches.primary
    while not hasattr(rm, "named_parameter_groups"):
        rm = rm.base_model.model if hasattr(rm, "base_model") else rm.model
    return rm


def _before_steps(device: torch.device) -> tuple[float, bool]:
    """(memory in use before the steps in MiB, whether the peak window was reset)."""
    gc.collect()
    used = torch.cuda.memory_allocated() / 2**20 if device.type == "cuda" else rss_mb()
    return used, reset_peak(device)


def _time_steps(step_fn: Any, warmup: int, timed: int, device: torch.device) -> list[float]:
    times = []
    for s in range(warmup + timed):
        _sync(device)
        t0 = time.perf_counter()
        step_fn(s)
        _sync(device)
        if s >= warmup:
            times.append(time.perf_counter() - t0)
    return times


def _result(job: dict, times: list[float], tokens: int, n_steps: int, device, rm, mem) -> dict:
    step_s = sorted(times)[len(times) // 2]  # median
    n_params = non_embedding_params(rm)
    out = {
        **{k: job[k] for k in ("name", "impl", "mode", "lora", "text_only", "batch")},
        "step_s": step_s,
        "step_times_s": times,
        "records_per_s": job["batch"] / step_s,
        "s_per_record": step_s / job["batch"],
        "lm_tokens_per_step": tokens / n_steps,
        "tokens_per_s": tokens / n_steps / step_s,
        "peak_mb": step_peak_mb(device, mem[1]),  # peak during the steps (weights included)
        "lifetime_peak_mb": peak_mb(device),  # includes model loading
        "before_steps_mb": mem[0],
        "n_params_non_embedding": n_params,
    }
    flops = 6 * n_params * out["tokens_per_s"]  # model FLOPs/s (6 N tokens, training)
    out["model_tflops_per_s"] = flops / 1e12
    if job.get("peak_tflops"):
        out["mfu"] = flops / (job["peak_tflops"] * 1e12)
    return out


def train_ours(job: dict[str, Any], out: Path) -> dict[str, Any]:
    """Time `Trainer.train_step` (shortcutlab's step) for one configuration.

    With `compare_per_row` every step runs twice on the same records, interleaved: packed
    (one row per record, the default) then per-row (`Trainer.pack = False`, one row per
    response), so both see the same load on a shared machine; each gets its own times,
    LM tokens and peak memory (the peak window is reset before every step).
    """
    tr = Trainer(train_config(job, out))
    device = tr.accelerator.device
    variants = [True, False] if job.get("compare_per_row") else [bool(job.get("packed", True))]
    counted = dict.fromkeys(variants, 0)
    encode = tr.encode

    def counting_encode(collator: Any, records: list, share: bool) -> dict[str, Any]:
        inputs = encode(collator, records, share)  # the trainer's own encode, unchanged
        counted[current[0]] += lm_tokens(inputs)
        return inputs

    tr.encode = counting_encode
    current = [variants[0]]
    mem = _before_steps(device)
    warmup, timed = job["steps"]
    times: dict[bool, list[float]] = {v: [] for v in variants}
    peaks = dict.fromkeys(variants, 0.0)
    for s in range(warmup + timed):
        for v in variants:
            current[0] = tr.pack = v
            gc.collect()
            was_reset = reset_peak(device)
            _sync(device)
            t0 = time.perf_counter()
            tr.train_step(s)
            _sync(device)
            if s >= warmup:
                times[v].append(time.perf_counter() - t0)
            peaks[v] = max(peaks[v], step_peak_mb(device, was_reset))
    rm = _base_rm(_unwrap(tr.model))
    res = {}
    for v in variants:
        tokens = counted[v] * timed / (warmup + timed)
        r = _result(job, times[v], tokens, timed, device, rm, mem)
        r["peak_mb"] = peaks[v]
        if not res:
            res = r
        else:
            res["per_row"] = r
    return res


def train_official(job: dict[str, Any], out: Path) -> dict[str, Any]:
    """Time the official scheme's step on the same model, data, optimizer and clipping."""
    cfg = train_config(job, out)
    torch.manual_seed(cfg.seed)
    device = torch.device(job["device"])
    branches, processor = build_branches(cfg)
    branches.to(device).train()
    named = [(n, p) for n, p in branches.named_parameters() if p.requires_grad]
    optimizer = make_optimizer(named, cfg)
    records = load_training_records(cfg.data, cfg)[0]
    collator = RewardCollator(processor, max_length=cfg.max_length)
    blank = RewardCollator(processor, max_length=cfg.max_length, text_only="blank")
    step = OfficialStep(
        branches.primary,
        branches.proxy,
        collator,
        blank if branches.proxy is not None else None,
        optimizer,
        device=device,
        bf16=cfg.bf16,
        max_grad_norm=cfg.max_grad_norm,
    )
    b = job["batch"]

    def run(s: int) -> None:
        start = (s * b) % max(len(records) - b + 1, 1)
        step(records[start : start + b])

    mem = _before_steps(device)
    warmup, timed = job["steps"]
    times = _time_steps(run, warmup, timed, device)
    tokens = step.tokens * timed / (warmup + timed)
    return _result(job, times, tokens, timed, device, _base_rm(branches), mem)


def parity(job: dict[str, Any], out: Path) -> dict[str, Any]:
    """Max |official - shortcutlab| of per-pair L, L_t, SFC, the objective and its gradient.

    Float32, same weights: the official scheme runs on the trainer's own branches (the
    primary and its full proxy copy); the text-only branch is fed the blank image in both
    (the official choice), so both paths compute the same equations. `grad` is the max abs
    difference of d(objective)/d(parameter) over all trained parameters (both branches).
    `modes` (default both) picks standard and/or shortcut-aware.
    """
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    result: dict[str, Any] = {"name": "parity", "n_records": job["batch"]}
    modes = job.get("modes", ["standard", "shortcut-aware"])
    for mode in modes:
        cfg_job = {**job, "mode": mode, "text_only": "blank", "lora": False, "bf16": False}
        tr = Trainer(train_config(cfg_job, out / mode))
        result[mode] = _parity_one(tr, tr.data.records[: job["batch"]], job.get("grads", True))
    result["max_abs_diff"] = max(
        v for m in modes for k, v in result[m].items() if k not in ("pairs", "grad_scale")
    )
    return result


def _parity_one(tr: Trainer, records: list, grads: bool) -> dict[str, Any]:
    """Losses (and gradients) of one trainer's path vs the official scheme on its weights.

    Ours is the trainer's own forward + `objectives.pair_objective` (the micro-step's code);
    `train_config` keeps the official SFC (eps) and no App. E normalisation.
    """
    branches = _unwrap(tr.model).eval()  # eval: no dropout in either path
    processor, max_len = tr.collator.processor, tr.cfg.max_length
    context = contextlib.nullcontext() if grads else torch.no_grad()
    with context:
        ours = tr.pair_objective(records)
    g_ours = _grads(branches, ours.objective) if grads else {}
    blank = RewardCollator(processor, max_length=max_len, text_only="blank")
    batch = encode_official(
        records,
        RewardCollator(processor, max_length=max_len),
        blank if branches.proxy is not None else None,
        tr.accelerator.device,
    )
    with context:
        ref = official_losses(branches.primary, branches.proxy, batch)
    g_ref = _grads(branches, ref["objective"]) if grads else {}
    if g_ours.keys() != g_ref.keys():
        raise AssertionError("the two paths train different parameters")
    diffs = {
        "pairs": int(ref["loss"].numel()),
        "loss": _maxdiff(ours.loss, ref["loss"]),
        "objective": _maxdiff(ours.objective, ref["objective"]),
    }
    if ours.sfc is not None:
        diffs.update(
            proxy_loss=_maxdiff(ours.proxy_loss, ref["proxy_loss"]),
            sfc=_maxdiff(ours.sfc, ref["sfc"]),
        )
    if grads:
        diffs["grad"] = max(_maxdiff(g_ours[n], g_ref[n]) for n in g_ours)
        diffs["grad_scale"] = max(float(g.abs().max()) for g in g_ref.values())
    return diffs


def _grads(module: torch.nn.Module, objective: torch.Tensor) -> dict[str, torch.Tensor]:
    """d(objective)/d(p) for every trained parameter (gradients reset before and after)."""
    module.zero_grad(set_to_none=True)
    objective.backward()
    grads = {n: p.grad.detach().clone() for n, p in module.named_parameters() if p.grad is not None}
    module.zero_grad(set_to_none=True)
    return grads


def _maxdiff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.detach().double() - b.detach().double()).abs().max())


def score(job: dict[str, Any], out: Path) -> dict[str, Any]:
    """Responses/s and peak memory of shortcutlab's scorer (shared prefix, and shared images
    only) vs one response per forward, in interleaved rounds (min time per scorer)."""
    device = torch.device(job["device"])
    bf16 = job.get("bf16", False)
    model = RewardModel.from_pretrained(job["model"], seed=0).to(device).eval()
    size = SIZES[job["size"]]
    records = make_records(size, job["n_records"], Path(job["image_dir"]), seed=1)
    for rec in records:  # inference data (Best-of-N style): responses only, no labels
        rec.pairs, rec.scores = [], None
    n_resp = sum(len(r.responses) for r in records)
    collator = make_collator(model, max_length=4096, text_only=None)
    bs = job["batch_size"]
    scorers = {
        "shortcutlab": lambda: _table(
            score_fn(model, records, batch_size=bs, device=device, bf16=bf16), records
        ),
        "one_by_one": lambda: score_one_by_one(model, collator, records, device=device, bf16=bf16),
        "shared_image": lambda: _table(
            score_fn(model, records, batch_size=bs, device=device, bf16=bf16, prefix_sharing=False),
            records,
        ),
    }
    score_fn(model, records[:1], device=device, bf16=bf16)  # warm-up (both paths)
    score_fn(model, records[:1], device=device, bf16=bf16, prefix_sharing=False)
    timings: dict[str, list[float]] = {k: [] for k in scorers}
    peaks: dict[str, float] = {k: 0.0 for k in scorers}
    values: dict[str, list[float]] = {}
    for _ in range(job.get("rounds", 2)):
        for key, fn in scorers.items():
            gc.collect()
            was_reset = reset_peak(device)
            _sync(device)
            t0 = time.perf_counter()
            values[key] = [v for row in fn() for v in row]
            _sync(device)
            timings[key].append(time.perf_counter() - t0)
            peaks[key] = max(peaks[key], step_peak_mb(device, was_reset))
    ref = torch.tensor(values["one_by_one"], dtype=torch.float64)
    res = {
        "name": "score",
        "n_records": len(records),
        "responses": n_resp,
        "batch_size": bs,
        "rounds": job.get("rounds", 2),
        "max_abs_diff": float(
            (torch.tensor(values["shortcutlab"], dtype=torch.float64) - ref).abs().max()
        ),
        "max_abs_diff_shared_image": float(
            (torch.tensor(values["shared_image"], dtype=torch.float64) - ref).abs().max()
        ),
    }
    tokens = _score_tokens(collator, records)
    n_params = non_embedding_params(model)
    for key, times in timings.items():
        secs = min(times)
        n_tok = tokens["prefix" if key == "shortcutlab" else "full"]
        res[f"{key}_s"] = secs
        res[f"{key}_times_s"] = times
        res[f"{key}_peak_mb"] = peaks[key]
        res[f"{key}_lm_tokens"] = n_tok
        res[f"{key}_responses_per_s"] = n_resp / secs
        res[f"{key}_model_tflops_per_s"] = 2 * n_params * n_tok / secs / 1e12
        if job.get("peak_tflops"):
            res[f"{key}_mfu"] = 2 * n_params * n_tok / secs / (job["peak_tflops"] * 1e12)
    res["speedup"] = res["one_by_one_s"] / res["shortcutlab_s"]
    res["speedup_shared_image"] = res["one_by_one_s"] / res["shared_image_s"]
    return res


def _table(result: Any, records: list) -> list[list[float]]:
    """Rewards per record from a ScoreResult's table, in `records` order (responses in order)."""
    df = result.table
    by_id = {i: g.sort_values("response_index")["reward"].tolist() for i, g in df.groupby("id")}
    return [by_id[str(rec.id)] for rec in records]


def _score_tokens(collator: Any, records: list) -> dict[str, int]:
    """LM tokens of all responses (image tokens included): every row in full, and with
    each record's common prefix counted once (what the shared-prefix scorer runs)."""
    full = prefix = 0
    for rec in records:
        inputs = collator.encode([rec]).inputs
        full += int(inputs["attention_mask"].sum())
        prefix += lm_tokens({**inputs, "pack_groups": torch.zeros(len(rec.responses))})
    return {"full": full, "prefix": prefix}
