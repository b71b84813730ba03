"""Row builders of the shortcut benchmark: one function per environment style.

Each builder takes one easy-vqa open question (`Question`), whether the environment's
text shortcut should agree with the label in this record (`agrees`) and a seeded RNG,
and returns one data-file row in a layout the data layer reads:

- `vlf_row`: VLFeedback multi-response layout `{id, prompt, img_path, completions}`;
  2 correct + 2 wrong responses (ratings: correct 5/5/5, wrong 3/1/5, so only
  correct-vs-wrong pairs have a strict score difference: 4 image-decided pairs).
  Cue: elaborate (long) vs terse. `agrees` = the correct responses are the elaborate ones.
- `povid_row`: pairwise `{id, prompt, img_path, chosen, rejected}`; the rejected answer is
  a wrong answer with an injected query-irrelevant detail. Cue: the detail sentence
  (shorter wins). `agrees` = the detail is on the rejected side.
- `rlhfv_row`: pairwise; chosen is a minimal correction of rejected, one side hedged.
  Cue: the hedge. `agrees` = the hedge is on the chosen side.
- `pretrain_row`: pairwise, shortcut-free: chosen and rejected use the same template
  (and the same detail / hedge) and differ only in the answer word.

Every row also carries `env`, `shortcut`, `shortcut_agrees`, `question_type` and
`answer`: the ground truth a diagnostic can join on `id` (the loaders ignore them).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from shortcutlab.synth import templates as T

SHORTCUTS = {
    "vlf": "elaborate (longer) responses are rated higher",
    "povid": "the answer without an irrelevant detail sentence (the shorter one) is chosen",
    "rlhfv": "the hedged answer ('It appears that ...') is chosen",
    "pretrain": "none (chosen and rejected differ only in the answer word)",
}
VLF_MODELS = ("tinyvlm-a", "tinyvlm-b", "tinyvlm-c", "tinyvlm-d")
GOOD_RATINGS = {"Helpfulness": "5", "Ethical Considerations": "5", "Visual Faithfulness": "5"}
BAD_RATINGS = {"Helpfulness": "3", "Ethical Considerations": "5", "Visual Faithfulness": "1"}


@dataclass(frozen=True)
class Question:
    """One easy-vqa open question: its text, answer word and image."""

    text: str
    answer: str
    image_id: int
    image_split: str  # "train" or "test": which easy-vqa image folder


def wrong_answers(answer: str, k: int, rng: random.Random) -> list[str]:
    """`k` wrong answers of the same type (colour or shape), sampled with replacement
    only when fewer than `k` exist."""
    pool = [a for a in (T.COLORS if T.answer_type(answer) == "color" else T.SHAPES)]
    pool.remove(answer)
    if k <= len(pool):
        return rng.sample(pool, k)
    return [rng.choice(pool) for _ in range(k)]


def _base(q: Question, rid: str, env: str, img_path: str, agrees: bool | None) -> dict[str, Any]:
    return {
        "id": rid,
        "prompt": q.text[0].upper() + q.text[1:],
        "img_path": img_path,
        "env": env,
        "shortcut": SHORTCUTS[env],
        "shortcut_agrees": agrees,
        "question_type": T.answer_type(q.answer),
        "answer": q.answer,
    }


def _annotation(ratings: dict[str, str], correct: bool) -> dict[str, dict[str, str]]:
    why = "names the colour/shape shown" if correct else "contradicts the image"
    return {
        aspect: {"Rating": r, "Rationale": f"The response {why}."} for aspect, r in ratings.items()
    }


def vlf_row(q: Question, rid: str, img_path: str, agrees: bool, rng: random.Random) -> dict:
    """VLFeedback-style record: 4 rated responses, the correct ones elaborate iff `agrees`."""
    bad = wrong_answers(q.answer, 2, rng)
    good_style = T.elaborate if agrees else T.terse
    bad_style = T.terse if agrees else T.elaborate
    items = [(text, True) for text in good_style(q.answer, rng, 2)]  # 2 distinct templates
    items += [(bad_style(b, rng)[0], False) for b in bad]
    rng.shuffle(items)
    models = rng.sample(VLF_MODELS, len(items))
    completions = [
        {
            "model": m,
            "response": text,
            "annotations": _annotation(GOOD_RATINGS if ok else BAD_RATINGS, ok),
        }
        for m, (text, ok) in zip(models, items, strict=True)
    ]
    row = _base(q, rid, "vlf", img_path, agrees)
    row["completions"] = completions
    row["correct"] = [ok for _, ok in items]
    return row


def povid_row(q: Question, rid: str, img_path: str, agrees: bool, rng: random.Random) -> dict:
    """POVID-style pair: the irrelevant detail sits on the rejected side iff `agrees`."""
    (bad,) = wrong_answers(q.answer, 1, rng)
    chosen, rejected = T.plain(q.answer, rng), T.plain(bad, rng)
    if agrees:
        rejected = T.with_detail(rejected, rng)
    else:
        chosen = T.with_detail(chosen, rng)
    row = _base(q, rid, "povid", img_path, agrees)
    row.update(chosen=chosen, rejected=rejected)
    return row


def rlhfv_row(q: Question, rid: str, img_path: str, agrees: bool, rng: random.Random) -> dict:
    """RLHF-V-style pair: minimal correction; the hedge is on the chosen side iff `agrees`."""
    (bad,) = wrong_answers(q.answer, 1, rng)
    chosen, rejected = T.hedged_pair(q.answer, bad, rng, hedge_on_good=agrees)
    row = _base(q, rid, "rlhfv", img_path, agrees)
    row.update(chosen=chosen, rejected=rejected)
    return row


PRETRAIN_STYLES = ("terse", "elaborate", "plain", "detail", "hedge")


def pretrain_row(q: Question, rid: str, img_path: str, rng: random.Random) -> dict:
    """Shortcut-free pair: one style and template for both sides; only the answer differs."""
    (bad,) = wrong_answers(q.answer, 1, rng)
    style = rng.choice(PRETRAIN_STYLES)
    kind = T.answer_type(q.answer)
    if style in ("terse", "elaborate"):
        pool = T.TERSE[kind] if style == "terse" else T.ELABORATE[kind]
        tpl = rng.choice(pool)
        chosen, rejected = T.fill(tpl, q.answer), T.fill(tpl, bad)
    else:
        tpl = rng.choice(T.PLAIN[kind])
        chosen, rejected = T.sentence(T.fill(tpl, q.answer)), T.sentence(T.fill(tpl, bad))
        if style == "detail":
            detail = rng.choice(T.DETAILS)
            chosen, rejected = f"{chosen} {detail}", f"{rejected} {detail}"
        elif style == "hedge":
            hedge = rng.choice(T.HEDGES)
            chosen = f"{hedge} {T.fill(tpl, q.answer)}."
            rejected = f"{hedge} {T.fill(tpl, bad)}."
    row = _base(q, rid, "pretrain", img_path, None)
    row.update(chosen=chosen, rejected=rejected, style=style)
    return row


BUILDERS = {"vlf": vlf_row, "povid": povid_row, "rlhfv": rlhfv_row}


def pair_texts(row: dict) -> list[tuple[str, str]]:
    """(chosen, rejected) texts of every image-decided pair of a row (vlf: 4 pairs)."""
    if "completions" in row:
        resp = [c["response"] for c in row["completions"]]
        good = [t for t, ok in zip(resp, row["correct"], strict=True) if ok]
        bad = [t for t, ok in zip(resp, row["correct"], strict=True) if not ok]
        return [(g, b) for g in good for b in bad]
    return [(row["chosen"], row["rejected"])]


def cue_says_chosen(env: str, chosen: str, rejected: str) -> bool:
    """Whether the environment's text cue, read from the texts alone, points to `chosen`.

    vlf: the longer text; povid: the text without a detail sentence; rlhfv: the hedged
    text. Used to check `shortcut_agrees` from the texts (tests, spec statistics).
    """
    if env == "vlf":
        return len(chosen) > len(rejected)
    if env == "povid":
        return not any(d in chosen for d in T.DETAILS) and any(d in rejected for d in T.DETAILS)
    if env == "rlhfv":
        return chosen.startswith(T.HEDGES) and not rejected.startswith(T.HEDGES)
    raise ValueError(f"no cue for environment {env!r}")


# Each environment's planted cue as a `shortcutlab probe` text edit, and the sign of the
# reward change of an RM that learned the cue (the probe's ground truth, docs/probe.md):
# vlf prefers longer answers (pad appends filler), povid's rejected answers carry a detail
# sentence (appending one lowers the reward), rlhfv prefers hedged answers.
PROBE_CUES: dict[str, tuple[str, float]] = {
    "vlf": ("pad", 1.0),
    "povid": ("detail", -1.0),
    "rlhfv": ("hedge", 1.0),
}


def probe_cue_edits() -> list[dict[str, str]]:
    """The `--edits` entries the cues need beyond the built-in edits (povid's detail)."""
    return [{"name": "detail", "op": "suffix", "text": T.DETAILS[0]}]
