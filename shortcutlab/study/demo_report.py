"""`report.md` of the demo: the figures, the numbers (each table names its JSON/CSV
source) and a short reading generated from the numbers, with the paper's for reference.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from shortcutlab.files import atomic_write_text

PAPER = {  # InternVL2-8B, Li et al. (ICML 2025): Fig. 1, Sec. 3.3
    "standard": {"iid": 91.4, "ood": 68.1},
    "shortcut-aware": {"iid": 90.2, "ood": 78.5},
    "sfd_standard_mean": 39.5,
}
MM_MODES = ("standard", "shortcut-aware")


def _f(x: Any, digits: int = 1) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def _pm(d: dict[str, Any] | None) -> str:
    """'mean ± sd (n seeds)' from a _mean_sd dict."""
    if not d or d.get("mean") is None:
        return "n/a"
    if d.get("n", 1) > 1:
        return f"{d['mean']:.1f} ± {d['sd']:.1f} (min {d['min']:.1f}, {d['n']} seeds)"
    return f"{d['mean']:.1f}"


def _benchmark(demo: dict[str, Any]) -> list[str]:
    b = demo["benchmark"]
    lines = [
        "## 1. The benchmark",
        "",
        f"Built by `shortcutlab synth` (size `{b['size']}`, seed {b['seed']}); definition in "
        "`bench/spec.json` and docs/benchmark.md. In every pair the image decides the "
        "preference; the text cue agrees with the label in the share of pairs shown.",
        "",
        "| env | planted text shortcut | train pairs | cue agrees: train / test / shift | "
        "chosen longer (chars), test |",
        "|---|---|---|---|---|",
    ]
    for env, shortcut in b["shortcuts"].items():
        if env == "pretrain":
            continue
        st = b["stats"][env]
        lines.append(
            f"| {env} | {shortcut} | {st['train']['pairs']} | "
            f"{st['train']['shortcut_agree_rate']:.0%} / {st['test']['shortcut_agree_rate']:.0%} / "
            f"{st['shift']['shortcut_agree_rate']:.0%} | "
            f"{st['test']['chosen_longer_share_chars']:.0%} |"
        )
    return lines + [""]


def _init(demo: dict[str, Any]) -> list[str]:
    i = demo["seeing_init"]
    w, t = i["with_image"], i["text_only"]
    lines = [
        "## 2. The seeing initialisation",
        "",
        f"A tiny random-init {demo['arch']} trained {i['steps']} steps as a standard RM on the "
        "shortcut-free `pretrain` set (chosen and rejected differ only in the answer word). "
        f"Held-out accuracy: **{100 * w['accuracy']:.1f}** with the image "
        f"(95% CI {100 * w['ci_low']:.1f}-{100 * w['ci_high']:.1f}, {w['n_pairs']} pairs), "
        f"{100 * t['accuracy']:.1f} with the image dropped (chance is 50; ties "
        f"{t['n_ties']} count as wrong). Source: `demo.json` → `seeing_init`.",
        "",
    ]
    curve = i.get("eval_curve") or []
    if curve:
        steps = ", ".join(f"{c['step']}: {100 * c['eval_acc']:.1f}" for c in curve)
        lines[-1:] = ["", f"Held-out accuracy during pre-training (step: points): {steps}.", ""]
    return lines


def _matrix(s: dict[str, Any]) -> list[str]:
    lines = [
        "## 3. Generalization matrix (Fig. 1 / Table 5)",
        "",
        "![matrix](study/results/matrix.png)",
        "",
        "| mode | i.i.d. mean | o.o.d. mean | paper i.i.d. / o.o.d. |",
        "|---|---|---|---|",
    ]
    for mode, m in s["matrix"].items():
        p = PAPER.get(mode)
        ref = f"{p['iid']} / {p['ood']}" if p else "-"
        lines.append(
            f"| {mode} | {_pm(m['iid_over_seeds'])} | {_pm(m['ood_over_seeds'])} | {ref} |"
        )
    lines += [
        "",
        "Cells (mean over seeds): `study/results/matrix_{mode}.csv`; every cell of every "
        "seed with its bootstrap interval: `study/results/accuracy_long.csv`; "
        "`text-only` rows are the shortcut-aware runs' proxies.",
        "",
    ]
    return lines


def _shift_sfd(s: dict[str, Any]) -> list[str]:
    lines = [
        "## 4. Shortcut reliance: shift splits and SFD (Def. 3.1)",
        "",
        "Accuracy on each environment's `shift` split (same images and style, cue reversed: "
        "agrees in 10% of pairs). A model that follows the cue scores about 10 there.",
        "",
        "| mode | " + " | ".join(sorted(next(iter(s["shift"].values()))["by_env"])) + " | mean |",
    ]
    envs = sorted(next(iter(s["shift"].values()))["by_env"])
    lines.append("|---" * (len(envs) + 2) + "|")
    for mode, d in s["shift"].items():
        cells = " | ".join(_f(d["by_env"].get(e)) for e in envs)
        lines.append(f"| {mode} | {cells} | {_pm(d['over_seeds'])} |")
    lines += [
        "",
        "Source: `study/results/shift.csv`.",
        "",
        "SFD = accuracy on pairs the text-only model gets right minus on pairs it gets "
        "wrong (points; paper, standard MM-RMs: 14.2-57.5, mean 39.5).",
        "",
        "| mode | SFD, o.o.d. cells | SFD, shift splits |",
        "|---|---|---|",
    ]
    for mode, d in s["sfd"].items():
        lines.append(
            f"| {mode} | {_pm(d.get('ood', {}).get('over_seeds'))} | "
            f"{_pm(d.get('shift', {}).get('over_seeds'))} |"
        )
    lines.append("")
    for mode in s["sfd"]:
        lines.append(f"![SFD {mode}](study/results/sfd_{mode}_s0.png)")
    lines += ["", "Every cell with intervals: `study/results/sfd.csv`.", ""]
    return lines


def _corr_length(s: dict[str, Any]) -> list[str]:
    lines = [
        "## 5. Correlation with the text-only model (Fig. 3) and length (Sec. 3.5.1)",
        "",
        "| mode | mean Pearson of pair margins, MM vs text-only (i.i.d. tests) |",
        "|---|---|",
    ]
    for mode, d in s["correlation"].items():
        lines.append(f"| {mode} | {_f(d.get('pearson_mean'), 3)} |")
    lines += [
        "",
        "| env | chosen longer (words) | balanced pairs | accuracy on the length-balanced subset |",
        "|---|---|---|---|",
    ]
    for env, d in s["length"].items():
        if "stats" not in d:
            lines.append(f"| {env} | n/a | 0 | {d.get('note', '')} |")
            continue
        accs = ", ".join(
            f"{a['model'].split(':')[0]} {100 * a['accuracy']:.1f}"
            for a in d["accuracies"]
            if a["pair_set"] == "balanced"
        )
        lines.append(
            f"| {env} | {d['stats']['share_chosen_longer']:.0%} | "
            f"{d['n_balanced_pairs']} | {accs} |"
        )
    lines += [
        "",
        "Sources: `study/results/correlation.csv`, `study/results/length.csv`, "
        "figures `study/results/length_{env}.png`.",
        "",
    ]
    return lines


def reading(demo: dict[str, Any]) -> list[str]:
    """A few sentences comparing shortcut-aware with standard, from the numbers only."""
    s = demo["study"]
    mat, sh, sfd = s["matrix"], s.get("shift", {}), s.get("sfd", {})
    out = ["## 6. Reading", ""]
    if demo["quick"]:
        out.append(
            "*This was `--quick`: a smoke run of the whole pipeline with a step budget "
            "far too small to learn; the numbers below are not evidence either way. "
            "Run `shortcutlab demo` (no --quick) for a result.*"
        )
        out.append("")
    if all(m in mat for m in MM_MODES):
        st, sa = mat["standard"], mat["shortcut-aware"]
        d_ood = sa["ood_mean"] - st["ood_mean"]
        d_iid = sa["iid_mean"] - st["iid_mean"]
        out.append(
            f"- o.o.d. mean: shortcut-aware {sa['ood_mean']:.1f} vs standard "
            f"{st['ood_mean']:.1f} ({d_ood:+.1f} points; paper +10.4); i.i.d. "
            f"{d_iid:+.1f} points (paper -1.2)."
        )
    if all(m in sh for m in MM_MODES):
        d = sh["shortcut-aware"]["mean"] - sh["standard"]["mean"]
        out.append(
            f"- shift splits (cue reversed): {sh['shortcut-aware']['mean']:.1f} vs "
            f"{sh['standard']['mean']:.1f} ({d:+.1f}); the text-only proxies score "
            f"{_f(sh.get('text-only', {}).get('mean'))}: the cue they learned."
        )
    if all(m in sfd and "ood" in sfd[m] for m in MM_MODES):
        a, b = sfd["shortcut-aware"]["ood"]["mean_sfd"], sfd["standard"]["ood"]["mean_sfd"]
        out.append(
            f"- SFD over o.o.d. cells: shortcut-aware {a:.1f} vs standard {b:.1f} "
            f"({'lower' if a < b else 'not lower'}; the paper finds it lower everywhere)."
        )
    out += [
        "- Seeds: with one seed, differences of a few points are within noise (each cell's "
        "interval is in `accuracy_long.csv`); use `--seeds 3` and read mean ± sd.",
        "",
    ]
    return out


def _machine(demo: dict[str, Any]) -> str:
    """' on <CPU>, N torch threads' from the demo's environment (empty when absent)."""
    m = (demo.get("environment") or {}).get("machine") or {}
    if not m:
        return ""
    threads = m.get("torch_threads")
    return f" on {m.get('cpu')}" + (f", {threads} torch threads" if threads else "")


def write_report(demo: dict[str, Any], out: Path) -> Path:
    """Write out/report.md from the demo dict (also saved as out/demo.json)."""
    s = demo["study"]
    head = [
        "# shortcutlab demo report",
        "",
        f"{'Quick smoke run' if demo['quick'] else 'Full run'}: {demo['seeds']} seed(s), "
        f"{demo['plan']['env_steps']} steps per environment run, "
        f"{demo['plan']['pretrain_steps']} pre-training steps, {demo['seconds']} s in all"
        f"{_machine(demo)}. "
        "All numbers: `demo.json` (this report's data) and `study/results/summary.json`. "
        "Absolute numbers differ slightly between machines (floating-point order, amplified "
        "by training); the same machine and seed reproduce them exactly.",
        "",
    ]
    body = head + _benchmark(demo) + _init(demo) + _matrix(s)
    if s.get("shift") and s.get("sfd"):
        body += _shift_sfd(s)
    body += _corr_length(s) + reading(demo)
    return atomic_write_text(out / "report.md", "\n".join(body) + "\n")
