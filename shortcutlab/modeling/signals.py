"""Internal fallback signals of the modeling layer: never user-facing errors.

A fast path that does not apply to a model or a record raises one of these; its caller
catches it and takes the plain path (same results, slower). They derive from
`FallbackSignal`, not from `shortcutlab.errors.ShortcutlabError`: exit code 2 means "the
user's to fix", and nothing here is. One escaping a caller is a bug (exit 1, traceback).
"""

from __future__ import annotations


class FallbackSignal(Exception):
    """A fast path does not apply; the caller falls back (base of the signals below)."""


class SharedImageUnsupported(FallbackSignal):
    """The backbone cannot share one image encoding across a record's K responses.

    Raised by `RewardModel.forward` on a batch encoded with `share_images=True` (e.g.
    multi-tile images whose feature groups do not map back to the unique images); callers
    catch it and encode the batch again per row (`modeling.forward.with_shared_images`).
    """


class PrefixSharingUnsupported(FallbackSignal):
    """A record's K responses cannot share one encoded prefix (image + prompt) exactly.

    Raised by `modeling.prefix` / `modeling.packing` for architectures whose exactness is
    not established (the allowlist `PREFIX_ARCHS`), or a record whose common prefix does
    not hold its whole image; callers catch it, log the reason once and run the
    per-response forward instead (scoring: `scoring.engine`; training: `training.loop`).
    """
