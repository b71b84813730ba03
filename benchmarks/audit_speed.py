"""Timing of `shortcutlab audit` end to end (a subprocess, imports included).

    python benchmarks/audit_speed.py [--pairs 1250 100000] [--words 80] [--threads 2]

Generates pairwise preference files of random text (a Zipf-like vocabulary of 5,000
words, response lengths log-normal around --words words, a few synth-benchmark detail
and hedge sentences mixed in, the label planted on length with 25% noise), then runs
`shortcutlab audit DATA -o OUT` (5-fold cross-validation, 1,000 bootstrap replicates) on
each size and prints the wall time. Targets (issue 13): 1,250 records (VL-RewardBench
size) under 30 s, 100,000 pairs under 5 minutes, on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from shortcutlab.synth import templates as T

REPO = Path(__file__).resolve().parents[1]


def random_text(rng: np.random.Generator, vocab: np.ndarray, probs: np.ndarray, words: int) -> str:
    """About `words` words in sentences of 8-20, sometimes a detail or hedge sentence."""
    n = max(1, int(rng.lognormal(np.log(words), 0.5)))
    toks = rng.choice(vocab, size=n, p=probs)
    sentences, i = [], 0
    while i < n:
        k = int(rng.integers(8, 21))
        sentences.append(" ".join(toks[i : i + k]).capitalize() + ".")
        i += k
    if rng.random() < 0.2:
        sentences.append(str(rng.choice(T.DETAILS)))
    if rng.random() < 0.2:
        sentences.insert(0, f"{rng.choice(T.HEDGES)} the answer is below.")
    return " ".join(sentences)


def write_data(path: Path, n_pairs: int, words: int, seed: int = 0) -> Path:
    """A pairwise JSONL file of `n_pairs` random-text pairs (longer chosen 75% of the time)."""
    rng = np.random.default_rng(seed)
    vocab = np.array([f"w{i}" for i in range(5000)])
    probs = 1.0 / np.arange(1, 5001)
    probs /= probs.sum()
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n_pairs):
            a = random_text(rng, vocab, probs, words)
            b = random_text(rng, vocab, probs, words)
            longer, shorter = (a, b) if len(a) >= len(b) else (b, a)
            chosen, rejected = (longer, shorter) if rng.random() < 0.75 else (shorter, longer)
            row = {"id": f"p{i}", "prompt": "Describe the image.", "chosen": chosen}
            row |= {"rejected": rejected, "img_path": "img.png"}
            fh.write(json.dumps(row) + "\n")
    (path.parent / "img.png").write_bytes(b"")  # the loader checks existence only
    return path


def time_audit(data: Path, out: Path, threads: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of `shortcutlab audit DATA -o OUT` in a fresh process.

    CPU time (user + system of the child) is the fair number on a machine shared with
    other jobs, where wall time also counts waiting for a core.
    """
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), PYTHONPATH=str(REPO))
    cmd = [sys.executable, "-m", "shortcutlab", "audit", str(data), "-o", str(out)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pairs", type=int, nargs="+", default=[1250, 100_000])
    ap.add_argument("--words", type=int, default=80, help="typical response length in words")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.pairs:
            data = write_data(Path(tmp) / f"pairs_{n}.jsonl", n, args.words)
            wall, cpu = time_audit(data, Path(tmp) / f"out_{n}", args.threads)
            result = {"pairs": n, "words": args.words, "threads": args.threads}
            result |= {"wall_s": round(wall, 1), "cpu_s": round(cpu, 1)}
            print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
