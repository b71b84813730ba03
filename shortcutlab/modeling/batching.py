"""RewardCollator: records -> processor inputs, one row per (record, response).

Each row is the chat `user: [image] prompt` / `assistant: response`, rendered with the
processor's own chat template (`apply_chat_template(tokenize=False)`) and then passed to the
processor with the image, so image placeholders are expanded exactly as the model expects
and architecture extras (Qwen `image_grid_thw`, `mm_token_type_ids`, ...) come through.

Modes (method card, Eq. 3 and App. F; the names are owned by `shortcutlab.text_only`):
- `text_only=None`: the record's image (if any);
- `text_only="drop"`: no image tokens at all (the default text-only RM);
- `text_only="blank"`: a constant white 224x224 image, as the official code does;
- `drop_prompt=True`: the query text is removed, the image kept (image-only proxy, App. F).

Truncation to `max_length` tokens cuts the prompt first, from its beginning (the end of the
prompt, next to the answer, is kept); rows cut so are counted in `.truncated`. Only when the
answer alone does not fit is the answer's tail cut, counted in `.answer_truncated` and logged.

`encode(records, share_images=True)` additionally returns each record's image once
(`unique_*` tensors + per-row `image_index`), so `RewardModel.forward` runs the vision tower
once per record instead of once per response.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from shortcutlab.data.images import load_image
from shortcutlab.data.inspect import counting_only
from shortcutlab.data.records import Record
from shortcutlab.errors import ConfigError, DataError
from shortcutlab.text_only import choices, is_mode

log = logging.getLogger(__name__)
BLANK_SIZE = 224
_BLANK_KEY = "blank:224"


@dataclass
class EncodedBatch:
    """Model inputs (one row per (record, response)) and where each row came from."""

    inputs: dict[str, Any]
    index: list[tuple[int, int]]  # (record position, response index) per row
    truncated: int = 0  # rows whose prompt was cut to fit max_length
    answer_truncated: int = 0  # rows whose answer tail had to be cut (prompt gone already)
    n_unique_images: int = 0

    def to(self, device: Any) -> EncodedBatch:
        """Move every tensor in `inputs` to `device` (in place); returns self."""
        self.inputs = {k: v.to(device) if hasattr(v, "to") else v for k, v in self.inputs.items()}
        return self


@dataclass
class _Row:
    record: int
    response: int
    prompt: str
    answer: str
    image_key: str | None


class RewardCollator:
    """Turn canonical records into RewardModel inputs with a VLM processor."""

    def __init__(
        self,
        processor: Any,
        *,
        max_length: int = 4096,
        text_only: str | None = None,
        drop_prompt: bool = False,
        padding_side: str | None = None,
        max_pixels: int | None = None,
    ) -> None:
        if not is_mode(text_only):
            raise ConfigError(f"text_only must be None, {choices()}; got {text_only!r}")
        if max_length < 8:
            raise ConfigError(f"max_length must be >= 8, got {max_length}")
        self.processor = processor
        self.max_length = max_length
        self.text_only = text_only
        self.drop_prompt = drop_prompt
        self.padding_side = padding_side
        self.max_pixels = max_pixels
        self.tokenizer = counting_only(getattr(processor, "tokenizer", processor))

    # --- public -----------------------------------------------------------------------
    def encode(self, records: list[Record], *, share_images: bool = False) -> EncodedBatch:
        """Encode all responses of `records` (contiguous per record, in order)."""
        images = self._load_images(records)
        rows = [
            _Row(i, j, "" if self.drop_prompt else rec.prompt, resp, self._image_key(rec))
            for i, rec in enumerate(records)
            for j, resp in enumerate(rec.responses)
        ]
        if not rows:
            raise DataError("no responses to encode (empty batch)", reason="empty")
        self._image_extra: dict[str, int] = {}  # image key -> tokens its placeholder adds
        inputs, cut_prompt, cut_answer = self._process_fitted(rows, images, records)
        batch = EncodedBatch(
            inputs=dict(inputs),
            index=[(r.record, r.response) for r in rows],
            truncated=len(cut_prompt),
            answer_truncated=len(cut_answer),
        )
        if share_images:
            self._share(batch, rows, images)
        return batch

    def _process_fitted(
        self, rows: list[_Row], images: dict[str, Any], records: list[Record]
    ) -> tuple[Any, set[int], set[int]]:
        """Processor output with every row <= max_length; rows whose prompt / answer was cut."""
        cut_prompt: set[int] = set()
        cut_answer: set[int] = set()
        inputs = self._process(rows, images)
        for attempt in range(4):  # fit over-long rows, then re-check the real processor output
            lengths = inputs["attention_mask"].sum(dim=1).tolist()
            if max(lengths) <= self.max_length:
                return inputs, cut_prompt, cut_answer
            if attempt == 3:
                break
            for k, (row, n) in enumerate(zip(rows, lengths, strict=True)):
                if n > self.max_length:
                    p, a = self._fit(row, images, records, n)
                    if p:
                        cut_prompt.add(k)
                    if a:
                        cut_answer.add(k)
            inputs = self._process(rows, images)
        raise DataError(f"could not fit all rows into max_length={self.max_length} tokens")

    # --- images -------------------------------------------------------------------------
    def _image_key(self, rec: Record) -> str | None:
        return image_key(rec, self.text_only)

    def _load_images(self, records: list[Record]) -> dict[str, Any]:
        """Decode each distinct image once: key -> RGB PIL image."""
        from PIL import Image

        out: dict[str, Any] = {}
        for rec in records:
            key = self._image_key(rec)
            if key is None or key in out:
                continue
            if key == _BLANK_KEY:
                out[key] = Image.new("RGB", (BLANK_SIZE, BLANK_SIZE), (255, 255, 255))
            else:
                out[key] = _load(rec, self.max_pixels)
        return out

    # --- text -----------------------------------------------------------------------------
    def render(self, prompt: str, answer: str, with_image: bool) -> str:
        """The chat text of one row via the processor's chat template."""
        user: list[dict[str, Any]] = [{"type": "image"}] if with_image else []
        user.append({"type": "text", "text": prompt})
        messages = [
            {"role": "user", "content": user},
            {"role": "assistant", "content": [{"type": "text", "text": answer}]},
        ]
        return self.processor.apply_chat_template(messages, tokenize=False)

    def _process(self, rows: list[_Row], images: dict[str, Any]) -> Any:
        texts = [self.render(r.prompt, r.answer, r.image_key is not None) for r in rows]
        # nested: one list per row (Idefics3/SmolVLM need it; others flatten it)
        nested = [[images[r.image_key]] if r.image_key is not None else [] for r in rows]
        kwargs: dict[str, Any] = {"padding": True, "return_tensors": "pt"}
        if self.padding_side is not None:
            kwargs["padding_side"] = self.padding_side
        has_image = any(nested)
        return self.processor(text=texts, images=nested if has_image else None, **kwargs)

    def _row_length(self, row: _Row, images: dict[str, Any]) -> int:
        """Tokens of `row` after image expansion, without re-processing the image.

        = tokens of the row rendered without image + the image's extra tokens, measured once
        per image on an empty row (placeholders are special tokens, so this is exact for
        the processors we know; `encode` re-checks the final batch anyway).
        """
        text = self.render(row.prompt, row.answer, False)
        n = len(self.tokenizer(text, add_special_tokens=False)["input_ids"])
        if row.image_key is None:
            return n
        if row.image_key not in self._image_extra:
            empty = _Row(0, 0, "", "", row.image_key)
            with_image = int(self._process([empty], images)["attention_mask"].sum())
            bare = self.render("", "", False)
            without = len(self.tokenizer(bare, add_special_tokens=False)["input_ids"])
            self._image_extra[row.image_key] = with_image - without
        return n + self._image_extra[row.image_key]

    def _fit(
        self, row: _Row, images: dict[str, Any], records: list[Record], length: int
    ) -> tuple[int, int]:
        """Shorten `row` in place to fit max_length: prompt head first, then answer tail."""
        cut_p = cut_a = 0
        for step in range(8):  # re-tokenising decoded text may shift a token; iterate
            n = length if step == 0 else self._row_length(row, images)
            over = n - self.max_length
            if over <= 0:
                break
            ids = self.tokenizer(row.prompt, add_special_tokens=False)["input_ids"]
            if ids:
                keep = ids[min(len(ids), over) :]  # keep the end of the prompt
                row.prompt = self.tokenizer.decode(keep) if keep else ""
                cut_p = 1
                continue
            ids = self.tokenizer(row.answer, add_special_tokens=False)["input_ids"]
            if not ids:
                rec = records[row.record]
                raise DataError(
                    f"record {rec.id!r}: the template and image alone take more than "
                    f"max_length={self.max_length} tokens",
                    file=rec.loc.file if rec.loc else None,
                    line=rec.loc.line if rec.loc else None,
                    hint="raise max_length or lower the processor's image resolution",
                    reason="too_long",
                )
            row.answer = self.tokenizer.decode(ids[: max(0, len(ids) - over)])
            cut_a = 1
        if cut_a:
            log.warning(
                "record %s response %d: answer tail cut to fit max_length=%d",
                records[row.record].id,
                row.response,
                self.max_length,
            )
        return cut_p, cut_a

    # --- shared images ----------------------------------------------------------------------
    def _share(self, batch: EncodedBatch, rows: list[_Row], images: dict[str, Any]) -> None:
        """Replace per-row pixel tensors by unique-image tensors + per-row `image_index`."""
        import torch

        order: dict[str, int] = {}
        for r in rows:
            if r.image_key is not None and r.image_key not in order:
                order[r.image_key] = len(order)
        index = [order[r.image_key] if r.image_key is not None else -1 for r in rows]
        batch.inputs["image_index"] = torch.tensor(index, dtype=torch.long)  # (N,)
        batch.n_unique_images = len(order)
        if not order:
            return
        unique = self.processor.image_processor(
            [[images[k]] for k in order], **self._images_kwargs(), return_tensors="pt"
        )  # one "sample" per unique image, same image options as the processor's own call
        for key, value in unique.items():
            batch.inputs[f"unique_{key}"] = value
            if key.startswith("pixel_"):
                batch.inputs.pop(key, None)  # per-row pixels are not needed any more

    def _images_kwargs(self) -> dict[str, Any]:
        """The image options the processor itself would use (its class defaults included,
        e.g. InternVL's `crop_to_patches=True`), so unique images are processed identically."""
        try:
            merged = self.processor._merge_kwargs(
                tokenizer_init_kwargs=getattr(self.tokenizer, "init_kwargs", {})
            )
        except Exception:  # noqa: BLE001 - processors without the v5 kwargs machinery
            return {}
        out = dict(merged.get("images_kwargs", {}))
        out.pop("return_tensors", None)
        return out


def _load(rec: Record, max_pixels: int | None) -> Any:
    """A record's image as RGB PIL, through the data layer (clear DataError on failure)."""
    # no `field=`: load_image then names the field the image came from (ref.field, e.g. img_path)
    kwargs: dict[str, Any] = {"loc": rec.loc}
    if max_pixels is not None:
        kwargs["max_pixels"] = max_pixels
    return load_image(rec.image, **kwargs)


def image_key(rec: Record, text_only: str | None) -> str | None:
    """The identity of the image a record is encoded with in `text_only` mode (None: none)."""
    if text_only == "drop":
        return None
    if text_only == "blank":
        return _BLANK_KEY
    return rec.image.key() if rec.image is not None else None
