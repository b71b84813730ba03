"""RewardModel: pooling under padding, text-only modes, save/load, truncation, real data."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import pytest
import torch

from shortcutlab.data.records import ImageRef, Record
from shortcutlab.errors import ModelError
from shortcutlab.modeling.batching import RewardCollator
from shortcutlab.modeling.reward_model import REWARD_CONFIG, RewardModel, last_token_index

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def models(tiny_dirs):
    return {arch: RewardModel.from_pretrained(d, seed=0).eval() for arch, d in tiny_dirs.items()}


def _rewards(rm, records, **kw):
    with torch.no_grad():
        return rm(**RewardCollator(rm.processor, **kw).encode(records).inputs)


def test_last_token_index_from_mask():
    mask = torch.tensor([[1, 1, 1, 0, 0], [0, 0, 1, 1, 1], [1, 1, 1, 1, 1], [0, 1, 0, 0, 0]])
    assert last_token_index(mask).tolist() == [2, 4, 4, 1]


def test_head_init_std(models):
    rm = models["llava"]
    assert rm.head.weight.shape == (1, rm.hidden_size)
    assert abs(rm.head.weight.std().item() - 1 / (rm.hidden_size + 1)) < 0.5 / (rm.hidden_size + 1)
    assert rm.head.bias.item() == 0.0


@pytest.mark.parametrize("arch", ["llava", "qwen2_vl"])
def test_left_right_padding_identical(arch, models, shape_records):
    rm = models[arch]
    left = _rewards(rm, shape_records, padding_side="left")
    right = _rewards(rm, shape_records, padding_side="right")
    alone = torch.cat([_rewards(rm, [r]) for r in shape_records])  # no padding at all
    # different lengths per row so padding really happened
    lengths = RewardCollator(rm.processor).encode(shape_records).inputs["attention_mask"].sum(1)
    assert lengths.unique().numel() > 1
    torch.testing.assert_close(left, right, atol=1e-5, rtol=0)
    torch.testing.assert_close(left, alone, atol=1e-5, rtol=0)


@pytest.mark.parametrize("side", ["left", "right"])
def test_pad_equal_to_eos(side, tiny_llava_dir, shape_records):
    """With pad == eos the pooled token is still the last real one (mask, not ids)."""
    rm = RewardModel.from_pretrained(tiny_llava_dir, seed=0).eval()
    ref = _rewards(rm, shape_records, padding_side=side)
    tok = rm.processor.tokenizer
    tok.pad_token = tok.eos_token
    assert tok.pad_token_id == tok.eos_token_id
    batch = RewardCollator(rm.processor, padding_side=side).encode(shape_records)
    assert (
        batch.inputs["input_ids"][batch.inputs["attention_mask"].bool()] == tok.eos_token_id
    ).any()
    with torch.no_grad():
        torch.testing.assert_close(rm(**batch.inputs), ref, atol=1e-5, rtol=0)


def test_text_only_drop_vs_blank(models, shape_records):
    rm = models["llava"]
    drop = _rewards(rm, shape_records, text_only="drop")
    blank = _rewards(rm, shape_records, text_only="blank")
    full = _rewards(rm, shape_records)
    assert torch.isfinite(drop).all() and torch.isfinite(blank).all()
    assert (drop - blank).abs().max() > 1e-4
    # the text-only record (r2) gets the same reward with its own (absent) image or drop
    torch.testing.assert_close(drop[-2:], full[-2:], atol=1e-6, rtol=0)


@pytest.mark.parametrize("arch", ["llava", "qwen2_vl"])
def test_save_load_round_trip(arch, models, shape_records, tmp_path):
    rm = models[arch]
    rm.text_only = "blank"
    try:
        out = rm.save_pretrained(tmp_path / "rm")
    finally:
        rm.text_only = None
    meta = json.loads((out / REWARD_CONFIG).read_text())
    assert meta["arch"] == rm.arch and meta["text_only"] == "blank"
    assert meta["head"]["in_features"] == rm.hidden_size
    loaded = RewardModel.from_pretrained(out).eval()
    assert loaded.text_only == "blank" and loaded.base_model == rm.base_model
    torch.testing.assert_close(
        _rewards(loaded, shape_records), _rewards(rm, shape_records), atol=1e-6, rtol=0
    )


def test_parameter_groups_partition(models):
    for arch, rm in models.items():
        groups = rm.named_parameter_groups()
        names = [n for ps in groups.values() for n, _ in ps]
        assert len(names) == len(set(names)) == len(list(rm.named_parameters())), arch
        assert all(groups[g] for g in ("vision", "projector", "language", "head")), arch
    rm = models["llava"]
    rm.set_trainable(vision=False, projector=True, language=True, head=True)
    assert not any(p.requires_grad for p in rm.vision_parameters())
    assert all(p.requires_grad for p in rm.projector_parameters())
    rm.set_trainable(vision=True, projector=True, language=True, head=True)


def test_parameter_groups_under_lora(tiny_qwen_dir, tmp_path):
    """PEFT renames parameters (base_model.model...); groups must still be found."""
    peft = pytest.importorskip("peft")
    rm = RewardModel.from_pretrained(tiny_qwen_dir, seed=0)
    sizes = {g: len(ps) for g, ps in rm.named_parameter_groups().items()}
    config = peft.LoraConfig(r=2, target_modules=["q_proj", "v_proj"])
    rm.backbone = peft.get_peft_model(rm.backbone, config)
    groups = rm.named_parameter_groups()
    assert len(groups["vision"]) == sizes["vision"]
    assert len(groups["projector"]) == sizes["projector"]
    assert any("lora_" in n for n, _ in groups["language"])
    with pytest.raises(ModelError, match="merge_adapters"):
        rm.save_pretrained(tmp_path / "x")
    rm.merge_adapters()
    assert not any("lora_" in n for n, _ in rm.named_parameters())
    assert RewardModel.from_pretrained(rm.save_pretrained(tmp_path / "rm")).arch == "qwen2_vl"


def test_truncation_cuts_prompt_not_answer(models):
    rm = models["llava"]
    answer = "The circle is red."
    rec = Record(
        id="long",
        prompt="describe the image in detail please " * 40 + "What color is the circle?",
        responses=[answer, "blue"],
        image=ImageRef(pil=__import__("PIL.Image").Image.new("RGB", (64, 64))),
    )
    batch = RewardCollator(rm.processor, max_length=120).encode([rec])
    assert batch.inputs["attention_mask"].sum(1).max() <= 120
    assert batch.truncated == 2 and batch.answer_truncated == 0
    ids = batch.inputs["input_ids"][0][batch.inputs["attention_mask"][0].bool()]
    text = rm.processor.tokenizer.decode(ids)
    assert answer in text and "circle?" in text  # the prompt's end is kept


def test_answer_tail_cut_only_when_alone_too_long(models):
    rm = models["llava"]
    rec = Record(id="a", prompt="Q?", responses=["red blue green " * 60])
    batch = RewardCollator(rm.processor, max_length=40).encode([rec])
    assert batch.inputs["attention_mask"].sum() <= 40
    assert batch.answer_truncated == 1


def test_remote_code_warning_and_missing_model(tiny_llava_dir, tmp_path):
    folder = tmp_path / "remote"
    shutil.copytree(tiny_llava_dir, folder)
    cfg = json.loads((folder / "config.json").read_text())
    cfg["auto_map"] = {"AutoModel": "modeling_x.XModel"}
    (folder / "config.json").write_text(json.dumps(cfg))
    with pytest.warns(UserWarning, match="trust_remote_code"):
        RewardModel.from_pretrained(folder)
    with pytest.raises(ModelError, match="model folder not found"):
        RewardModel.from_pretrained(tmp_path / "does-not-exist")


@pytest.mark.parametrize("arg", ["/no/such/model", "./models/nope", "~/nope", "runs/a/model"])
def test_missing_local_folder_is_not_called_a_repo_id(arg):
    """A path-like argument that does not exist: 'model folder not found', with a hint."""
    with pytest.raises(ModelError, match="model folder not found") as ex:
        RewardModel.from_pretrained(arg)
    assert arg in str(ex.value) and "Hint:" in str(ex.value)
    assert "Repo id" not in str(ex.value)


def test_uncached_hub_id_offline_is_a_clear_error(monkeypatch, tmp_path):
    """HF_HUB_OFFLINE and an id not in the cache: found neither locally nor on the Hub."""
    from shortcutlab.modeling.loading import check_model_source, looks_like_path

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)
    for repo in ("some-org/some-model", "gpt2"):
        assert not looks_like_path(repo)
        with pytest.raises(ModelError, match="could not be found locally") as ex:
            RewardModel.from_pretrained(repo)
        assert "offline" in str(ex.value) and repo in str(ex.value)
    (tmp_path / "org" / "model").mkdir(parents=True)  # an existing folder always wins
    assert check_model_source("org/model") == "org/model"
    with pytest.raises(ModelError, match="model folder not found: org/typo"):
        check_model_source("org/typo")  # its parent folder exists: a path, not a Hub id


def _score_pairs(records: list[Record], folder: Path) -> tuple[torch.Tensor, int]:
    rm = RewardModel.from_pretrained(folder, seed=0).eval()
    col = RewardCollator(rm.processor, max_length=384)  # long answers: truncation on real text
    rewards, cut = [], 0
    with torch.no_grad():
        for i in range(0, len(records), 16):
            batch = col.encode(records[i : i + 16], share_images=True)
            assert batch.inputs["attention_mask"].sum(1).max() <= 384
            cut += batch.truncated + batch.answer_truncated
            rewards.append(rm(**batch.inputs))
    return torch.cat(rewards), cut


LLAVA_BENCH = "llava-bench-in-the-wild/pairs_from_gpt4_reviews.jsonl"


@pytest.mark.slow
def test_scores_all_llava_bench_pairs(realdata, tiny_llava_dir):
    """All 110 real LLaVA-Bench pairs (real photos, long answers) get finite rewards."""
    records = _load_pairs(realdata / LLAVA_BENCH)
    assert len(records) == 110
    rewards, cut = _score_pairs(records, tiny_llava_dir)
    assert rewards.shape == (220,) and torch.isfinite(rewards).all()
    assert rewards.std() > 0 and cut > 0


def test_scores_llava_bench_sample(realdata, tiny_qwen_dir):
    """A quick slice of the real pairs through Qwen2-VL (sizes vary per photo)."""
    records = _load_pairs(realdata / LLAVA_BENCH)[:12]
    rewards, _ = _score_pairs(records, tiny_qwen_dir)
    assert rewards.shape == (24,) and torch.isfinite(rewards).all()


def _load_pairs(path: Path) -> list[Record]:
    try:
        from shortcutlab.data.schemas import load_records
    except ImportError:
        load_records = None
    if load_records is not None:
        return load_records(path)
    out = []
    for line in path.read_text().splitlines():  # fallback until the data layer lands
        row = json.loads(line)
        img = ImageRef(path=str(path.parent / row["image"]))
        resp = [row["chosen"], row["rejected"]]
        out.append(Record(row["pair_id"], row["question"], resp, img, pairs=[(0, 1)]))
    return out


def test_warnings_clean_on_plain_load(tiny_llava_dir):
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        RewardModel.from_pretrained(tiny_llava_dir)


def test_shared_image_fallback_only_on_the_typed_error():
    """`with_shared_images` retries per row on SharedImageUnsupported, nothing else."""
    from shortcutlab.errors import ShortcutlabError
    from shortcutlab.modeling.forward import with_shared_images
    from shortcutlab.modeling.signals import SharedImageUnsupported

    calls = []

    def refuses_sharing(share: bool) -> str:
        calls.append(share)
        if share:
            raise SharedImageUnsupported("3 feature groups for 2 unique images")
        return "rewards"

    assert with_shared_images(refuses_sharing) == ("rewards", False)
    assert calls == [True, False]
    assert with_shared_images(refuses_sharing, share_images=False) == ("rewards", False)
    assert with_shared_images(lambda share: share) == (True, True)

    def broken(share: bool) -> None:
        raise ModelError("model folder not found")

    with pytest.raises(ModelError, match="not found"):
        with_shared_images(broken)
    # an internal fallback signal, never a user-facing error (exit 2 = the user's to fix)
    assert not issubclass(SharedImageUnsupported, ShortcutlabError)
