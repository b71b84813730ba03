"""One rule for the shared-image forward, used by training and scoring alike.

`RewardCollator.encode(share_images=True)` encodes each record's image once for its K
responses; `RewardModel.forward` raises `SharedImageUnsupported` when the backbone cannot
map the features back (e.g. multi-tile images). `with_shared_images` runs a forward with
sharing and, on that typed error only, runs it again with one image copy per row.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from shortcutlab.modeling.signals import SharedImageUnsupported

T = TypeVar("T")


def with_shared_images(forward: Callable[[bool], T], share_images: bool = True) -> tuple[T, bool]:
    """(forward(share), share) with share = `share_images` unless the model refuses.

    `forward(share)` encodes and runs one batch with or without shared image encodings.
    Returns the result and whether sharing was used, so a caller may stop asking for it
    (training does, for the rest of the run; scoring asks again per batch).
    """
    if share_images:
        try:
            return forward(True), True
        except SharedImageUnsupported:
            pass
    return forward(False), False
