"""Training on tiny real LLaVA / Qwen2-VL models: modes, freezing, resume, LoRA, QLoRA, CLI."""

from __future__ import annotations

import json

import pytest
import torch
from scoring_helpers import tiny_train_config

from shortcutlab.config import TrainConfig
from shortcutlab.training import train

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("one_torch_thread")]


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    from shortcutlab.synth.shapes import make_shape_pairs

    root = tmp_path_factory.mktemp("shapes")
    return {
        "train": str(make_shape_pairs(16, 0, root / "train")),
        "eval": str(make_shape_pairs(8, 1, root / "eval")),
    }


def _cfg(model, shapes, out, **kw) -> TrainConfig:
    return tiny_train_config(model, shapes["train"], out, **kw)


def _params(path, seed=42):
    from shortcutlab.modeling.reward_model import RewardModel

    rm = RewardModel.from_pretrained(path, seed=seed)
    return rm, {
        g: [p.detach().clone() for _, p in ps] for g, ps in rm.named_parameter_groups().items()
    }


def _changed(a, b) -> bool:
    return any(not torch.equal(x, y) for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize("arch", ["llava", "qwen2_vl"])
@pytest.mark.parametrize("mode", ["standard", "text-only", "shortcut-aware"])
def test_modes_train_and_freeze(arch, mode, tiny_dirs, shapes, tmp_path):
    model = tiny_dirs[arch]
    out = tmp_path / "run"
    summary = train(_cfg(model, shapes, out, mode=mode, eval_data=shapes["eval"]))
    assert len(summary["train_losses"]) == 2
    assert all(torch.isfinite(torch.tensor(summary["train_losses"])))
    assert 0 <= summary["eval"]["eval_acc"] <= 1 and summary["eval"]["eval_pairs"] == 8
    _, before = _params(model)
    trained, after = _params(out / "model")
    assert not _changed(before["vision"], after["vision"])  # frozen by default
    for group in ("language", "head"):
        assert _changed(before[group], after[group]), group
    if mode != "text-only":  # the projector gets no gradient without images
        assert _changed(before["projector"], after["projector"])
    assert trained.text_only == ("drop" if mode == "text-only" else None)
    for name in ("config.yaml", "command.txt", "run_info.json", "metrics.jsonl"):
        assert (out / name).is_file(), name
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if r["split"] == "train"] == [1, 2]
    if mode == "shortcut-aware":
        proxy, proxy_params = _params(out / "proxy")
        assert proxy.text_only == "drop"
        assert _changed(after["language"], proxy_params["language"])
        train_row = rows[0]
        assert 0 < train_row["sfc_min"] <= train_row["sfc_mean"] <= train_row["sfc_max"] < 1
        assert {"proxy_loss", "proxy_acc", "loss_mm"} <= set(train_row)
    else:
        assert not (out / "proxy").exists()


def test_freeze_language_and_projector(tiny_llava_dir, shapes, tmp_path):
    out = tmp_path / "run"
    train(_cfg(tiny_llava_dir, shapes, out, freeze_language=True, freeze_projector=True))
    _, before = _params(tiny_llava_dir)
    _, after = _params(out / "model")
    for group in ("vision", "projector", "language"):
        assert not _changed(before[group], after[group]), group
    assert _changed(before["head"], after["head"])


def test_shortcut_aware_step_one_matches_standard_and_text_only(tiny_llava_dir, shapes, tmp_path):
    """Same init: SA's first-step L and L_t equal the standard and text-only runs' losses."""
    kw = dict(max_steps=1)
    std = train(_cfg(tiny_llava_dir, shapes, tmp_path / "s", mode="standard", **kw))
    txt = train(_cfg(tiny_llava_dir, shapes, tmp_path / "t", mode="text-only", **kw))
    sa = train(_cfg(tiny_llava_dir, shapes, tmp_path / "a", mode="shortcut-aware", **kw))
    row = sa["final_train"]
    assert row["loss_mm"] == pytest.approx(std["train_losses"][0], abs=1e-6)
    assert row["proxy_loss"] == pytest.approx(txt["train_losses"][0], abs=1e-6)


def test_resume_continues_like_an_uninterrupted_run(tiny_llava_dir, shapes, tmp_path):
    kw = dict(
        mode="shortcut-aware",
        max_steps=4,
        save_steps=2,
        per_device_train_batch_size=2,
        gradient_accumulation_steps=2,
        warmup_ratio=0.5,
    )
    full = train(_cfg(tiny_llava_dir, shapes, tmp_path / "a", **kw))
    ckpt = tmp_path / "a" / "checkpoints" / "step-000002"
    state = json.loads((ckpt / "trainer_state.json").read_text())
    assert state["global_step"] == 2 and len(state["data_order"]) == 16
    resumed = train(_cfg(tiny_llava_dir, shapes, tmp_path / "b", resume=str(ckpt), **kw))
    assert resumed["start_step"] == 2 and len(resumed["train_losses"]) == 2
    assert resumed["train_losses"] == pytest.approx(full["train_losses"][2:], abs=1e-6)
    _, a = _params(tmp_path / "a" / "model")
    _, b = _params(tmp_path / "b" / "model")
    for x, y in zip(a["language"], b["language"], strict=True):
        assert torch.allclose(x, y, atol=1e-6)


def test_gradient_accumulation_equals_one_big_batch(tiny_llava_dir, shapes, tmp_path):
    """4 records x 2 accumulation steps == 8 records in one micro-step (same loss curve)."""
    kw = dict(mode="shortcut-aware", max_steps=2)
    big = train(_cfg(tiny_llava_dir, shapes, tmp_path / "a", per_device_train_batch_size=8, **kw))
    acc = train(
        _cfg(
            tiny_llava_dir,
            shapes,
            tmp_path / "b",
            per_device_train_batch_size=4,
            gradient_accumulation_steps=2,
            **kw,
        )
    )
    assert acc["train_losses"] == pytest.approx(big["train_losses"], abs=1e-6)
    assert acc["final_train"]["sfc_max"] == pytest.approx(big["final_train"]["sfc_max"], abs=1e-6)


def test_resume_rejects_a_different_run(tiny_llava_dir, shapes, tmp_path):
    from shortcutlab.errors import ConfigError

    train(_cfg(tiny_llava_dir, shapes, tmp_path / "a", max_steps=2, save_steps=1))
    ckpt = tmp_path / "a" / "checkpoints" / "step-000002"
    with pytest.raises(ConfigError, match="global_batch"):
        train(
            _cfg(
                tiny_llava_dir,
                shapes,
                tmp_path / "b",
                resume=str(ckpt),
                per_device_train_batch_size=2,
            )
        )


def test_lora_two_adapters_one_base(tiny_llava_dir, shapes, tmp_path):
    from shortcutlab.training.branches import PROXY, build_branches

    cfg = _cfg(
        tiny_llava_dir,
        shapes,
        tmp_path / "run",
        mode="shortcut-aware",
        lora=True,
        lora_r=4,
        eval_data=shapes["eval"],
    )
    branches, _ = build_branches(cfg)
    assert branches.proxy is None and branches.lora_proxy  # one copy of the base weights
    names = [n for n, p in branches.named_parameters() if p.requires_grad]
    assert any(f".{PROXY}." in n for n in names) and any(".default." in n for n in names)
    assert not any("vision_tower" in n for n in names)
    summary = train(cfg)
    assert summary["trainable_parameters"] < summary["parameters"] / 3
    # the exported, merged model/ scores the eval set exactly as the trained branch did
    assert _eval_loss(tmp_path / "run" / "model", shapes["eval"]) == pytest.approx(
        summary["eval"]["eval_loss"], abs=1e-5
    )
    assert _eval_loss(tmp_path / "run" / "proxy", shapes["eval"], "drop") == pytest.approx(
        summary["eval"]["eval_proxy_loss"], abs=1e-5
    )


def _eval_loss(model_dir, data, text_only=None) -> float:
    from shortcutlab.data.schemas import load_records
    from shortcutlab.losses import bradley_terry_loss, build_pair_index
    from shortcutlab.modeling.batching import RewardCollator
    from shortcutlab.modeling.reward_model import RewardModel

    rm = RewardModel.from_pretrained(model_dir).eval()
    records = load_records(data)
    batch = RewardCollator(rm.processor, text_only=text_only).encode(records)
    with torch.no_grad():
        rewards = rm(**batch.inputs)
    idx = build_pair_index([r.pairs for r in records], [len(r.responses) for r in records])
    return bradley_terry_loss(rewards, idx.pairs).mean().item()


def test_qlora_trains_on_cpu(tiny_llava_dir, shapes, tmp_path):
    import bitsandbytes as bnb

    from shortcutlab.training.branches import build_branches

    cfg = _cfg(tiny_llava_dir, shapes, tmp_path / "run", lora=True, lora_r=4, load_in_4bit=True)
    branches, _ = build_branches(cfg)
    assert any(isinstance(m, bnb.nn.Linear4bit) for m in branches.modules())
    summary = train(cfg)
    assert all(torch.isfinite(torch.tensor(summary["train_losses"])))
    _, before = _params(tiny_llava_dir)
    _, after = _params(tmp_path / "run" / "model")  # merged into a full-precision base
    assert _changed(before["language"], after["language"])
    assert not _changed(before["vision"], after["vision"])


def test_save_sfc_and_image_only_proxy(tiny_qwen_dir, shapes, tmp_path):
    out = tmp_path / "run"
    train(
        _cfg(
            tiny_qwen_dir,
            shapes,
            out,
            mode="shortcut-aware",
            proxy="image-only",
            save_sfc=True,
            sfc_normalize=True,
            sfc_official_eps=False,
            num_train_epochs=2,
            max_steps=-1,
            per_device_train_batch_size=8,
        )
    )
    rows = [json.loads(x) for x in (out / "sfc.jsonl").read_text().splitlines()]
    assert len(rows) == 16 and {r["step"] for r in rows} == {3, 4}  # last epoch only
    r = rows[0]
    assert r["sfc"] == pytest.approx(r["proxy_loss"] / (r["loss"] + r["proxy_loss"]), rel=1e-5)


@pytest.mark.parametrize("extra", [{"bf16": True}, {"gradient_checkpointing": True}])
def test_bf16_and_gradient_checkpointing_train(extra, tiny_llava_dir, shapes, tmp_path):
    summary = train(_cfg(tiny_llava_dir, shapes, tmp_path / "r", mode="shortcut-aware", **extra))
    assert all(torch.isfinite(torch.tensor(summary["train_losses"])))
    _, before = _params(tiny_llava_dir)
    _, after = _params(tmp_path / "r" / "model")
    assert _changed(before["language"], after["language"])


def test_too_little_data_is_a_config_error(tiny_llava_dir, shapes, tmp_path):
    from shortcutlab.errors import ConfigError

    with pytest.raises(ConfigError, match="global batch"):
        train(_cfg(tiny_llava_dir, shapes, tmp_path / "r", per_device_train_batch_size=32))


def test_cli_flags_override_yaml(tiny_llava_dir, shapes, tmp_path):
    from shortcutlab.cli.main import main

    conf = tmp_path / "c.yaml"
    conf.write_text("mode: text-only\nlearning_rate: 1e-3\nmax_steps: 5\nprogress: false\n")
    out = tmp_path / "run"
    argv = [
        "train",
        "--config",
        str(conf),
        "--model",
        str(tiny_llava_dir),
        "--data",
        shapes["train"],
        "--output",
        str(out),
        "--max-steps",
        "1",
        "--per-device-train-batch-size",
        "4",
        "--no-tensorboard",
    ]
    main(argv)
    resolved = TrainConfig.from_yaml(out / "config.yaml")
    assert resolved.mode == "text-only" and resolved.max_steps == 1
    assert resolved.learning_rate == 1e-3 and not resolved.tensorboard
    assert "--max-steps 1" in (out / "command.txt").read_text()


def test_cli_processor_kwargs_parse():
    from shortcutlab.cli.train_cmd import build_config

    cfg = build_config(None, {"processor_kwargs": ["max_pixels=4096", "do_resize=false"]})
    assert cfg.processor_kwargs == {"max_pixels": 4096, "do_resize": False}


def test_cli_bad_option_exits_2(tmp_path, capsys):
    from shortcutlab.cli.main import main

    conf = tmp_path / "c.yaml"
    conf.write_text("learning_rte: 1\n")
    with pytest.raises(SystemExit) as ex:
        main(["train", "--config", str(conf), "--model", "m", "--data", "d", "--output", "o"])
    assert ex.value.code == 2
    assert "learning_rte" in capsys.readouterr().err


def test_resolve_resume(tmp_path):
    from shortcutlab.errors import ConfigError
    from shortcutlab.training.state import TRAINER_STATE, resolve_resume

    assert resolve_resume(None, tmp_path) is None
    assert resolve_resume("latest", tmp_path) is None  # nothing saved yet: start fresh
    for step in (2, 10):
        d = tmp_path / "checkpoints" / f"step-{step:06d}"
        d.mkdir(parents=True)
        (d / TRAINER_STATE).write_text("{}")
    assert resolve_resume("latest", tmp_path).name == "step-000010"
    with pytest.raises(ConfigError, match="not a checkpoint"):
        resolve_resume(str(tmp_path), tmp_path)


def test_shape_pairs_differ_only_in_the_colour_word(tmp_path):
    from PIL import Image

    from shortcutlab.synth.shapes import COLORS, make_shape_pairs

    path = make_shape_pairs(20, 3, tmp_path / "a")
    again = make_shape_pairs(20, 3, tmp_path / "b")
    assert path.read_text() == again.read_text()  # deterministic for a seed
    for line in path.read_text().splitlines():
        row = json.loads(line)
        c, r = row["chosen"].split(), row["rejected"].split()
        diff = [(x, y) for x, y in zip(c, r, strict=True) if x != y]
        assert len(diff) == 1 and {w.rstrip(".") for w in diff[0]} <= set(COLORS)
        img = Image.open(path.parent / row["img_path"]).convert("RGB")
        colour = COLORS[diff[0][0].rstrip(".")]
        assert colour in {px for _, px in img.getcolors(4096)}  # the shape has that colour


def test_text_only_blank_and_rerun_starts_fresh_metrics(tiny_llava_dir, shapes, tmp_path):
    from shortcutlab.modeling.reward_model import RewardModel

    out = tmp_path / "run"
    for again in (False, True):  # an overwriting run into the same folder: new metrics.jsonl
        cfg = _cfg(tiny_llava_dir, shapes, out, mode="text-only", text_only="blank")
        train(cfg, overwrite=again)
    rows = (out / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(r)["step"] for r in rows] == [1, 2]
    assert RewardModel.from_pretrained(out / "model").text_only == "blank"


def test_skip_invalid_rows_are_counted_in_summary_and_run_info(
    tiny_llava_dir, shapes, tmp_path, capsys
):
    """--skip-invalid drops bad rows but reports them by reason (CLI, summary, run_info)."""
    from pathlib import Path

    from shortcutlab.cli.main import main
    from shortcutlab.errors import DataError

    src = Path(shapes["train"])
    data = src.parent / "with_bad_rows.jsonl"  # same folder: image paths still resolve
    bad = ['{"id": "x1", "prompt": "p", "chosen": "a"}', '{"id": "x2", "prompt": ']
    data.write_text(src.read_text() + "\n".join(bad) + "\n")
    with pytest.raises(DataError):  # without the flag the first bad row is an error
        train(_cfg(tiny_llava_dir, {"train": str(data)}, tmp_path / "r0", max_steps=1))
    out = tmp_path / "run"
    summary = train(_cfg(tiny_llava_dir, {"train": str(data)}, out, max_steps=1, skip_invalid=True))
    assert summary["records"] == 16
    assert summary["skipped"] == {"missing_field": 1, "malformed_json": 1}
    assert summary["eval_skipped"] == {}
    info = json.loads((out / "run_info.json").read_text())
    assert info["skipped"] == {"missing_field": 1, "malformed_json": 1}
    argv = ["train", "--model", str(tiny_llava_dir), "--data", str(data), "--output"]
    argv += [str(tmp_path / "cli"), "--skip-invalid", "--max-steps", "1", "--no-progress"]
    main([*argv, "--per-device-train-batch-size", "4", "--no-tensorboard"])
    printed = capsys.readouterr().out
    assert "skipped 2 invalid rows of the data" in printed
    assert "malformed_json: 1, missing_field: 1" in printed


@pytest.mark.parametrize("name", ["cosine", "linear", "constant", "constant_with_warmup"])
def test_native_schedules_match_transformers(name):
    """make_scheduler builds the common schedules without importing transformers'
    optimization module (which pulls in peft + bitsandbytes); same LRs as get_scheduler."""
    from transformers import get_scheduler

    from shortcutlab.training.setup import make_scheduler

    def lrs(sched, opt) -> list[float]:
        out = []
        for _ in range(12):
            out.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        return out

    opts = [torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1) for _ in range(2)]
    ours = make_scheduler(name, opts[0], warmup=3, total=10)
    ref = get_scheduler(name, opts[1], num_warmup_steps=3, num_training_steps=10)
    assert lrs(ours, opts[0]) == pytest.approx(lrs(ref, opts[1]), abs=1e-12)


@pytest.mark.e2e  # a fresh Python process
def test_train_without_4bit_prints_no_bitsandbytes_warning(tiny_llava_dir, shapes, tmp_path):
    """A fresh process: `train` (full and LoRA) never imports bitsandbytes noisily."""
    import os
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from shortcutlab.cli.main import main\n"
        "base = sys.argv[1:-1]\n"
        "main([*base, '--output', sys.argv[-1] + '-full'])\n"
        "assert 'bitsandbytes' not in sys.modules, 'full fine-tuning imported bitsandbytes'\n"
        "main([*base, '--output', sys.argv[-1] + '-lora', '--lora'])\n"
    )
    argv = ["train", "--model", str(tiny_llava_dir), "--data", shapes["train"], "--max-steps"]
    argv += ["1", "--per-device-train-batch-size", "4", "--no-tensorboard", "--no-progress"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", code, *argv, str(tmp_path / "run")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert out.count("trained standard") == 2
    assert "gemm_4bit" not in out and "bitsandbytes" not in out, out[-3000:]
