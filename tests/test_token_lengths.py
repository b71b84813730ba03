"""Long texts measured or cut in tokens must not print transformers' "Token indices
sequence length is longer than the specified maximum ... indexing errors" warning: the
collator cuts what it feeds to max_length and counts the cut, and `--unit tokens` only
counts (issue 21 item 9, the 2 MB-response path). The tokenizer is the tiny model's with
a real model's small maximum length; transformers' own logger is listened to directly
(it writes to the stream it found at import, which pytest's capture does not see).
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from shortcutlab.data.records import Record
from shortcutlab.modeling.batching import RewardCollator
from shortcutlab.modeling.loading import load_processor

pytestmark = pytest.mark.integration


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def hf_log() -> Iterator[_Collect]:
    handler = _Collect()
    logger = logging.getLogger("transformers")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


def test_collator_cuts_without_indexing_warning(tiny_llava_dir: Path, hf_log: _Collect) -> None:
    proc = load_processor(tiny_llava_dir)
    proc.tokenizer.model_max_length = 64
    rec = Record(id="r", prompt="Q?", responses=["word " * 20_000, "short."], pairs=[(0, 1)])
    batch = RewardCollator(proc, max_length=48, text_only="drop").encode([rec])
    assert int(batch.inputs["attention_mask"].sum(dim=1).max()) <= 48
    assert batch.answer_truncated == 1  # cut and counted
    assert not [m for m in hf_log.messages if "indexing errors" in m]
    proc.tokenizer("word " * 100, add_special_tokens=False)  # the listener does hear it:
    fresh = load_processor(tiny_llava_dir).tokenizer  # a tokenizer not told
    fresh.model_max_length = 64
    fresh("word " * 100, add_special_tokens=False)
    assert [m for m in hf_log.messages if "indexing errors" in m]


def test_unit_tokens_counts_without_warning(
    tiny_llava_dir: Path, tmp_path: Path, cli, hf_log: _Collect
) -> None:
    tok = tmp_path / "tok"
    tok.mkdir()
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(tiny_llava_dir / name, tok / name)
    config = json.loads((tok / "tokenizer_config.json").read_text())
    (tok / "tokenizer_config.json").write_text(json.dumps(config | {"model_max_length": 512}))
    data = tmp_path / "long.jsonl"
    rows = [
        {"id": "a", "prompt": "Q?", "chosen": "short.", "rejected": "no " * 20_000},
        {"id": "b", "prompt": "Q?", "chosen": "fine.", "rejected": "no."},
    ]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    r = cli("data", "inspect", data, "--unit", "tokens", "--tokenizer", tok, "--json")
    assert r.json()["records"] == 2
    assert not [m for m in hf_log.messages if "indexing errors" in m]
