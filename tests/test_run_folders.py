"""Real use (issue 12): a `train --output` run folder is a model everywhere a model is
taken, and a failed run leaves nothing that blocks the corrected rerun.

The CLI cases run the console entry point in process (the `cli` fixture); the run
folders are trained for one step on the tiny LLaVA (the library's own `train`).
Run: python -m pytest -x -q tests/test_run_folders.py
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from pathlib import Path

import pytest
from scoring_helpers import write_pairwise

from shortcutlab.config import TrainConfig
from shortcutlab.errors import ModelError, ShortcutlabError
from shortcutlab.modeling.source import resolve_model_source
from shortcutlab.scoring import score
from shortcutlab.scoring.journal import Journal, describe_change, model_fingerprint
from shortcutlab.training import train

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("one_torch_thread")]
NOTE = "is a training run folder; using"


def _train(
    model: Path, data: Path, out: Path, mode: str, steps: int = 1, overwrite: bool = False
) -> Path:
    cfg = TrainConfig(
        model=str(model),
        data=str(data),
        output_dir=str(out),
        mode=mode,
        max_steps=steps,
        per_device_train_batch_size=2,
        progress=False,
        tensorboard=False,
    )
    train(cfg, overwrite=overwrite)
    return out


@pytest.fixture(scope="module")
def runs(tiny_llava_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A shortcut-aware and a text-only run folder, and a small pairwise test file."""
    root = tmp_path_factory.mktemp("real_use")
    data = write_pairwise(root / "data" / "pairs.jsonl", 6)
    return {
        "data": data,
        "sa": _train(tiny_llava_dir, data, root / "runs" / "sa", "shortcut-aware"),
        "text": _train(tiny_llava_dir, data, root / "runs" / "text", "text-only"),
    }


def _no_remote_code_advice(text: str) -> None:
    assert "trust_remote_code" not in text and "trust-remote-code" not in text, text


# ----------------------------------------------------------------------- item 1: library


def test_run_folder_resolves_to_its_model_with_a_note(runs, caplog):
    with caplog.at_level(logging.WARNING, logger="shortcutlab.modeling.source"):
        resolved = resolve_model_source(runs["sa"])
    assert resolved == str(runs["sa"] / "model")
    assert f"{runs['sa']} {NOTE} {runs['sa'] / 'model'}" in caplog.text
    assert "proxy" in caplog.text  # a shortcut-aware run also names its proxy
    assert resolve_model_source(runs["sa"] / "model") == str(runs["sa"] / "model")


def test_python_api_scores_a_run_folder_in_its_saved_text_only_mode(runs):
    """`shortcutlab.score` on the text-only run folder uses model/'s saved mode (drop):
    resolving after reading the mode would silently score it with images."""
    res = score(str(runs["text"]), runs["data"])
    assert res.text_only == "drop"
    assert res.text_only_source == "model"
    same = score(str(runs["text"] / "model"), runs["data"])
    assert res.table["reward"].tolist() == same.table["reward"].tolist()


def test_folder_that_is_no_model_says_what_is_missing(tmp_path):
    plain = tmp_path / "weights"
    plain.mkdir()
    (plain / "notes.txt").write_text("x")
    with pytest.raises(ModelError, match="is not a model folder: it has no config.json") as e:
        resolve_model_source(plain)
    assert "notes.txt" in str(e.value)
    _no_remote_code_advice(str(e.value))


def test_unfinished_run_and_checkpoint_folders_say_how_to_resume(tmp_path):
    run = tmp_path / "run"
    ckpt = run / "checkpoints" / "step-000002"
    ckpt.mkdir(parents=True)
    (run / "config.yaml").write_text("mode: standard\n")
    (ckpt / "trainer_state.json").write_text("{}")
    with pytest.raises(ModelError, match="training run folder") as e:
        resolve_model_source(run)
    assert "--resume latest" in str(e.value) and "did not finish" in str(e.value)
    with pytest.raises(ModelError, match="training checkpoint") as e2:
        resolve_model_source(ckpt)
    assert f"--resume {ckpt}" in str(e2.value)
    for err in (e, e2):
        _no_remote_code_advice(str(err.value))


def test_parent_of_run_folders_points_at_them(runs):
    with pytest.raises(ModelError, match="sa/ \\(a training run: sa/model\\)"):
        resolve_model_source(runs["sa"].parent)


def test_shortcutlab_folder_that_fails_to_load_gets_no_remote_code_advice(runs, tmp_path):
    from shortcutlab.modeling.reward_model import RewardModel

    broken = tmp_path / "broken"
    shutil.copytree(runs["sa"] / "model", broken)
    for f in broken.glob("model*.safetensors"):
        f.unlink()
    with pytest.raises(ModelError, match="cannot load a model from") as e:
        RewardModel.from_pretrained(broken)
    _no_remote_code_advice(str(e.value))


def test_remote_code_hint_only_for_a_config_that_maps_to_custom_code(tiny_llava_dir, tmp_path):
    """The hint stays where it can help: a config with `auto_map` that fails to load."""
    from shortcutlab.modeling.reward_model import RewardModel

    custom = tmp_path / "custom"
    shutil.copytree(tiny_llava_dir, custom)
    cfg = json.loads((custom / "config.json").read_text())
    cfg["auto_map"] = {"AutoModel": "modeling_x.XModel"}
    (custom / "config.json").write_text(json.dumps(cfg))
    for f in custom.glob("model*.safetensors"):
        f.unlink()
    with pytest.warns(UserWarning, match="auto_map"), pytest.raises(ModelError) as e:
        RewardModel.from_pretrained(custom)
    assert "If you trust its custom code, pass trust_remote_code=True" in str(e.value)


# ----------------------------------------------------------------------- item 1: CLI


def test_cli_score_takes_a_run_folder(runs, tmp_path, cli):
    out = tmp_path / "s.jsonl"
    res = cli("score", "--model", runs["sa"], "--data", runs["data"], "--output", out)
    assert f"{runs['sa']} {NOTE} {runs['sa'] / 'model'}" in res.stderr
    summary = json.loads((tmp_path / "s.summary.json").read_text())
    assert summary["provenance"]["model"]["path"] == str((runs["sa"] / "model").resolve())


# ----------------------------------------------------------------------- item 2


def test_failed_load_leaves_nothing_and_the_corrected_command_runs(runs, tmp_path, cli):
    """The issue's dead end: a model that fails to load wrote a journal, and the
    corrected command was then refused. Now nothing is written before the model loads."""
    bad = tmp_path / "bad_model"
    bad.mkdir()
    (bad / "config.json").write_text('{"model_type": "llava"}')  # no weights
    out = tmp_path / "out" / "scores.jsonl"
    args = ["--data", str(runs["data"]), "--output", str(out)]
    res = cli("score", "--model", bad, *args, code=2)
    assert "cannot load a model from" in res.stderr and "Traceback" not in res.stderr
    _no_remote_code_advice(res.stderr)
    left = sorted(p.name for p in out.parent.iterdir()) if out.parent.exists() else []
    assert left == [], f"a failed load left {left}"
    cli("score", "--model", runs["sa"], *args)
    assert len(out.read_text().splitlines()) == 12


def test_stale_journal_without_work_does_not_block(runs, tmp_path):
    """A journal that committed no rows (e.g. left by an older version's failed load) is
    replaced by a run with other inputs instead of refusing it."""
    out = tmp_path / "s.jsonl"
    Journal(out).write_meta({"fingerprint": {"model_sha256": "old"}, "provenance": {}})
    df = score(str(runs["sa"]), runs["data"], out).table
    assert len(df) == 12 and not Journal(out).exists()


def test_journal_with_work_names_what_changed_old_and_new(runs, tmp_path):
    out = tmp_path / "s.jsonl"
    score(str(runs["sa"]), runs["data"], out, max_length=512)
    with pytest.raises(ShortcutlabError) as e:
        score(str(runs["sa"]), runs["data"], out, max_length=256)
    assert "max_length (512 -> 256)" in str(e.value) and "--overwrite" in str(e.value)


def test_describe_change_names_paths_and_hashes():
    old = {"model_sha256": "a" * 64, "data_sha256": "d" * 64, "text_only": None}
    new = {"model_sha256": "b" * 64, "data_sha256": "d" * 64, "text_only": "drop"}
    prov = {"model": {"path": "/r/std/model"}}
    text = describe_change(old, new, prov, prov)
    assert text == (
        f"model weights/config (/r/std/model, sha256 {'a' * 12}... -> {'b' * 12}...), "
        "text_only (None -> 'drop')"
    )


@pytest.mark.slow  # three sfd runs, each scoring twice, and a retraining
def test_sfd_rerun_after_retraining_says_what_changed_and_takes_overwrite(
    runs, tiny_llava_dir, tmp_path, cli
):
    """`sfd --mm-model` into the same folder after retraining: refused with the model's
    old and new hash and `--overwrite`, which sfd now takes; then it succeeds."""
    mm = tmp_path / "std"
    shutil.copytree(runs["sa"], mm)
    args = ["sfd", "--mm-model", str(mm), "--proxy-model", str(runs["text"])]
    args += ["--data", str(runs["data"]), "-o", str(tmp_path / "sfd"), "--n-boot", "20"]
    cli(*args)
    _train(
        tiny_llava_dir, runs["data"], mm, "shortcut-aware", steps=2, overwrite=True
    )  # retrain in place
    again = cli(*args, code=2)
    err = " ".join(again.stderr.split())
    assert "model weights/config" in err and str((mm / "model").resolve()) in err
    assert " -> " in err and "--overwrite" in err
    cli(*args, "--overwrite")
    mm_table = tmp_path / "sfd" / "scores" / "pairs__mm.jsonl"
    summary = json.loads(mm_table.with_name("pairs__mm.summary.json").read_text())
    assert summary["fingerprint"]["model_sha256"] == model_fingerprint(mm / "model")["sha256"]
    proxy = json.loads((mm_table.parent / "pairs__proxy.summary.json").read_text())
    assert proxy["text_only"] == "drop"  # the proxy's saved mode (no --proxy-text-only)


# ----------------------------------------------------------------------- item 5


def test_provenance_records_the_cpu_and_threads(tmp_path):
    """The demo's numbers drift slightly between machines; run_info.json and demo.json
    record the CPU model and thread count so a number can be traced to its machine."""
    import torch

    from shortcutlab.provenance import environment_info, write_run_info
    from shortcutlab.study.demo_markdown import _machine

    machine = environment_info()["machine"]
    assert machine["cpu"] and machine["cpu"] != "unknown"
    assert machine["cpu_count"] >= 1 and machine["torch_threads"] == torch.get_num_threads()
    info = json.loads(write_run_info(tmp_path, command=["x"]).read_text())
    assert info["environment"]["machine"]["cpu"] == machine["cpu"]
    line = _machine({"environment": {"machine": machine}})
    assert line == f" on {machine['cpu']}, {machine['torch_threads']} torch threads"
    assert _machine({}) == ""


def test_help_texts_print_what_they_mean(cli):
    """`synth --help` printed `DIR//{train,test, shift}.jsonl` (markdown ate `<env>`);
    `demo --help` claimed 30-60 minutes per seed against the README's measured 9.3: the
    help's full-run time is the README's."""
    synth = cli("synth", "--help", env={"COLUMNS": "200"})
    text = " ".join(synth.stdout.split())
    assert "DIR/ENV/{train,test,shift}.jsonl" in text and "DIR//" not in text
    demo = " ".join(cli("demo", "--help", env={"COLUMNS": "200"}).stdout.split())
    readme = " ".join((Path(__file__).parents[1] / "README.md").read_text().split())
    minutes = re.search(r"([\d.]+) minutes measured on 2 CPU cores", readme).group(1)
    assert "30-60" not in demo and f"took {minutes} minutes on 2 cores" in demo


def test_fresh_training_run_replaces_stale_checkpoints(tiny_llava_dir, runs, tmp_path, caplog):
    """A second `train --output` into the same folder (no --resume) used to leave the
    first run's checkpoints, so `--resume latest` later picked another run's state and
    refused ("global_batch=2 but this run has 4"). A different run is now refused unless
    overwrite (tests/test_train_output.py), which clears the checkpoints."""
    out = tmp_path / "run"
    base = dict(model=str(tiny_llava_dir), data=str(runs["data"]), output_dir=str(out))
    base |= dict(max_steps=2, progress=False, tensorboard=False)
    train(TrainConfig(**base, per_device_train_batch_size=2, save_steps=1))
    assert (out / "checkpoints").is_dir()
    with caplog.at_level(logging.WARNING, logger="shortcutlab.run_folder"):
        train(TrainConfig(**base, per_device_train_batch_size=4), overwrite=True)
    assert not (out / "checkpoints").exists()
    assert "removed the earlier run's" in caplog.text and "checkpoints" in caplog.text
    again = train(TrainConfig(**base, per_device_train_batch_size=4, resume="latest"))
    assert again["steps"] == 2
