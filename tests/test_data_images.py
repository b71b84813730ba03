"""Image references and decoding: paths, bytes, PIL, formats by content, limits, errors."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from shortcutlab.data.images import image_ref, load_image, to_rgb
from shortcutlab.data.records import ImageRef, SourceLoc
from shortcutlab.data.schemas import load_dataset_file
from shortcutlab.errors import DataError

pytestmark = pytest.mark.unit

FIX = Path(__file__).parent / "fixtures" / "data"
LOC = SourceLoc("train.jsonl", 7)


def encoded(im: Image.Image, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt)
    return buf.getvalue()


def pair_file(tmp_path: Path, img_path: str, name: str = "d.jsonl") -> Path:
    row = {"id": "a", "prompt": "What?", "img_path": img_path, "chosen": "x", "rejected": "y"}
    path = tmp_path / name
    path.write_text(json.dumps(row) + "\n")
    return path


def test_format_from_content_not_extension() -> None:
    ref = image_ref("images/actually_webp.jpg", base_dir=FIX)
    im = load_image(ref)
    assert im.mode == "RGB" and im.size == (24, 24)
    assert im.getpixel((12, 12))[2] > 150  # the blue square survived WebP


def test_real_llava_bench_webp_and_png_named_jpg(realdata: Path) -> None:
    folder = realdata / "llava-bench-in-the-wild" / "images"
    for name, fmt in [("001.jpg", "WEBP"), ("014.jpg", "PNG"), ("002.jpg", "JPEG")]:
        assert Image.open(folder / name).format == fmt
        im = load_image(image_ref(name, base_dir=folder))
        assert im.mode == "RGB" and im.size[0] > 100


def test_modes_converted_to_rgb() -> None:
    gray = to_rgb(Image.new("L", (3, 3), 100))
    assert gray.mode == "RGB" and gray.getpixel((0, 0)) == (100, 100, 100)
    rgba = Image.new("RGBA", (3, 3), (255, 0, 0, 0))  # fully transparent red -> white
    assert to_rgb(rgba).getpixel((1, 1)) == (255, 255, 255)
    half = Image.new("RGBA", (3, 3), (0, 0, 0, 128))
    assert to_rgb(half).getpixel((1, 1)) == pytest.approx((127, 127, 127), abs=1)
    pal = Image.new("P", (3, 3), 0)
    pal.putpalette([10, 20, 30] + [0] * 765)
    assert to_rgb(pal).getpixel((0, 0)) == (10, 20, 30)


def test_sixteen_bit_scaled_not_clipped() -> None:
    arr = np.array([[0, 32896, 65535]], dtype=np.uint16)
    im16 = Image.open(io.BytesIO(encoded(Image.fromarray(arr))))
    assert im16.mode.startswith("I")
    out = load_image(ImageRef(data=encoded(im16)))
    assert [out.getpixel((x, 0))[0] for x in range(3)] == [0, 128, 255]


def test_bytes_dict_raw_bytes_and_pil_inputs() -> None:
    data = encoded(Image.new("RGB", (5, 4), (1, 2, 3)))
    ref = image_ref({"bytes": data, "path": "orig.png"}, loc=LOC)
    assert ref.data == data and ref.origin == "orig.png"
    assert load_image(image_ref(data)).getpixel((0, 0)) == (1, 2, 3)
    pil = Image.new("LA", (2, 2), (50, 255))
    assert load_image(image_ref(pil)).getpixel((0, 0)) == (50, 50, 50)
    assert image_ref({"bytes": None, "path": None}) is None and image_ref([]) is None


def test_dict_path_resolved_relative_to_data_file() -> None:
    ref = image_ref({"bytes": None, "path": "images/blue_square.png"}, base_dir=FIX)
    assert ref.path == str((FIX / "images/blue_square.png").resolve())


def test_pixel_limit_guards_decompression_bombs() -> None:
    data = encoded(Image.new("RGB", (100, 100)))
    with pytest.raises(DataError) as ei:
        load_image(
            ImageRef(data=data, origin="big.png"), loc=LOC, field="img_path", max_pixels=5000
        )
    err = ei.value
    assert err.reason == "image_too_large" and "10000 pixels" in str(err)
    assert (err.file, err.line, err.field) == ("train.jsonl", 7, "img_path")
    assert load_image(ImageRef(data=data), max_pixels=10_000).size == (100, 100)


@pytest.mark.parametrize(
    "content,reason",
    [(b"", "empty_image"), (b"not an image at all", "bad_image"), ("truncated", "bad_image")],
)
def test_empty_corrupt_truncated_files(tmp_path: Path, content, reason) -> None:
    if content == "truncated":
        content = encoded(Image.new("RGB", (64, 64), (9, 9, 9)), "JPEG")[:200]
    (tmp_path / "x.jpg").write_bytes(content)
    path = pair_file(tmp_path, "x.jpg")
    if reason == "empty_image":  # the size is checked with the existence (issue 21)
        with pytest.raises(DataError, match="is empty \\(0 bytes\\)"):
            load_dataset_file(path)
    else:
        load_dataset_file(path)  # existence and size are all that is checked by default
    with pytest.raises(DataError) as ei:
        load_dataset_file(path, check_images=True)
    err = ei.value
    assert (err.line, err.field, err.reason) == (1, "img_path", reason)
    assert "x.jpg" in str(err) and str(path) in str(err)


def test_missing_image_checked_cheaply_always(tmp_path: Path) -> None:
    path = pair_file(tmp_path, "nope/missing.png")
    with pytest.raises(DataError) as ei:
        load_dataset_file(path)
    assert ei.value.reason == "missing_image" and "missing.png" in str(ei.value)
    assert "--skip-invalid" in str(ei.value)


def test_image_root_confines_paths(tmp_path: Path) -> None:
    root = tmp_path / "imgs"
    root.mkdir()
    Image.new("RGB", (2, 2)).save(root / "ok.png")
    Image.new("RGB", (2, 2)).save(tmp_path / "outside.png")
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    ok = load_dataset_file(pair_file(data_dir, "ok.png"), image_root=str(root))
    assert ok.records[0].image.path == str((root / "ok.png").resolve())
    for bad in ("../outside.png", str(tmp_path / "outside.png")):
        with pytest.raises(DataError) as ei:
            load_dataset_file(pair_file(data_dir, bad), image_root=str(root))
        assert ei.value.reason == "image_outside_root" and ei.value.field == "img_path"


def test_several_images_rejected() -> None:
    with pytest.raises(DataError) as ei:
        image_ref(["a.png", "b.png"], loc=LOC, field="images", check_exists=False)
    assert ei.value.reason == "multiple_images" and ei.value.field == "images"


def test_wrong_type_image_field() -> None:
    with pytest.raises(DataError, match="found int"):
        image_ref(12, loc=LOC)


def test_check_images_shared_image_reported_per_record(tmp_path: Path) -> None:
    Image.new("RGB", (4, 4)).save(tmp_path / "a.png")
    rows = [
        {"id": str(i), "prompt": "Q", "img_path": "a.png", "chosen": "x", "rejected": "y"}
        for i in range(3)
    ]
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert len(load_dataset_file(path, check_images=True).records) == 3
    (tmp_path / "a.png").write_bytes(b"")  # a shared bad image is reported for every record
    with pytest.raises(DataError, match="no valid records \\(skipped empty_image: 3\\)"):
        load_dataset_file(path, check_images=True, skip_invalid=True)
