"""Loading processors and backbones, including on CPU-only installs without torchvision.

Why this exists: processors that declare a video processor (Qwen2-VL, Qwen2.5-VL, InternVL,
SmolVLM, ...) cannot be constructed when torchvision is unusable, because transformers
resolves the video processor class even when none is wanted. A reward model never needs
videos, so `load_processor` first tries `AutoProcessor`, and when that fails on the video
part it rebuilds the same processor class from its saved parts (tokenizer, image processor,
chat template, processor options) without the video processor. The class keeps its real
name, so a folder saved from it is still a normal folder that AutoProcessor loads on a full
install.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from shortcutlab.errors import ModelError

log = logging.getLogger(__name__)
_NO_VIDEO_CACHE: dict[type, type] = {}


@contextmanager
def quiet_transformers() -> Iterator[None]:
    """Silence transformers' info logs and progress bars (load reports, shard writing)."""
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


class _NoVideo:
    """Stands in for the absent video processor: every attribute is None.

    Some processors read video options unconditionally (SmolVLM's `apply_chat_template`
    reads `video_processor.num_frames`); images and text never need more.
    """

    def __getattr__(self, name: str) -> None:
        if name.startswith("__"):
            raise AttributeError(name)
        return None

    def __deepcopy__(self, memo: dict) -> _NoVideo:
        return self


def processor_without_video(cls: type) -> type:
    """A subclass of processor class `cls` whose parts exclude `video_processor`.

    transformers reads a processor's parts from its `__init__` signature, so the subclass
    only changes the signature; the parent `__init__` still runs (its video argument is
    None and, not being a part any more, is never validated). The subclass keeps the
    parent's name so `save_pretrained` writes the real `processor_class`.
    """
    if "video_processor" not in cls.get_attributes():
        return cls
    if cls in _NO_VIDEO_CACHE:
        return _NO_VIDEO_CACHE[cls]

    init = _init_without_video(cls)
    body = {"__init__": init, "__module__": cls.__module__, "video_processor": _NoVideo()}
    sub = type(cls.__name__, (cls,), body)
    sub.__qualname__ = cls.__qualname__
    _NO_VIDEO_CACHE[cls] = sub
    return sub


def _init_without_video(cls: type) -> Any:
    """An `__init__` with the parent's named parameters minus `video_processor`.

    Generated as real code (not `*args`) because transformers reads both the signature
    and `__init__.__code__.co_varnames` to decide which saved options to pass back.
    """
    params = [
        p
        for p in inspect.signature(cls.__init__).parameters.values()
        if p.name not in ("self", "video_processor") and p.kind is p.POSITIONAL_OR_KEYWORD
    ]
    defaults = {f"_d{i}": p.default for i, p in enumerate(params)}
    names = [p.name for p in params]
    head = ", ".join(
        f"{n}=_d{i}" if params[i].default is not inspect.Parameter.empty else n
        for i, n in enumerate(names)
    )
    passed = ", ".join(f"{n}={n}" for n in names)
    src = (
        f"def __init__(self, {head}, **kwargs):\n"
        "    kwargs.pop('video_processor', None)\n"
        f"    _parent.__init__(self, {passed}, video_processor=None, **kwargs)\n"
    )
    namespace: dict[str, Any] = {"_parent": cls, **defaults}
    exec(compile(src, f"<{cls.__name__} without video>", "exec"), namespace)  # noqa: S102
    return namespace["__init__"]


def _saved_processor_class(path: Path) -> str | None:
    """The `processor_class` a local folder declares (processor/preprocessor/tokenizer config)."""
    for name in ("processor_config.json", "preprocessor_config.json", "tokenizer_config.json"):
        f = path / name
        if f.is_file():
            try:
                value = json.loads(f.read_text()).get("processor_class")
            except (OSError, ValueError):
                continue
            if value:
                return value
    return None


def _is_video_failure(exc: Exception) -> bool:
    text = f"{type(exc).__name__}: {exc}".lower()
    return any(w in text for w in ("video", "torchvision", "_extra_content"))


def load_processor(
    path_or_id: str | Path, *, trust_remote_code: bool = False, **kwargs: Any
) -> Any:
    """Load the processor of a model folder or Hub id, without torchvision if need be.

    Tries `AutoProcessor.from_pretrained`; if that fails because of the video processor,
    rebuilds the folder's declared processor class without it (see module docstring).
    Raises `ModelError` when neither works.
    """
    import transformers
    from transformers import AutoProcessor

    try:
        return AutoProcessor.from_pretrained(
            str(path_or_id), trust_remote_code=trust_remote_code, **kwargs
        )
    except Exception as exc:  # noqa: BLE001 - re-raised below when not the video wall
        first = exc
    if not _is_video_failure(first):
        raise ModelError(
            f"cannot load the processor of {path_or_id}: {type(first).__name__}: {first}"
        ) from first
    local = Path(path_or_id)
    name = _saved_processor_class(local) if local.is_dir() else None
    if name is None and not local.is_dir():
        name = _hub_processor_class(str(path_or_id), **kwargs)
    cls = getattr(transformers, name, None) if name else None
    if cls is None:
        raise ModelError(
            f"cannot load the processor of {path_or_id}: {first}",
        ) from first
    log.info("loading %s without its video processor (torchvision unusable)", name)
    try:
        return processor_without_video(cls).from_pretrained(str(path_or_id), **kwargs)
    except Exception as exc:  # noqa: BLE001
        raise ModelError(
            f"cannot load the processor of {path_or_id} even without its video processor: "
            f"{type(exc).__name__}: {exc}"
        ) from exc


def _hub_processor_class(repo_id: str, **kwargs: Any) -> str | None:
    """`processor_class` of a Hub repo (downloads its small config files, if reachable)."""
    try:
        from huggingface_hub import hf_hub_download
    except ImportError:  # pragma: no cover
        return None
    for name in ("processor_config.json", "preprocessor_config.json"):
        try:
            f = hf_hub_download(repo_id, name, revision=kwargs.get("revision"))
        except Exception:  # noqa: BLE001 - try the next file
            continue
        value = json.loads(Path(f).read_text()).get("processor_class")
        if value:
            return value
    return None


_TRUE = {"1", "on", "yes", "true"}


def hub_offline() -> bool:
    """True when the Hugging Face Hub must not be contacted (HF_HUB_OFFLINE /
    TRANSFORMERS_OFFLINE, read now so a variable set after import still counts)."""
    try:
        from huggingface_hub import constants

        if constants.HF_HUB_OFFLINE:
            return True
    except ImportError:  # pragma: no cover
        pass
    env = (
        os.environ.get(v, "").strip().lower() for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )
    return any(v in _TRUE for v in env)


def looks_like_path(text: str) -> bool:
    """A model argument meant as a local path, not a Hub id ('org/name' or 'name')."""
    # a Hub id uses "/" once; other separators (Windows "\\") only appear in paths
    seps = {s for s in (os.sep, os.altsep) if s and s != "/"}
    if any(s in text for s in seps):
        return True
    return text.startswith((".", "/", "~")) or text.count("/") > 1


def _in_hub_cache(repo_id: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache

        return isinstance(try_to_load_from_cache(repo_id, "config.json"), str)
    except Exception:  # noqa: BLE001 - a malformed id is not in the cache
        return False


def check_model_source(path_or_id: str | Path) -> str:
    """The model folder (with `~` expanded) or Hub id to load; `ModelError` when neither.

    Why: transformers reports a missing local folder as a malformed Hub id ("Repo id must
    use alphanumeric chars ...") and an uncached id in offline mode as a network error.
    A missing path-like argument is "model folder not found"; with the Hub offline, an id
    that is not in the local cache is "could not be found locally and the Hub is offline".
    """
    text = str(path_or_id)
    local = Path(text).expanduser()
    if local.exists():
        if not local.is_dir():
            raise ModelError(
                f"model path is a file, not a folder: {text}. Hint: pass the folder that "
                "holds config.json (a saved RewardModel or a base VLM folder)."
            )
        return str(local) if text.startswith("~") else text
    parent_exists = "/" in text and local.parent.is_dir()  # "runs/model" with runs/ here
    if looks_like_path(text) or isinstance(path_or_id, Path) or parent_exists:
        where = "" if local.is_absolute() else f" (relative to {Path.cwd()})"
        raise ModelError(
            f"model folder not found: {text}{where}. Hint: check the path; pass a saved "
            "RewardModel folder, a base VLM folder or a Hub id such as 'org/name'."
        )
    if hub_offline() and not _in_hub_cache(text):
        raise ModelError(
            f"model '{text}' could not be found locally: it is not a folder and not in the "
            "Hugging Face cache, and the Hub is offline (HF_HUB_OFFLINE / "
            "TRANSFORMERS_OFFLINE is set). Hint: download it while online (`hf download "
            f"{text}`), or pass the path of a local model folder."
        )
    return text


def config_wants_remote_code(path_or_id: str | Path) -> bool:
    """True when a local folder's config.json maps Auto classes to custom code (`auto_map`)."""
    f = Path(path_or_id) / "config.json"
    if not f.is_file():
        return False
    try:
        return bool(json.loads(f.read_text()).get("auto_map"))
    except (OSError, ValueError):
        return False
