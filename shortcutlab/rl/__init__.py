"""Reward models that leave the lab: a TRL reward function, an HTTP reward server and a
shortcut monitor for RL (docs/rl.md).

- `RewardFunction`: a trained reward model as a TRL `GRPOTrainer` / `RLOOTrainer`
  `reward_funcs` entry (vision-language prompts, one float per completion);
- `ShortcutMonitor`: a TrainerCallback logging reward-length correlation, image reliance
  and phrase rates during RL, warning at user thresholds;
- `shortcutlab.rl.server`: the `shortcutlab serve` app (needs the `serve` extra).

Needs `pip install 'shortcutlab[rl]'` for TRL; the classes themselves import only
transformers.
"""

from shortcutlab.rl.monitor import ShortcutMonitor, ShortcutWindow, Thresholds
from shortcutlab.rl.reward_fn import RewardFunction
from shortcutlab.rl.scorer import RewardScorer

__all__ = ["RewardFunction", "RewardScorer", "ShortcutMonitor", "ShortcutWindow", "Thresholds"]
