"""Answer templates of the shortcut benchmark: one text style per environment.

Every response names one easy-vqa answer word (a colour or a shape). The image decides
which word is right; the templates only decide *how* the word is said, and each
environment plants its own text-only cue in that "how":

- `vlf` (AI feedback, VLFeedback-like): elaborate, long responses vs terse ones;
- `povid` (hallucination injection, POVID-like): a query-irrelevant detail sentence
  appended to an answer (makes it longer);
- `rlhfv` (human refinement, RLHF-V-like): a hedging opener ("It appears that ...") on a
  minimally rewritten answer.

Templates never mention anything but the answer word, so no template leaks the label,
and the same template pools serve the chosen and the rejected side. The lists are part
of the benchmark spec (`spec.json` records them); changing them changes the benchmark.
"""

from __future__ import annotations

import random

COLORS = ("red", "green", "blue", "yellow", "black", "gray", "brown", "teal")
SHAPES = ("circle", "rectangle", "triangle")

# Terse answers (vlf "low effort" style; also the pretrain neutral pool).
TERSE = {
    "color": ("{A}.", "It is {a}.", "{A}, I think."),
    "shape": ("{A}.", "A {a}.", "It is a {a}."),
}

# Elaborate answers (vlf "high effort" style): 85-140 characters, always longer than TERSE.
ELABORATE = {
    "color": (
        "Looking carefully at the image, the shape is {a}. Its {a} colour fills the whole "
        "shape and stands out against the background.",
        "After examining the picture in detail, I can say the shape is {a}; the {a} tone is "
        "even across its entire surface.",
        "The image shows a single shape, and its colour is {a}. This is clear from the solid "
        "{a} fill visible in the picture.",
    ),
    "shape": (
        "Looking carefully at the image, the shape is a {a}. Its outline and proportions are "
        "those of a typical {a}.",
        "After examining the picture in detail, I can say it contains a {a}; the edges and "
        "corners match a {a} exactly.",
        "The image shows a single object, and it is a {a}. This is clear from the silhouette "
        "of the {a} in the picture.",
    ),
}

# Plain one-sentence answers (povid and rlhfv base sentences; lowercase first word so a
# hedge can be prefixed, capitalised when used alone).
PLAIN = {
    "color": ("the shape is {a}", "the colour of the shape is {a}", "the shape is coloured {a}"),
    "shape": ("the shape is a {a}", "the image shows a {a}", "the object is a {a}"),
}

# povid: query-irrelevant hallucinated details (never about colour or shape words).
DETAILS = (
    "A small dog is sitting next to it.",
    "There is also a wooden table in the background.",
    "Two people are walking past on the left.",
    "A clock on the wall shows three o'clock.",
    "Some trees are visible through a window.",
    "A cup of coffee stands beside it.",
)

# rlhfv: hedging openers of a cautious, human-refined rewrite.
HEDGES = ("It appears that", "It seems that", "From what I can see,")


def answer_type(answer: str) -> str:
    """'color' or 'shape' for an easy-vqa open answer word."""
    if answer in COLORS:
        return "color"
    if answer in SHAPES:
        return "shape"
    raise ValueError(f"not an open easy-vqa answer: {answer!r}")


def fill(template: str, answer: str) -> str:
    """Put the answer word into a template ({a} lowercase, {A} capitalised)."""
    return template.format(a=answer, A=answer.capitalize())


def sentence(base: str) -> str:
    """A PLAIN base as a stand-alone sentence: capitalised, full stop."""
    return base[0].upper() + base[1:] + "."


def terse(answer: str, rng: random.Random, k: int = 1) -> list[str]:
    """`k` terse answers from distinct templates."""
    return [fill(t, answer) for t in rng.sample(TERSE[answer_type(answer)], k)]


def elaborate(answer: str, rng: random.Random, k: int = 1) -> list[str]:
    """`k` elaborate answers from distinct templates."""
    return [fill(t, answer) for t in rng.sample(ELABORATE[answer_type(answer)], k)]


def plain(answer: str, rng: random.Random) -> str:
    return sentence(fill(rng.choice(PLAIN[answer_type(answer)]), answer))


def with_detail(text: str, rng: random.Random) -> str:
    """`text` plus one irrelevant hallucinated detail sentence (povid cue)."""
    return f"{text} {rng.choice(DETAILS)}"


def hedged_pair(good: str, bad: str, rng: random.Random, *, hedge_on_good: bool) -> tuple[str, str]:
    """(good, bad) as minimal rewrites of one base sentence; one side carries a hedge.

    The two answers share the base sentence and differ in the answer word and in the
    hedge, as a human annotator's minimal correction of a model answer would.
    """
    base = rng.choice(PLAIN[answer_type(good)])
    hedge = rng.choice(HEDGES)
    good_s, bad_s = fill(base, good), fill(base, bad)
    if hedge_on_good:
        return f"{hedge} {good_s}.", sentence(bad_s)
    return sentence(good_s), f"{hedge} {bad_s}."


def template_tables() -> dict[str, object]:
    """All template pools, for `spec.json` (the benchmark is defined by them)."""
    return {
        "terse": TERSE,
        "elaborate": ELABORATE,
        "plain": PLAIN,
        "details": DETAILS,
        "hedges": HEDGES,
    }
