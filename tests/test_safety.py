"""Safety checks: no unsafe deserialisation, no remote code by default, image-root confinement.

The static checks walk the AST of every module in the `shortcutlab` package (not a text
grep, so comments and strings do not count and aliases are caught):
- `torch.load` only with `weights_only=True`; `weights_only=False` nowhere;
- YAML only through `yaml.safe_load` (no `yaml.load`, `full_load`, `unsafe_load`, Loaders);
- no pickle-family module (pickle, dill, joblib, cloudpickle, shelve, marshal), no
  `read_pickle`, no `np.load(..., allow_pickle=True)`; no `eval`, and `exec` only where
  allow-listed below; no `shell=True`;
- every `trust_remote_code` parameter defaults to False and no call passes a literal True.
Then behaviour: a model folder whose config.json has `auto_map` (custom code) loads with
the native classes and a warning naming auto_map, and its code never runs; image paths
that escape `--image-root` (`../`, absolute, symlink, sibling-prefix) are refused.
"""

from __future__ import annotations

import ast
import json
import shutil
import warnings
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

PACKAGE = Path(__file__).resolve().parents[1] / "shortcutlab"
PICKLE_MODULES = {"pickle", "cPickle", "_pickle", "dill", "joblib", "cloudpickle", "shelve"}
PICKLE_MODULES |= {"marshal"}
UNSAFE_YAML = {"load", "load_all", "full_load", "full_load_all", "unsafe_load"}
UNSAFE_YAML |= {"unsafe_load_all", "Loader", "FullLoader", "UnsafeLoader"}
# (file relative to the package, builtin) pairs allowed, with the reason.
EXEC_ALLOWED = {
    # builds an __init__ from the processor class's own signature (no user data in it)
    ("modeling/loading.py", "exec"),
}


def _modules() -> list[tuple[str, ast.AST]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = str(path.relative_to(PACKAGE))
        out.append((rel, ast.parse(path.read_text(encoding="utf-8"), filename=rel)))
    assert len(out) > 20  # the walk found the package
    return out


MODULES = _modules()


def _dotted(node: ast.AST) -> str:
    """'torch.load' for Attribute(Name('torch'), 'load'); '' when not a plain dotted name."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return ""


def _kw(call: ast.Call, name: str) -> ast.AST | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _is_const(node: ast.AST | None, value: object) -> bool:
    return isinstance(node, ast.Constant) and node.value is value


def _defaults_false(node: ast.AST | None) -> bool:
    """A literal False default, or a typer option whose default (first argument) is False."""
    if _is_const(node, False):
        return True
    return (
        isinstance(node, ast.Call)
        and _dotted(node.func) in ("typer.Option", "Option")
        and bool(node.args)
        and _is_const(node.args[0], False)
    )


def _calls() -> list[tuple[str, int, str, ast.Call]]:
    return [
        (rel, node.lineno, _dotted(node.func), node)
        for rel, tree in MODULES
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
    ]


def test_torch_load_only_with_weights_only() -> None:
    bad = [
        f"{rel}:{line}"
        for rel, line, name, call in _calls()
        if name == "torch.load" and not _is_const(_kw(call, "weights_only"), True)
    ]
    bad += [
        f"{rel}:{node.lineno} from torch import load"
        for rel, tree in MODULES
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "torch"
        if any(a.name == "load" for a in node.names)
    ]
    assert not bad, f"torch.load without weights_only=True: {bad}"
    falses = [
        f"{rel}:{line}"
        for rel, line, _, call in _calls()
        if _is_const(_kw(call, "weights_only"), False)
    ]
    assert not falses, f"weights_only=False: {falses}"


def test_yaml_only_safe_load() -> None:
    bad = []
    for rel, tree in MODULES:
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and _dotted(node.value) == "yaml":
                if node.attr in UNSAFE_YAML:
                    bad.append(f"{rel}:{node.lineno} yaml.{node.attr}")
            if isinstance(node, ast.ImportFrom) and node.module == "yaml":
                bad += [
                    f"{rel}:{node.lineno} from yaml import {a.name}"
                    for a in node.names
                    if a.name in UNSAFE_YAML
                ]
    assert not bad, f"unsafe YAML loading: {bad}"


def test_no_pickle_of_user_data() -> None:
    bad = []
    for rel, tree in MODULES:
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [(node.module or "").split(".")[0]]
            else:
                continue
            bad += [f"{rel}:{node.lineno} import {n}" for n in names if n in PICKLE_MODULES]
    for rel, line, name, call in _calls():
        if name.endswith("read_pickle") or name.endswith("to_pickle"):
            bad.append(f"{rel}:{line} {name}")
        if _is_const(_kw(call, "allow_pickle"), True):
            bad.append(f"{rel}:{line} allow_pickle=True")
    assert not bad, f"pickle-based (de)serialisation: {bad}"


def test_no_eval_exec_or_shell() -> None:
    bad = []
    for rel, line, name, call in _calls():
        if name in ("eval", "exec") and (rel, name) not in EXEC_ALLOWED:
            bad.append(f"{rel}:{line} {name}")
        if name in ("os.system", "os.popen") or _is_const(_kw(call, "shell"), True):
            bad.append(f"{rel}:{line} shell")
    assert not bad, f"code execution from strings / shell: {bad}"


def test_trust_remote_code_defaults_false() -> None:
    params, literal_true = [], []
    for rel, tree in MODULES:
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                args = node.args
                pos = args.posonlyargs + args.args
                pairs = list(zip(pos[len(pos) - len(args.defaults) :], args.defaults, strict=True))
                pairs += [
                    (a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d
                ]
                for arg, default in pairs:
                    if arg.arg == "trust_remote_code":
                        params.append((f"{rel}:{node.lineno} {node.name}", default))
            if isinstance(node, ast.Call) and _is_const(_kw(node, "trust_remote_code"), True):
                literal_true.append(f"{rel}:{node.lineno}")
    assert params, "no trust_remote_code parameter found (the walk is broken)"
    assert not literal_true, f"trust_remote_code=True passed literally: {literal_true}"
    bad = [where for where, d in params if not _defaults_false(d)]
    assert not bad, f"trust_remote_code must default to False: {bad}"
    from shortcutlab.config import TrainConfig

    assert TrainConfig().trust_remote_code is False


def test_auto_map_folder_warns_and_runs_no_code(tiny_llava_dir: Path, tmp_path: Path) -> None:
    """A folder asking for custom code (auto_map) is loaded natively, with a warning."""
    from shortcutlab.modeling.reward_model import RewardModel

    folder = tmp_path / "custom"
    shutil.copytree(tiny_llava_dir, folder)
    (folder / "modeling_evil.py").write_text(
        "import pathlib\n"
        "pathlib.Path(__file__).with_name('EXECUTED').write_text('ran')\n"
        "from transformers import LlavaForConditionalGeneration as EvilModel\n"
        "from transformers import LlavaConfig as EvilConfig\n"
    )
    cfg = json.loads((folder / "config.json").read_text())
    cfg["auto_map"] = {
        "AutoConfig": "modeling_evil.EvilConfig",
        "AutoModel": "modeling_evil.EvilModel",
    }
    (folder / "config.json").write_text(json.dumps(cfg))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = RewardModel.from_pretrained(folder)
    messages = [str(w.message) for w in caught]
    assert any("auto_map" in m and "trust_remote_code" in m for m in messages), messages
    assert not (folder / "EXECUTED").exists(), "custom model code ran without trust_remote_code"
    assert type(model.backbone).__module__.startswith("transformers.")


# ----------------------------------------------------------------------------- image root


@pytest.fixture()
def root(tmp_path: Path) -> Path:
    from PIL import Image

    (tmp_path / "root" / "sub").mkdir(parents=True)
    (tmp_path / "root2").mkdir()
    for p in ("root/sub/ok.png", "outside.png", "root2/a.png"):
        Image.new("RGB", (4, 4)).save(tmp_path / p)
    (tmp_path / "root" / "link.png").symlink_to(tmp_path / "outside.png")
    return tmp_path / "root"


@pytest.mark.parametrize(
    "path",
    ["../outside.png", "sub/../../outside.png", "../root2/a.png", "link.png", "ABS"],
)
def test_image_root_refuses_escapes(root: Path, path: str) -> None:
    from shortcutlab.data.images import resolve_image_path
    from shortcutlab.errors import DataError

    path = str(root.parent / "outside.png") if path == "ABS" else path
    with pytest.raises(DataError) as err:
        resolve_image_path(path, image_root=root, field="img_path")
    assert err.value.reason == "image_outside_root"
    assert "escapes the image root" in str(err.value) and err.value.field == "img_path"


def test_image_root_allows_inside(root: Path) -> None:
    from shortcutlab.data.images import resolve_image_path

    assert resolve_image_path("sub/ok.png", image_root=root) == root / "sub" / "ok.png"
    assert resolve_image_path("sub/../sub/ok.png", image_root=root) == root / "sub" / "ok.png"
    assert resolve_image_path(str(root / "sub/ok.png"), image_root=root).is_file()


def test_image_root_through_loader(root: Path) -> None:
    """The loader refuses an escaping row (plain path and {bytes, path} dict) or counts it."""
    from shortcutlab.data.schemas import load_dataset_file
    from shortcutlab.errors import DataError

    rows = [
        {"id": "a", "prompt": "Q?", "img_path": "sub/ok.png", "chosen": "x", "rejected": "y"},
        {"id": "b", "prompt": "Q?", "img_path": "../outside.png", "chosen": "x", "rejected": "y"},
    ]
    data = root.parent / "d.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(DataError) as err:
        load_dataset_file(data, image_root=str(root))
    assert (err.value.line, err.value.field) == (2, "img_path")
    res = load_dataset_file(data, image_root=str(root), skip_invalid=True)
    assert [r.id for r in res.records] == ["a"] and res.skipped == {"image_outside_root": 1}
    rlaif = root.parent / "r.jsonl"
    row = {"idx": 1, "question": "Q?", "chosen": "x", "rejected": "y"}
    row["image"] = {"bytes": None, "path": "../outside.png"}
    rlaif.write_text(json.dumps(row) + "\n")
    with pytest.raises(DataError, match="escapes the image root") as err:
        load_dataset_file(rlaif, image_root=str(root))
    assert err.value.field == "image.path"
