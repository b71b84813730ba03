"""Helpers (no tests) for tests/test_doc_examples.py: a folder holding every file that the
`--help` and README examples name, built from the synthetic benchmark and a tiny LLaVA.

Every data file is the same few benchmark test records in the layout its name suggests
(so every score table matches every data file's ids); the run folders are trained for a
step or two; the score tables are real scores of those runs.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

DATA_NAMES = ("test.jsonl", "pairs.jsonl", "povid.jsonl", "rlhfv.jsonl", "ood_test.jsonl")
DATA_NAMES += ("my_pairs.jsonl",)
N_TEST, N_TRAIN = 10, 16


def build_workspace(root: Path, tiny_model: Path) -> Path:
    """Write the examples' inputs into `root`; returns `root`."""
    from shortcutlab.synth.benchmark import build_benchmark

    bench = build_benchmark(root / "bench-src", seed=0, size="tiny")
    for name in ("models/tiny-llava", "models/tiny"):
        shutil.copytree(tiny_model, root / name)
    _data_files(root, bench.files)
    _runs(root)
    _score_tables(root)
    _study(root, bench.files, tiny_model)
    return root


def _data_files(root: Path, files: dict[str, dict[str, Path]]) -> None:
    from shortcutlab.data.schemas import load_dataset_file
    from shortcutlab.data.writing import write_records

    test = load_dataset_file(files["vlf"]["test"]).records[:N_TEST]
    train = load_dataset_file(files["vlf"]["train"]).records[:N_TRAIN]
    for name in DATA_NAMES:
        write_records(test, root / name)
    write_records(test, root / "vlf.jsonl", schema="vlfeedback")
    for name in ("rlaif_v.parquet", "povid.parquet", "vlrb.parquet"):
        write_records(test, root / name)
    for name in ("train.jsonl", "data/train.jsonl", "d.jsonl"):
        write_records(train, root / name)
    # --image-root imgs: the relative image paths of pairs.jsonl resolved against imgs/
    shutil.copytree(root / "bench-src" / "images", root / "imgs" / "bench-src" / "images")
    _datasets_folder(root / "vlrewardbench", root / "test.jsonl")
    for split in ("train", "test"):  # the benchmark's own files (their `env` field kept)
        (root / "povid").mkdir(exist_ok=True)
        shutil.copy(files["povid"][split], root / "povid" / f"{split}.jsonl")
    # VL-RewardBench stand-ins (its schema; no images): the test records with a `category`
    cats = ("general", "hallucination", "reasoning")
    rows = [_vlrb_row(r, cats[i % 3]) for i, r in enumerate(test)]
    text = "".join(json.dumps(r) + "\n" for r in rows)
    for name in ("vlrb.jsonl", "vl_rewardbench.jsonl"):
        (root / name).write_text(text, encoding="utf-8")
    (root / "overlap_ids.txt").write_text(rows[0]["id"] + "\n")  # as `overlap` writes it


def _vlrb_row(rec: Any, category: str) -> dict:
    """A VL-RewardBench row of `rec` (ranks from its scores, lower = better)."""
    order = sorted(range(len(rec.responses)), key=lambda j: -rec.scores[j])
    ranks = [order.index(j) for j in range(len(rec.responses))]
    return {
        "id": str(rec.id),
        "query": rec.prompt,
        "response": list(rec.responses),
        "human_ranking": ranks,
        "category": category,
        "image_path": str(rec.image.path),
    }


def _datasets_folder(out: Path, jsonl: Path) -> None:
    """A `Dataset.save_to_disk` folder of the test rows (absolute image paths)."""
    import datasets

    rows = [json.loads(line) for line in jsonl.read_text().splitlines()]
    for row in rows:
        row["img_path"] = str((jsonl.parent / row["img_path"]).resolve())
    datasets.Dataset.from_list(rows).save_to_disk(str(out))


def _runs(root: Path) -> None:
    """runs/sa (with a checkpoint), runs/std and runs/text, one or two steps each."""
    from shortcutlab.config import TrainConfig
    from shortcutlab.training import train

    for name, mode in (("sa", "shortcut-aware"), ("std", "standard"), ("text", "text-only")):
        cfg = TrainConfig(
            model=str(root / "models/tiny"),
            data=str(root / "train.jsonl"),
            output_dir=str(root / "runs" / name),
            mode=mode,
            max_steps=2,
            save_steps=1,
            per_device_train_batch_size=4,
            progress=False,
            tensorboard=False,
        )
        train(cfg)


def _score_tables(root: Path) -> None:
    """mm / text score tables of test.jsonl under every name the examples use, a judge
    table for `bon`, accuracy CSVs and a score folder for `matrix`."""
    from shortcutlab.scoring import score

    mm = score(str(root / "runs/sa"), root / "test.jsonl", root / "mm.jsonl").table
    text = score(str(root / "runs/text"), root / "test.jsonl", root / "text.jsonl").table
    # a fixed proxy's table of the training records (train --static-weights)
    score(str(root / "runs/text"), root / "train.jsonl", root / "proxy_scores.jsonl")
    for name in ("mm_scores.jsonl", "mm_povid.jsonl", "mm_rlhfv.jsonl", "std.jsonl", "sa.jsonl"):
        shutil.copy(root / "mm.jsonl", root / name)
    for name in ("text_scores.jsonl", "t_povid.jsonl", "t_rlhfv.jsonl"):
        shutil.copy(root / "text.jsonl", root / name)
    # the VL-RewardBench stand-in scored itself (its ranks are its labels; no images):
    # a table of other data is refused where it meets the data file
    vlrb = root / "vl_rewardbench.jsonl"
    score(str(root / "runs/sa"), vlrb, root / "mm_vlrb.jsonl", text_only="drop")
    score(str(root / "runs/text"), vlrb, root / "t_vlrb.jsonl")
    mm.to_parquet(root / "mm.parquet")
    mm.to_parquet(root / "rm.parquet")
    text.to_parquet(root / "text.parquet")
    judge = mm[["id", "response_index"]].assign(score=(mm["response_index"] == 0).astype(float))
    judge.to_json(root / "judge.jsonl", orient="records", lines=True)
    judge.to_parquet(root / "gpt4_scores.parquet")
    folder = root / "runs" / "scores"
    folder.mkdir(parents=True)
    for train_env in ("vlf", "povid"):
        for test_env in ("vlf", "povid"):
            shutil.copy(root / "mm.jsonl", folder / f"standard__{train_env}__{test_env}.jsonl")
    for name, cells in (("std.csv", "90,60\npovid,55,88"), ("sa.csv", "88,70\npovid,68,86")):
        (root / name).write_text(f",vlf,povid\nvlf,{cells}\n")


def _study(root: Path, files: dict[str, dict[str, Path]], tiny_model: Path) -> None:
    envs = "".join(
        f"  - {{name: {e}, train: {files[e]['train']}, test: {files[e]['test']}}}\n"
        for e in ("povid", "rlhfv")
    )
    (root / "study.yaml").write_text(
        f"base_model: {tiny_model}\nmodes: [shortcut-aware]\nn_boot: 50\n"
        f"environments:\n{envs}"
        "train: {max_steps: 1, per_device_train_batch_size: 4}\n"
        "score: {batch_size: 32}\n"
    )
