"""`ScoreConfig`: how to score (every option of `score()` and `shortcutlab score`).

The inputs (model, data file, output table) are arguments of `score()`, not config: one
config scores many models and files the same way (a study does). Every field carries
`help` (the `score` CLI flags are generated from it: `cli.config_options`; `cli=False`
marks the Python-only fields, `negatable=False` the switches without `--no-`) and a
`fingerprint` rule: the resume fingerprint (`scoring.journal.fingerprint`) holds exactly
the fields that change which records are scored or their rewards, so a rerun with other
values is refused instead of mixing two runs in one table:
- "always": in the fingerprint with its value;
- "if_set": only when set (not None / False), so options added later leave the
  fingerprints of existing journals and outputs unchanged;
- None: not fingerprinted (batch size, prefix sharing, device, ... give equal rewards).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shortcutlab.config import ConfigBase, setting
from shortcutlab.errors import ConfigError
from shortcutlab.files import sha256_file
from shortcutlab.text_only import SCORE_TEXT_ONLY, ScoreTextOnly, choices

FINGERPRINT_RULES = ("always", "if_set", None)


@dataclass
class ScoreConfig(ConfigBase):
    """Everything one scoring run needs besides its model, data and output."""

    text_only: ScoreTextOnly | None = setting(
        None,
        "'drop' (no image tokens), 'blank' (white image) or 'none' (with image). "
        "Default: the mode saved with the model (text-only RMs score text-only).",
        fingerprint="always",  # the effective mode (`resolve_text_only`)
    )
    batch_size: int = setting(16, "Sequences (responses) per forward.")
    max_length: int = setting(4096, "Max tokens per sequence.", fingerprint="always")
    schema: str | None = setting(
        None, "Force the data schema.", fingerprint="always"
    )  # fingerprinted: the detected schema
    skip_invalid: bool = setting(
        False,
        "Skip invalid rows (counted by reason) instead of failing.",
        fingerprint="always",
        negatable=False,
    )
    overwrite: bool = setting(
        False, "Replace an existing output / discard a stale journal.", negatable=False
    )
    environment: str = setting("", "Value of the environment column.", fingerprint="always")
    image_root: str | None = setting(
        None,
        "Folder relative image paths are resolved against.",
        fingerprint="if_set",  # other images under the same names: a different run
    )
    trust_remote_code: bool = setting(
        False, "Allow the model folder's custom code to run.", negatable=False
    )
    check_images: bool = setting(
        False,
        "Decode every image before any work (a bad one: an error, or with "
        "--skip-invalid a counted skip).",
        fingerprint="if_set",  # with skip_invalid it changes which records are scored
        negatable=False,
    )
    exclude_ids: str | None = setting(
        None,
        "File of ids, one a line (overlap_ids.txt of `shortcutlab overlap`): not "
        "scored, counted in the summary.",
        fingerprint="if_set",  # as exclude_ids_sha256: other ids listed, other records
    )
    group_by: str | None = setting(
        None,
        "Data field or score-table column (e.g. category): accuracy per group and "
        "the macro average over groups.",
    )
    prefix_sharing: bool = setting(
        True,
        "Each record's image + prompt run once with its answers on top (KV cache), for "
        "the architectures where that is exact; off: every response in full (same "
        "rewards to float32 rounding).",
    )
    reuse_images: bool = setting(
        False,
        "With prefix sharing, an image that more than one record of the data is encoded "
        "with is encoded once, and the keys and values up to its last token are reused "
        "when the template repeats too (`modeling.image_cache`; `probe run` sets it: its "
        "blank file repeats one image). Those records run the prefix as two forwards "
        "(rewards equal to float32 rounding).",
        cli=False,
    )
    device: str | None = setting(
        None,
        "Device to score on (a torch device or its name); default: this rank's device.",
        cli=False,
    )
    bf16: bool | None = setting(
        None, "bfloat16 autocast; default: on for GPUs that support it.", cli=False
    )

    def validate(self) -> ScoreConfig:
        """Check values that cannot work (before any file is read); return self."""
        if self.text_only is not None and self.text_only not in SCORE_TEXT_ONLY:
            raise ConfigError(
                f"text_only must be {choices(SCORE_TEXT_ONLY)} (with image) or unset (the "
                f"model's saved mode), got {self.text_only!r}."
            )
        if self.batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {self.batch_size}.")
        if self.max_length < 8:
            raise ConfigError(f"max_length must be >= 8 tokens, got {self.max_length}.")
        return self

    def replace(self, **options: Any) -> ScoreConfig:
        """A copy with `options` (field names) changed; an unknown name is a ConfigError."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise ConfigError(
                f"unknown score option(s) {', '.join(unknown)}. Known: {', '.join(sorted(known))}."
            )
        return dataclasses.replace(self, **options)

    def fingerprint_options(self, *, text_only: str | None, schema: str) -> dict[str, Any]:
        """The options part of the resume fingerprint (see the module docstring).

        `text_only` and `schema` are the resolved values (the model's saved mode, the
        detected schema), not the fields as given.
        """
        resolved: dict[str, Any] = {"text_only": text_only, "schema": schema}
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            rule = f.metadata.get("fingerprint")
            value = resolved.get(f.name, getattr(self, f.name))
            if rule is None or (rule == "if_set" and value in (None, False)):
                continue
            key, value = _FINGERPRINT_VALUE.get(f.name, lambda v, n=f.name: (n, v))(value)
            out[key] = value
        return out


_FINGERPRINT_VALUE: dict[str, Callable[[Any], tuple[str, Any]]] = {
    "image_root": lambda v: ("image_root", str(Path(v).resolve())),
    "exclude_ids": lambda v: ("exclude_ids_sha256", sha256_file(v)),
    "check_images": lambda v: ("check_images", True),
}
