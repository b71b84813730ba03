"""Text-only modes have one owner (`shortcutlab.text_only`): training, the collator,
scoring, the `score` CLI and the study accept exactly its sets, nothing spelled twice."""

from __future__ import annotations

from pathlib import Path

import pytest

from shortcutlab.config import TrainConfig
from shortcutlab.errors import ConfigError, ShortcutlabError
from shortcutlab.modeling.batching import RewardCollator
from shortcutlab.scoring.config import ScoreConfig
from shortcutlab.study.run import score_mm_and_proxy
from shortcutlab.text_only import SCORE_TEXT_ONLY, TEXT_ONLY_MODES, WITH_IMAGE

pytestmark = pytest.mark.unit

CANDIDATES = ("drop", "blank", "none", "image", "DROP", "", "text-only", "white")


def test_the_owner_sets():
    assert TEXT_ONLY_MODES == ("drop", "blank")
    assert SCORE_TEXT_ONLY == (*TEXT_ONLY_MODES, WITH_IMAGE)


def _accepted(check) -> set[str]:
    ok = set()
    for value in CANDIDATES:
        try:
            check(value)
        except ConfigError as err:
            if "text_only" not in str(err) and "text-only" not in str(err):
                raise
            continue
        ok.add(value)
    return ok


def test_train_config_collator_and_score_config_accept_the_owner_sets():
    assert _accepted(lambda v: TrainConfig.from_dict({"text_only": v})) == set(TEXT_ONLY_MODES)
    assert _accepted(lambda v: RewardCollator(object(), text_only=v)) == set(TEXT_ONLY_MODES)
    RewardCollator(object(), text_only=None)  # None: with the image
    assert _accepted(lambda v: ScoreConfig.from_dict({"text_only": v}).validate()) == set(
        SCORE_TEXT_ONLY
    )
    assert _accepted(lambda v: ScoreConfig(text_only=v).validate()) == set(SCORE_TEXT_ONLY)


def test_score_cli_accepts_the_owner_set(cli, tmp_path: Path):
    """Accepted values get past option checking to the (missing) model; others stop
    there with a message naming text_only."""
    data = tmp_path / "d.jsonl"
    data.write_text('{"id": "a", "prompt": "p", "chosen": "x", "rejected": "y"}\n')
    accepted = set()
    for value in CANDIDATES:
        r = cli("score", data, "--model", tmp_path / "nope", "-o", tmp_path / "s.jsonl",
                "--text-only", value, code=2)  # fmt: skip
        if "text_only" not in r.stderr + r.stdout and "--text-only" not in r.stderr:
            assert "nope" in r.stderr + r.stdout  # it went on to the model
            accepted.add(value)
    assert accepted == set(SCORE_TEXT_ONLY)


def test_study_proxy_text_only_accepts_the_owner_set(tmp_path: Path):
    def check(value: str) -> None:
        try:
            score_mm_and_proxy(str(tmp_path / "mm"), str(tmp_path / "px"), ["d.jsonl"], tmp_path,
                       text_only=value)  # fmt: skip
        except ConfigError:
            raise
        except ShortcutlabError:
            pass  # past the option check: the (missing) models

    assert _accepted(check) == set(TEXT_ONLY_MODES)
