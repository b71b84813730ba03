"""run_info.json: input hashes, versions, command, atomic write."""

from __future__ import annotations

import hashlib
import json

import pytest

from shortcutlab.files import sha256_path
from shortcutlab.provenance import environment_info, write_run_info

pytestmark = pytest.mark.unit


def test_file_and_folder_hashes(tmp_path):
    """The hashes run_info.json records (`shortcutlab.files.sha256_path`)."""
    f = tmp_path / "a.txt"
    f.write_bytes(b"hello")
    assert sha256_path(f) == hashlib.sha256(b"hello").hexdigest()
    d = tmp_path / "d"
    d.mkdir()
    (d / "x").write_text("1")
    h1 = sha256_path(d)
    (d / "x").write_text("2")
    assert sha256_path(d) != h1


def test_write_run_info(tmp_path):
    f = tmp_path / "in.jsonl"
    f.write_text("{}\n")
    path = write_run_info(
        tmp_path / "out",
        command=["shortcutlab", "sfd"],
        inputs={"data": f, "gone": tmp_path / "missing"},
        config={"n_boot": 10},
        seed=3,
    )
    info = json.loads(path.read_text())
    assert path.name == "run_info.json"
    assert info["inputs"]["data"]["sha256"] == sha256_path(f)
    assert info["inputs"]["gone"]["sha256"] is None
    assert info["command"] == ["shortcutlab", "sfd"] and info["seed"] == 3
    assert info["config"] == {"n_boot": 10}
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]
    env = environment_info()
    assert env["torch"] and env["transformers"] and env["shortcutlab"] and env["python"]
