"""Diagnose a reward model you did not train here: its score tables through SFD and the
generalization matrix.

Any system can produce the score tables: one row per response with `id`,
`response_index`, `reward` and the preference (`label` "chosen" / "rejected" for a pair,
or a `preference_score` per response); JSONL, JSON or parquet. The full contract is in
docs/scoring.md. This script makes them up: a
"multimodal" RM that sees the image (right on most pairs) and a text-only proxy that
follows a length cue, scored on a small hand-written test set; the MM-RM leans on the same
cue, so its SFD is large. Replace `write_scores`
with your own export.

    python examples/third_party_scores.py --out runs/example-third-party

The CLI equivalents:

    shortcutlab sfd --mm-scores mm.jsonl --proxy-scores text.jsonl --data test.jsonl -o out/sfd
    shortcutlab matrix --from-scores scores/ -o out/matrix
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from PIL import Image

from shortcutlab.diagnostics.outputs import (
    Provenance,
    SfdSet,
    load_matrices,
    report_matrix,
    report_sfd,
)

ENVS = ("docs", "charts")  # two test sets; models trained on each are scored on both


def write_test_set(path: Path, n: int, seed: int) -> None:
    """A pairwise test file in the official pairwise schema, one shared image."""
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (32, 32), (200, 10, 10)).save(path.parent / "square.png")
    rows = []
    for i in range(n):
        short, long = "A red square.", "A blue square, drawn in the middle of the page."
        chosen_long = rng.random() < 0.7  # the length cue agrees with the label 70% of the time
        rows.append(
            {
                "id": f"{path.stem}-{i}",
                "prompt": "Describe the image.",
                "img_path": "square.png",  # relative to the data file's folder
                "chosen": long if chosen_long else short,
                "rejected": short if chosen_long else long,
            }
        )
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def write_scores(test: Path, out: Path, *, sees: bool, seed: int, shortcut: float = 0.0) -> Path:
    """Made-up rewards for every response of `test` (two rows per pair).

    `sees`: the reward knows the right answer (+1 for the chosen one); `shortcut`: weight
    of a length cue per character (the text-only proxy is the cue alone).
    """
    rng = random.Random(seed)
    rows = []
    for line in test.read_text().splitlines():
        rec = json.loads(line)
        for idx, text in enumerate((rec["chosen"], rec["rejected"])):
            reward = (float(idx == 0) if sees else 0.0) + shortcut * len(text)
            reward += rng.gauss(0, 0.3)
            label = "chosen" if idx == 0 else "rejected"
            rows.append({"id": rec["id"], "response_index": idx, "reward": reward, "label": label})
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return out


def main(out: Path) -> dict:
    prov = Provenance(command=["python", "examples/third_party_scores.py"])  # run_info.json
    tests = {e: out / "data" / f"{e}.jsonl" for e in ENVS}
    for i, path in enumerate(tests.values()):
        write_test_set(path, n=60, seed=i)

    # SFD (Def. 3.1) of the MM-RM against the proxy on one test set.
    mm = write_scores(tests["docs"], out / "sfd_in" / "mm.jsonl", sees=True, shortcut=0.03, seed=1)
    px = write_scores(
        tests["docs"], out / "sfd_in" / "text.jsonl", sees=False, shortcut=0.1, seed=2
    )
    sets = [SfdSet("docs", str(mm), str(px), str(tests["docs"]))]
    sfd = report_sfd(sets, out / "sfd", prov, n_boot=200, seed=0).results[0]
    print(f"SFD {sfd.sfd:.1f} [{sfd.ci_low:.1f}, {sfd.ci_high:.1f}] points")

    # The matrix: score tables named {mode}__{train_env}__{test_env}.jsonl in one folder.
    scores = out / "scores"
    for i, train in enumerate(ENVS):
        for j, test in enumerate(ENVS):
            name = f"standard__{train}__{test}.jsonl"
            # in distribution the model sees; out of distribution it falls back on length
            sees = train == test
            write_scores(
                tests[test], scores / name, sees=sees, shortcut=0.1 * (not sees), seed=10 * i + j
            )
    mats, inputs, long = load_matrices(scores=scores, n_boot=200, seed=0)
    rep = report_matrix(mats, out / "matrix", prov, inputs=inputs, long=long, seed=0)
    s = rep.summaries["standard"]
    print(f"matrix: i.i.d. {s['iid_mean']:.1f}, o.o.d. {s['ood_mean']:.1f}")
    return {"sfd": sfd.sfd, "iid": s["iid_mean"], "ood": s["ood_mean"]}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("runs/example-third-party"))
    print(json.dumps(main(ap.parse_args().out)))
