"""Writing the trained branches as normal, loadable RewardModel folders.

`model/` (primary branch) is the only thing inference needs; `proxy/` is kept for
shortcut-aware runs (the text-only proxy's scores feed SFD, Def. 3.1). LoRA branches are
merged into a freshly loaded full-precision base (also for QLoRA, whose 4-bit weights are
only a training-time approximation), so both folders load without peft.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from shortcutlab.config import TrainConfig
from shortcutlab.modelcard import write_model_card
from shortcutlab.run_folder import RunFolder
from shortcutlab.training.branches import (
    PRIMARY,
    PROXY,
    Branches,
    load_reward_model,
    lora_config,
    peft_compatible,
)


def export_branches(branches: Branches, cfg: TrainConfig, out_dir: Path) -> dict[str, str]:
    """Save model/ (and proxy/ when there is one) with model/README.md, the model card;
    returns {"model": path, "proxy": path}."""
    saved = _export(branches, cfg, out_dir)
    write_model_card(saved["model"], out_dir)  # Hub model card (shortcutlab.modelcard)
    return saved


def _export(branches: Branches, cfg: TrainConfig, out_dir: Path) -> dict[str, str]:
    saved = {}
    run = RunFolder(out_dir)
    if branches.lora_proxy or cfg.lora:
        saved["model"] = _export_lora(branches.primary, PRIMARY, cfg, run.model)
        if branches.lora_proxy:
            saved["proxy"] = _export_lora(branches.primary, PROXY, cfg, run.proxy, True)
        return saved
    branches.primary.save_pretrained(run.model)
    saved["model"] = str(run.model)
    if branches.proxy is not None:
        _mark_proxy(branches.proxy, cfg)
        branches.proxy.save_pretrained(run.proxy)
        saved["proxy"] = str(run.proxy)
    return saved


def _mark_proxy(rm: nn.Module, cfg: TrainConfig) -> None:
    """Record the proxy's input mode so scoring feeds it what it was trained on."""
    if cfg.proxy == "text-only" and hasattr(rm, "text_only"):
        rm.text_only = cfg.text_only


def _export_lora(
    peft_model: Any, adapter: str, cfg: TrainConfig, path: Path, proxy: bool = False
) -> str:
    """Merge one trained adapter into a fresh full-precision base and save it."""
    from peft import get_peft_model, get_peft_model_state_dict, set_peft_model_state_dict

    state = get_peft_model_state_dict(peft_model, adapter_name=adapter)
    full_cfg = TrainConfig(**{**cfg.to_dict(), "load_in_4bit": False, "bf16": False})
    fresh = load_reward_model(full_cfg)
    peft_compatible(fresh)
    fresh_peft = get_peft_model(fresh, lora_config(fresh, cfg, inference_mode=True))
    result = set_peft_model_state_dict(fresh_peft, state, adapter_name="default")
    missing = [k for k in getattr(result, "unexpected_keys", []) if "lora_" in k]
    if missing:
        raise RuntimeError(f"LoRA export: adapter keys not loaded: {missing[:5]}")
    merged = fresh_peft.merge_and_unload()
    if proxy:
        _mark_proxy(merged, cfg)
    merged.save_pretrained(path)
    return str(path)
