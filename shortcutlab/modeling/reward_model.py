"""RewardModel: any Hugging Face VLM backbone + a scalar head (paper Sec. 3.1, App. A.2).

The VLM's LM head is dropped: the backbone (`AutoModel`, e.g. `LlavaModel`,
`Qwen2VLModel`) returns the last layer's hidden states and a `Linear(hidden, 1)` head reads
the hidden state of the LAST NON-PADDING token of each row, found from the attention mask
(so left padding, right padding and pad == eos all pool the same token). No vocabulary
logits are ever computed. r(v, q, a) is the reward of Eq. 1 / Eq. 3.

A saved folder is self-contained and a normal HF folder: backbone config + safetensors,
`reward_head.safetensors`, `shortcutlab_reward.json` (base model, arch, head, text-only
mode) and the processor. `RewardModel.from_pretrained` accepts such a folder, a base VLM
folder (e.g. from `build_tiny_model`) or a Hub id; then the head is freshly initialised
with std 1/(hidden+1) as in the official code.

Shared images: rows that carry `image_index` (+ `unique_*` image tensors, see
`RewardCollator.encode(share_images=True)`) encode each unique image once with the
backbone's `get_image_features` and reuse the features for all K responses of a record.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn

from shortcutlab.errors import ModelError
from shortcutlab.modeling.loading import (
    config_wants_remote_code,
    load_processor,
    quiet_transformers,
)
from shortcutlab.modeling.packing import pack_inputs
from shortcutlab.modeling.signals import SharedImageUnsupported
from shortcutlab.modeling.source import REWARD_CONFIG, resolve_model_source

HEAD_FILE = "reward_head.safetensors"
FORMAT_VERSION = 1

# Parameter-name prefixes (relative to the backbone) per group, first match wins. Covers
# LLaVA(-Next), Qwen2/2.5-VL, Idefics3/SmolVLM, InternVL (native), PaliGemma, Gemma3, Mllama.
_PROJECTOR_PREFIXES = ("multi_modal_projector", "connector", "visual.merger", "mlp1")
_VISION_PREFIXES = ("vision_tower", "visual", "vision_model")
_LANGUAGE_PREFIXES = ("language_model", "text_model")
_WRAPPER_PREFIXES = ("base_model.model.", "module.", "_orig_mod.")
_DROP_KEYS = ("labels",)  # processor outputs no backbone accepts (PaliGemma's labels)


def last_token_index(attention_mask: torch.Tensor) -> torch.Tensor:
    """Index of the last non-padding token per row, for left or right padding.

    attention_mask: (N, T) of 0/1. Returns (N,) long. The position of the largest index
    whose mask is 1, computed from the mask (never from token ids, so pad == eos is safe).
    """
    t = attention_mask.shape[1]
    positions = torch.arange(t, device=attention_mask.device).expand_as(attention_mask)  # (N, T)
    return torch.where(attention_mask.bool(), positions, -1).max(dim=1).values


class RewardModel(nn.Module):
    """A VLM backbone without LM head + `Linear(hidden, 1)`; forward returns (N,) rewards."""

    def __init__(
        self,
        backbone: nn.Module,
        processor: Any = None,
        *,
        base_model: str = "",
        text_only: str | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.processor = processor
        self.base_model = base_model
        self.text_only = text_only  # None | "drop" | "blank": how this RM was trained
        hidden = self.hidden_size
        self.head = nn.Linear(hidden, 1)
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        with torch.no_grad():  # official init: std 1/(hidden+1), zero bias
            w = torch.randn(self.head.weight.shape, generator=gen) / (hidden + 1)
            self.head.weight.copy_(w)
            self.head.bias.zero_()

    # --- properties --------------------------------------------------------------------
    @property
    def config(self) -> Any:
        return self.backbone.config

    @property
    def arch(self) -> str:
        return str(getattr(self.backbone.config, "model_type", ""))

    @property
    def hidden_size(self) -> int:
        cfg = self.backbone.config
        text = cfg.get_text_config() if hasattr(cfg, "get_text_config") else cfg
        return int(text.hidden_size)

    @property
    def device(self) -> torch.device:
        return self.head.weight.device

    # --- loading -----------------------------------------------------------------------
    @classmethod
    def from_pretrained(
        cls,
        path_or_id: str | Path,
        *,
        trust_remote_code: bool = False,
        dtype: torch.dtype | str | None = None,
        processor_kwargs: dict | None = None,
        seed: int | None = None,
        **model_kwargs: Any,
    ) -> RewardModel:
        """Load a saved RewardModel folder, or a base VLM (folder or Hub id) + a fresh head.

        `trust_remote_code` is only passed on when given; a folder whose config asks for
        custom code without it gets a warning. `seed` makes a fresh head deterministic.
        Extra `model_kwargs` go to `AutoModel.from_pretrained` (e.g. `quantization_config`).
        A training run folder loads its exported `model/` (`resolve_model_source`); a
        missing folder, a folder that is no model, or a Hub id that is not cached while
        offline is a `ModelError`.
        """
        path_or_id = resolve_model_source(path_or_id)
        path = Path(path_or_id)
        meta = _read_reward_config(path)
        if config_wants_remote_code(path) and not trust_remote_code:
            warnings.warn(
                f"{path_or_id}: config.json maps to custom model code (auto_map) but "
                "trust_remote_code=False; loading with the native transformers classes, "
                "which may fail or differ. Pass trust_remote_code=True if you trust this code.",
                stacklevel=2,
            )
        backbone = _load_backbone(path_or_id, trust_remote_code, dtype, model_kwargs)
        processor = load_processor(
            path_or_id, trust_remote_code=trust_remote_code, **(processor_kwargs or {})
        )
        if meta is None:
            return cls(backbone, processor, base_model=str(path_or_id), seed=seed)
        model = cls(
            backbone,
            processor,
            base_model=meta.get("base_model", ""),
            text_only=meta.get("text_only"),
        )
        from safetensors.torch import load_file

        head = load_file(str(path / HEAD_FILE))
        model.head.load_state_dict({"weight": head["weight"], "bias": head["bias"]})
        return model

    def save_pretrained(self, out_dir: str | Path) -> Path:
        """Write backbone (safetensors), head, `shortcutlab_reward.json` and the processor."""
        from safetensors.torch import save_file

        if hasattr(self.backbone, "merge_and_unload"):
            raise ModelError(
                "the backbone has PEFT adapters; call `merge_adapters()` before save_pretrained "
                "(or save the adapters with `backbone.save_pretrained`)"
            )
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        with quiet_transformers():
            self.backbone.save_pretrained(out, safe_serialization=True)
        head = {k: v.detach().float().cpu().contiguous() for k, v in self.head.state_dict().items()}
        save_file(head, str(out / HEAD_FILE))
        if self.processor is not None:
            self.processor.save_pretrained(out)
        meta = {
            "format_version": FORMAT_VERSION,
            "base_model": self.base_model,
            "arch": self.arch,
            "backbone_class": type(self.backbone).__name__,
            "head": {"type": "linear", "in_features": self.hidden_size, "file": HEAD_FILE},
            "pooling": "last_non_padding_token",
            "text_only": self.text_only,
        }
        (out / REWARD_CONFIG).write_text(json.dumps(meta, indent=2) + "\n")
        return out

    # --- forward -----------------------------------------------------------------------
    def forward(self, **batch: Any) -> torch.Tensor:
        """Rewards (N,) for a batch from `RewardCollator.encode` (shared images or not).

        With `pack_groups` (N,) (the record of each row; shared images required) each
        record runs as one packed row, prefix once (`modeling.packing.pack_inputs`).
        """
        inputs = {k: v for k, v in batch.items() if k not in _DROP_KEYS}
        if "pack_groups" in inputs:  # one packed row per record (modeling.packing)
            inputs, where = pack_inputs(self, inputs)  # where: (N, 2) packed row, token
            rows, idx = where[:, 0], where[:, 1]
        else:
            idx = last_token_index(inputs["attention_mask"])  # (N,)
            rows = torch.arange(idx.shape[0], device=idx.device)
        if "image_index" in inputs:
            mm = self._shared_image_outputs(inputs)
            if mm is not None:
                inputs["mm_encoder_outputs"] = mm
        out = self.backbone(**inputs, use_cache=False, return_dict=True)
        hidden = out.last_hidden_state  # (rows, T, H)
        pooled = hidden[rows, idx]  # (N, H)
        return self.head(pooled.to(self.head.weight.dtype)).squeeze(-1)  # (N,)

    def _shared_image_outputs(self, inputs: dict[str, Any]) -> dict[str, Any] | None:
        """Encode unique images once; repeat their features per row (pops shared keys)."""
        image_index = inputs.pop("image_index")  # (N,) unique-image index, -1 = none
        unique = {k[7:]: inputs.pop(k) for k in list(inputs) if k.startswith("unique_")}
        rows = [int(i) for i in image_index.tolist() if int(i) >= 0]
        if not rows or not unique:
            return None
        tiles = unique.pop("num_patches", None)  # (U,) tiles per image (InternVL tiling)
        enc = self.backbone.get_image_features(**unique, return_dict=True)
        pooled = enc.pooler_output  # list of U (tokens_i, H), or a (U or tiles, tokens, H) tensor
        if torch.is_tensor(pooled) and tiles is not None:
            groups = list(torch.split(pooled, tiles.tolist()))  # U x (tiles_i, tokens, H)
            enc.pooler_output = torch.cat([groups[i] for i in rows])  # (row tiles, tokens, H)
            return {"image": enc}
        n_unique = int(image_index.max()) + 1
        if len(pooled) != n_unique:
            raise SharedImageUnsupported(
                f"{type(self.backbone).__name__} returned {len(pooled)} feature groups for "
                f"{n_unique} unique images; encode this model with share_images=False"
            )
        if torch.is_tensor(pooled):
            enc.pooler_output = pooled[torch.tensor(rows, device=pooled.device)]  # (R, tokens, H)
        else:
            enc.pooler_output = [pooled[i] for i in rows]  # R x (tokens_i, H)
        return {"image": enc}

    # --- parameter groups (freezing) -------------------------------------------------------
    def _group_of(self, name: str) -> str:
        stripped = True
        while stripped:  # names under PEFT / DDP / torch.compile wrappers
            stripped = False
            for wrapper in _WRAPPER_PREFIXES:
                if name.startswith(wrapper):
                    name, stripped = name[len(wrapper) :], True
        for prefix in _PROJECTOR_PREFIXES:
            if name.startswith(prefix):
                return "projector"
        for prefix in _VISION_PREFIXES:
            if name.startswith(prefix):
                return "vision"
        return "language"

    def named_parameter_groups(self) -> dict[str, list[tuple[str, nn.Parameter]]]:
        """Backbone parameters by group: vision tower, projector, language model; + head."""
        groups: dict[str, list[tuple[str, nn.Parameter]]] = {
            "vision": [],
            "projector": [],
            "language": [],
        }
        for name, p in self.backbone.named_parameters():
            groups[self._group_of(name)].append((f"backbone.{name}", p))
        groups["head"] = [(f"head.{n}", p) for n, p in self.head.named_parameters()]
        return groups

    def vision_parameters(self) -> Iterator[nn.Parameter]:
        """The vision tower (frozen in the paper's setup)."""
        return (p for _, p in self.named_parameter_groups()["vision"])

    def projector_parameters(self) -> Iterator[nn.Parameter]:
        """The vision-to-language projector (LLaVA projector, Qwen merger, InternVL mlp1)."""
        return (p for _, p in self.named_parameter_groups()["projector"])

    def language_parameters(self) -> Iterator[nn.Parameter]:
        """The language model (decoder, embeddings, final norm)."""
        return (p for _, p in self.named_parameter_groups()["language"])

    def set_trainable(self, *, vision: bool, projector: bool, language: bool, head: bool) -> None:
        """Freeze or unfreeze each group (paper: vision frozen, the rest trained)."""
        flags = {"vision": vision, "projector": projector, "language": language, "head": head}
        for group, params in self.named_parameter_groups().items():
            for _, p in params:
                p.requires_grad_(flags[group])

    def merge_adapters(self) -> None:
        """Merge PEFT (LoRA) adapters into the backbone weights, so it saves as a plain model."""
        if hasattr(self.backbone, "merge_and_unload"):
            self.backbone = self.backbone.merge_and_unload()


def _read_reward_config(path: Path) -> dict | None:
    f = path / REWARD_CONFIG
    if not f.is_file():
        return None
    try:
        return json.loads(f.read_text())
    except ValueError as exc:
        raise ModelError(f"{f}: not valid JSON ({exc})") from exc


def _load_backbone(
    path_or_id: str | Path, trust_remote_code: bool, dtype: Any, kwargs: dict[str, Any]
) -> nn.Module:
    """`AutoModel` (the base model, no LM head) of a VLM folder or Hub id."""
    from transformers import AutoModel

    extra = dict(kwargs)
    if trust_remote_code:
        extra["trust_remote_code"] = True
    if dtype is not None:
        extra["dtype"] = dtype
    try:
        with quiet_transformers():  # the lm_head "UNEXPECTED" load report is expected
            model = AutoModel.from_pretrained(str(path_or_id), **extra)
    except Exception as exc:  # noqa: BLE001 - one clear error for the user
        hint = _remote_code_hint(path_or_id, exc, trust_remote_code)
        why = str(exc).rstrip(".")
        raise ModelError(
            f"cannot load a model from {path_or_id}: {type(exc).__name__}: {why}.{hint}"
        ) from exc
    if hasattr(model, "lm_head") and hasattr(model, "model"):
        model = model.model  # a *ForConditionalGeneration: keep the base, drop the LM head
    return model


def _remote_code_hint(path_or_id: str | Path, exc: Exception, trusted: bool) -> str:
    """Suggest trust_remote_code only where it can help: a config that maps to custom
    code (`auto_map`), or a Hub model whose loader asks for it. Never for a folder
    shortcutlab wrote (its architectures are native transformers classes)."""
    if trusted:
        return ""
    local = Path(path_or_id)
    if local.is_dir():
        if (local / REWARD_CONFIG).is_file() or not config_wants_remote_code(local):
            return ""
    elif "trust_remote_code" not in str(exc):
        return ""
    return " If you trust its custom code, pass trust_remote_code=True (--trust-remote-code)."
