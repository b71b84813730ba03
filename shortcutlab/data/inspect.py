"""`inspect_file`: what a data file holds, before anyone trains on it.

Reports the detected schema, record / pair counts, responses per record, the length bias
of Section 3.5.1 (share of pairs whose chosen answer is longer, in a stated unit:
characters, words, or tokens of a given tokenizer), images, repeated ids, skipped rows by
reason and a few examples. Returns a plain dict so the CLI can print it as a table or as
JSON.

Images are checked, never fatal: every distinct image's header is read (exists, non-empty,
a format PIL identifies, size within the pixel limit), every pixel with `check_images`,
and the problems are counted by reason (`missing_image`, `empty_image`, `bad_image`,
`image_too_large`) with a few examples. Data published without its images (VL-RewardBench)
is inspected like any other file. `strict=True` makes the first image problem an error
(with `skip_invalid`: those records are skipped and counted instead).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from shortcutlab.data.images import DEFAULT_MAX_PIXELS, probe_image
from shortcutlab.data.records import Record
from shortcutlab.data.schemas import LoadResult, load_dataset_file, nothing_left_error
from shortcutlab.errors import ConfigError, DataError, ModelError

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

        return counting_only(AutoTokenizer.from_pretrained(path, local_files_only=True))
    except Exception as exc:  # OSError, ValueError, ... from transformers
        raise ModelError(
            f"cannot load a tokenizer from '{path}' ({type(exc).__name__}: {exc})."
        ) from None


def counting_only(tok: Any) -> Any:
    """`tok`, told not to warn about texts longer than its model's maximum.

    Texts tokenized whole here are only counted (a 2 MB response included), and the
    collator cuts what it feeds to `max_length` and counts the cut, so transformers'
    "Token indices sequence length is longer than the specified maximum ... indexing
    errors" warning would be wrong: it is marked as already given.
    """
    warned = getattr(tok, "deprecation_warnings", None)
    if isinstance(warned, dict):
        warned["sequence-length-is-longer-than-the-specified-maximum"] = True
    return tok


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


def image_verdicts(
    records: list[Record], *, decode: bool = False, max_pixels: int = DEFAULT_MAX_PIXELS
) -> list[DataError | None]:
    """Per record: its image's problem (`probe_image`), or None (fine, or no image).

    Each distinct image is checked once; the error names the first record that uses it.
    """
    seen: dict[str, DataError | None] = {}
    out: list[DataError | None] = []
    for rec in records:
        if rec.image is None:
            out.append(None)
            continue
        key = rec.image.key()
        if key not in seen:
            try:
                probe_image(rec.image, loc=rec.loc, max_pixels=max_pixels, decode=decode)
                seen[key] = None
            except DataError as err:
                seen[key] = err
        out.append(seen[key])
    return out


def image_report(
    records: list[Record], verdicts: list[DataError | None], *, decode: bool
) -> dict[str, Any]:
    """Counts: records with / without an image, distinct images, problem images by reason,
    records whose image has a problem, and up to 5 example messages."""
    with_image = [r for r in records if r.image is not None]
    problems: Counter[str] = Counter()
    examples: list[str] = []
    counted: set[int] = set()
    for err in verdicts:
        if err is None or id(err) in counted:
            continue
        counted.add(id(err))
        problems[err.reason] += 1
        if len(examples) < 5:
            examples.append(str(err))
    return {
        "with_image": len(with_image),
        "without_image": len(records) - len(with_image),
        "distinct": len({r.image.key() for r in with_image if r.image is not None}),
        "checked": "decoded" if decode else "header",
        "decoded": decode,
        "problems": dict(sorted(problems.items())),
        "problem_images": sum(problems.values()),
        "records_with_problem_image": sum(v is not None for v in verdicts),
        "missing": problems.get("missing_image", 0),
        "examples": examples,
    }


def _strict_images(
    res: LoadResult, verdicts: list[DataError | None], skip_invalid: bool
) -> list[DataError | None]:
    """`strict`: the first image problem raises; with skip_invalid its records are skipped
    and counted in `res.skipped` instead. Returns the verdicts of the records kept."""
    bad = [(i, e) for i, e in enumerate(verdicts) if e is not None]
    if not bad:
        return verdicts
    if not skip_invalid:
        raise bad[0][1]
    for _, err in bad:
        res.skipped[err.reason] = res.skipped.get(err.reason, 0) + 1
        if len(res.skip_examples) < 5:
            res.skip_examples.append(str(err))
    drop = {i for i, _ in bad}
    res.records = [r for i, r in enumerate(res.records) if i not in drop]
    if not res.records:
        raise nothing_left_error(res.path, res.skipped, res.skip_examples)
    return [None] * len(res.records)


def _repeats(res: LoadResult) -> dict[str, Any]:
    """Ids the file repeats with different content (each such record got a unique key)."""
    ids = {r["id"] for r in res.repeated_ids}
    return {
        "ids": len(ids),
        "records_renamed": len(res.repeated_ids),
        "examples": res.repeated_ids[:5],
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
    strict: bool = False,
) -> dict[str, Any]:
    """Summary dict of a data file (see module docstring); raises `DataError` on bad input.

    Image problems are counted in `["images"]` and never raise unless `strict`.
    """
    measure = length_fn(unit, tokenizer)  # fail on a bad unit before reading a large file
    res = load_dataset_file(
        path,
        schema=schema,
        skip_invalid=skip_invalid,
        image_root=image_root,
        images="ignore",  # image files are checked below, counted, never fatal
    )
    verdicts = image_verdicts(res.records, decode=check_images)
    if strict:
        verdicts = _strict_images(res, verdicts, skip_invalid)
    recs = res.records
    k_counts = Counter(len(r.responses) for r in recs)
    images = image_report(recs, verdicts, decode=check_images)
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
        "images": images,
        "repeated_ids": _repeats(res),
        "skipped": dict(sorted(res.skipped.items())),
        "skipped_total": res.n_skipped,
        "skip_examples": res.skip_examples,
        "examples": [_example(r) for r in recs[: max(examples, 0)]],
    }
