"""The registry of modes and objectives (shortcutlab/objectives.py) is the one owner of
their names: the config, the CLI, the study and the docs accept exactly its names."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
import torch

from shortcutlab import objectives
from shortcutlab.config import TrainConfig
from shortcutlab.errors import ConfigError
from shortcutlab.study.demo import OBJECTIVES as DEMO_METHODS
from shortcutlab.study.spec import Study, StudyEnv

pytestmark = pytest.mark.unit

DOCS = Path(__file__).resolve().parents[1] / "docs"
BASE = dict(model="m", data="d", output_dir="o")


def _choices(name: str) -> tuple[str, ...]:
    field = next(f for f in dataclasses.fields(TrainConfig) if f.name == name)
    return field.metadata["choices"]()


def _study(methods: list[str]) -> Study:
    return Study("base", [StudyEnv("e", "train.jsonl", "test.jsonl")], objectives=methods)


def test_config_takes_its_names_from_the_registry():
    assert _choices("objective") == objectives.names() == ("sfc", "poe", "reweight", "groupdro")
    assert _choices("mode") == objectives.mode_names()
    assert TrainConfig().objective == objectives.names()[0]
    for name in objectives.names():
        cfg = TrainConfig.from_dict({**BASE, "mode": "shortcut-aware", "objective": name})
        assert cfg.validate().objective == name
    with pytest.raises(ConfigError, match="expects 'sfc' \\| 'poe'"):
        TrainConfig.from_dict({**BASE, "objective": "jtt"})
    # options belong to their objective (generic check from the registry)
    owners = objectives.option_owners()
    assert owners == {"sfc_normalize": "sfc", "focal_gamma": "reweight", "dro_eta": "groupdro"}
    with pytest.raises(ConfigError, match="dro_eta is a setting of objective groupdro"):
        TrainConfig(**BASE, mode="shortcut-aware", objective="poe", dro_eta=0.5).validate()


def test_options_defaults_match_the_config_fields():
    """Each objective's options dataclass reads TrainConfig fields of the same name."""
    defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
    for obj in objectives.REGISTRY.values():
        for f in dataclasses.fields(obj.options):
            assert defaults[f.name] == f.default, (obj.name, f.name)
    cfg = TrainConfig(focal_gamma=2.5)
    assert objectives.get("reweight").options_from(cfg) == objectives.ReweightOptions(2.5)


def test_old_spellings_name_the_new_one():
    with pytest.raises(ConfigError, match="'shortcut-aware-poe' is now spelled 'poe'"):
        TrainConfig.from_dict({**BASE, "objective": "shortcut-aware-poe"})
    with pytest.raises(ConfigError, match="now spelled 'groupdro'"):
        objectives.get("group-dro")
    study = _study(["shortcut-aware", "shortcut-aware-poe", "static"])
    assert study.objectives == ["sfc", "poe", "static"]  # an old study spec keeps working
    assert study.mm_labels[1:] == ["shortcut-aware", "shortcut-aware-poe", "shortcut-aware-static"]
    assert objectives.label_mode("shortcut-aware-poe") == ("shortcut-aware", "poe")
    assert objectives.label_mode("shortcut-aware-static") == ("standard", "static")


def test_study_and_demo_take_their_names_from_the_registry():
    assert tuple(DEMO_METHODS) == objectives.study_methods()
    assert _study(list(objectives.study_methods())).objectives == list(DEMO_METHODS)
    with pytest.raises(ConfigError, match="sfc, poe, reweight, groupdro, static"):
        _study(["jtt"])


def test_docs_list_exactly_the_registry():
    cli = (DOCS / "cli.md").read_text(encoding="utf-8")
    option = lambda flag: re.search(rf"^ +--{flag} (\S+)$", cli, re.M).group(1)  # noqa: E731
    assert option("objective") == "|".join(objectives.names())
    assert option("mode") == "|".join(objectives.mode_names())
    training = (DOCS / "training.md").read_text(encoding="utf-8")
    section = training.split("| `--objective` |")[1].split("\n\n")[0]  # the objectives table
    table = re.findall(r"^\| `([a-z][a-z-]*)`(?: \(default\))? \|", section, re.M)
    assert tuple(table) == objectives.names()
    listed = re.search(r"`objective` \(([^)]*)\)", training).group(1).split(" / ")
    assert tuple(listed) == objectives.names()
    study = re.search(r"objectives: \[([^\]]*)\]` \(default", training).group(1).split(", ")
    assert tuple(study) == objectives.study_methods()


@dataclasses.dataclass(frozen=True)
class _ToyOptions:
    focal_gamma: float = 1.0  # reads an existing TrainConfig field


def _toy_loss(x: objectives.ObjectiveInputs, opts: _ToyOptions, state):
    """mean(L) / (1 + step): a toy with a state (a step counter) and its own statistic."""
    step = state if state is not None else torch.zeros(1, dtype=torch.float64)
    primary = x.loss.mean() / (1.0 + float(step[0]))
    return objectives.ObjectiveTerm(primary, state=step + 1, stats={"toy_max": x.loss.max().item()})


TOY = objectives.Objective(
    "toy",
    "a test objective",
    _toy_loss,
    _ToyOptions,
    stats=(objectives.Stat("toy_max", "max", column=True),),
    init_state=lambda: torch.zeros(1, dtype=torch.float64),
    aliases=("shortcut-aware-toy",),
)


@pytest.fixture
def toy():
    """The toy objective, registered for one test only."""
    objectives.register(TOY)
    yield TOY
    objectives.unregister(TOY.name)


def test_a_registered_objective_is_accepted_everywhere(toy):
    assert "toy" in _choices("objective") and "toy" in objectives.study_methods()
    cfg = TrainConfig.from_dict({**BASE, "mode": "shortcut-aware", "objective": "toy"})
    assert cfg.validate().objective == "toy"
    assert _study(["toy"]).mm_labels == ["standard", "shortcut-aware-toy"]
    with pytest.raises(ValueError, match="taken"):
        objectives.register(dataclasses.replace(TOY, name="other"))  # alias clash
    rewards, proxy = torch.tensor([1.0, 0.0, 0.5, 2.0]), torch.tensor([0.0, 1.0, 1.0, 0.0])
    pairs = torch.tensor([[0, 1], [2, 3]])
    first = objectives.pair_objective(rewards, proxy, pairs, objective="toy")
    second = objectives.pair_objective(rewards, proxy, pairs, objective="toy", state=first.state)
    assert first.state.tolist() == [1.0] and second.state.tolist() == [2.0]
    lt = first.proxy_loss.mean()
    assert second.objective.item() == pytest.approx(((first.objective - lt) / 2 + lt).item())
    assert first.stats["toy_max"] == pytest.approx(first.loss.max().item())
