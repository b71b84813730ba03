"""`shortcutlab model tiny|info`: exit codes and what they write."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.integration


def test_model_tiny_and_info(tmp_path, cli):
    out = tmp_path / "tiny"
    cli("model", "tiny", "--arch", "llava", "--out", out, "--seed", "2")
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["model_type"] == "llava" and cfg["text_config"]["hidden_size"] == 64
    text = cli("model", "info", out).stdout
    assert "LlavaModel" in text and "params: vision" in text


def test_model_tiny_bad_arch_exits_2(tmp_path, cli):
    res = cli("model", "tiny", "--arch", "nope", "--out", tmp_path / "x", code=2)
    assert "unknown tiny architecture" in res.stderr


def test_model_help_has_examples(cli):
    assert "shortcutlab model tiny --arch llava" in cli("model", "tiny", "--help").stdout
