"""Image work reused across records scored over a shared prefix (one image, once).

`probe run`'s `blank` file gives every record the same image, and a data file may repeat
an image across records; the vision tower + projector, and the language model over the
tokens up to the image's last one, then computed the same thing again for each record.
Kept on the model (`RewardModel`), valid for its current weights:
- `image_features`: the encoder features of recently seen images, keyed by a digest of
  the processed pixel tensors (content, not file names), handed to the backbone as
  `mm_encoder_outputs` (the transformers seam for precomputed encoder outputs). They are
  the tensors the backbone's own `get_image_features` call returns for the same inputs;
- `stored_prefix` / `store_prefix`: the keys/values of the prefix up to the image's last
  token (template + image; a causal decoder's keys there depend on nothing after them)
  of the last image seen twice, keyed by those token ids and the pixel digest. The
  caller (`modeling.prefix`) always runs that part and the prompt after it as two
  forwards, stored or not, so a record's reward does not depend on what came before it.

Safety: entries are dropped when any backbone parameter changes (in-place updates bump
a tensor's version counter; `.to()` gives new storage), under another autocast dtype
the key differs, and the cache holds at most `MAX_BYTES` of features (least recently
used dropped first).
"""

from __future__ import annotations

import copy
import hashlib
from collections import OrderedDict
from typing import Any

import torch

MAX_BYTES = 512 * 2**20  # features kept per model (tiny LLaVA: 16 KiB an image)


class ImageFeatureCache:
    """LRU of image encoder outputs by pixel digest, valid for one set of weights."""

    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self.entries: OrderedDict[str, tuple[Any, int]] = OrderedDict()
        self.size = 0
        self.stamp: tuple = ()
        self.hits = 0
        self.misses = 0
        self.prefix: tuple[str, Any] | None = None  # (key, keys/values up to the image end)

    def check(self, stamp: tuple) -> None:
        """Forget everything when the weights (their stamp) changed."""
        if stamp != self.stamp:
            self.entries.clear()
            self.size, self.stamp, self.prefix = 0, stamp, None

    def get(self, key: str) -> Any:
        hit = self.entries.get(key)
        if hit is None:
            self.misses += 1
            return None
        self.entries.move_to_end(key)
        self.hits += 1
        return hit[0]

    def put(self, key: str, enc: Any, nbytes: int) -> None:
        if nbytes > self.max_bytes:
            return
        self.entries[key] = (enc, nbytes)
        self.size += nbytes
        while self.size > self.max_bytes:
            _, (_, n) = self.entries.popitem(last=False)
            self.size -= n


def weights_stamp(module: torch.nn.Module) -> tuple:
    """(storage, version) of every parameter: changes on any update or move."""
    return tuple((p.data_ptr(), p._version) for p in module.parameters())


def pixel_key(image: dict[str, Any]) -> str:
    """Digest of the image kwargs' tensors (names, dtypes, shapes, bytes) + autocast state."""
    h = hashlib.blake2b(digest_size=20)
    for name in sorted(image):
        value = image[name]
        if not torch.is_tensor(value):
            h.update(f"{name}={value!r};".encode())
            continue
        t = value.detach().contiguous().cpu().reshape(-1)
        h.update(f"{name}:{t.dtype}:{tuple(value.shape)}:{value.device.type};".encode())
        h.update(t.view(torch.uint8).numpy().tobytes())
    dev = next(iter(v for v in image.values() if torch.is_tensor(v))).device.type
    if torch.is_autocast_enabled(dev):
        h.update(f"autocast:{torch.get_autocast_dtype(dev)}".encode())
    return h.hexdigest()


def _nbytes(enc: Any) -> int:
    """Bytes of the tensors an encoder output holds (lists / tuples of tensors included)."""
    total = 0
    for value in enc.values():
        parts = value if isinstance(value, (list, tuple)) else [value]
        total += sum(p.numel() * p.element_size() for p in parts if torch.is_tensor(p))
    return total


def cache_of(model: Any) -> ImageFeatureCache:
    """The model's cache, emptied first if its weights changed since it was filled."""
    cache = getattr(model, "_image_feature_cache", None)
    if cache is None:
        cache = ImageFeatureCache()
        model._image_feature_cache = cache
    cache.check(weights_stamp(model.backbone))
    return cache


def image_features(model: Any, base: Any, image: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """(backbone kwargs for `image`, seen before): `mm_encoder_outputs` from the cache
    (computed and kept on a miss) plus the non-pixel kwargs (grid sizes for M-RoPE)."""
    cache = cache_of(model)
    key = pixel_key(image)
    enc = cache.get(key)
    seen = enc is not None
    if enc is None:
        enc = base.get_image_features(**image, return_dict=True)
        cache.put(key, enc, _nbytes(enc))
    rest = {k: v for k, v in image.items() if not k.startswith("pixel_")}
    return {"mm_encoder_outputs": {"image": enc}, **rest}, seen


def image_end(config: Any, ids: torch.Tensor) -> int:
    """Index after the last image token of the 1-D `ids` (0 without one)."""
    wanted = {getattr(config, k, None) for k in ("image_token_id", "image_token_index")}
    wanted.discard(None)
    if not wanted:
        return 0
    at = torch.isin(ids, torch.tensor(sorted(wanted), device=ids.device)).nonzero()
    return int(at[-1]) + 1 if len(at) else 0


def prefix_key(ids: torch.Tensor, image: dict[str, Any]) -> str:
    """Key of the prefix part `ids` (up to the image end) with its image."""
    t = ids.detach().cpu().contiguous()
    return pixel_key(image) + hashlib.blake2b(t.numpy().tobytes(), digest_size=20).hexdigest()


def stored_prefix(model: Any, key: str) -> Any:
    """A copy of the stored keys/values for `key` (to extend in place), or None."""
    cache = cache_of(model)
    if cache.prefix is None or cache.prefix[0] != key:
        return None
    return copy.deepcopy(cache.prefix[1])


def store_prefix(model: Any, key: str, kv: Any) -> None:
    """Keep a copy of `kv` (the keys/values up to the image end) under `key` (one entry)."""
    cache_of(model).prefix = (key, copy.deepcopy(kv))
