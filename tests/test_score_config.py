"""`ScoreConfig`: every option of `score()` / `shortcutlab score` in one documented
dataclass, the CLI flags generated from it, and the resume fingerprint computed from it
(the same dict the keyword-argument API wrote, so journals of earlier versions resume)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from shortcutlab.cli.score_cmd import score_command
from shortcutlab.errors import ConfigError
from shortcutlab.scoring.config import FINGERPRINT_RULES, ScoreConfig

pytestmark = pytest.mark.unit


def test_every_field_is_documented_and_classified():
    for f in dataclasses.fields(ScoreConfig):
        assert f.metadata.get("help"), f.name
        assert f.metadata.get("fingerprint") in FINGERPRINT_RULES, f.name


def test_cli_flags_are_the_config_fields():
    """One flag per ScoreConfig field (except the Python-only ones), nothing hand-spelled."""
    params = score_command.__signature__.parameters  # type: ignore[attr-defined]
    own = {"data_arg", "data", "model", "output", "num_processes", "as_json", "quiet"}
    cli_fields = {f.name for f in dataclasses.fields(ScoreConfig) if f.metadata.get("cli", True)}
    assert set(params) - own == cli_fields
    assert {"device", "bf16"}.isdisjoint(params)


def test_fingerprint_matches_the_earlier_keyword_api(tmp_path: Path):
    """The dict the earlier `run_scoring(**kwargs)` put in journals, key for key."""
    plain = ScoreConfig().fingerprint_options(text_only=None, schema="pairwise")
    assert plain == {
        "text_only": None,
        "max_length": 4096,
        "schema": "pairwise",
        "skip_invalid": False,
        "environment": "",
    }
    ids = tmp_path / "ids.txt"
    ids.write_text("a\n")
    cfg = ScoreConfig(
        text_only="none",
        batch_size=3,
        image_root=str(tmp_path),
        check_images=True,
        exclude_ids=str(ids),
        group_by="category",
        prefix_sharing=False,
    )
    fp = cfg.fingerprint_options(text_only=None, schema="s")
    assert list(fp) == [
        "text_only",
        "max_length",
        "schema",
        "skip_invalid",
        "environment",
        "image_root",
        "check_images",
        "exclude_ids_sha256",
    ]
    assert fp["image_root"] == str(tmp_path.resolve()) and fp["check_images"] is True
    assert len(fp["exclude_ids_sha256"]) == 64


def test_replace_and_validate():
    cfg = ScoreConfig().replace(batch_size=4, text_only="drop")
    assert cfg.batch_size == 4 and cfg.text_only == "drop"
    with pytest.raises(ConfigError, match="unknown score option"):
        ScoreConfig().replace(batchsize=4)
    with pytest.raises(ConfigError, match="batch_size"):
        ScoreConfig(batch_size=0).validate()
    with pytest.raises(ConfigError, match="max_length"):
        ScoreConfig(max_length=4).validate()
    with pytest.raises(ConfigError, match="command line: key 'max_length'"):
        ScoreConfig.from_dict({"max_length": "x"}, source="command line")
