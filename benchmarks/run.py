"""Benchmarks: shortcutlab's training and scoring paths vs the official scheme, one run.

    python benchmarks/run.py                               # tiny + realistic, CPU
    python benchmarks/run.py --sizes tiny --out /tmp/r.json
    python benchmarks/run.py --device cuda --time-limit 540   # bf16, tokens/s and MFU

Per size (see workload.py) it measures, each configuration in a fresh process (so peak
memory is that configuration's own: max RSS on CPU, CUDA max allocated on a GPU):
- training step time / peak memory: standard vs shortcut-aware (Eq. 7), full fine-tuning
  and LoRA, through shortcutlab's own `Trainer.train_step`, packed (one row per record,
  the default) and per-row (one row per response, `prefix_sharing: false`);
- shortcutlab vs the official scheme (official_reference.py) on K = 4 records;
- scoring throughput: `shortcutlab.scoring.score` (shared prefix, the default; and with
  `prefix_sharing=False`, shared images only) vs one response per forward, interleaved;
- parity: the official-scheme losses equal shortcutlab's (float32, same weights, 1e-5).
Results go to --out (JSON) and the tables are printed as Markdown (ratios first).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from report import markdown
from workload import SIZES, build_model, make_records, text_tokens, write_data

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
PARITY_TOL = 1e-5
MARK = "BENCH_RESULT "

# (name, impl, mode, lora, text_only, compare): the training configurations of each size.
# shortcutlab runs packed (one row per record, prefix once: the default); with `compare`
# the same worker also runs each step per-row (one row per response, `prefix_sharing`
# off, the previous step), interleaved step by step, so both see the same machine load.
TRAIN_CONFIGS = [
    ("standard/full", "ours", "standard", False, "drop", True),
    ("shortcut-aware/full", "ours", "shortcut-aware", False, "drop", True),
    ("shortcut-aware-blank/full", "ours", "shortcut-aware", False, "blank", False),
    ("standard/lora", "ours", "standard", True, "drop", True),
    ("shortcut-aware/lora", "ours", "shortcut-aware", True, "drop", True),
    ("official standard/full", "official", "standard", False, "blank", False),
    ("official shortcut-aware/full", "official", "shortcut-aware", False, "blank", False),
]


# ------------------------------------------------------------------ worker side
def run_worker(job: dict[str, Any]) -> dict[str, Any]:
    """Run one job in this process (called in a fresh subprocess by `spawn`)."""
    import torch
    import workers  # torch + the trainer: loaded only in worker processes / parity

    torch.manual_seed(0)
    if job.get("threads"):
        torch.set_num_threads(int(job["threads"]))
    out = Path(job["workdir"]) / "runs" / job["name"].replace("/", "_").replace(" ", "_")
    kind = job["kind"]
    if kind == "parity":
        return workers.parity(job, out)
    if kind == "score":
        return workers.score(job, out)
    fn = workers.train_ours if job["impl"] == "ours" else workers.train_official
    return fn(job, out)


DEADLINE = [float("inf")]  # time.time() after which no job starts (--time-limit)


def spawn(job: dict[str, Any], timeout: float = 900) -> dict[str, Any]:
    """Run `job` in a fresh Python process; returns its result dict (or an error entry).

    Bounded by --time-limit: a job is not started after the deadline and is killed at it.
    """
    left = DEADLINE[0] - time.time()
    if left <= 5:
        return {"name": job["name"], "error": "not run: --time-limit reached", "returncode": None}
    timeout = min(timeout, left)
    env = dict(os.environ)
    if job["device"] == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(job)]
    t0 = time.time()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        print(f"  !! {job['name']} killed after {timeout:.0f} s", file=sys.stderr)
        return {"name": job["name"], "error": f"killed after {timeout:.0f} s", "returncode": None}
    for line in proc.stdout.splitlines():
        if line.startswith(MARK):
            res = json.loads(line[len(MARK) :])
            res["wall_s"] = round(time.time() - t0, 1)
            return res
    tail = (proc.stderr or proc.stdout)[-2000:]
    print(f"  !! {job['name']} failed (rc {proc.returncode}):\n{tail}", file=sys.stderr)
    return {"name": job["name"], "error": tail, "returncode": proc.returncode}


# ------------------------------------------------------------------ parity (also the test)
def parity_check(
    workdir: Path | None = None,
    n_records: int = 2,
    modes: tuple[str, ...] = ("standard", "shortcut-aware"),
    model_dir: Path | None = None,
) -> dict[str, Any]:
    """Official-scheme losses vs shortcutlab's on the tiny model, in this process.

    `model_dir`: an existing tiny LLaVA folder (else one is built in `workdir`). Returns
    the per-quantity max abs differences (see workers.parity); `ok` is True when all are
    <= 1e-5.
    """
    import workers  # torch + the trainer: loaded only in worker processes / parity

    work = Path(workdir or tempfile.mkdtemp(prefix="bench_parity_"))
    size = SIZES["tiny"]
    model = model_dir or build_model(size, work / "tiny_model", "cpu")
    data = write_data(make_records(size, n_records, work / "images"), work / "parity.jsonl")
    job = {
        "model": str(model),
        "data": str(data),
        "batch": n_records,
        "device": "cpu",
        "modes": list(modes),
    }
    res = workers.parity(job, work / "runs")
    res["ok"] = res["max_abs_diff"] <= PARITY_TOL
    return res


# ------------------------------------------------------------------ driver
def machine_info(device: str) -> dict[str, Any]:
    import torch
    import transformers

    info = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "device": device,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
    }
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        keep = ("Model name", "CPU(s):", "Thread(s) per core", "Flags")
        for line in lscpu.splitlines():
            key, _, value = line.partition(":")
            if key.strip() + ":" in keep or key.strip() in keep:
                value = value.strip()
                if key.strip() == "Flags":
                    value = " ".join(f for f in value.split() if f.startswith(("avx", "amx")))
                info[f"lscpu {key.strip()}"] = value
    except OSError:
        pass
    if device == "cuda" and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    try:
        info["load_average"] = os.getloadavg()
    except OSError:
        pass
    return info


def detect_peak_tflops(device: str, given: float | None) -> float | None:
    """Dense bf16 peak: --peak-tflops, else 989 for H100/H200 SXM, else unknown."""
    if given or device != "cuda":
        return given
    import torch

    name = torch.cuda.get_device_name(0) if torch.cuda.is_available() else ""
    return 989.0 if ("H100" in name or "H200" in name) else None


def run_size(size_name: str, args: argparse.Namespace, work: Path, peak: float | None) -> dict:
    """All jobs of one size; returns {"parity", "train", "score", "meta", "ratios"}."""
    size = SIZES[size_name]
    dev = args.device
    base = work / size_name
    print(f"== {size_name}: building model and data in {base}", flush=True)
    depth = size.model_overrides(dev).get("num_hidden_layers", "default")
    model = build_model(size, base / f"model_{dev}_{depth}", dev)
    warmup, timed = size.steps[dev]
    batch = size.batch[dev]
    records = make_records(size, batch * (warmup + timed) + 1, base / "images")
    data = write_data(records, base / "train.jsonl")
    common = {
        "model": str(model),
        "data": str(data),
        "device": dev,
        "workdir": str(base),
        "size": size_name,
        "bf16": dev == "cuda",
        "peak_tflops": peak,
        "threads": args.threads,
    }
    out: dict[str, Any] = {"meta": _size_meta(size, model, records, batch, dev, text_tokens)}
    if not args.skip_parity:
        print("   parity (float32)", flush=True)
        # tiny: 2 records, both modes, losses and gradients; realistic: 1 record,
        # shortcut-aware (its L is the standard L too), losses only (forward cost)
        small = size_name == "tiny"
        out["parity"] = spawn(
            {
                **common,
                "kind": "parity",
                "name": "parity",
                "bf16": False,
                "batch": 2 if small else 1,
                "grads": small,
                "modes": ["standard", "shortcut-aware"] if small else ["shortcut-aware"],
            }
        )
        print(f"   parity max abs diff {out['parity'].get('max_abs_diff')}", flush=True)
    out["train"] = []
    for name, impl, mode, lora, text_only, compare in TRAIN_CONFIGS:
        job = {
            **common,
            "kind": "train",
            "name": name,
            "impl": impl,
            "mode": mode,
            "lora": lora,
            "text_only": text_only,
            "compare_per_row": compare,
            "batch": batch,
            "steps": list(size.official_steps.get(dev, (warmup, timed)))
            if impl == "official"
            else [warmup, timed],
        }
        res = spawn(job)
        for label, r in ((name, res), (name + " per-row", res.get("per_row"))):
            if r is not None:
                print(
                    f"   {label:32s} step {r.get('step_s', float('nan')):8.3f} s  "
                    f"peak {r.get('peak_mb', float('nan')):8.0f} MiB",
                    flush=True,
                )
        out["train"].append(res)
    score_job = {
        **common,
        "kind": "score",
        "name": "score",
        "batch_size": 16,
        "n_records": size.score_records[dev],
        "image_dir": str(base / "score_images"),
    }
    out["score"] = spawn(score_job)
    print(f"   scoring speedup {out['score'].get('speedup')}", flush=True)
    out["ratios"] = ratios(out)
    return out


def _size_meta(size, model, records, batch, dev, text_tokens) -> dict[str, Any]:
    from transformers import AutoConfig, AutoProcessor

    cfg = AutoConfig.from_pretrained(model)
    try:
        processor = AutoProcessor.from_pretrained(model)
        mean_text = text_tokens(processor, records)
    except Exception:  # noqa: BLE001 - metadata only
        mean_text = None
    tc, vc = cfg.text_config, cfg.vision_config
    return {
        "records_per_step": batch,
        "responses_per_record": len(records[0].responses),
        "pairs_per_record": len(records[0].pairs),
        "image_tokens": cfg.image_seq_length,
        "mean_text_tokens_per_sequence": mean_text,
        "lm": f"Llama hidden {tc.hidden_size} x {tc.num_hidden_layers} layers, "
        f"inter {tc.intermediate_size}, heads {tc.num_attention_heads}/"
        f"{tc.num_key_value_heads}, vocab {tc.vocab_size}",
        "vision": f"CLIP {vc.image_size}px patch {vc.patch_size}, hidden {vc.hidden_size} "
        f"x {vc.num_hidden_layers} layers",
    }


def ratios(out: dict[str, Any]) -> dict[str, float | None]:
    """The target ratios of one size (None where a job failed)."""
    t = {r["name"]: r for r in out["train"] if "error" not in r}

    def q(a: str, b: str, key: str) -> float | None:
        return t[a][key] / t[b][key] if a in t and b in t else None

    def packed(name: str, key: str = "step_s", invert: bool = False) -> float | None:
        """per-row / packed of one configuration (packed / per-row with `invert`)."""
        r = t.get(name, {})
        if "per_row" not in r:
            return None
        return r[key] / r["per_row"][key] if invert else r["per_row"][key] / r[key]

    sc = out.get("score", {})
    return {
        "sa_over_standard_time_full": q("shortcut-aware/full", "standard/full", "step_s"),
        "sa_over_standard_time_lora": q("shortcut-aware/lora", "standard/lora", "step_s"),
        "sa_over_standard_peak_mem_lora": q("shortcut-aware/lora", "standard/lora", "peak_mb"),
        "sa_over_standard_peak_mem_full": q("shortcut-aware/full", "standard/full", "peak_mb"),
        "official_over_ours_per_record_standard": q(
            "official standard/full", "standard/full", "s_per_record"
        ),
        "official_over_ours_per_record_sa_blank": q(
            "official shortcut-aware/full", "shortcut-aware-blank/full", "s_per_record"
        ),
        "official_over_ours_per_record_sa_drop": q(
            "official shortcut-aware/full", "shortcut-aware/full", "s_per_record"
        ),
        "packed_speedup_standard_full": packed("standard/full"),
        "packed_speedup_sa_full": packed("shortcut-aware/full"),
        "packed_speedup_standard_lora": packed("standard/lora"),
        "packed_speedup_sa_lora": packed("shortcut-aware/lora"),
        "packed_over_per_row_peak_mem_full": packed("standard/full", "peak_mb", invert=True),
        "packed_over_per_row_peak_mem_sa_full": packed("shortcut-aware/full", "peak_mb", True),
        "scoring_speedup_4_per_image": sc.get("speedup"),
        "scoring_speedup_shared_image_only": sc.get("speedup_shared_image"),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--sizes", default="tiny,realistic", help="comma list of: tiny, realistic")
    p.add_argument("--out", default=str(HERE / "results.json"), help="results JSON path")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--peak-tflops", type=float, default=None, help="peak bf16 TFLOP/s for MFU")
    p.add_argument("--workdir", default=None, help="models/data folder (default: a temp dir)")
    p.add_argument("--skip-parity", action="store_true")
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads per worker (default: torch's own, all cores)",
    )
    p.add_argument(
        "--cpu-layers",
        type=int,
        default=None,
        help="LM and vision depth of the realistic size on CPU (default 2)",
    )
    p.add_argument(
        "--time-limit",
        type=float,
        default=None,
        help="seconds for the whole run: jobs past it are killed / not started (recorded)",
    )
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        print(MARK + json.dumps(run_worker(json.loads(args.worker))), flush=True)
        return 0
    if args.time_limit:
        DEADLINE[0] = time.time() + args.time_limit
    work = Path(args.workdir or tempfile.mkdtemp(prefix="shortcutlab_bench_"))
    peak = detect_peak_tflops(args.device, args.peak_tflops)
    if args.cpu_layers:
        SIZES["realistic"].cpu_layers = args.cpu_layers
    results: dict[str, Any] = {
        "command": " ".join(["python", "benchmarks/run.py", *sys.argv[1:]]),
        "machine": {**machine_info(args.device), "threads_per_worker": args.threads},
        "peak_tflops": peak,
        "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "sizes": {},
    }
    t0 = time.time()
    for name in [s.strip() for s in args.sizes.split(",") if s.strip()]:
        results["sizes"][name] = run_size(name, args, work, peak)
    results["total_s"] = round(time.time() - t0, 1)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(markdown(results))
    bad = [
        n
        for n, s in results["sizes"].items()
        if s.get("parity", {}).get("max_abs_diff", 0) > PARITY_TOL
    ]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
