"""Image references and decoding: relative paths, bytes, PIL, with limits and clear errors.

`image_ref(value, ...)` turns whatever a data file holds in its image field (a path string,
a `{bytes, path}` dict as written by HF `datasets`/parquet, raw bytes, a PIL image, or a
one-element list of those) into an `ImageRef`, resolving relative paths against the data
file's folder, or confining them under `image_root` when one is given. A missing file is
reported at load time by a cheap existence check; decoding waits for `load_image`.

`load_image` reads the format from the content (LLaVA-Bench ships WebP and PNG files named
.jpg), refuses images above `max_pixels` before decoding them (decompression bombs), and
returns RGB: grayscale, palette, RGBA (composited on white) and 16-bit images are converted.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from shortcutlab.data.io import data_error
from shortcutlab.data.records import ImageRef, SourceLoc
from shortcutlab.errors import DataError

DEFAULT_MAX_PIXELS = int(os.environ.get("SHORTCUTLAB_MAX_PIXELS", 64_000_000))  # 64 MP


def _is_pil(value: Any) -> bool:
    return isinstance(value, Image.Image)


def image_ref(
    value: Any,
    *,
    loc: SourceLoc | None = None,
    field: str = "image",
    base_dir: str | Path | None = None,
    image_root: str | Path | None = None,
    check_exists: bool = True,
) -> ImageRef | None:
    """An `ImageRef` for a data file's image field value; None when the value is null.

    Relative paths resolve against `image_root` if given (and must stay inside it), else
    against `base_dir` (the data file's folder). Raises `DataError` for a wrong type,
    several images, a path escaping `image_root`, or (when `check_exists`) a missing file.
    """
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        items = [v for v in value if v is not None]
        if not items:
            return None
        if len(items) > 1:
            raise data_error(
                loc,
                f"{len(items)} images given; a record holds at most one image.",
                field=field,
                hint="Split multi-image items or keep the first image yourself.",
                reason="multiple_images",
            )
        value = items[0]
    if _is_pil(value):
        return ImageRef(pil=value, origin="<PIL image>", field=field)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return ImageRef(data=bytes(value), origin="<bytes>", field=field)
    if isinstance(value, dict):
        return _ref_from_dict(value, loc, field, base_dir, image_root, check_exists)
    if isinstance(value, str):
        return _ref_from_path(value, loc, field, base_dir, image_root, check_exists)
    raise data_error(
        loc,
        f"expected an image path, {{bytes, path}} dict, bytes or PIL image, "
        f"found {type(value).__name__}.",
        field=field,
        reason="wrong_type",
    )


def _ref_from_dict(
    value: dict,
    loc: SourceLoc | None,
    field: str,
    base_dir: str | Path | None,
    image_root: str | Path | None,
    check_exists: bool,
) -> ImageRef | None:
    """`{bytes, path}` as written by HF datasets: bytes win, else the path is used."""
    data, path = value.get("bytes"), value.get("path")
    if data is not None:
        if not isinstance(data, (bytes, bytearray)):
            raise data_error(
                loc,
                "image 'bytes' is not binary data.",
                field=f"{field}.bytes",
                reason="wrong_type",
            )
        return ImageRef(data=bytes(data), origin=str(path or "<bytes>"), field=field)
    if path:
        return _ref_from_path(path, loc, f"{field}.path", base_dir, image_root, check_exists)
    if "bytes" in value or "path" in value:
        return None  # an explicit {bytes: null, path: null}: no image
    raise data_error(loc, "image dict needs 'bytes' or 'path'.", field=field, reason="wrong_type")


def resolve_image_path(
    path: str,
    *,
    loc: SourceLoc | None = None,
    field: str = "image",
    base_dir: str | Path | None = None,
    image_root: str | Path | None = None,
) -> Path:
    """Absolute path of an image named in a data file (see `image_ref`)."""
    if image_root is not None:
        root = Path(image_root).resolve()
        full = (root / path).resolve()  # an absolute `path` replaces root: checked below
        if full != root and root not in full.parents:
            raise data_error(
                loc,
                f"image path '{path}' escapes the image root '{root}'.",
                field=field,
                hint="Image paths must stay inside --image-root.",
                reason="image_outside_root",
            )
        return full
    p = Path(path).expanduser()
    if not p.is_absolute():
        p = Path(base_dir or ".") / p
    return p.resolve()


def _ref_from_path(
    path: str,
    loc: SourceLoc | None,
    field: str,
    base_dir: str | Path | None,
    image_root: str | Path | None,
    check_exists: bool,
) -> ImageRef:
    if not path.strip():
        raise data_error(loc, "empty image path.", field=field, reason="missing_image")
    try:
        full = resolve_image_path(
            path, loc=loc, field=field, base_dir=base_dir, image_root=image_root
        )
        exists = full.is_file() if check_exists else True
    except (OSError, ValueError) as exc:  # embedded NUL byte, name too long, ...
        raise data_error(
            loc,
            f"unusable image path {_short_path(path)} ({exc.__class__.__name__}: "
            f"{getattr(exc, 'strerror', None) or exc}).",
            field=field,
            hint="Image fields must hold a file path relative to the data file or --image-root.",
            reason="missing_image",
        ) from None
    if not exists:
        where = "image root" if image_root is not None else "data file's folder"
        raise data_error(
            loc,
            f"image file not found: '{path}' (looked at {full}).",
            field=field,
            hint=f"Relative paths are resolved against the {where}; pass --image-root "
            "to change it, or --skip-invalid to skip such records. Data published without "
            "its images: `data convert --images ignore`, `score --text-only drop`.",
            reason="missing_image",
        )
    if check_exists and full.stat().st_size == 0:  # as cheap as the existence check
        raise data_error(
            loc,
            f"image '{path}' is empty (0 bytes).",
            field=field,
            hint="The file was not fully written or downloaded; replace it (or pass "
            "--skip-invalid to skip such records).",
            reason="empty_image",
        )
    return ImageRef(path=str(full), origin=path, field=field)


def _short_path(path: str) -> str:
    text = repr(path)
    return text if len(text) <= 80 else text[:77] + "..."


def load_image(
    ref: ImageRef,
    *,
    loc: SourceLoc | None = None,
    field: str | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> Any:
    """Decode `ref` into an RGB `PIL.Image.Image`; `DataError` on any failure.

    Errors name `loc` and `field` (default: the field the image came from, `ref.field`).
    The pixel count is checked from the header before the pixels are decoded.
    """
    field = field or ref.field
    what = ref.origin or ref.path or "<image>"
    if ref.pil is not None:
        if not isinstance(ref.pil, Image.Image):
            raise data_error(loc, "not a PIL image.", field=field, reason="bad_image")
        _check_pixels(ref.pil, what, loc, field, max_pixels)
        return to_rgb(ref.pil)
    data = ref.data if ref.data is not None else _read_file(ref, loc, field)
    if len(data) == 0:
        raise data_error(
            loc,
            f"image '{what}' is empty (0 bytes).",
            field=field,
            hint="The file was not fully written or downloaded; replace it.",
            reason="empty_image",
        )
    return to_rgb(_decode(data, what, loc, field, max_pixels))


def probe_image(
    ref: ImageRef,
    *,
    loc: SourceLoc | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    decode: bool = False,
) -> None:
    """Check `ref` without keeping it: exists, non-empty, a format PIL identifies, size
    within `max_pixels` (from the header only); with `decode`, also every pixel.

    Raises the same `DataError`s as `load_image` (reasons `missing_image`, `empty_image`,
    `bad_image`, `image_too_large`). The header check reads a file's first bytes only, so
    it is cheap enough to run on every image of a data set by default.
    """
    if decode or ref.pil is not None:
        load_image(ref, loc=loc, max_pixels=max_pixels).close()  # a PIL image is not decoded
        return
    what = ref.origin or ref.path or "<bytes>"
    if ref.data is not None:  # parquet / datasets bytes: the header only, like a file
        if ref.data:
            _identify(io.BytesIO(ref.data), what, loc, ref.field, max_pixels)
            return
        size = 0
    else:
        size = _file_size(ref, what, loc)
    if size == 0:
        raise data_error(
            loc,
            f"image '{what}' is empty (0 bytes).",
            field=ref.field,
            hint="The file was not fully written or downloaded; replace it.",
            reason="empty_image",
        )
    assert ref.path is not None
    _identify(ref.path, what, loc, ref.field, max_pixels)


def _file_size(ref: ImageRef, what: str, loc: SourceLoc | None) -> int:
    """The size of an image file; `missing_image` when it cannot be found or stat'ed."""
    assert ref.path is not None
    try:
        return os.path.getsize(ref.path)
    except FileNotFoundError:
        raise data_error(
            loc,
            f"image file not found: '{what}' (looked at {ref.path}).",
            field=ref.field,
            hint="Relative paths are resolved against the data file's folder or --image-root; "
            "pass --image-root to change it, or --skip-invalid to skip such records. Data "
            "published without its images: `data convert --images ignore`, `score "
            "--text-only drop`.",
            reason="missing_image",
        ) from None
    except (OSError, ValueError) as exc:  # name too long, not a folder, ...: no such file
        raise data_error(
            loc,
            f"unusable image path {_short_path(ref.path)} "
            f"({getattr(exc, 'strerror', None) or exc}).",
            field=ref.field,
            reason="missing_image",
        ) from None


def _identify(path: Any, what: str, loc: SourceLoc | None, field: str, max_pixels: int) -> None:
    """PIL's header read (no pixels) of a path or file object: a known format, size
    within the limit."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                _check_pixels(im, what, loc, field, max_pixels)
    except DataError:
        raise
    except Exception as exc:  # UnidentifiedImageError, OSError, SyntaxError, bomb ...
        raise _unreadable(exc, what, loc, field, verb="read") from None


def _unreadable(
    exc: Exception, what: str, loc: SourceLoc | None, field: str, *, verb: str
) -> DataError:
    """The DataError for an image PIL cannot `verb` ("read": header, "decode": pixels)."""
    if isinstance(exc, Image.DecompressionBombError):
        return data_error(
            loc,
            f"image '{what}' is too large to decode safely ({exc}).",
            field=field,
            hint="Raise max_pixels (SHORTCUTLAB_MAX_PIXELS) if the image is trusted.",
            reason="image_too_large",
        )
    why = (
        "not a recognised image format"  # PIL's own text may name a BytesIO object
        if isinstance(exc, Image.UnidentifiedImageError)
        else f"{type(exc).__name__}: {exc}"
    )
    hint = "The file is corrupt or not an image."
    if verb == "decode":
        hint = "The file is corrupt, truncated or not an image."
    return data_error(
        loc, f"cannot {verb} image '{what}' ({why}).", field=field, hint=hint, reason="bad_image"
    )


def _decode(data: bytes, what: str, loc: SourceLoc | None, field: str, max_pixels: int) -> Any:
    """PIL decode with the format sniffed from the bytes; size checked before pixels load."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
            _check_pixels(im, what, loc, field, max_pixels)
            im.load()
    except DataError:
        raise
    except Exception as exc:  # PIL's own bomb limit (checked in open()), OSError ...
        raise _unreadable(exc, what, loc, field, verb="decode") from None
    return im


def _read_file(ref: ImageRef, loc: SourceLoc | None, field: str) -> bytes:
    assert ref.path is not None
    try:
        with open(ref.path, "rb") as fh:
            return fh.read()
    except FileNotFoundError:
        raise data_error(
            loc,
            f"image file not found: '{ref.origin or ref.path}' ({ref.path}).",
            field=field,
            reason="missing_image",
        ) from None
    except (OSError, ValueError) as exc:
        raise data_error(
            loc,
            f"cannot read image {_short_path(ref.path)} ({getattr(exc, 'strerror', None) or exc}).",
            field=field,
            reason="bad_image",
        ) from None


def _check_pixels(im: Any, what: str, loc: SourceLoc | None, field: str, limit: int) -> None:
    w, h = im.size
    if w * h > limit:
        raise data_error(
            loc,
            f"image '{what}' has {w}x{h} = {w * h} pixels, above the limit of {limit}.",
            field=field,
            hint="Raise max_pixels (SHORTCUTLAB_MAX_PIXELS) if the image is trusted.",
            reason="image_too_large",
        )
    if w == 0 or h == 0:
        raise data_error(loc, f"image '{what}' has zero size.", field=field, reason="bad_image")


def to_rgb(im: Any) -> Any:
    """RGB copy of a PIL image: alpha composited on white, 16-bit and float scaled to 8-bit."""
    if im.mode == "RGB":
        return im.copy() if im.format is None else im.convert("RGB")
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        return _high_depth_to_rgb(im)
    if im.mode == "P":
        im = im.convert("RGBA") if "transparency" in im.info else im.convert("RGB")
    if im.mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        rgba = im.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        canvas.alpha_composite(rgba)
        return canvas.convert("RGB")
    return im.convert("RGB")


def _high_depth_to_rgb(im: Any) -> Any:
    """16-bit / 32-bit integer and float grayscale -> 8-bit RGB (scaled, not clipped)."""
    arr = np.asarray(im, dtype=np.float64)  # (H, W)
    if im.mode == "F":
        lo, hi = float(arr.min()), float(arr.max())
        arr = (arr - lo) / (hi - lo) * 255.0 if hi > lo else np.zeros_like(arr)
    elif im.mode.startswith("I;16") or arr.max() > 255:
        arr = arr / 257.0  # 65535 -> 255
    gray = Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8))  # mode L
    return gray.convert("RGB")
