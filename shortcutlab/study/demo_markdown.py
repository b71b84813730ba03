"""`report.md` of the demo: the figures, the numbers (each table names its JSON/CSV
source) and a short reading generated from the numbers, with the paper's for reference.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from shortcutlab.files import atomic_write_text
from shortcutlab.objectives import SHORTCUT_AWARE, STANDARD
from shortcutlab.study.demo_probe import probe_section

PAPER = {  # InternVL2-8B, Li et al. (ICML 2025): Fig. 1, Sec. 3.3
    "standard": {"iid": 91.4, "ood": 68.1},
    "shortcut-aware": {"iid": 90.2, "ood": 78.5},
    "sfd_standard_mean": 39.5,
}
MM_MODES = (STANDARD, SHORTCUT_AWARE)


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


def _warmup(i: dict[str, Any]) -> str:
    w = i.get("vision_warmup")
    if not w:
        return "Trained "
    accs = ", ".join(f"{k} {100 * v:.1f}%" for k, v in w["heldout_accuracy"].items())
    return (
        f"First a vision warm-up: the vision tower and projector classify the pretrain "
        f"images' attributes for {w['steps']} steps of {w['batch']} images ({w['seconds']} s; "
        f"held-out: {accs}). Then "
    )


def _init(demo: dict[str, Any]) -> list[str]:
    i = demo["seeing_init"]
    w, t = i["with_image"], i["text_only"]
    lines = [
        "## 2. The seeing initialisation",
        "",
        f"A tiny random-init {demo['arch']}. {_warmup(i)}{i['steps']} steps "
        f"({i['seconds']} s) as a standard RM on the "
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


METRIC_HEAD = {"iid": "i.i.d.", "ood": "o.o.d.", "shift": "shift splits"}
METRIC_HEAD |= {"sfd_ood": "SFD o.o.d.", "sfd_shift": "SFD shift"}


def _msd(r: dict[str, Any] | None) -> str:
    if not r:
        return "-"
    return f"{r['mean']:.1f} ± {r['sd']:.1f}" if r["n_seeds"] > 1 else f"{r['mean']:.1f}"


def _diff(r: dict[str, Any] | None) -> str:
    """'+d [lo, hi]', bold when the interval excludes 0."""
    if not r:
        return "-"
    if r.get("ci_low") is None:
        return f"{r['diff']:+.1f}"
    d = f"**{r['diff']:+.1f}**" if r["supported"] else f"{r['diff']:+.1f}"
    return f"{d} [{r['ci_low']:+.1f}, {r['ci_high']:+.1f}]"


def _methods(s: dict[str, Any]) -> list[str]:
    """The methods table (mean ± sd over seeds) and the paired differences to standard."""
    m = s.get("methods") or {}
    table, diffs = m.get("table") or [], m.get("differences") or []
    if not table:
        return []
    by = {(r["mode"], r["metric"]): r for r in table}
    dby = {(r["mode"], r["metric"]): r for r in diffs}
    modes = list(dict.fromkeys(r["mode"] for r in table))
    n = max(r["n_seeds"] for r in table)
    head = "| method | " + " | ".join(METRIC_HEAD.values()) + " |"
    rule = "|---" * (len(METRIC_HEAD) + 1) + "|"
    lines = ["## 6. Methods compared over seeds", ""]
    lines += [
        f"Mean ± sd over {n} seed(s) of each method's per-seed mean, in points (accuracy: "
        "higher is better; SFD: lower is better). Source: `study/results/methods.csv`.",
        "",
        head,
        rule,
    ]
    lines += [
        f"| {mo} | " + " | ".join(_msd(by.get((mo, k))) for k in METRIC_HEAD) + " |" for mo in modes
    ]
    lines += ["", "![methods](study/results/methods.png)", ""]
    lines += [
        "Paired difference to standard (same seed, training set and test set): mean "
        "[95% t-interval over the paired units]; **bold** where the interval excludes 0, "
        "otherwise the difference is within the seed-and-cell noise. Units of one seed "
        "share a training run, so the interval is, if anything, too narrow. Source: "
        "`study/results/methods_diff.csv`.",
        "",
        head,
        rule,
    ]
    lines += [
        f"| {mo} | " + " | ".join(_diff(dby.get((mo, k))) for k in METRIC_HEAD) + " |"
        for mo in modes
        if mo != "standard"
    ]
    return lines + [""]


def _cheap(demo: dict[str, Any]) -> list[str]:
    """SFD against the cheap text-only proxy beside SFD against the trained one."""
    c = demo.get("cheap_proxy") or {}
    if not c.get("by"):
        return []
    lines = [
        "## 8. The cheap proxy (`shortcutlab audit`) vs the trained text-only RM",
        "",
        "SFD of the same models against the trained text-only RM (the paper's proxy) and "
        "against the audit's text-only regression fit on the same training file (CPU "
        "seconds, no VLM). Mean over cells and seeds; split agreement = share of pairs both "
        "proxies put in the same (success / fail) subset. Per cell: "
        "`study/results/cheap_vs_trained.csv`.",
        "",
        "| model | test split | cells | SFD, trained proxy | SFD, cheap proxy | "
        "mean abs. difference | Pearson over cells | split agreement |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in c["by"]:
        lines.append(
            f"| {r['mode']} | {r['split']} | {r['cells']} | {r['sfd_trained']:.1f} | "
            f"{r['sfd_cheap']:.1f} | {r['mean_abs_diff']:.1f} | {_f(r['pearson'], 2)} | "
            f"{100 * r['split_agreement']:.1f}% |"
        )
    return lines + [""]


def reading(demo: dict[str, Any]) -> list[str]:
    """What the intervals support, per method (nothing is called a win they do not)."""
    diffs = (demo["study"].get("methods") or {}).get("differences") or []
    out = ["## 7. Reading", ""]
    if demo["quick"]:
        out += [
            "*This was `--quick`: a smoke run of the whole pipeline with a step budget "
            "far too small to learn; the numbers below are not evidence either way. "
            "Run `shortcutlab demo` (no --quick) for a result.*",
            "",
        ]
    by = {(r["mode"], r["metric"]): r for r in diffs}
    for mode in dict.fromkeys(r["mode"] for r in diffs):
        if mode == "text-only":
            continue
        parts = [
            f"{METRIC_HEAD[k]} {_diff(by[(mode, k)])} ({by[(mode, k)]['reading']})"
            for k in ("ood", "iid", "sfd_ood")
            if (mode, k) in by
        ]
        out.append(f"- {mode} vs standard: " + "; ".join(parts) + ".")
    out += [
        "- Paper (SFC, InternVL2-8B, Fig. 1): o.o.d. +10.4, i.i.d. -1.2; SFD lower "
        "everywhere. The tiny model, data and budget differ: compare directions, not sizes.",
        "- Only differences whose interval excludes 0 are read as an effect; with one seed "
        "the intervals cover the cells of a single training run per environment.",
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
    body += _corr_length(s) + _methods(s) + reading(demo) + _cheap(demo)
    body += probe_section(s, 9, demo["plan"].get("probe_records"))
    return atomic_write_text(out / "report.md", "\n".join(body) + "\n")
