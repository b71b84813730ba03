"""The study wing: spec and cache (shortcutlab.study.spec/.cache), the runner
(shortcutlab.study.run) and its diagnostics (shortcutlab.study.results)."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from shortcutlab.data.schemas import load_records
from shortcutlab.data.writing import write_table
from shortcutlab.errors import ConfigError
from shortcutlab.score_table import record_rows
from shortcutlab.study.cache import Cells, fingerprint, source_digest
from shortcutlab.study.results import write_results
from shortcutlab.study.run import StudyResult, run_study
from shortcutlab.study.spec import Study, StudyEnv, label_mode, load_study
from shortcutlab.synth import templates as T
from shortcutlab.synth.benchmark import build_benchmark

pytestmark = pytest.mark.integration

ENVS = ("povid", "rlhfv")


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    return build_benchmark(tmp_path_factory.mktemp("bench"), seed=0, size="tiny")


def _study(bench, base_model: str = "unused", **kw) -> Study:
    envs = [
        StudyEnv(
            e,
            str(bench.files[e]["train"]),
            str(bench.files[e]["test"]),
            str(bench.files[e]["shift"]),
        )
        for e in ENVS
    ]
    return Study(base_model=base_model, environments=envs, n_boot=50, **kw)


# ----------------------------------------------------------------------------- config


def test_load_study_resolves_paths_against_the_yaml_folder(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "study.yaml").write_text(
        "base_model: m\nseeds: 2\nenvironments:\n"
        "  - {name: a, train: a/train.jsonl, test: a/test.jsonl}\n"
        "train: {max_steps: 5}\n"
    )
    st = load_study(tmp_path / "sub" / "study.yaml")
    assert st.environments[0].train == str(tmp_path / "sub" / "a" / "train.jsonl")
    assert st.environments[0].shift is None
    assert st.seeds == [0, 1]
    assert st.base_model == "m"  # not a local folder: kept as given (a Hub id)
    assert st.train_modes == ["standard", "shortcut-aware"]  # proxies come from SA runs


@pytest.mark.parametrize(
    "raw, message",
    [
        ({"base_model": "m", "environments": [{"name": "a", "train": "t"}]}, "needs name, train"),
        (
            {"base_model": "m", "environments": [{"name": "a", "train": "t", "test": "u"}] * 2},
            "unique names",
        ),
        (
            {
                "base_model": "m",
                "environments": [{"name": "a", "train": "t", "test": "u"}],
                "modes": ["fancy"],
            },
            "unknown study mode",
        ),
        (
            {
                "base_model": "m",
                "environments": [{"name": "a", "train": "t", "test": "u"}],
                "train": {"model": "x"},
            },
            "may not set 'model'",
        ),
        ({"base_model": "m", "environments": [], "colour": 1}, "unknown study key"),
        (
            {
                "base_model": "m",
                "environments": [{"name": "a", "train": "t", "test": "u"}],
                "objectives": ["sfc", "jtt"],
            },
            "study objectives must be distinct names of sfc, poe, reweight, groupdro",
        ),
        (
            {
                "base_model": "m",
                "environments": [{"name": "a", "train": "t", "test": "u"}],
                "train": {"objective": "poe"},
            },
            r"may not set 'objective'.*list them in 'objectives'",
        ),
        ({"environments": [{"name": "a", "train": "t", "test": "u"}]}, "needs 'base_model'"),
    ],
)
def test_bad_studies_are_config_errors(raw, message):
    with pytest.raises(ConfigError, match=message):
        load_study(raw)


def test_text_only_runs_are_added_without_shortcut_aware(bench):
    assert _study(bench, modes=["standard"]).train_modes == ["standard", "text-only"]
    st = _study(bench, text_only_models="train")
    assert st.train_modes == ["standard", "shortcut-aware", "text-only"]
    listed = _study(bench, modes=["standard", "shortcut-aware", "text-only"])
    assert not listed.proxy_from_runs  # one text-only model per env: the trained one
    assert listed.train_modes == ["standard", "shortcut-aware", "text-only"]


def test_objectives_are_shortcut_aware_cells(bench):
    """Default: one `shortcut-aware` cell (sfc, the demo's names); a list adds one cell per
    objective, named shortcut-aware-OBJECTIVE, each trained in mode shortcut-aware."""
    assert _study(bench).mm_labels == ["standard", "shortcut-aware"]
    st = _study(bench, objectives=["sfc", "poe", "groupdro"])
    assert st.train_modes == [
        "standard",
        "shortcut-aware",
        "shortcut-aware-poe",
        "shortcut-aware-groupdro",
    ]
    assert [label_mode(m) for m in st.train_modes] == [
        ("standard", None),
        ("shortcut-aware", "sfc"),
        ("shortcut-aware", "poe"),
        ("shortcut-aware", "groupdro"),
    ]
    only = _study(bench, modes=["standard"], objectives=["poe"])
    assert only.train_modes == ["standard", "text-only"]  # no shortcut-aware mode: no cell


def test_done_markers_match_only_their_fingerprint(tmp_path):
    cells = Cells(tmp_path)
    cells.put("train__x", "fp1", {"model": "m"})
    assert cells.get("train__x", "fp1")["result"] == {"model": "m"}
    assert cells.get("train__x", "fp2") is None
    assert cells.get("score__y", "fp1") is None
    assert not list((tmp_path / ".done").glob("*.tmp"))  # written atomically


# ----------------------------------------------------------------------------- diagnostics


def _cue_reward(env: str, text: str) -> float:
    """A 'model' that follows environment env's text cue only."""
    if env == "vlf":
        return float(len(text))
    if env == "povid":
        return -float(len(text))
    return 1.0 if text.startswith(T.HEDGES) else 0.0


def _write_scores(folder: Path, mode: str, train: str, test: str, data: Path) -> None:
    rows = []
    answers = {json.loads(x)["id"]: json.loads(x)["answer"] for x in data.read_text().splitlines()}
    for rec in load_records(data):
        if mode == "shortcut-aware":  # sees: names the right answer
            rewards = [float(f" {answers[rec.id]}" in " " + r.lower()) for r in rec.responses]
        else:  # standard and text-only follow the cue of their training environment
            rewards = [_cue_reward(train, r) for r in rec.responses]
        rows += record_rows(rec, rewards, environment=test)
    write_table(rows, folder / f"{mode}__{train}__{test}.jsonl")


def _cue_accuracy(env: str, data: Path) -> float:
    recs = load_records(data)
    right = sum(_cue_reward(env, r.responses[0]) > _cue_reward(env, r.responses[1]) for r in recs)
    return 100.0 * right / len(recs)


def test_write_results_from_hand_made_score_tables(bench, tmp_path):
    """Matrix, SFD and shift numbers equal what the hand-made 'models' imply."""
    study = _study(bench)
    folder = tmp_path / "scores" / "s0"
    for mode in ("standard", "shortcut-aware", "text-only"):
        for train in ENVS:
            for test in ENVS:
                _write_scores(folder, mode, train, test, bench.files[test]["test"])
            _write_scores(folder / "shift", mode, train, train, bench.files[train]["shift"])
    summary = write_results(study, tmp_path, say=lambda m: None)
    std = summary["matrix"]["standard"]["matrix"]
    for train in ENVS:
        for test in ENVS:
            assert std[train][test] == pytest.approx(
                _cue_accuracy(train, bench.files[test]["test"])
            )
    assert summary["matrix"]["shortcut-aware"]["iid_mean"] == 100.0
    assert summary["matrix"]["shortcut-aware"]["ood_mean"] == 100.0
    # the standard model *is* its proxy: right exactly where the proxy is right -> SFD 100
    assert summary["sfd"]["standard"]["shift"]["mean_sfd"] == pytest.approx(100.0)
    assert summary["sfd"]["shortcut-aware"]["shift"]["mean_sfd"] == pytest.approx(0.0)
    assert summary["shift"]["standard"]["by_env"]["povid"] == pytest.approx(10.0)
    assert summary["shift"]["shortcut-aware"]["mean"] == pytest.approx(100.0)
    res = tmp_path / "results"
    for name in (
        "matrix.png",
        "sfd.csv",
        "shift.csv",
        "accuracy_long.csv",
        "correlation.csv",
        "length.csv",
        "matrix_standard.csv",
        "sfd_standard_s0.png",
    ):
        assert (res / name).is_file(), name


# ----------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory):
    from shortcutlab.modeling.tiny import build_tiny_model

    return build_tiny_model("llava", tmp_path_factory.mktemp("tiny") / "llava", seed=0)


@pytest.mark.slow
def test_run_study_end_to_end_and_cached(bench, tiny_base, tmp_path):
    study = _study(bench, base_model=str(tiny_base))
    study.train = {"max_steps": 2, "per_device_train_batch_size": 4, "learning_rate": 3e-4}
    study.score = {"batch_size": 32}
    out = tmp_path / "study"
    first = run_study(study, out, progress=False)
    assert isinstance(first, StudyResult)
    # 2 modes x 2 envs; 6 models (4 + 2 proxies) x (2 tests + own shift)
    assert first.ran == {"train": 4, "score": 18}
    assert first.scores_dir == out / "scores" / "s0"
    assert first.summary["scores_dir"] == str(out / "scores" / "s0")
    assert first.score_folders() == [out / "scores" / "s0"]
    files = sorted(p.name for p in (out / "scores" / "s0").glob("*.jsonl"))
    assert "text-only__povid__rlhfv.jsonl" in files and len(files) == 12
    assert set(first.summary["matrix"]) == {"standard", "shortcut-aware", "text-only"}
    on_disk = json.loads((first.results_dir / "summary.json").read_text())
    assert on_disk["matrix"] == json.loads(json.dumps(first.summary["matrix"]))
    stamps = {p: p.stat().st_mtime_ns for p in (out / ".done").glob("*.json")}
    again = run_study(study, out, progress=False)
    assert again.ran == {"train": 0, "score": 0}
    assert {p: p.stat().st_mtime_ns for p in (out / ".done").glob("*.json")} == stamps
    assert again.summary["matrix"] == first.summary["matrix"]


@pytest.mark.slow
def test_run_study_with_several_objectives(bench, tiny_base, tmp_path):
    """objectives: [reweight, poe] -> cells shortcut-aware-reweight / -poe; the text-only
    models are the first objective's proxies; every result table has both labels."""
    study = _study(
        bench, base_model=str(tiny_base), modes=["shortcut-aware"], objectives=["reweight", "poe"]
    )
    study.train = {"max_steps": 2, "per_device_train_batch_size": 4, "learning_rate": 3e-4}
    study.score = {"batch_size": 32}
    out = tmp_path / "study"
    res = run_study(study, out, progress=False)
    # 2 objectives x 2 envs; 6 models (4 + 2 proxies) x (2 tests + own shift)
    assert res.ran == {"train": 4, "score": 18}
    labels = {"shortcut-aware-reweight", "shortcut-aware-poe"}
    assert set(res.summary["matrix"]) == labels | {"text-only"}
    assert set(res.summary["sfd"]) == labels
    for label, objective in (
        ("shortcut-aware-poe", "poe"),
        ("shortcut-aware-reweight", "reweight"),
    ):
        config = (out / "runs" / "s0" / f"{label}__povid" / "config.yaml").read_text()
        assert "mode: shortcut-aware" in config and f"objective: {objective}" in config
    marker = json.loads(
        (out / ".done" / "train__s0__shortcut-aware-reweight__povid.json").read_text()
    )
    assert (out / ".done").is_dir() and marker


# ----------------------------------------------------------------------------- layering


def _package_imports(path: Path) -> set[str]:
    """Every `shortcutlab...` module a source file imports (top level or in a function)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{a.name}" for a in node.names}
    return {n for n in names if n.startswith("shortcutlab")}


def test_library_never_imports_the_apps_wing_or_the_cli():
    """Library modules (everything but study/ and cli/) import neither study nor cli."""
    root = Path(__file__).resolve().parents[1] / "shortcutlab"
    apps = ("shortcutlab.study", "shortcutlab.cli")
    offenders = {}
    for f in sorted(root.rglob("*.py")):
        rel = f.relative_to(root).parts
        if rel[0] in ("study", "cli") or rel == ("__main__.py",):
            continue
        bad = sorted(n for n in _package_imports(f) if n.startswith(apps))
        if bad:
            offenders[str(f.relative_to(root))] = bad
    assert not offenders, offenders
    assert _package_imports(root / "study" / "run.py")  # the walker sees imports at all


def test_fingerprints_follow_content_not_names(tmp_path):
    """Cache keys: a data file's digest changes with its bytes; a Hub id hashes as an id."""
    f = tmp_path / "train.jsonl"
    f.write_text('{"a": 1}\n')
    first = source_digest(f)
    assert source_digest(f) == first
    f.write_text('{"a": 2}\n')
    assert source_digest(f) != first
    assert source_digest("org/model-on-the-hub") == "id:org/model-on-the-hub"
    assert fingerprint([{"b": 1, "a": 2}]) == fingerprint([{"a": 2, "b": 1}])
