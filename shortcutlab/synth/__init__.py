"""Synthetic data with known ground truth.

- `benchmark`: the shortcut benchmark (`shortcutlab synth`): three easy-vqa environments
  imitating VLFeedback / POVID / RLHF-V construction, each with a planted text-only
  shortcut at a documented rate, plus a shortcut-free pretrain set (docs/benchmark.md);
  `environments` builds the rows, `templates` holds the answer styles.
- `shapes`: a drawn-shape colour task for training tests.
"""

from shortcutlab.synth.benchmark import build_benchmark, read_spec

__all__ = ["build_benchmark", "read_spec"]
