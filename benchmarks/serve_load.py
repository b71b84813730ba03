"""Loopback load test of `shortcutlab serve` against offline `score` on the same records.

    python benchmarks/serve_load.py                       # tiny model, CPU, ~1-2 min
    python benchmarks/serve_load.py --size realistic --device cuda --records 256

Builds the benchmark workload (`workload.py`: K = 4 answers per image), times offline
`shortcutlab.scoring.score` on the data file (best of `--rounds` before and `--rounds`
after the server levels, after a warm-up: the faster offline number is the baseline), then
starts the server in this process on 127.0.0.1 (a free port; never another interface)
and, at each concurrency (default 1, 8, 32), lets that many client threads (one
keep-alive HTTP connection each, in a separate process as real clients would be, so
they do not share the server's interpreter) post every record once to `POST /score` with its image
as base64, as a remote RL worker would. Reports records/s, its ratio to offline, p50 /
p99 latency, failed requests and the largest |served - offline| reward. Bounded: each
level sends `--records` requests and stops early at `--level-seconds`; the whole run
stops itself. Writes JSON (`--out`) and prints the markdown table of benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import multiprocessing
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # run as a script: find workload
from workload import SIZES, build_model, make_records, write_data  # noqa: E402


def offline(model: object, data: Path, device: str, rounds: int) -> tuple[float, dict]:
    """Best records/s of `score` over `rounds` (after one warm-up) and its rewards by id."""
    from shortcutlab.scoring import score

    table = score(model, data, device=device).table  # warm-up
    best = 0.0
    for _ in range(rounds):
        t = time.perf_counter()
        table = score(model, data, device=device).table
        best = max(best, table["id"].nunique() / (time.perf_counter() - t))
    return best, table.groupby("id", sort=False)["reward"].apply(list).to_dict()


def bodies(records: list) -> list[dict]:
    out = []
    for rec in records:
        raw = Path(rec.image.path).read_bytes()
        image = {"base64": base64.b64encode(raw).decode()}
        out.append({"id": rec.id, "prompt": rec.prompt, "responses": rec.responses, "image": image})
    return out


def level(url: str, reqs: list[dict], clients: int, seconds: float) -> dict:
    """`clients` threads post `reqs` (shared queue) until done or `seconds` passed."""
    u = urlparse(url)
    todo = list(reversed(reqs))
    lock = threading.Lock()
    lat, fails, answers = [], [], {}
    deadline = time.monotonic() + seconds

    def client() -> None:
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
        while time.monotonic() < deadline:
            with lock:
                if not todo:
                    break
                body = todo.pop()
            t = time.perf_counter()
            try:
                conn.request(
                    "POST", "/score", json.dumps(body), {"Content-Type": "application/json"}
                )
                resp = conn.getresponse()
                data = json.loads(resp.read())
                ok = resp.status == 200
            except (OSError, http.client.HTTPException, ValueError) as exc:
                ok, data = False, {"error": repr(exc)}
                conn.close()
                conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
            with lock:
                lat.append(time.perf_counter() - t)
                if ok:
                    answers[body["id"]] = data["rewards"]
                else:
                    fails.append(data)
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    lat.sort()
    return {
        "clients": clients,
        "requests": len(lat),
        "failed": len(fails),
        "first_failure": fails[0] if fails else None,
        "seconds": wall,
        "records_per_s": len(answers) / wall,
        "p50_ms": 1000 * statistics.median(lat) if lat else None,
        "p99_ms": 1000 * lat[min(len(lat) - 1, int(0.99 * len(lat)))] if lat else None,
        "answers": answers,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", default="tiny", choices=list(SIZES))
    p.add_argument("--device", default="cpu")
    p.add_argument("--records", type=int, default=64)
    p.add_argument("--concurrency", default="1,8,32")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--level-seconds", type=float, default=120.0)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch default)")
    p.add_argument("--max-batch", type=int, default=32)
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args()

    import torch

    from shortcutlab.rl.scorer import RewardScorer
    from shortcutlab.rl.server import RewardService, create_app, running

    if args.threads:
        torch.set_num_threads(args.threads)
    size = SIZES[args.size]
    work = Path(tempfile.mkdtemp(prefix="serve_load_"))
    model_dir = build_model(size, work / "model", args.device)
    records = make_records(size, args.records, work / "images")
    data = write_data(records, work / "data.jsonl")
    scorer = RewardScorer.load(model_dir, device=args.device)
    offline_rps, expected = offline(scorer.model, data, args.device, args.rounds)
    service = RewardService([scorer], max_batch=args.max_batch)
    reqs = bodies(records)
    rows = []
    clients = multiprocessing.get_context("spawn").Pool(1)  # clients: their own process
    with running(create_app(service)) as url, clients:
        clients.apply(level, (url, reqs[:4], 1, 30))  # warm-up
        for c in (int(x) for x in args.concurrency.split(",")):
            row = clients.apply(level, (url, reqs, c, args.level_seconds))
            answers = row.pop("answers")
            row["max_abs_diff"] = max(
                (
                    abs(a - b)
                    for i, r in answers.items()
                    for a, b in zip(r, expected[i], strict=True)
                ),
                default=None,
            )
            row["vs_offline"] = row["records_per_s"] / offline_rps
            rows.append(row)
            print(json.dumps(row), flush=True)
    service.batcher.close()
    again, _ = offline(scorer.model, data, args.device, args.rounds)  # the machine may drift
    offline_rps = max(offline_rps, again)
    for row in rows:
        row["vs_offline"] = row["records_per_s"] / offline_rps
    result = {
        "size": args.size,
        "device": args.device,
        "records": args.records,
        "responses_per_record": len(records[0].responses),
        "torch_threads": torch.get_num_threads(),
        "offline_records_per_s": offline_rps,
        "levels": rows,
    }
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(table(result))


def table(result: dict) -> str:
    """The markdown table of benchmarks/README.md."""
    lines = [
        f"offline `score`: {result['offline_records_per_s']:.1f} records/s "
        f"({result['size']}, {result['device']}, K = {result['responses_per_record']})",
        "",
        "| clients | records/s | vs offline | p50 ms | p99 ms | failed | max abs diff |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in result["levels"]:
        lines.append(
            f"| {r['clients']} | {r['records_per_s']:.1f} | {100 * r['vs_offline']:.0f}% | "
            f"{r['p50_ms']:.0f} | {r['p99_ms']:.0f} | {r['failed']} | {r['max_abs_diff']:.1e} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
