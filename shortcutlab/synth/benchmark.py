"""The shortcut benchmark: environments with known ground truth built from easy-vqa.

Images and visual ground truth come from the third-party `easy-vqa` package (MIT): 64x64
PNGs of one shape (circle / rectangle / triangle) in one of 8 colours, with questions
and answers. Only the open questions ("what color is the shape?", "what shape is in the
image?") are used: their answer is one word that only the image decides, and a wrong
answer of the same type is always available (yes/no questions are left out).

Three environments imitate the paper's three data constructions (Sec. 3.2), each with
its own planted text-only shortcut (see `environments.py`): `vlf` (AI feedback, longer
wins), `povid` (hallucination injection, shorter wins), `rlhfv` (human refinement,
hedged wins). In every split the shortcut agrees with the label in exactly
round(rate * n) records (seeded positions): `train` and `test` (i.i.d., the matrix's
diagonal) at 0.9, `shift` (the same environment with the cue reversed) at 0.1. Across
environments the cues conflict (vlf's "longer" and rlhfv's "hedged" both mean "shorter
loses" in povid), so a shortcut learned in one environment fails o.o.d., as in Fig. 1.

A shortcut-free `pretrain` set from other images (easy-vqa train images no environment
uses) trains the common "seeing" initialisation; `pretrain/test.jsonl` measures it.

    summary = build_benchmark("bench", seed=0, size="small")   # -> bench/spec.json ...
"""

from __future__ import annotations

import json
import random
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from shortcutlab.data.writing import write_table
from shortcutlab.errors import ConfigError
from shortcutlab.synth import environments as E
from shortcutlab.synth import templates as T

ENVIRONMENTS = ("vlf", "povid", "rlhfv")
SPLITS = ("train", "test", "shift")
SPEC_VERSION = 1


@dataclass(frozen=True)
class Sizes:
    """Records per split (vlf records hold 4 pairs each; the others 1)."""

    train: int
    test: int
    shift: int
    pretrain: int
    pretrain_test: int


SIZES = {
    "tiny": Sizes(train=50, test=40, shift=40, pretrain=120, pretrain_test=40),
    "small": Sizes(train=1200, test=300, shift=300, pretrain=3000, pretrain_test=300),
    "large": Sizes(train=2000, test=350, shift=350, pretrain=3600, pretrain_test=300),
}
RATES = {"train": 0.9, "test": 0.9, "shift": 0.1}  # share of records whose cue agrees


@dataclass
class BenchmarkSpec:
    """Everything that defines a benchmark build; written to `spec.json`."""

    seed: int = 0
    size: str = "small"
    sizes: dict[str, int] = field(default_factory=dict)
    rates: dict[str, float] = field(default_factory=lambda: dict(RATES))
    environments: tuple[str, ...] = ENVIRONMENTS
    vlf_responses: int = 4
    question_types: tuple[str, ...] = ("color", "shape")
    source: str = "easy-vqa (MIT licence), open questions only"

    def __post_init__(self) -> None:
        if self.size not in SIZES:
            raise ConfigError(
                f"unknown benchmark size {self.size!r}; choose one of {sorted(SIZES)}."
            )
        if not self.sizes:
            self.sizes = asdict(SIZES[self.size])

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["version"] = SPEC_VERSION
        d["shortcuts"] = {e: E.SHORTCUTS[e] for e in (*self.environments, "pretrain")}
        d["templates"] = T.template_tables()
        return d


# ----------------------------------------------------------------------------- source


def load_easyvqa() -> tuple[dict[str, list[E.Question]], dict[str, dict[int, str]]]:
    """easy-vqa open questions grouped by image split, and image paths per split."""
    try:
        import easy_vqa  # lazy: only a build needs the easy-vqa images
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise ConfigError(
            "the benchmark needs the `easy-vqa` package.",
        ) from exc
    questions: dict[str, list[E.Question]] = {}
    paths: dict[str, dict[int, str]] = {}
    for split, getq, getp in (
        ("train", easy_vqa.get_train_questions, easy_vqa.get_train_image_paths),
        ("test", easy_vqa.get_test_questions, easy_vqa.get_test_image_paths),
    ):
        texts, answers, ids = getq()
        questions[split] = [
            E.Question(t, a, int(i), split)
            for t, a, i in zip(texts, answers, ids, strict=True)
            if a in T.COLORS or a in T.SHAPES
        ]
        paths[split] = {int(k): str(v) for k, v in getp().items()}
    return questions, paths


def allocate(
    questions: list[E.Question], quotas: dict[str, int], seed: int, split: str
) -> dict[str, list[E.Question]]:
    """Disjoint question pools by whole images: pools never share an image.

    Images are shuffled with the seed and handed to pools in `quotas` order until each
    pool holds its quota; questions within a pool are then shuffled and cut to the quota.
    """
    by_image: dict[int, list[E.Question]] = {}
    for q in questions:
        by_image.setdefault(q.image_id, []).append(q)
    images = sorted(by_image)
    random.Random(f"{seed}/allocate/{split}").shuffle(images)
    pools: dict[str, list[E.Question]] = {}
    it = iter(images)
    for name, quota in quotas.items():
        pool: list[E.Question] = []
        for image_id in it:
            pool.extend(by_image[image_id])
            if len(pool) >= quota:
                break
        if len(pool) < quota:
            raise ConfigError(
                f"easy-vqa {split} images hold too few open questions for pool {name!r} "
                f"(needs {quota}, got {len(pool)}); use a smaller --size."
            )
        random.Random(f"{seed}/pool/{name}").shuffle(pool)
        pools[name] = pool[:quota]
    return pools


def agree_flags(n: int, rate: float, rng: random.Random) -> list[bool]:
    """Exactly round(rate * n) True values at seeded random positions."""
    k = round(rate * n)
    flags = [True] * k + [False] * (n - k)
    rng.shuffle(flags)
    return flags


# ----------------------------------------------------------------------------- build


@dataclass
class BenchmarkSummary:
    """Where a build wrote its files and what they hold."""

    out_dir: Path
    spec: dict[str, Any]
    files: dict[str, dict[str, Path]]  # env -> split -> data file
    stats: dict[str, dict[str, dict[str, Any]]]


def build_benchmark(out_dir: str | Path, *, seed: int = 0, size: str = "small") -> BenchmarkSummary:
    """Write every environment split, the pretrain set, images and `spec.json` to out_dir."""
    spec = BenchmarkSpec(seed=seed, size=size)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    questions, paths = load_easyvqa()
    s = spec.sizes
    train_quota = {"pretrain": s["pretrain"], **{e: s["train"] for e in spec.environments}}
    test_quota = {"pretrain_test": s["pretrain_test"]}
    for e in spec.environments:
        test_quota.update({f"{e}/test": s["test"], f"{e}/shift": s["shift"]})
    pools = allocate(questions["train"], train_quota, seed, "train")
    pools.update(allocate(questions["test"], test_quota, seed, "test"))

    files: dict[str, dict[str, Path]] = {}
    stats: dict[str, dict[str, dict[str, Any]]] = {}
    used: set[tuple[str, int]] = set()
    for env in spec.environments:
        for split in SPLITS:
            pool = pools[env] if split == "train" else pools[f"{env}/{split}"]
            rng = random.Random(f"{seed}/{env}/{split}")
            flags = agree_flags(len(pool), spec.rates[split], rng)
            rows = [
                E.BUILDERS[env](q, f"{env}-{split}-{i:05d}", _img_rel(q), flag, rng)
                for i, (q, flag) in enumerate(zip(pool, flags, strict=True))
            ]
            files.setdefault(env, {})[split] = _write_rows(out / env / f"{split}.jsonl", rows)
            stats.setdefault(env, {})[split] = split_stats(env, rows)
            used.update((q.image_split, q.image_id) for q in pool)
    for split, pool_name in (("train", "pretrain"), ("test", "pretrain_test")):
        rng = random.Random(f"{seed}/pretrain/{split}")
        pool = pools[pool_name]
        rows = [
            E.pretrain_row(q, f"pretrain-{split}-{i:05d}", _img_rel(q), rng)
            for i, q in enumerate(pool)
        ]
        files.setdefault("pretrain", {})[split] = _write_rows(
            out / "pretrain" / f"{split}.jsonl", rows
        )
        stats.setdefault("pretrain", {})[split] = split_stats("pretrain", rows)
        used.update((q.image_split, q.image_id) for q in pool)
    _copy_images(out, used, paths)
    doc = spec.to_dict()
    doc["stats"] = stats
    doc["files"] = {e: {k: str(p.relative_to(out)) for k, p in d.items()} for e, d in files.items()}
    (out / "spec.json").write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    return BenchmarkSummary(out_dir=out, spec=doc, files=files, stats=stats)


def _img_rel(q: E.Question) -> str:
    """Image path as written in data files: relative to `<out>/<env>/`."""
    return f"../images/{q.image_split}/{q.image_id}.png"


def _write_rows(path: Path, rows: list[dict]) -> Path:
    return write_table(rows, path)


def _copy_images(out: Path, used: set[tuple[str, int]], paths: dict[str, dict[int, str]]) -> None:
    for split, image_id in sorted(used):
        dest = out / "images" / split / f"{image_id}.png"
        if not dest.exists():
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(paths[split][image_id], dest)


def split_stats(env: str, rows: list[dict]) -> dict[str, Any]:
    """Counts of one split: records, pairs, cue-agreeing pairs, chosen-longer share (chars)."""
    pairs = [(pair, row) for row in rows for pair in E.pair_texts(row)]
    n = len(pairs)
    longer = sum(len(c) > len(r) for (c, r), _ in pairs)
    out: dict[str, Any] = {
        "records": len(rows),
        "pairs": n,
        "chosen_longer_share_chars": round(longer / n, 4) if n else None,
        "question_types": {
            t: sum(r["question_type"] == t for r in rows) for t in ("color", "shape")
        },
    }
    if env != "pretrain":
        agree = sum(bool(row["shortcut_agrees"]) for _, row in pairs)
        out.update(shortcut_agree_pairs=agree, shortcut_agree_rate=round(agree / n, 4))
    return out


def read_spec(bench_dir: str | Path) -> dict[str, Any]:
    """The `spec.json` of a built benchmark (ConfigError when absent)."""
    p = Path(bench_dir) / "spec.json"
    if not p.is_file():
        raise ConfigError(f"{p} not found; build the benchmark with `shortcutlab synth` first.")
    return json.loads(p.read_text())
