"""Shortcut-mitigation objectives through real training on the tiny LLaVA (issue 14):
product of experts, confidence reweighting, GroupDRO and static upweighting, with full
fine-tuning and LoRA dual adapters; their statistics in metrics.jsonl; the static weights'
score table through the CLI. (DDP equivalence: tests/test_training_ddp.py; SIGKILL
resume of groupdro: tests/test_resume.py.)"""

from __future__ import annotations

import json
import math

import pytest
import torch
from scoring_helpers import tiny_train_config

from shortcutlab import objectives
from shortcutlab.config import TrainConfig
from shortcutlab.data.schemas import load_dataset_file
from shortcutlab.score_table import record_rows, to_frame, write_score_table
from shortcutlab.training import train
from shortcutlab.training.state import read_metrics

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("one_torch_thread")]

EXTRA_COLUMNS = {
    "poe": set(),
    "reweight": {"weight_mean", "weight_min", "weight_max"},
    "groupdro": {"weight_mean", "weight_min", "weight_max", "q0", "q1"},
}


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    from shortcutlab.synth.shapes import make_shape_pairs

    return str(make_shape_pairs(16, 0, tmp_path_factory.mktemp("obj_shapes") / "train"))


@pytest.fixture(scope="module")
def shapes_eval(tmp_path_factory):
    """Held-out records (other ids than the training file's: no static weights for them)."""
    from shortcutlab.synth.shapes import make_shape_pairs

    return str(make_shape_pairs(8, 1, tmp_path_factory.mktemp("obj_shapes") / "eval"))


def _cfg(model, data, out, **kw) -> TrainConfig:
    return tiny_train_config(model, data, out, **{"max_steps": 3, **kw})


def _weights(folder) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    out: dict[str, torch.Tensor] = {}
    for f in sorted(folder.rglob("*.safetensors")):
        out.update({f"{f.relative_to(folder)}:{k}": v for k, v in load_file(f).items()})
    return out


@pytest.mark.parametrize("lora", [False, True], ids=["full", "lora"])
@pytest.mark.parametrize("objective", ["poe", "reweight", "groupdro"])
def test_objective_trains_both_branches(objective, lora, tiny_llava_dir, shapes, tmp_path):
    extra = {"lora": True, "lora_r": 4} if lora else {}
    knob = {"reweight": {"focal_gamma": 2.0}, "groupdro": {"dro_eta": 0.5}}.get(objective, {})
    cfg = _cfg(tiny_llava_dir, shapes, tmp_path / "run", mode="shortcut-aware", objective=objective)
    cfg = TrainConfig.from_dict({**cfg.to_dict(), **extra, **knob})
    summary = train(cfg)
    assert all(math.isfinite(x) for x in summary["train_losses"]), summary["train_losses"]
    rows = [r for r in read_metrics(tmp_path / "run" / "metrics.jsonl") if r["split"] == "train"]
    assert len(rows) == 3
    for row in rows:
        assert EXTRA_COLUMNS[objective] <= row.keys(), row
        assert {"proxy_loss", "sfc_mean"} <= row.keys()  # SFC is logged for every objective
        assert all(math.isfinite(v) for v in row.values() if isinstance(v, float))
    if objective == "groupdro":
        q = [(r["q0"], r["q1"]) for r in rows]
        assert all(a + b == pytest.approx(1.0) for a, b in q)
        assert len(set(q)) == 3  # q moves every step
    if objective == "reweight":
        assert all(0 <= r["weight_min"] <= r["weight_mean"] <= r["weight_max"] <= 1 for r in rows)
    # both branches moved away from the start: model/ and proxy/ differ from step 0
    start = _cfg(tiny_llava_dir, shapes, tmp_path / "zero", mode="shortcut-aware", max_steps=1)
    start = TrainConfig.from_dict({**start.to_dict(), **extra, "learning_rate": 0.0})
    train(start)
    for branch in ("model", "proxy"):
        got, zero = _weights(tmp_path / "run" / branch), _weights(tmp_path / "zero" / branch)
        assert got.keys() == zero.keys()
        assert any(not torch.equal(got[k], zero[k]) for k in got), branch


def test_sfc_default_is_todays_objective(tiny_llava_dir, shapes, tmp_path):
    """`objective: sfc` (the default) logs exactly what a run without the option logs."""
    a = train(_cfg(tiny_llava_dir, shapes, tmp_path / "a", mode="shortcut-aware"))
    b = train(_cfg(tiny_llava_dir, shapes, tmp_path / "b", mode="shortcut-aware", objective="sfc"))
    assert a["train_losses"] == b["train_losses"]
    row = read_metrics(tmp_path / "a" / "metrics.jsonl")[0]
    assert not {"weight_mean", "q0"} & row.keys()


def _proxy_table(data: str, path, flip: set[str]) -> str:
    """A proxy score table of the training file that is wrong on the records `flip`
    (a tie on the first of them: ties count as wrong) and right on the others."""
    rows = []
    for i, rec in enumerate(load_dataset_file(data).records):
        (b, _), rewards = rec.pairs[0], [0.0] * len(rec.responses)
        rewards[b] = 0.0 if i == 0 and rec.id in flip else -1.0 if rec.id in flip else 1.0
        rows += record_rows(rec, rewards)
    write_score_table(to_frame(rows), path)
    return str(path)


@pytest.mark.parametrize("lora", [False, True], ids=["full", "lora"])
def test_static_upweighting_through_the_cli(
    lora, tiny_llava_dir, shapes, shapes_eval, tmp_path, cli
):
    """JTT-style: --static-weights TABLE --upweight 4 with mode standard, the CLI; pairs
    the table's proxy gets wrong weigh 4 (logged weight_max 4, weight_mean in between)."""
    ids = [r.id for r in load_dataset_file(shapes).records]
    table = _proxy_table(shapes, tmp_path / "proxy_scores.jsonl", set(ids[::2]))
    out = tmp_path / "run"
    args = ["train", "--model", str(tiny_llava_dir), "--data", shapes, "--output", str(out),
            "--max-steps", "3", "--per-device-train-batch-size", "4", "--logging-steps", "1",
            "--learning-rate", "1e-3", "--warmup-ratio", "0", "--no-progress",
            "--no-tensorboard", "--static-weights", table, "--upweight", "4",
            "--eval-data", shapes_eval]  # fmt: skip
    if lora:
        args += ["--lora", "--lora-r", "4"]
    cli(*args)
    rows = [r for r in read_metrics(out / "metrics.jsonl") if r["split"] == "train"]
    assert len(rows) == 3 and all(math.isfinite(r["loss"]) for r in rows)
    assert all(r["weight_min"] >= 1 and r["weight_max"] <= 4 for r in rows)
    assert any(r["weight_max"] == 4 for r in rows) and any(r["weight_min"] == 1 for r in rows)
    assert not (out / "proxy").exists()  # no second branch
    evals = [r for r in read_metrics(out / "metrics.jsonl") if r["split"] == "eval"]
    assert evals and evals[-1]["eval_pairs"] == 8  # evaluation needs no static weights
    config = (out / "config.yaml").read_text()
    assert "static_weights: " + table in config and "upweight: 4.0" in config


def test_static_weights_weigh_the_proxys_wrong_pairs(shapes, tmp_path):
    from shortcutlab.training.weighting import load_static_weights

    records = load_dataset_file(shapes).records
    wrong = {records[0].id, records[3].id}
    table = _proxy_table(shapes, tmp_path / "p.jsonl", wrong)
    static = load_static_weights(table, 6.0, records)
    assert static.upweighted == 2
    w = static.for_records(records[:4]).tolist()
    assert w == [6.0, 1.0, 1.0, 6.0]


def test_groupdro_q_is_checkpointed_and_restored(tiny_llava_dir, shapes, tmp_path):
    """The q state lives in the trainer and travels with accelerate's checkpoint."""
    out = tmp_path / "run"
    kw = dict(mode="shortcut-aware", objective="groupdro", dro_eta=0.5, save_steps=2)
    train(_cfg(tiny_llava_dir, shapes, out, **kw))
    rows = {r["step"]: r for r in read_metrics(out / "metrics.jsonl") if r["split"] == "train"}
    saved = torch.load(
        out / "checkpoints" / "step-000002" / "custom_checkpoint_1.pkl", weights_only=False
    )
    assert saved["q"] == pytest.approx([rows[2]["q0"], rows[2]["q1"]])
    assert json.loads((out / "checkpoints" / "step-000002" / "trainer_state.json").read_text())


def _double_loss(x: objectives.ObjectiveInputs, opts, state) -> objectives.ObjectiveTerm:
    """A toy objective: 2 mean(L), counting its micro-steps in its state."""
    steps = (state if state is not None else torch.zeros(1, dtype=torch.float64)) + 1
    stats = {"toy_steps": steps.item()}
    return objectives.ObjectiveTerm(2 * x.loss.mean(), state=steps, stats=stats)


@pytest.fixture
def toy_objective():
    """A toy objective registered in this test only (objectives.py is all it touches)."""
    toy = objectives.Objective(
        "double",
        "twice the primary loss",
        _double_loss,
        stats=(objectives.Stat("toy_steps", "last", column=True),),
        init_state=lambda: torch.zeros(1, dtype=torch.float64),
    )
    objectives.register(toy)
    yield toy
    objectives.unregister(toy.name)


def test_a_registered_toy_objective_trains(toy_objective, tiny_llava_dir, shapes, tmp_path):
    """Registering an objective is all it takes to train with it: its loss is the trained
    objective (+ mean L_t), its statistic is a metrics column, its state is kept."""
    kw = dict(mode="shortcut-aware", objective="double", max_steps=1)
    result = train(_cfg(tiny_llava_dir, shapes, tmp_path / "run", **kw))
    (row,) = read_metrics(tmp_path / "run" / "metrics.jsonl")
    assert row["loss"] == pytest.approx(2 * row["loss_mm"] + row["proxy_loss"], rel=1e-5)
    assert row["toy_steps"] == 1.0 and "weight_mean" not in row
    assert result.train_losses == [row["loss"]] and result.proxy_dir
