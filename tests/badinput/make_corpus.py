"""Generate the binary and large members of the bad-input corpus (see cases.yaml).

Small text cases are committed under `tests/badinput/files/`; this script writes the rest
(images in every awkward mode, corrupt / empty / lying / bomb images, non-UTF-8 bytes, a
very long line, a garbage parquet, a long prompt) so the repository holds no binaries.

    python tests/badinput/make_corpus.py OUT_DIR   # copies files/ and generates into OUT_DIR

`build(out)` is what tests/test_badinput.py calls (into a temporary folder).
"""

from __future__ import annotations

import io
import json
import shutil
import struct
import sys
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
FILES = HERE / "files"
LONG_LINE_CHARS = 3_000_000  # one unterminated JSON line of ~3 MB
BOMB_SIDE = 40_000  # 1.6 G pixels declared in the header (above PIL's own bomb limit)
DEEP = 100_000  # nesting depth of the deep-JSON cases
BIG_SIDE = 9_000  # 81 M pixels: under PIL's limit, above shortcutlab's 64 M default


def _png(im: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="PNG")  # type: ignore[attr-defined]
    return buf.getvalue()


def _bomb_png(side: int) -> bytes:
    """A tiny valid PNG whose IHDR is patched to claim side x side pixels.

    The header (checked before decoding) is what matters; the pixel data stays tiny.
    """
    from PIL import Image

    data = bytearray(_png(Image.new("L", (8, 8), 0)))
    ihdr_start = 8 + 4  # signature, then chunk length; IHDR type + payload follow
    payload = bytearray(data[ihdr_start + 4 : ihdr_start + 4 + 13])
    payload[0:8] = struct.pack(">II", side, side)
    data[ihdr_start + 4 : ihdr_start + 17] = payload
    crc = zlib.crc32(b"IHDR" + bytes(payload)) & 0xFFFFFFFF
    data[ihdr_start + 17 : ihdr_start + 21] = struct.pack(">I", crc)
    return bytes(data)


def images() -> dict[str, bytes]:
    """name -> file bytes of every generated image."""
    import numpy as np
    from PIL import Image

    rgb = Image.new("RGB", (32, 24), (200, 30, 30))
    rgba = Image.new("RGBA", (32, 24), (0, 0, 255, 0))  # fully transparent blue
    pal = Image.new("P", (16, 16), 1)
    pal.putpalette([0, 0, 0, 0, 200, 0] + [0] * 762)
    pal_t = pal.copy()
    pal_t.info["transparency"] = 0
    g16 = Image.fromarray(np.full((16, 16), 65535, dtype=np.uint16))  # mode I;16, white
    webp = io.BytesIO()
    rgb.save(webp, format="WEBP")
    cmyk = io.BytesIO()
    Image.new("CMYK", (16, 16), (0, 255, 255, 0)).save(cmyk, format="JPEG")
    ok = _png(rgb)
    jpeg = io.BytesIO()
    Image.effect_noise((96, 96), 60).convert("RGB").save(jpeg, format="JPEG", quality=90)
    return {
        "ok.png": ok,
        "gray.png": _png(Image.new("L", (16, 16), 128)),
        "gray_alpha.png": _png(Image.new("LA", (16, 16), (10, 128))),
        "rgba.png": _png(rgba),
        "palette.png": _png(pal),
        "palette_transparent.png": _png(pal_t),
        "gray16.png": _png(g16),
        "cmyk.jpg": cmyk.getvalue(),
        "webp_named.jpg": webp.getvalue(),
        "png_named.jpg": ok,
        "zero.png": b"",
        "corrupt.png": b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4,
        "truncated.png": _png(Image.effect_noise((64, 64), 50).convert("RGB"))[:300],
        # a JPEG cut mid-scan: the header reads fine, decoding the pixels fails
        "truncated.jpg": jpeg.getvalue()[: len(jpeg.getvalue()) // 2],
        "text_named.png": b"this is not an image\n",
        "bomb.png": _bomb_png(BOMB_SIDE),
        "big.png": _bomb_png(BIG_SIDE),
    }


def _row(i: int, img: str | None = "img/ok.png", **kw: object) -> str:
    row = {"id": f"r{i}", "prompt": "What is shown?", "img_path": img}
    row |= {"chosen": "A red rectangle.", "rejected": "A dog."}
    row |= kw
    return json.dumps(row)


def text_files() -> dict[str, bytes]:
    """Generated (non-UTF-8 or large) data files: name -> bytes."""
    ok = _row(1).encode()
    long_prompt = " ".join(f"word{i}" for i in range(3000))
    return {
        # line 2 holds a Latin-1 'é' (0xE9): not valid UTF-8
        "non_utf8.jsonl": ok
        + b"\n"
        + _row(2, chosen="cafe").encode().replace(b"cafe", b"caf\xe9")
        + b"\n",
        # line 2: ~3 MB on one line, never closed
        "long_line.jsonl": ok + b"\n" + b'{"id": "r2", "prompt": "' + b"a" * LONG_LINE_CHARS,
        # a valid record whose rejected answer is ~1 MB on one line: must load
        "long_valid_line.jsonl": ok + b"\n" + _row(2, rejected="b " * 500_000).encode() + b"\n",
        "garbage.parquet": b"PAR1" + b"\x00\x01garbage" * 20,
        # 100k nested lists: json raises RecursionError, not JSONDecodeError
        "deep_nesting.jsonl": ok + b"\n" + b'{"id": ' + b"[" * DEEP + b"]" * DEEP + b"}\n",
        "deep_nesting.json": b"[" + b"[" * DEEP + b"]" * DEEP + b"]\n",
        # image paths the OS rejects: an embedded NUL byte, a 5000-character name
        "nul_image_path.jsonl": (_row(1, img="img/ok\u0000.png") + "\n").encode(),
        "long_image_path.jsonl": (_row(1, img="x" * 5000 + ".png") + "\n").encode(),
        # a prompt far over max_length with short answers: the prompt is cut, not the answer
        "long_prompt.jsonl": (_row(1, prompt=long_prompt, rejected="A dog.") + "\n").encode(),
    }


def parquet_rlaif(rejected: list[str | None], image_bytes: list[bytes]) -> bytes:
    """An RLAIF-V-style parquet (image bytes inline), one row per `rejected` value."""
    import pandas as pd

    rows = [
        {"idx": i, "question": "What is shown?", "chosen": "A red rectangle.", "rejected": r}
        | {"image": {"bytes": b, "path": f"{i}.png"}}
        for i, (r, b) in enumerate(zip(rejected, image_bytes, strict=True))
    ]
    buf = io.BytesIO()
    pd.DataFrame(rows).to_parquet(buf, index=False)
    return buf.getvalue()


def build(out: str | Path) -> Path:
    """Copy the committed files and write the generated ones into `out`; returns `out`."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    shutil.copytree(FILES, out, dirs_exist_ok=True)
    (out / "img").mkdir(exist_ok=True)
    for name, data in images().items():
        (out / "img" / name).write_bytes(data)
    for name, data in text_files().items():
        (out / name).write_bytes(data)
    ok = images()["ok.png"]
    # row 1 (0-based) has a null `rejected`; row 2 of the other holds corrupt image bytes
    (out / "rlaif_null.parquet").write_bytes(parquet_rlaif(["A dog.", None, "A cat."], [ok] * 3))
    bad = [ok, ok, images()["corrupt.png"]]
    (out / "rlaif_bad_image.parquet").write_bytes(parquet_rlaif(["A dog.", "B.", "C."], bad))
    (out / "outside.png").write_bytes(images()["ok.png"])  # target of ../ escapes
    return out


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tests/badinput/make_corpus.py OUT_DIR")
    print(build(sys.argv[1]))
