"""`shortcutlab serve`'s app over real HTTP on 127.0.0.1: parity with `score`, every bad
request answered with a clear 4xx while the server keeps serving, API key, batching.

Run: python -m pytest -x -q tests/test_rl_server.py
"""

from __future__ import annotations

import base64
import json
import socket
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse

import pytest
from scoring_helpers import write_pairwise

from shortcutlab.rl.protocol import Limits
from shortcutlab.rl.server import RewardService, build_service, create_app, running
from shortcutlab.scoring import score

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("one_torch_thread")]


@pytest.fixture(scope="module")
def pair_file(tmp_path_factory: pytest.TempPathFactory):
    return write_pairwise(tmp_path_factory.mktemp("serve_pairs") / "pairs.jsonl", 6)


@pytest.fixture(scope="module")
def service(tiny_llava_dir, pair_file):
    limits = Limits(
        max_body_bytes=100_000,
        max_image_bytes=5_000,
        max_responses=3,
        image_root=str(pair_file.parent),
    )
    svc = build_service(tiny_llava_dir, devices=["cpu"], limits=limits, max_wait_ms=20)
    yield svc
    svc.batcher.close()


@pytest.fixture(scope="module")
def url(service):
    with running(create_app(service)) as base:
        yield base


def post(url: str, path: str, body: object, headers: dict | None = None) -> tuple[int, dict]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(url + path, data=data, method="POST")
    req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def get(url: str, path: str) -> dict:
    with urllib.request.urlopen(url + path, timeout=30) as resp:
        return json.loads(resp.read())


def _requests(pair_file) -> list[dict]:
    """/score bodies for the pair file: images as base64 for even rows, as paths for odd."""
    out = []
    for i, row in enumerate(json.loads(x) for x in pair_file.read_text().splitlines()):
        body = {
            "id": row["id"],
            "prompt": row["prompt"],
            "responses": [row["chosen"], row["rejected"]],
        }
        if row["img_path"]:
            raw = (pair_file.parent / row["img_path"]).read_bytes()
            body["image"] = (
                {"base64": base64.b64encode(raw).decode()}
                if i % 2 == 0
                else {"path": row["img_path"]}
            )
        out.append(body)
    return out


def test_served_rewards_equal_score_under_concurrency(service, url, pair_file):
    table = score(service.scorers[0].model, pair_file, device="cpu").table
    expected = table.groupby("id", sort=False)["reward"].apply(list).to_dict()
    bodies = _requests(pair_file) * 3
    before = service.batcher.batches
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda b: post(url, "/score", b), bodies))
    for body, (status, out) in zip(bodies, answers, strict=True):
        assert status == 200, out
        want = expected[body["id"]]
        assert max(abs(a - b) for a, b in zip(out["rewards"], want, strict=True)) < 1e-5
    assert service.batcher.batches - before < len(bodies)  # concurrent requests were batched
    status, out = post(url, "/score_batch", {"items": bodies[:3]})
    assert status == 200 and [len(r) for r in out["rewards"]] == [2, 2, 2]
    assert out["rewards"][1] == pytest.approx(expected[bodies[1]["id"]], abs=1e-5)


def test_openrlhf_protocol(url):
    """query = prompt + response; the response is scored after the prompt prefix."""
    prompt, answer = "USER: What colour is the circle? ASSISTANT:", " It is red."
    status, out = post(
        url, "/get_reward", {"query": [prompt + answer, "bare"], "prompts": [prompt, "x"]}
    )
    assert status == 200 and len(out["rewards"]) == 2 and out["scores"] == out["rewards"]
    _, same = post(url, "/score", {"prompt": prompt, "responses": [answer]})
    assert out["rewards"][0] == pytest.approx(same["rewards"][0], abs=1e-6)


BAD = {
    "malformed JSON": (b'{"prompt": "x", "responses": [', 400, "malformed JSON"),
    "missing field": ({"prompt": "x"}, 422, "responses: Field required"),
    "wrong type": ({"prompt": "x", "responses": "abc"}, 422, "responses"),
    "undecodable image": (
        {
            "prompt": "x",
            "responses": ["a"],
            "image": {"base64": base64.b64encode(b"notapng").decode()},
        },
        400,
        "cannot be decoded",
    ),
    "not base64": ({"prompt": "x", "responses": ["a"], "image": {"base64": "@@@"}}, 400, "base64"),
    "oversized image": (
        {"prompt": "x", "responses": ["a"], "image": {"base64": "A" * 8000}},
        413,
        "max_image_bytes",
    ),
    "path outside root": (
        {"prompt": "x", "responses": ["a"], "image": {"path": "../../etc/passwd"}},
        400,
        "image.path",
    ),
    "too many responses": ({"prompt": "x", "responses": ["a"] * 4}, 413, "max_responses=3"),
    "no responses": ({"prompt": "x", "responses": []}, 422, "at least one"),
    "body too large": ({"prompt": "x" * 120_000, "responses": ["a"]}, 413, "max_body_bytes"),
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_bad_request_gets_clear_4xx_and_server_keeps_serving(url, case):
    body, status, words = BAD[case]
    got, out = post(url, "/score", body)
    assert got == status and words in out["error"], out
    assert post(url, "/score", {"prompt": "Q", "responses": ["a", "b"]})[0] == 200


def _raw(url: str, payload: bytes) -> None:
    """Send `payload` on a raw socket and hang up without reading the answer."""
    u = urlparse(url)
    with socket.create_connection((u.hostname, u.port), timeout=10) as s:
        s.sendall(payload)


def test_client_disconnect_then_server_still_answers(url, service):
    head = "POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    body = json.dumps({"prompt": "Q", "responses": ["a"] * 3}).encode()
    _raw(url, (head + "Content-Length: 5000\r\n\r\n").encode() + body[:10])  # mid-body
    _raw(url, (head + f"Content-Length: {len(body)}\r\n\r\n").encode() + body)  # mid-scoring
    assert post(url, "/score", {"prompt": "Q", "responses": ["a", "b"]})[0] == 200
    assert get(url, "/health") == {"status": "ok"}
    for _ in range(100):  # the handlers of the hung-up clients finish on their own
        if service.counts["disconnected"] >= 1:
            break
        time.sleep(0.05)
    assert service.counts["disconnected"] >= 1


def test_api_key_and_info(service):
    keyed = RewardService(service.scorers, limits=service.limits, api_key="s3cret")
    try:
        with running(create_app(keyed)) as url:
            body = {"prompt": "Q", "responses": ["a"]}
            assert post(url, "/score", body)[0] == 401
            assert post(url, "/score", body, {"X-API-Key": "wrong"})[0] == 401
            assert post(url, "/score", body, {"Authorization": "Bearer s3cret"})[0] == 200
            assert get(url, "/health") == {"status": "ok"}
    finally:
        keyed.batcher.close()


def test_info_and_monitor(url):
    info = get(url, "/info")
    assert info["model"]["arch"] == "llava" and info["limits"]["max_responses"] == 3
    assert info["requests"]["200"] >= 1 and info["requests"].get("413", 0) >= 1
    mon = get(url, "/monitor")
    assert mon["completions"] >= 2 and "length_corr" in mon and mon["image_reliance"] is None
