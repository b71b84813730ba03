"""`inspect_file`: what a data file holds, before anyone trains on it.

Reports the detected schema, record / pair counts, responses per record, the length bias
of Section 3.5.1 (share of pairs whose chosen answer is longer, in a stated unit:
characters, words, or tokens of a given tokenizer), images, skipped rows by reason and a
few examples. Returns a plain dict so the CLI can print it as a table or as JSON.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from shortcutlab.data.records import Record
from shortcutlab.data.schemas import load_dataset_file
from shortcutlab.errors import ConfigError, ModelError

UNITS = ("chars", "words", "tokens")


def length_fn(unit: str = "chars", tokenizer: str | None = None) -> Callable[[str], int]:
    """A text -> length function in `unit` (tokens need a local tokenizer path)."""
    if unit == "chars":
        return len
    if unit == "words":
        return lambda text: len(text.split())
    if unit != "tokens":
        raise ConfigError(f"unknown length unit '{unit}'; choose one of {', '.join(UNITS)}.")
    if not tokenizer:
        raise ConfigError(
            "--unit tokens needs --tokenizer PATH (a local tokenizer or model folder)."
        )
    tok = _load_tokenizer(tokenizer)
    return lambda text: len(tok(text, add_special_tokens=False)["input_ids"])


def _load_tokenizer(path: str) -> Any:
    local = Path(path).expanduser()
    if not local.exists() and (local.is_absolute() or path.startswith((".", "~"))):
        raise ModelError(  # else transformers reports it as a malformed Hub repo id
            f"cannot load a tokenizer from '{path}': folder not found. Hint: pass a local "
            "tokenizer or model "
            "folder (e.g. one written by `shortcutlab model tiny`)."
        )
    try:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(path, local_files_only=True)
    except Exception as exc:  # OSError, ValueError, ... from transformers
        raise ModelError(
            f"cannot load a tokenizer from '{path}' ({type(exc).__name__}: {exc})."
        ) from None


def length_stats(records: list[Record], measure: Callable[[str], int]) -> dict[str, Any]:
    """Chosen-longer / rejected-longer / equal counts over every (better, worse) pair."""
    longer = shorter = equal = 0
    sum_better = sum_worse = 0
    for rec in records:
        lengths = [measure(r) for r in rec.responses]
        for b, w in rec.pairs:
            sum_better += lengths[b]
            sum_worse += lengths[w]
            if lengths[b] > lengths[w]:
                longer += 1
            elif lengths[b] < lengths[w]:
                shorter += 1
            else:
                equal += 1
    n = longer + shorter + equal
    return {
        "pairs": n,
        "chosen_longer": longer,
        "rejected_longer": shorter,
        "equal_length": equal,
        "chosen_longer_share": longer / n if n else None,
        "mean_chosen_length": sum_better / n if n else None,
        "mean_rejected_length": sum_worse / n if n else None,
    }


def _clip(text: str, n: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 3] + "..."


def _example(rec: Record) -> dict[str, Any]:
    return {
        "id": rec.id,
        "prompt": _clip(rec.prompt),
        "responses": [_clip(r) for r in rec.responses],
        "pairs": [list(p) for p in rec.pairs],
        "scores": rec.scores,
        "image": None if rec.image is None else (rec.image.origin or rec.image.path),
        "meta": {k: v for k, v in rec.meta.items() if not isinstance(v, (list, dict))},
    }


def inspect_file(
    path: str | Path,
    *,
    schema: str | None = None,
    skip_invalid: bool = False,
    unit: str = "chars",
    tokenizer: str | None = None,
    examples: int = 3,
    image_root: str | None = None,
    check_images: bool = False,
) -> dict[str, Any]:
    """Summary dict of a data file (see module docstring); raises `DataError` on bad input."""
    measure = length_fn(unit, tokenizer)  # fail on a bad unit before reading a large file
    res = load_dataset_file(
        path,
        schema=schema,
        skip_invalid=skip_invalid,
        image_root=image_root,
        check_images=check_images,
    )
    recs = res.records
    k_counts = Counter(len(r.responses) for r in recs)
    with_image = [r for r in recs if r.image is not None]
    return {
        "path": str(path),
        "schema": res.schema,
        "records": len(recs),
        "pairs": res.n_pairs,
        "score_ties": res.ties,
        "unscored_pairs": res.unscored,
        "responses_per_record": {
            "min": min(k_counts),
            "max": max(k_counts),
            "mean": sum(k * n for k, n in k_counts.items()) / len(recs),
            "counts": {str(k): n for k, n in sorted(k_counts.items())},
        },
        "length": {"unit": unit, "tokenizer": tokenizer, **length_stats(recs, measure)},
        "images": {
            "with_image": len(with_image),
            "without_image": len(recs) - len(with_image),
            "distinct": len({r.image.key() for r in with_image}),
            "missing": res.skipped.get("missing_image", 0),
            "decoded": check_images,
        },
        "skipped": dict(sorted(res.skipped.items())),
        "skipped_total": res.n_skipped,
        "skip_examples": res.skip_examples,
        "examples": [_example(r) for r in recs[: max(examples, 0)]],
    }
