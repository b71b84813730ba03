"""`shortcutlab model tiny|info`: exit codes and what they write."""

from __future__ import annotations

import json

from shortcutlab.cli.main import main


def _run(argv: list[str]) -> int:
    """Exit code of the console script (main() returns normally on success)."""
    try:
        main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def test_model_tiny_and_info(tmp_path, capsys):
    out = tmp_path / "tiny"
    assert _run(["model", "tiny", "--arch", "llava", "--out", str(out), "--seed", "2"]) == 0
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["model_type"] == "llava" and cfg["text_config"]["hidden_size"] == 64
    assert _run(["model", "info", str(out)]) == 0
    text = capsys.readouterr().out
    assert "LlavaModel" in text and "params: vision" in text


def test_model_tiny_bad_arch_exits_2(tmp_path, capsys):
    assert _run(["model", "tiny", "--arch", "nope", "--out", str(tmp_path / "x")]) == 2
    assert "unknown tiny architecture" in capsys.readouterr().err


def test_model_help_has_examples(capsys):
    assert _run(["model", "tiny", "--help"]) == 0
    assert "shortcutlab model tiny --arch llava" in capsys.readouterr().out
