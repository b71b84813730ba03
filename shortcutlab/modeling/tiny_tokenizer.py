"""The tokenizer of the tiny models: a byte-level BPE trained offline on VQA-style English.

Trained with the `tokenizers` library on an embedded, seeded corpus (colours, shapes,
numbers, common words and question/answer templates), wrapped in
`PreTrainedTokenizerFast` with the architecture's special image tokens
(`extra_special_tokens`, so `tokenizer.image_token` / `image_token_id` exist as in real
checkpoints), a pad token distinct from eos, and a ChatML-style Jinja chat template.
"""

from __future__ import annotations

import random
from typing import Any

# --- tokenizer corpus: VQA answers and questions -----------------------------------------
_COLOURS = "red green blue yellow orange purple pink brown black white gray grey teal"
_SHAPES = "circle square triangle rectangle star oval diamond hexagon shape shapes"
_NUMBERS = (
    "zero one two three four five six seven eight nine ten eleven twelve 0 1 2 3 4 5 6 7 8 9 "
    "10 11 12 20 100 first second third many few several none no yes"
)
_WORDS = (
    "the a an is are was were there this that these those of in on at to with and or but not "
    "what which who where when how why color colour count number size left right top bottom "
    "middle center above below next behind front image picture photo shows showing contains "
    "man woman person people child dog cat car bus tree sky water table chair room street "
    "small large big tiny bright dark light answer question describe detail details "
    "correct wrong visible background foreground object objects animal animals food plate "
    "I you it he she they we my your its their can see look looks like appears seems "
    "because so very also only some all each both other same different more less than "
    "sure certainly indeed actually clearly based on please note however overall summary "
    "helpful honest accurate description scene wearing holding sitting standing walking"
)
_TEMPLATES = [
    "What color is the {s}?",
    "The {s} is {c}.",
    "How many {s}s are there?",
    "There are {n} {s}s in the image.",
    "Is there a {c} {s}?",
    "Yes, there is a {c} {s} on the {p}.",
    "No, the {s} is {c}, not {c2}.",
    "Describe the image in detail.",
    "The image shows a {c} {s} and a {c2} {s2} near the {p}.",
]


def _corpus(seed: int = 0) -> list[str]:
    """Deterministic training text for the tiny BPE (a few thousand short sentences)."""
    rng = random.Random(seed)
    colours, shapes, nums = _COLOURS.split(), _SHAPES.split()[:8], _NUMBERS.split()
    places = "left right top bottom middle center".split()
    lines = [_COLOURS, _SHAPES, _NUMBERS, _WORDS, _WORDS.capitalize() + "."]
    # bare one-word answers ("red", "Three") so answer words are single tokens at the start too
    for word in f"{_COLOURS} {_SHAPES} {_NUMBERS}".split():
        lines += [word, word.capitalize(), f"{word}."] * 3
    for _ in range(3000):
        t = rng.choice(_TEMPLATES)
        lines.append(
            t.format(
                s=rng.choice(shapes),
                s2=rng.choice(shapes),
                c=rng.choice(colours),
                c2=rng.choice(colours),
                n=rng.choice(nums),
                p=rng.choice(places),
            )
        )
    return lines


# --- chat template shared by all tiny models ----------------------------------------------
_CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{{- '<|im_start|>' + message['role'] + '\\n' -}}"
    "{%- if message['content'] is string -%}{{- message['content'] -}}"
    "{%- else -%}{%- for item in message['content'] -%}"
    "{%- if item['type'] == 'image' -%}{{- '__IMAGE__' -}}"
    "{%- elif item['type'] == 'text' -%}{{- item['text'] -}}{%- endif -%}"
    "{%- endfor -%}{%- endif -%}"
    "{{- '<|im_end|>\\n' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}"
)
_BASE_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|pad|>"]


def build_tokenizer(
    image_placeholder: str,
    extra_special_tokens: dict[str, str],
    *,
    vocab_size: int = 800,
    more_specials: list[str] | None = None,
    seed: int = 0,
) -> Any:
    """A byte-level BPE `PreTrainedTokenizerFast` with the architecture's special tokens.

    `image_placeholder` is what the chat template emits for an image item (the processor
    expands it); `extra_special_tokens` maps names (`image_token`, ...) to tokens so the
    tokenizer exposes `tokenizer.image_token` / `image_token_id` as real checkpoints do.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = list(_BASE_SPECIALS)
    for tok in [*extra_special_tokens.values(), *(more_specials or [])]:
        if tok not in specials:
            specials.append(tok)
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(_corpus(seed), trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        pad_token="<|pad|>",
        unk_token=None,
        extra_special_tokens=extra_special_tokens,
        chat_template=_CHAT_TEMPLATE.replace("__IMAGE__", image_placeholder),
        model_max_length=8192,
    )
