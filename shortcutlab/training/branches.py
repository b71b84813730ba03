"""The trained module: a primary reward branch and, for shortcut-aware runs, a proxy branch.

Both branches live in one `Branches` nn.Module so accelerate wraps one module (one
DDP/FSDP wrapper) and one AdamW optimizer updates both, as in the official code.
- Full fine-tuning: the proxy is a second `RewardModel`, a copy of the primary made
  right after loading, so both start from the same weights ("identically initialized").
- LoRA / QLoRA: one frozen base, two LoRA adapters ("default" = primary, "proxy"), each
  with its own copy of the head (and of the projector when it trains), so the base weights
  exist once in memory. The forward switches the active adapter between the two passes.
Freezing (`RewardModel.set_trainable`, the one freezing API) follows the paper by default:
vision encoder frozen; projector, language model and head trained.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import sys
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from shortcutlab.config import TrainConfig
from shortcutlab.errors import ConfigError
from shortcutlab.modeling.reward_model import RewardModel
from shortcutlab.objectives import get_mode

log = logging.getLogger(__name__)
PRIMARY, PROXY = "default", "proxy"


def load_reward_model(cfg: TrainConfig) -> nn.Module:
    """Load the starting RewardModel (a base VLM gets a fresh head) per the config."""
    dtype = torch.bfloat16 if cfg.bf16 and cfg.load_in_4bit else None
    rm = RewardModel.from_pretrained(
        cfg.model,
        trust_remote_code=cfg.trust_remote_code,
        dtype=dtype,
        processor_kwargs=cfg.processor_kwargs or None,
        seed=cfg.seed,
    )
    if not get_mode(cfg.mode).images:
        rm.text_only = cfg.text_only  # recorded in shortcutlab_reward.json for scoring
    return rm


def _module_names(rm: nn.Module, params: list[nn.Parameter]) -> list[str]:
    """The outermost modules whose parameters all belong to `params` (for modules_to_save)."""
    wanted = {id(p) for p in params}
    covered: list[str] = []
    for name, mod in rm.named_modules():
        own = [id(p) for p in mod.parameters()]
        if name and own and all(i in wanted for i in own):
            if not any(name.startswith(c + ".") for c in covered):
                covered.append(name)
    return covered


def lora_config(rm: nn.Module, cfg: TrainConfig, *, inference_mode: bool = False) -> Any:
    """LoRA on the language model's linear layers named by `lora_target_modules`.

    Head (and projector unless frozen) are trained in full, one copy per adapter.
    """
    from peft import LoraConfig

    lang = {id(p) for p in rm.language_parameters()}
    suffixes = tuple(cfg.lora_target_modules)
    targets = [
        name
        for name, mod in rm.named_modules()
        if name.split(".")[-1] in suffixes
        and isinstance(mod, nn.Linear)
        and any(id(p) in lang for p in mod.parameters())
    ]
    if not targets:
        raise ConfigError(
            f"lora_target_modules {list(suffixes)} match no linear layer of the language model.",
        )
    save = _module_names(rm, list(rm.head.parameters()))
    if not cfg.freeze_projector:
        save += _module_names(rm, list(rm.projector_parameters()))
    return LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=targets,
        modules_to_save=save,
        inference_mode=inference_mode,
    )


@contextlib.contextmanager
def quiet_bitsandbytes(enabled: bool = True) -> Iterator[None]:
    """Hide bitsandbytes' import-time warnings (its CPU backend logs "Failed to load CPU
    gemm_4bit_forward ..." when the optional `kernels` package is absent).

    peft imports bitsandbytes whenever it is installed, so a LoRA run without 4-bit
    loading would print that warning about a feature it does not use.
    """
    if not enabled or "bitsandbytes" in sys.modules:
        yield
        return
    bnb_log = logging.getLogger("bitsandbytes")
    level = bnb_log.level
    bnb_log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        bnb_log.setLevel(level)


def quantize_4bit(rm: nn.Module, cfg: TrainConfig) -> None:
    """QLoRA: replace the language model's linear layers by bitsandbytes NF4 layers."""
    try:
        import bitsandbytes as bnb
    except ImportError as exc:
        raise ConfigError("load_in_4bit needs bitsandbytes (pip install bitsandbytes).") from exc
    lang = {id(p) for p in rm.language_parameters()}
    compute = torch.bfloat16 if cfg.bf16 else torch.float32
    head_ids = {id(p) for p in rm.head.parameters()}
    for name, mod in list(rm.named_modules()):
        if (
            not isinstance(mod, nn.Linear)
            or id(mod.weight) not in lang
            or id(mod.weight) in head_ids
        ):
            continue
        q = bnb.nn.Linear4bit(
            mod.in_features,
            mod.out_features,
            bias=mod.bias is not None,
            compute_dtype=compute,
            quant_type="nf4",
        )
        q.weight = bnb.nn.Params4bit(mod.weight.data.clone(), requires_grad=False, quant_type="nf4")
        if mod.bias is not None:
            q.bias = nn.Parameter(mod.bias.data.clone(), requires_grad=False)
        parent_name, _, child = name.rpartition(".")
        parent = rm.get_submodule(parent_name) if parent_name else rm
        setattr(parent, child, q.to(mod.weight.device))  # .to() quantises the weights


def activate_adapter(model: nn.Module, name: str) -> None:
    """Make adapter `name` active in every LoRA layer and modules_to_save wrapper.

    Unlike peft's `set_adapter`, this leaves `requires_grad` alone, so both adapters stay
    trainable and can be used in the same step (two passes, one backward).
    """
    from peft.tuners.tuners_utils import BaseTunerLayer
    from peft.utils.other import AuxiliaryTrainingWrapper

    for mod in model.modules():
        if isinstance(mod, BaseTunerLayer | AuxiliaryTrainingWrapper):
            mod._active_adapter = [name] if isinstance(mod, BaseTunerLayer) else name


class Branches(nn.Module):
    """Primary reward branch and optional proxy branch: forward -> (r (N,), r_t (M,) | None)."""

    def __init__(self, primary: nn.Module, proxy: nn.Module | None, *, lora_proxy: bool) -> None:
        super().__init__()
        self.primary = primary
        self.proxy = proxy  # a second RewardModel (full FT); None with LoRA adapters
        self.lora_proxy = lora_proxy

    def forward(
        self, inputs: dict[str, Any] | None, proxy_inputs: dict[str, Any] | None = None
    ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        rewards = proxy_rewards = None
        if self.lora_proxy:
            if inputs is not None:
                activate_adapter(self.primary, PRIMARY)
                rewards = self.primary(**inputs)  # (N,)
            if proxy_inputs is not None:
                activate_adapter(self.primary, PROXY)
                proxy_rewards = self.primary(**proxy_inputs)  # (M,)
                activate_adapter(self.primary, PRIMARY)
            return rewards, proxy_rewards
        if inputs is not None:
            rewards = self.primary(**inputs)  # (N,)
        if proxy_inputs is not None:
            proxy_rewards = self.proxy(**proxy_inputs)  # (M,)
        return rewards, proxy_rewards


def full_branches(accelerator: Any, model: nn.Module, cfg: TrainConfig) -> Branches | None:
    """The trained Branches with full (unsharded) weights on rank 0.

    DDP / one process: the unwrapped module. FSDP / DeepSpeed shard the weights, so the
    full state dict is gathered (a collective: every rank calls it) and loaded into a
    fresh copy on rank 0. (The sharded path is not exercised by the CPU test suite.)
    """
    from accelerate.utils import DistributedType  # accelerate: heavy, imported when used

    if accelerator.distributed_type not in (DistributedType.FSDP, DistributedType.DEEPSPEED):
        return accelerator.unwrap_model(model)
    state = accelerator.get_state_dict(model)
    if not accelerator.is_main_process:
        return None
    module, _ = build_branches(cfg)
    module.load_state_dict(state)
    return module


def build_branches(cfg: TrainConfig) -> tuple[Branches, Any]:
    """Load the model, freeze, add LoRA / the proxy copy; returns (branches, processor)."""
    rm = load_reward_model(cfg)
    processor = rm.processor
    with_proxy = get_mode(cfg.mode).proxy
    if cfg.gradient_checkpointing:
        _enable_checkpointing(rm)
    if not cfg.lora:  # full fine-tuning: all trains but the groups the config freezes
        rm.set_trainable(
            vision=not cfg.freeze_vision,
            projector=not cfg.freeze_projector,
            language=not cfg.freeze_language,
            head=True,
        )
        proxy = copy.deepcopy(rm) if with_proxy else None
        return Branches(rm, proxy, lora_proxy=False), processor
    with quiet_bitsandbytes(enabled=not cfg.load_in_4bit):
        from peft import get_peft_model  # imports bitsandbytes when it is installed

    rm.set_trainable(vision=False, projector=False, language=False, head=False)
    if cfg.load_in_4bit:
        quantize_4bit(rm, cfg)
    peft_compatible(rm)
    conf = lora_config(rm, cfg)
    peft_model = get_peft_model(rm, conf, adapter_name=PRIMARY)
    if with_proxy:
        peft_model.add_adapter(PROXY, copy.deepcopy(conf))
        _copy_adapter(peft_model, PRIMARY, PROXY)  # identical initialisation
    for name, p in peft_model.named_parameters():  # both adapters and their saved modules train
        if f".{PRIMARY}." in name or f".{PROXY}." in name:
            p.requires_grad_(True)
    activate_adapter(peft_model, PRIMARY)
    return Branches(peft_model, None, lora_proxy=with_proxy), processor


def peft_compatible(rm: nn.Module) -> None:
    """peft (with transformers 5) reads `base_model_prefix` from the wrapped model; a
    RewardModel is a plain nn.Module, so give it the neutral prefix (names stay as they are)."""
    if not hasattr(rm, "base_model_prefix"):
        rm.base_model_prefix = ""


def _copy_adapter(peft_model: nn.Module, src: str, dst: str) -> None:
    """Give adapter `dst` the exact initial weights of adapter `src`."""
    params = dict(peft_model.named_parameters())
    with torch.no_grad():
        for name, p in params.items():
            if f".{dst}." in name:
                twin = params.get(name.replace(f".{dst}.", f".{src}."))
                if twin is not None:
                    p.copy_(twin)


def _enable_checkpointing(rm: nn.Module) -> None:
    """Activation checkpointing on the backbone (transformers 5 name first, then the old one)."""
    backbone = getattr(rm, "backbone", rm)
    for name in ("activation_checkpointing_enable", "gradient_checkpointing_enable"):
        fn = getattr(backbone, name, None)
        if fn is not None:
            fn()
            return
    log.warning("gradient_checkpointing: the model has no activation checkpointing method")
