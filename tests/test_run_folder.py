"""`shortcutlab.run_folder`: a training run folder's layout (one owner) and whether a new
run may write into an existing folder (refuse a finished or different run; --overwrite
clears; --resume continues). The same rules met through `train`: test_train_output.py.
Run: python -m pytest -x -q tests/test_run_folder.py
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

from shortcutlab import run_folder
from shortcutlab.errors import ConfigError
from shortcutlab.run_folder import RunFolder, prepare_run_folder

pytestmark = pytest.mark.unit
PACKAGE = Path(run_folder.__file__).parent


def _config(out: Path, **changes: object) -> dict:
    base = {"mode": "standard", "model": "m", "data": "a.jsonl", "output_dir": str(out)}
    return {**base, "resume": None, "progress": True, "lr_groups": (1, 2), **changes}


def _old_run(out: Path, *, finished: bool, **changes: object) -> RunFolder:
    """A run folder as `train` leaves it (config.yaml, logs; model/ when finished)."""
    run = RunFolder(out)
    run.tensorboard.mkdir(parents=True)
    (run.tensorboard / "events.out.tfevents.1").write_bytes(b"x")
    run.checkpoint(2).mkdir(parents=True)
    run.config.write_text(yaml.safe_dump(_config(out, **changes)))
    run.metrics.write_text('{"step": 1}\n')
    if finished:
        for branch in (run.model, run.proxy):
            branch.mkdir()
            (branch / run_folder.MODEL_CONFIG).write_text("{}")
        run.summary.write_text("{}")
    (out / "notes.txt").write_text("the user's own file")
    return run


def test_a_new_or_foreign_folder_is_fresh(tmp_path):
    assert prepare_run_folder(_config(tmp_path / "new")) == "fresh"
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("x")  # not a run: nothing to replace
    assert prepare_run_folder(_config(tmp_path / "mine")) == "fresh"


def test_a_finished_run_is_refused_then_replaced_with_overwrite(tmp_path, caplog):
    run = _old_run(tmp_path / "run", finished=True, mode="shortcut-aware")
    with pytest.raises(ConfigError) as err:
        prepare_run_folder(_config(run.root))
    message = str(err.value)
    assert "finished training run" in message and "'shortcut-aware' -> 'standard'" in message
    assert "--overwrite" in message and "--resume latest" in message and "\n" not in message
    assert run.proxy.is_dir()  # a refusal changes nothing
    assert prepare_run_folder(_config(run.root), overwrite=True) == "overwrite"
    assert run.entries() == [] and (run.root / "notes.txt").is_file()
    assert "removed the earlier run's" in caplog.text


def test_the_same_finished_run_is_refused_too(tmp_path):
    """Rerunning the command of a finished run would silently retrain over it."""
    run = _old_run(tmp_path / "run", finished=True)
    with pytest.raises(ConfigError, match="finished training run. Refusing"):
        prepare_run_folder(_config(run.root, progress=False))  # progress: same run


def test_an_unfinished_run_with_another_data_file_is_refused(tmp_path):
    run = _old_run(tmp_path / "run", finished=False)
    with pytest.raises(ConfigError, match=r"unfinished .*\(data: 'a.jsonl' -> 'b.jsonl'\)"):
        prepare_run_folder(_config(run.root, data="b.jsonl"))


def test_an_unfinished_same_run_restarts_without_its_old_events(tmp_path):
    """A killed run started again: same options, so it is the same run; its TensorBoard
    events would otherwise sit beside the new ones (the checkpoints: training/state.py)."""
    run = _old_run(tmp_path / "run", finished=False)
    assert prepare_run_folder(_config(run.root)) == "restart"
    assert not run.tensorboard.exists() and run.checkpoints.is_dir()


def test_resume_continues_and_contradicts_overwrite(tmp_path):
    run = _old_run(tmp_path / "run", finished=True)
    assert prepare_run_folder(_config(run.root, resume="latest")) == "resume"
    assert run.model.is_dir()
    with pytest.raises(ConfigError, match="contradict"):
        prepare_run_folder(_config(run.root, resume="latest"), overwrite=True)


def test_a_run_folder_without_readable_config_counts_as_different(tmp_path):
    run = _old_run(tmp_path / "run", finished=False)
    run.config.write_text(": not yaml [")
    with pytest.raises(ConfigError, match="config.yaml: missing or unreadable"):
        prepare_run_folder(_config(run.root))


# ------------------------------------------------------------ one owner for the names


def _path_literals(tree: ast.AST) -> list[tuple[int, str]]:
    """String literals used as run-folder path parts: `x / "model"`, or a constant equal
    to a name no other vocabulary uses ("metrics.jsonl", "checkpoints", ...). Names other
    vocabularies share are only flagged in a path join: "tensorboard" is also a config
    field; summary.json and run_info.json are every command's output names."""
    names = {run_folder.MODEL, run_folder.PROXY, run_folder.TENSORBOARD}
    distinct = {run_folder.CHECKPOINTS, run_folder.CONFIG, run_folder.COMMAND}
    distinct |= {run_folder.METRICS, run_folder.SFC, run_folder.TRAINER_STATE}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            for side in (node.left, node.right):
                if isinstance(side, ast.Constant) and side.value in names | distinct:
                    found.append((node.lineno, side.value))
        elif isinstance(node, ast.Constant) and node.value in distinct:
            found.append((node.lineno, node.value))
    return found


def test_only_the_owner_spells_the_run_folder_names():
    """model/, proxy/, checkpoints/, tensorboard/, config.yaml, metrics.jsonl ... are
    spelled in shortcutlab/run_folder.py only; everyone else uses its names.
    (Config fields of the same name, e.g. `tensorboard`, are attributes, not literals.)"""
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "run_folder.py":
            continue
        for line, value in _path_literals(ast.parse(path.read_text(encoding="utf-8"))):
            offenders.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {value!r}")
    assert offenders == [], "spell these through shortcutlab.run_folder:\n" + "\n".join(offenders)
