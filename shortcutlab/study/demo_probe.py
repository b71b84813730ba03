"""The demo report's probe section: what each method's RM rewards, against the benchmark's
planted cues (the probe's ground truth, docs/probe.md).

Reads the study summary's `probe` block (`shortcutlab.study.probe_results`: each run's
last probe, mean ± sd over seeds) and writes a table per environment plus a reading
generated from the numbers: whether standard responds more to the cue than each
mitigation, and whether the mitigations rely more on the image. Directions that do not
hold are reported as they are (issue 22: a finding, not something to tune away).
"""

from __future__ import annotations

from typing import Any

from shortcutlab.objectives import STANDARD
from shortcutlab.synth.environments import PROBE_CUES

SWAP_FLIP, SWAP_ABS = "swap_flip_rate", "swap_mean_abs_change_sd"
EDIT_SUFFIX = "_mean_change_sd"


def _ms(cell: dict[str, Any] | None, scale: float = 1.0, digits: int = 2) -> str:
    if not cell or cell.get("mean") is None:
        return "-"
    mean = scale * cell["mean"]
    if (cell.get("n") or 1) > 1 and cell.get("sd") is not None:
        return f"{mean:+.{digits}f} ± {scale * cell['sd']:.{digits}f}"
    return f"{mean:+.{digits}f}"


def _start(value: float | None, scale: float = 1.0, digits: int = 2) -> str:
    return "-" if value is None else f"{scale * value:+.{digits}f}"


def _env_rows(env: str, final: dict[str, Any], start: dict[str, Any]) -> list[str]:
    edit, sign = PROBE_CUES.get(env, ("", 1.0))
    cue = f"{edit}{EDIT_SUFFIX}"
    label = f"{env} ({edit}, expected {'+' if sign > 0 else '-'})"
    rows = [
        f"| {label} | before training | {_start(start.get(cue))} | "
        f"{_start(start.get(SWAP_FLIP), 100, 1)} | {_start(start.get(SWAP_ABS))} |"
    ]
    for method, cells in final.items():
        rows.append(
            f"|  | {method} | {_ms(cells.get(cue))} | {_ms(cells.get(SWAP_FLIP), 100, 1)} | "
            f"{_ms(cells.get(SWAP_ABS))} |"
        )
    return rows


def directions(probe: dict[str, Any]) -> list[str]:
    """One sentence per ground-truth direction: in how many environments it holds."""
    final = probe.get("final") or {}
    envs = [e for e in final if e in PROBE_CUES and STANDARD in final[e]]
    if not envs:
        return []
    cue_ok, img_ok, methods = 0, 0, 0
    for env in envs:
        edit, sign = PROBE_CUES[env]
        std = final[env][STANDARD]
        for method, cells in final[env].items():
            if method == STANDARD:
                continue
            methods += 1
            a, b = _mean(std, f"{edit}{EDIT_SUFFIX}"), _mean(cells, f"{edit}{EDIT_SUFFIX}")
            cue_ok += a is not None and b is not None and sign * a > sign * b
            a, b = _mean(std, SWAP_ABS), _mean(cells, SWAP_ABS)
            img_ok += a is not None and b is not None and b > a
    return [
        f"- Standard responds more to its environment's cue than the mitigation in "
        f"{cue_ok} of {methods} (environment, mitigation) comparisons (expected: all).",
        f"- The mitigation's reward moves more when the image is swapped (image reliance) "
        f"in {img_ok} of {methods} comparisons (expected: all).",
    ]


def _mean(cells: dict[str, Any], metric: str) -> float | None:
    cell = cells.get(metric) or {}
    return cell.get("mean")


def probe_section(summary: dict[str, Any], number: int, records: int | None) -> list[str]:
    """The report's probe section (empty when the study was not probed)."""
    probe = summary.get("probe") or {}
    if not probe.get("final"):
        return []
    lines = [f"## {number}. What each RM rewards: the probe", ""]
    lines += [
        f"Every run was probed while it trained (`train --probe-data`: {records or 'some'} "
        "records of its environment's test file; docs/probe.md). *cue*: the mean reward "
        "change, in the RM's reward sd, when the environment's planted cue is added to one "
        "response (vlf: neutral filler appended; povid: a detail sentence, the mark of the "
        "data's rejected answers, so an RM that learned it lowers the reward; rlhfv: a "
        "hedging opener). *swap*: preferences flipped (%) and mean |reward change| (sd) "
        "when the image is another record's (image reliance). Last step, mean ± sd over "
        "seeds. Source: `study/results/probe_final.csv`; curves: `probe.csv`.",
        "",
        "| environment (cue) | method | cue (sd) | swap: flipped (%) | swap: abs. change (sd) |",
        "|---|---|---|---|---|",
    ]
    for env, final in probe["final"].items():
        lines += _env_rows(env, final, (probe.get("start") or {}).get(env, {}))
    lines += ["", "![probe curves](study/results/probe_training.png)", ""]
    lines += directions(probe) + [""]
    return lines
