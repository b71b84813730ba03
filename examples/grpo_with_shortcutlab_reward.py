"""GRPO with a shortcutlab reward model and the shortcut monitor: a real TRL run on CPU.

    python examples/grpo_with_shortcutlab_reward.py --out runs/grpo-example --steps 4
    python examples/grpo_with_shortcutlab_reward.py --policy MY_VLM --reward runs/sfc

A vision-language policy (default: a tiny random-init LLaVA, so it runs anywhere in
about a minute) samples G answers per image question; `shortcutlab.rl.RewardFunction`
scores them with the reward model (default: another tiny LLaVA; pass a `train --output`
run folder for a real one). `ShortcutMonitor` watches the reward model while the policy
learns: reward-length correlation, the reward drop when the image is blanked (on every
second completion here) and the rate of hedging phrases, logged to TensorBoard under
`train/shortcut/*` (`tensorboard --logdir OUT/runs`), with a warning when the
reward-length correlation passes `--max-length-corr` (0.5). Prints the last logged step
and the monitor's alerts as one line of JSON.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

COLOURS = {"red": (220, 30, 30), "green": (30, 200, 30), "blue": (30, 30, 220)}


def dataset(n: int):
    """Image questions in TRL's conversational format with an `image` column."""
    from datasets import Dataset
    from PIL import Image, ImageDraw

    rows = []
    for i in range(n):
        name, rgb = list(COLOURS.items())[i % len(COLOURS)]
        im = Image.new("RGB", (64, 64), (255, 255, 255))
        ImageDraw.Draw(im).ellipse((8, 8, 56, 56), fill=rgb)
        prompt = [{"role": "user", "content": "What colour is the circle?"}]
        rows.append({"prompt": prompt, "image": im, "colour": name})
    return Dataset.from_list(rows)


def main(
    out: Path,
    steps: int = 4,
    policy: str | None = None,
    reward: str | None = None,
    max_length_corr: float = 0.5,
    batch: int = 4,
    completion_tokens: int = 12,
) -> dict:
    """Run GRPO for `steps` steps (`batch` completions each, 2 per prompt); the last
    logged metrics and the monitor's alerts."""
    from trl import GRPOConfig, GRPOTrainer

    from shortcutlab.modeling.tiny import build_tiny_model
    from shortcutlab.rl import RewardFunction, ShortcutMonitor, Thresholds

    policy = policy or str(build_tiny_model("llava", out / "tiny-policy", seed=1))
    reward = reward or str(build_tiny_model("llava", out / "tiny-reward", seed=2))
    monitor = ShortcutMonitor(
        blank_fraction=0.5,
        phrases=["not sure", "i think"],
        thresholds=Thresholds(max_length_corr=max_length_corr),
    )
    args = GRPOConfig(
        output_dir=str(out),
        max_steps=steps,
        per_device_train_batch_size=batch,
        num_generations=2,
        max_completion_length=completion_tokens,
        learning_rate=1e-4,
        logging_steps=1,
        report_to=["tensorboard"],
        save_strategy="no",
        use_cpu=True,
        bf16=False,
        seed=0,
        temperature=1.0,
    )
    trainer = GRPOTrainer(
        model=policy,
        reward_funcs=RewardFunction(reward, device="cpu", monitor=monitor),
        args=args,
        train_dataset=dataset(8),
        callbacks=[monitor],
    )
    trainer.train()
    last = [row for row in trainer.state.log_history if "reward" in row][-1]
    result = {k: v for k, v in last.items() if k.startswith(("shortcut/", "reward", "step"))}
    result["alerts"] = monitor.alerts
    return result


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=Path("runs/grpo-example"))
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--policy", default=None, help="VLM folder / Hub id (default: tiny LLaVA)")
    p.add_argument("--reward", default=None, help="Reward model or run folder (default: tiny)")
    p.add_argument("--max-length-corr", type=float, default=0.5, help="Monitor threshold")
    a = p.parse_args()
    print(json.dumps(main(a.out, a.steps, a.policy, a.reward, a.max_length_corr)))
