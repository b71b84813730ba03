"""Thumbnails for the report's example browser: each distinct image resized once (PIL).

A page embeds its thumbnails as `data:` URIs (JPEG, at most `size` pixels on the long
side), so it works from a file:// URL with no server and no side folder. `Thumbnails`
keeps one entry per distinct image (`ImageRef.key()`): pairs that share an image share
its bytes in the page. An image that cannot be read (missing, not an image) gets no
thumbnail but a reason naming its path, which the page shows as a placeholder.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field

from PIL import Image

from shortcutlab.data.images import load_image
from shortcutlab.data.records import ImageRef
from shortcutlab.errors import ShortcutlabError

DEFAULT_SIZE = 96  # pixels on the long side: ~2-4 kB as JPEG
JPEG_QUALITY = 75


def thumbnail_uri(ref: ImageRef, size: int = DEFAULT_SIZE) -> str:
    """A `data:image/jpeg;base64,...` URI of `ref` resized to fit `size` x `size`.

    Raises the data layer's `DataError` (naming the path) when the image cannot be read.
    """
    im = load_image(ref)  # RGB PIL image; DataError when missing or undecodable
    im.thumbnail((size, size), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


@dataclass
class Thumbnails:
    """Thumbnails by image key, made once each; failures remembered with their reason."""

    size: int = DEFAULT_SIZE
    uris: dict[str, str] = field(default_factory=dict)  # short id "t0" -> data URI
    missing: dict[str, str] = field(default_factory=dict)  # image key -> "path: reason"
    ids: dict[str, str] = field(default_factory=dict)  # image key -> short id

    def add(self, ref: ImageRef | None) -> dict[str, str]:
        """The row fields for `ref`: {"img": key} or {"img_missing": path and reason}."""
        if ref is None:
            return {}
        key = ref.key()
        if key not in self.ids and key not in self.missing:
            try:
                uri = thumbnail_uri(ref, self.size)
            except (ShortcutlabError, OSError) as err:
                where = ref.origin or ref.path or "embedded image"
                self.missing[key] = f"{where}: {_first_line(str(err))}"
            else:
                self.ids[key] = f"t{len(self.ids)}"
                self.uris[self.ids[key]] = uri
        if key in self.ids:
            return {"img": self.ids[key]}
        return {"img_missing": self.missing[key]}


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "unreadable"
