"""TrainConfig: YAML loading, type checks, CLI overrides, shipped configs."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from shortcutlab.config import TrainConfig
from shortcutlab.errors import ConfigError

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[1]


def test_every_field_has_help():
    assert all(f.metadata.get("help") for f in dataclasses.fields(TrainConfig))


def test_paper_defaults():
    c = TrainConfig()
    assert (c.learning_rate, c.weight_decay, c.warmup_ratio) == (1e-5, 0.05, 0.1)
    assert (c.lr_scheduler_type, c.num_train_epochs, c.max_length) == ("cosine", 1.0, 4096)
    assert c.freeze_vision and not c.freeze_projector and not c.freeze_language
    assert c.text_only == "drop" and c.sfc_official_eps


def test_from_yaml_with_overrides(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("mode: shortcut-aware\nlearning_rate: 1e-4\nlora_target_modules: [q_proj]\n")
    c = TrainConfig.from_yaml(f, learning_rate=3e-4, model="m")
    assert c.mode == "shortcut-aware" and c.learning_rate == 3e-4 and c.model == "m"
    assert c.lora_target_modules == ["q_proj"]
    # PyYAML reads 1e-4 (no dot) as a string: accepted as a float
    assert TrainConfig.from_yaml(f).learning_rate == pytest.approx(1e-4)


@pytest.mark.parametrize(
    "text, words",
    [
        ("lerning_rate: 0.1\n", ["c.yaml", "unknown key 'lerning_rate'"]),
        ("per_device_train_batch_size: 2.5\n", ["per_device_train_batch_size", "expects int"]),
        ("bf16: 'yes'\n", ["'bf16'", "expects bool"]),
        ("mode: fancy\n", ["'mode'", "'standard'"]),
        ("processor_kwargs: 3\n", ["processor_kwargs", "expects dict"]),
        ("- a\n- b\n", ["mapping"]),
    ],
)
def test_bad_yaml_names_file_key_and_type(tmp_path, text, words):
    f = tmp_path / "c.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError) as err:
        TrainConfig.from_yaml(f)
    for w in words:
        assert w in str(err.value)


def test_validate_rejects_bad_combinations():
    base = dict(model="m", data="d", output_dir="o")
    with pytest.raises(ConfigError, match="model"):
        TrainConfig(data="d", output_dir="o").validate()
    with pytest.raises(ConfigError, match="lora"):
        TrainConfig(**base, load_in_4bit=True).validate()
    with pytest.raises(ConfigError, match="bf16"):
        TrainConfig(**base, bf16=True, fp16=True).validate()
    assert TrainConfig(**base).validate().model == "m"


@pytest.mark.parametrize("name", ["paper_standard", "paper_shortcut_aware"])
def test_shipped_configs_load(name):
    c = TrainConfig.from_yaml(
        REPO / "configs" / f"{name}.yaml", model="m", data="d", output_dir="o"
    )
    assert c.validate().learning_rate == 1e-5 and c.freeze_vision
    gb = c.per_device_train_batch_size * c.gradient_accumulation_steps * 8
    assert gb == 256  # the paper's global batch on 8 GPUs


def test_accelerate_configs_parse():
    import yaml

    kinds = {}
    for f in (REPO / "configs" / "accelerate").glob("*.yaml"):
        kinds[f.stem] = yaml.safe_load(f.read_text())["distributed_type"]
    assert kinds == {
        "ddp": "MULTI_GPU",
        "fsdp": "FSDP",
        "deepspeed_zero2": "DEEPSPEED",
        "deepspeed_zero3": "DEEPSPEED",
    }


def test_config_roundtrip_yaml(tmp_path):
    c = TrainConfig(model="m", data="d", output_dir="o", processor_kwargs={"max_pixels": 4096})
    f = tmp_path / "r.yaml"
    f.write_text(c.to_yaml())
    assert TrainConfig.from_yaml(f) == c


def test_flags_are_coerced_by_the_field_types(tmp_path):
    """Command-line text goes through the same coercion as YAML (one path)."""
    flags = {"max_steps": "3", "learning_rate": "1e-3", "lora_target_modules": "q_proj,v_proj"}
    flags |= {"processor_kwargs": ["max_pixels=4096", "do_resize=false"], "seed": None}
    cfg = TrainConfig.from_flags(flags)
    assert (cfg.max_steps, cfg.learning_rate, cfg.seed) == (3, 1e-3, 42)
    assert cfg.lora_target_modules == ["q_proj", "v_proj"]
    assert cfg.processor_kwargs == {"max_pixels": 4096, "do_resize": False}
    with pytest.raises(ConfigError, match="key '--max-steps' expects int, got '1.5'"):
        TrainConfig.from_flags({"max_steps": "1.5"})
    with pytest.raises(ConfigError, match="--processor-kwargs expects KEY=VALUE"):
        TrainConfig.from_flags({"processor_kwargs": ["oops"]})
    f = tmp_path / "c.yaml"
    f.write_text("max_steps: 7\nseed: 1\n")
    both = TrainConfig.from_flags({"max_steps": "2"}, config=f)
    assert (both.max_steps, both.seed) == (2, 1)
    with pytest.raises(ConfigError, match="key 'max_steps' expects int"):
        TrainConfig.from_dict({"max_steps": "3"})  # YAML stays strict: '3' is no int there
