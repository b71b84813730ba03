"""Run configuration: `TrainConfig`, loadable from YAML and overridable by CLI flags.

Field names follow Hugging Face `TrainingArguments` where one exists (learning_rate,
per_device_train_batch_size, ...) so a paper recipe reads like a TRL config. Every field
carries `help` metadata, used by the CLI (`shortcutlab train --help`) and the docs; the
names `mode` and `objective` accept (their `choices`) come from `shortcutlab.objectives`.
Field types are the one coercion path: YAML values and command-line strings
(`from_flags`) both go through `_coerce`.
Defaults are the paper's setup (Section 3.1, App. A.2): lr 1e-5, AdamW with weight decay
0.05, cosine schedule, warmup ratio 0.1, 1 epoch, max length 4096, vision encoder frozen.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from shortcutlab import objectives
from shortcutlab.errors import ConfigError
from shortcutlab.text_only import TextOnlyMode


def setting(default: Any, help: str, **kw: Any) -> Any:
    """A dataclass field with `help` metadata (mutable defaults via default_factory).

    Extra keywords go into the metadata too (e.g. ScoreConfig's `fingerprint`, `cli`).
    """
    if isinstance(default, list | dict):
        return field(default_factory=lambda d=default: type(d)(d), metadata={"help": help, **kw})
    return field(default=default, metadata={"help": help, **kw})


_f = setting  # the short spelling TrainConfig's fields use
C = typing.TypeVar("C", bound="ConfigBase")


class ConfigBase:
    """YAML / dict construction shared by the run configs (`TrainConfig`, `ScoreConfig`).

    A subclass is a dataclass whose fields are `setting`s; values are checked against the
    field annotations (`_coerce`), so the CLI flags generated from the fields
    (`cli.config_options`) and a YAML file go through one conversion.
    """

    @classmethod
    def from_yaml(cls: type[C], path: str | Path, **overrides: Any) -> C:
        """Load a YAML file (safe_load); `overrides` (CLI flags) win over the file."""
        path = Path(path)
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except FileNotFoundError:
            raise ConfigError(f"{path}: config file not found.") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML ({exc}).") from None
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: expected a mapping of option: value at the top level.")
        return cls.from_dict({**raw, **overrides}, source=str(path))  # type: ignore[attr-defined]

    @classmethod
    def from_dict(cls: type[C], values: dict[str, Any], *, source: str = "options") -> C:
        """Build from a mapping; unknown keys and wrong types raise ConfigError."""
        return cls(**_coerce_fields(cls, values, source=source, text=False))

    @classmethod
    def from_flags(cls: type[C], flags: dict[str, Any], *, config: str | Path | None = None) -> C:
        """Command-line values (text; bools and KEY=VALUE lists as the CLI parsed them;
        None = not given) coerced by the field types, over the YAML file `config` if given."""
        given = _coerce_fields(cls, flags, source="command line", text=True)
        if config:
            return cls.from_yaml(config, **given)  # type: ignore[attr-defined]
        return cls(**given)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


# TrainConfig's probe fields: meaningful only with probe_data (`cache_dict` drops them without)
PROBE_FIELDS = ("probe_data", "probe_every", "probe_records", "probe_edits")


@dataclass
class TrainConfig(ConfigBase):
    """Everything one training run needs; `shortcutlab.training.train(config)` runs it."""

    # what to train, on what, where
    mode: str = _f(
        objectives.STANDARD,
        "; ".join(f"{m.name}: {m.help}" for m in objectives.MODES.values()) + ".",
        choices=objectives.mode_names,
    )
    model: str | None = _f(None, "Base VLM or RewardModel folder / Hub id to start from.")
    data: str | None = _f(None, "Training data file (any supported schema).")
    eval_data: str | None = _f(None, "Held-out data file; accuracy (Eq. 2) every eval_steps.")
    output_dir: str | None = _f(None, "Run folder: model/, proxy/, metrics.jsonl, config.yaml.")
    schema: str | None = _f(None, "Data schema name; auto-detected when unset.")
    image_root: str | None = _f(None, "Folder that relative image paths are resolved against.")
    skip_invalid: bool = _f(
        False,
        "Skip invalid records (counted by reason) instead of failing; images are then "
        "decoded before training, so a record whose image does not decode is skipped too.",
    )
    check_images: bool = _f(
        False, "Decode every image before any work (a bad one is an error unless skipped)."
    )
    trust_remote_code: bool = _f(False, "Allow model code from the model folder / Hub repo.")
    # optimisation (HF TrainingArguments names)
    learning_rate: float = _f(1e-5, "Peak learning rate of AdamW (paper: 1e-5).")
    num_train_epochs: float = _f(1.0, "Epochs over the training records (paper: 1).")
    max_steps: int = _f(-1, "Stop after this many optimizer steps (-1: run the epochs).")
    per_device_train_batch_size: int = _f(
        8, "Records per device per micro-step (each record brings all its K responses)."
    )
    per_device_eval_batch_size: int = _f(16, "Records per device per evaluation batch.")
    gradient_accumulation_steps: int = _f(
        1, "Micro-steps per optimizer step; global batch = this x batch size x processes."
    )
    warmup_ratio: float = _f(0.1, "Share of steps with linear warmup (paper: 0.1).")
    weight_decay: float = _f(0.05, "AdamW weight decay (paper: 0.05).")
    lr_scheduler_type: str = _f("cosine", "transformers.get_scheduler name (paper: cosine).")
    max_grad_norm: float = _f(1.0, "Gradient clipping norm (0: no clipping).")
    seed: int = _f(42, "Seed of initialisation, data order and dropout.")
    bf16: bool = _f(False, "bfloat16 mixed precision.")
    fp16: bool = _f(False, "float16 mixed precision (GPU).")
    max_length: int = _f(4096, "Max tokens per (prompt, response) row; the prompt is cut first.")
    gradient_checkpointing: bool = _f(False, "Recompute activations to save memory.")
    prefix_sharing: bool = _f(
        True,
        "One packed row per record: image + prompt once, its K answers after under a block "
        "attention mask (same losses and gradients; off: one row per response).",
    )
    # logging, evaluation, checkpoints
    logging_steps: int = _f(10, "Write metrics every N optimizer steps.")
    eval_steps: int = _f(0, "Evaluate on eval_data every N steps (0: only at the end).")
    save_steps: int = _f(0, "Checkpoint every N steps into output_dir/checkpoints (0: never).")
    save_total_limit: int = _f(2, "Keep only the newest N checkpoints (0: keep all).")
    resume: str | None = _f(
        None, "Resume from a checkpoint folder, or 'latest' for the newest in output_dir."
    )
    probe_data: str | None = _f(
        None,
        "Held-out data file to probe while training: image swap and text edits of a few of its "
        "records (docs/probe.md), logged to metrics.jsonl and TensorBoard; the last step's "
        "report goes to output_dir/probe.",
    )
    probe_every: int = _f(
        0, "Probe every N steps (0: at each evaluation); always before training and at the end."
    )
    probe_records: int = _f(64, "Records of probe_data in the battery (a seeded sample).")
    probe_edits: str | None = _f(
        None, "Edits file (`probe make --edits` format) added to the probe's built-in edits."
    )
    save_sfc: bool = _f(False, "Write per-pair SFC of the last epoch to sfc.jsonl.")
    tensorboard: bool = _f(True, "Write TensorBoard events to output_dir/tensorboard.")
    progress: bool = _f(True, "Report progress (rank 0): a bar, or a line every 30 s in logs.")
    # text-only and shortcut-aware options
    text_only: TextOnlyMode = _f(
        "drop", "How text-only inputs remove the image: drop (no image tokens) or blank image."
    )
    proxy: Literal["text-only", "image-only"] = _f(
        "text-only", "Proxy branch of shortcut-aware training (App. F: image-only drops the query)."
    )
    sfc_normalize: bool = _f(False, "Weight pairs by SFC / mean(SFC) (App. E).")
    sfc_official_eps: bool = _f(True, "SFC = eps/2 + L_t/(eps + L + L_t), eps=1e-7 (official).")
    objective: str = _f(
        objectives.names()[0],
        "Objective of shortcut-aware training, each + mean(L_t): "
        + ", ".join(f"{o.name} ({o.summary})" for o in objectives.REGISTRY.values())
        + ". See docs/training.md.",
        choices=objectives.names,
    )
    focal_gamma: float = _f(
        1.0, "objective reweight: pair weight sg[1 - sigmoid(b)]^gamma (> 1: focal form)."
    )
    dro_eta: float = _f(0.01, "objective groupdro: step size of q_g <- q_g exp(eta L_g).")
    # static upweighting from a fixed proxy (JTT-style), mode standard
    static_weights: str | None = _f(
        None,
        "Score table of a fixed proxy (a text-only RM's scores, or `shortcutlab audit`'s "
        "proxy_scores.jsonl): pairs it gets wrong weigh `upweight` (mode standard: JTT).",
    )
    upweight: float = _f(5.0, "static_weights: weight lambda of the pairs the proxy gets wrong.")
    # which parameters train
    freeze_vision: bool = _f(True, "Freeze the vision encoder (paper: frozen).")
    freeze_projector: bool = _f(False, "Freeze the vision-language projector.")
    freeze_language: bool = _f(False, "Freeze the language model (the head still trains).")
    lora: bool = _f(False, "Train LoRA adapters on the language model instead of full weights.")
    lora_r: int = _f(16, "LoRA rank.")
    lora_alpha: int = _f(32, "LoRA alpha.")
    lora_dropout: float = _f(0.05, "LoRA dropout.")
    lora_target_modules: list[str] = _f(
        ["q_proj", "k_proj", "v_proj", "o_proj"],
        "Module name suffixes of the language model that get LoRA adapters.",
    )
    load_in_4bit: bool = _f(False, "QLoRA: load the base in 4-bit NF4 (bitsandbytes); needs lora.")
    processor_kwargs: dict[str, Any] = _f(
        {}, "Passed to the processor (e.g. max_pixels, image_size, max tiles; App. D)."
    )

    def validate(self) -> TrainConfig:
        """Check required fields and combinations that cannot work; return self."""
        for name in ("model", "data", "output_dir"):
            if not getattr(self, name):
                raise ConfigError(f"'{name}' is required (flag --{name.replace('_', '-')}).")
        objectives.get_mode(self.mode)  # ConfigError naming the modes
        checks = [
            (not (self.bf16 and self.fp16), "bf16 and fp16 cannot both be set."),
            (not self.load_in_4bit or self.lora, "load_in_4bit (QLoRA) needs lora: true."),
            (self.per_device_train_batch_size >= 1, "per_device_train_batch_size must be >= 1."),
            (self.gradient_accumulation_steps >= 1, "gradient_accumulation_steps must be >= 1."),
            (0 <= self.warmup_ratio <= 1, "warmup_ratio must be within [0, 1]."),
            (self.max_steps > 0 or self.num_train_epochs > 0, "set max_steps or epochs > 0."),
            *self._probe_checks(),
            *self._objective_checks(),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)
        return self

    def cache_dict(self) -> dict[str, Any]:
        """`to_dict()` for caches keyed on what a run trains (study cells, the demo's init):
        the probe's fields only when it probes. Probing changes no weight (tested), so a
        run cached before these fields existed stays valid."""
        d = self.to_dict()
        if not self.probe_data:  # then validate() holds the other probe fields at defaults
            for key in PROBE_FIELDS:
                d.pop(key, None)
        return d

    def _probe_checks(self) -> list[tuple[bool, str]]:
        """Probe settings need probe_data; counts must be usable."""
        probing = bool(self.probe_data)
        defaults = {f.name: f.default for f in dataclasses.fields(self)}
        at_defaults = all(getattr(self, k) == defaults[k] for k in ("probe_every", "probe_records"))
        return [
            (self.probe_every >= 0, "probe_every must be >= 0."),
            (self.probe_records >= 2, "probe_records must be >= 2 (a swap needs a partner)."),
            (
                probing or at_defaults,
                "probe_every / probe_records are settings of probe_data (set --probe-data FILE).",
            ),
            (probing or not self.probe_edits, "probe_edits needs probe_data (--probe-data FILE)."),
        ]

    def _objective_checks(self) -> list[tuple[bool, str]]:
        """Combinations of objective, its settings and static weights that cannot work."""
        defaults = {f.name: f.default for f in dataclasses.fields(self)}
        objective = objectives.get(self.objective)  # ConfigError naming the objectives
        proxy = objectives.get_mode(self.mode).proxy
        settings = [
            (
                getattr(self, name) == defaults[name] or self.objective == owner,
                f"{name} is a setting of objective {owner}.",
            )
            for name, owner in objectives.option_owners().items()
        ]
        return [
            (
                proxy or objective.name == defaults["objective"],
                f"objective '{self.objective}' needs mode shortcut-aware (a proxy branch); "
                "for static upweighting with mode standard use static_weights.",
            ),
            (self.focal_gamma >= 0, "focal_gamma must be >= 0."),
            (self.dro_eta > 0, "dro_eta must be > 0."),
            *settings,
            (
                not self.static_weights or self.mode == objectives.STANDARD,
                "static_weights (JTT-style upweighting) needs mode standard.",
            ),
            (self.upweight > 0, "upweight must be > 0."),
            (
                self.upweight == defaults["upweight"] or bool(self.static_weights),
                "upweight is a setting of static_weights (set --static-weights TABLE).",
            ),
        ]


def _coerce_fields(cls: type, values: dict[str, Any], *, source: str, text: bool) -> dict[str, Any]:
    """Field name -> value coerced by the field's type (and `choices`) of the config
    dataclass `cls`, None values of `text` (command-line flags not given) dropped; unknown
    keys raise ConfigError."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    out = {}
    for key, value in values.items():
        name = key.replace("-", "_")
        if name not in fields:
            raise ConfigError(
                f"{source}: unknown key '{key}'. Known keys: {', '.join(sorted(fields))}."
            )
        if text and value is None:
            continue
        shown = "--" + name.replace("_", "-") if text else key  # as the user wrote it
        out[name] = _coerce(value, hints[name], source=source, key=shown, text=text)
        choices: Callable[[], tuple[str, ...]] | None = fields[name].metadata.get("choices")
        if choices is not None and out[name] not in choices():
            raise ConfigError(_choice_error(source, shown, value, choices(), name))
    return out


def _choice_error(source: str, key: str, value: Any, choices: tuple[str, ...], name: str) -> str:
    """The error of a value outside a field's choices (naming the new spelling of an old
    objective name)."""
    message = (
        f"{source}: key '{key}' expects {' | '.join(repr(c) for c in choices)}, got {value!r} "
        f"({type(value).__name__})."
    )
    new = objectives.canonical(value) if name == "objective" and isinstance(value, str) else None
    return message + (f" '{value}' is now spelled '{new}'." if new else "")


def type_name(tp: Any) -> str:
    """A field type as users read it: 'int', 'str | None', "'drop' | 'blank'"."""
    if typing.get_origin(tp) is Literal:
        return " | ".join(repr(a) for a in typing.get_args(tp))
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _coerce(value: Any, tp: Any, *, source: str, key: str, text: bool = False) -> Any:
    """Check `value` against the annotation `tp`; convert lossless cases (int -> float,
    '1e-5' -> 1e-5: PyYAML reads exponent floats without a dot as strings). With `text`
    (command-line strings) also '3' -> 3 for int fields and KEY=VALUE items -> dict."""

    def bad() -> ConfigError:
        return ConfigError(
            f"{source}: key '{key}' expects {type_name(tp)}, got {value!r} "
            f"({type(value).__name__})."
        )

    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        if len(inner) != 1:
            return value
        return _coerce(value, inner[0], source=source, key=key, text=text)
    if origin is Literal:
        if value not in typing.get_args(tp):
            raise bad()
        return value
    if origin is list:
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise bad()
        return list(value)
    if origin is dict or tp is dict:
        if text and isinstance(value, list | tuple):
            return _parse_key_values(value, key)
        if not isinstance(value, dict):
            raise bad()
        return dict(value)
    if tp is int and text and isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            raise bad() from None
    return _coerce_scalar(value, tp, bad)


def _coerce_scalar(value: Any, tp: Any, bad: Callable[[], ConfigError]) -> Any:
    """bool / int / float / str values (no conversion but int -> float, str -> float)."""
    if tp is bool or tp is int:
        if not isinstance(value, tp) or (tp is int and isinstance(value, bool)):
            raise bad()
        return value
    if tp is float:
        if isinstance(value, bool):
            raise bad()
        try:
            return float(value)
        except (TypeError, ValueError):
            raise bad() from None
    if tp is str and not isinstance(value, str):
        raise bad()
    return value


def _parse_key_values(items: list[str] | tuple[str, ...], key: str) -> dict[str, Any]:
    """`KEY=VALUE` strings -> dict, values read as YAML scalars (ints, floats, bools)."""
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            flag = "--" + key.replace("_", "-")
            raise ConfigError(f"{flag} expects KEY=VALUE, got {item!r}.")
        out[name] = yaml.safe_load(value)
    return out
