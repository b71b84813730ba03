"""Markdown tables of a benchmarks/run.py results dict (ratios first)."""

from __future__ import annotations

import json
import sys
from typing import Any

TARGETS = [
    (
        "packed_speedup_standard_full",
        "training step, per-row / packed (standard, full FT)",
        ">=",
        1.5,
    ),
    (
        "packed_speedup_sa_full",
        "training step, per-row / packed (shortcut-aware, full FT)",
        ">=",
        1.5,
    ),
    ("packed_speedup_standard_lora", "training step, per-row / packed (standard, LoRA)", "", None),
    ("packed_speedup_sa_lora", "training step, per-row / packed (shortcut-aware, LoRA)", "", None),
    (
        "packed_over_per_row_peak_mem_full",
        "peak memory, packed / per-row (standard, full FT)",
        "",
        None,
    ),
    (
        "packed_over_per_row_peak_mem_sa_full",
        "peak memory, packed / per-row (shortcut-aware, full FT)",
        "",
        None,
    ),
    ("sa_over_standard_time_full", "shortcut-aware / standard step time (full FT)", "<=", 1.3),
    ("sa_over_standard_time_lora", "shortcut-aware / standard step time (LoRA)", "<=", 1.3),
    ("sa_over_standard_peak_mem_lora", "shortcut-aware / standard peak memory (LoRA)", "<=", 1.15),
    ("sa_over_standard_peak_mem_full", "shortcut-aware / standard peak memory (full FT)", "", None),
    (
        "official_over_ours_per_record_standard",
        "official / shortcutlab time per 4-response record, standard",
        ">=",
        2.5,
    ),
    (
        "official_over_ours_per_record_sa_blank",
        "official / shortcutlab time per record, shortcut-aware (both blank image)",
        ">=",
        2.5,
    ),
    (
        "official_over_ours_per_record_sa_drop",
        "official / shortcutlab time per record, shortcut-aware (ours: drop, default)",
        ">=",
        2.5,
    ),
    (
        "scoring_speedup_4_per_image",
        "scoring speed-up, 4 responses per image vs one-by-one (shared prefix, default)",
        ">=",
        2.0,
    ),
    (
        "scoring_speedup_shared_image_only",
        "scoring speed-up vs one-by-one, shared image only (`--no-prefix-sharing`)",
        "",
        None,
    ),
]


def _fmt(x: Any, digits: int = 2) -> str:
    if x is None:
        return "n/a"
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    return str(x)


def _verdict(value: float | None, op: str, target: float | None) -> str:
    if value is None or target is None:
        return ""
    ok = value <= target if op == "<=" else value >= target
    return "yes" if ok else "**no**"


def ratio_table(results: dict[str, Any]) -> str:
    sizes = list(results["sizes"])
    head = "| ratio | target | " + " | ".join(sizes) + " |"
    lines = [head, "|---|---|" + "---|" * len(sizes)]
    for key, label, op, target in TARGETS:
        cells = []
        for s in sizes:
            v = results["sizes"][s].get("ratios", {}).get(key)
            verdict = _verdict(v, op, target)
            cells.append(f"{_fmt(v)} {('(' + verdict + ')') if verdict else ''}".strip())
        tgt = f"{op} {target}" if target is not None else "-"
        lines.append(f"| {label} | {tgt} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def train_table(size: str, res: dict[str, Any], gpu: bool) -> str:
    cols = (
        "| configuration | step (s, median) | s / record | LM tokens / step | tokens/s | "
        "peak MiB (steps) | MiB before steps |"
    )
    if gpu:
        cols += " model TFLOP/s | MFU |"
    n = cols.count("|") - 1
    lines = [
        f"**{size}** ({res['meta']['records_per_step']} records x "
        f"{res['meta']['responses_per_record']} responses per step)",
        "",
        cols,
        "|" + "---|" * n,
    ]
    rows = []
    for r in res["train"]:
        rows.append(r)
        if "per_row" in r:
            rows.append({**r["per_row"], "name": r["name"] + " per-row (prefix_sharing off)"})
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['name']} | failed |" + " |" * (n - 2))
            continue
        who = "" if r["impl"] == "official" else "shortcutlab "
        row = (
            f"| {who}{r['name']} | "
            f"{r['step_s']:.3f} | {r['s_per_record']:.3f} | {r['lm_tokens_per_step']:.0f} | "
            f"{r['tokens_per_s']:.0f} | {r['peak_mb']:.0f} | {r['before_steps_mb']:.0f} |"
        )
        if gpu:
            row += f" {r['model_tflops_per_s']:.1f} | {_fmt(r.get('mfu'), 3)} |"
        lines.append(row)
    return "\n".join(lines)


def score_table(size: str, sc: dict[str, Any], gpu: bool) -> str:
    if "error" in sc:
        return f"**{size}** scoring failed"
    lines = [
        f"**{size}**: {sc['n_records']} records x 4 responses, batch {sc['batch_size']} "
        f"sequences; max |reward diff| vs one-by-one = {sc['max_abs_diff']:.2e}",
        "",
        "| scorer | seconds (min of rounds) | rounds (s) | responses/s | LM tokens | peak MiB |"
        + (" model TFLOP/s | MFU |" if gpu else ""),
        "|---|---|---|---|---|---|" + ("---|---|" if gpu else ""),
    ]
    scorers = (
        ("shortcutlab", "shortcutlab `score` (shared prefix, default)"),
        ("shared_image", "shortcutlab `score --no-prefix-sharing` (shared image)"),
        ("one_by_one", "one-by-one"),
    )
    for key, label in scorers:
        if key + "_s" not in sc:
            continue
        rounds = ", ".join(f"{t:.2f}" for t in sc.get(key + "_times_s", []))
        row = (
            f"| {label} | {sc[key + '_s']:.2f} | {rounds} | {sc[key + '_responses_per_s']:.2f} | "
            f"{sc.get(key + '_lm_tokens', '-')} | {_fmt(sc.get(key + '_peak_mb'), 0)} |"
        )
        if gpu:
            row += f" {sc[key + '_model_tflops_per_s']:.1f} | {_fmt(sc.get(key + '_mfu'), 3)} |"
        lines.append(row)
    return "\n".join(lines)


def parity_table(results: dict[str, Any]) -> str:
    def e(d: dict[str, Any], key: str) -> str:
        return f"{d[key]:.1e}" if key in d else "-"

    lines = [
        "| size | mode | pairs | L | L_t | SFC | objective | gradients |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s, res in results["sizes"].items():
        par = res.get("parity")
        if not par or "error" in par:
            continue
        for mode in ("standard", "shortcut-aware"):
            if mode in par:
                d = par[mode]
                lines.append(
                    f"| {s} | {mode} | {d['pairs']} | {e(d, 'loss')} | "
                    f"{e(d, 'proxy_loss')} | {e(d, 'sfc')} | {e(d, 'objective')} | "
                    f"{e(d, 'grad')} |"
                )
    return "\n".join(lines)


def markdown(results: dict[str, Any]) -> str:
    gpu = results["machine"].get("device") == "cuda"
    parts = ["## Ratios (one run)", "", ratio_table(results), "", "## Training", ""]
    for s, res in results["sizes"].items():
        parts += [train_table(s, res, gpu), ""]
    parts += ["## Scoring", ""]
    for s, res in results["sizes"].items():
        parts += [score_table(s, res.get("score", {"error": 1}), gpu), ""]
    parts += ["## Parity (max abs difference, float32, same weights)", "", parity_table(results)]
    return "\n".join(parts)


if __name__ == "__main__":  # python benchmarks/report.py benchmarks/results.json
    print(markdown(json.loads(open(sys.argv[1]).read())))
