"""Load on a local server: N concurrent clients submit, poll and download videos for a bounded time.

Prints API throughput, p50/p95 latency per kind of request, jobs completed per second, and jobs lost or
completed twice (both must be 0). The server is a real ``tessera serve`` process (uvicorn) on loopback.

    python bench/serve_load.py [--model DIR] [--clients 8] [--seconds 60] [--workers 1] [--database-url URL]

Without --model it serves the shipped model if present, else a tiny random one (the queue, not the model,
is what this measures then).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import httpx


def tiny_model(folder: Path) -> Path:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "serve"))
    from conftest import tiny_pipeline  # the suite's tiny pipeline: fast, so the API side is what is loaded

    return tiny_pipeline().save_pretrained(folder / "tessera-tiny")


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=60.0, help="how long clients submit new jobs")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--database-url", default=None, help="default: a SQLite file in a temporary folder")
    ap.add_argument("--video-seconds", default="1")
    args = ap.parse_args()

    from tessera.cli.generate import default_model

    work = Path(tempfile.mkdtemp(prefix="tessera-load-"))
    model = Path(args.model) if args.model else default_model()
    if not (model / "pipeline.json").is_file():
        model = tiny_model(work)
    size = __import__("json").loads((model / "pipeline.json").read_text())["sizes"][0]
    database = args.database_url or f"sqlite:///{work / 'tessera.db'}"
    env = {
        **os.environ,
        "TESSERA_DATA_DIR": str(work),
        "TESSERA_DATABASE_URL": database,
        "TESSERA_CONFIG_DIR": str(work / "c2pa"),
        "TESSERA_RATE_PER_MINUTE": "100000",
        "TESSERA_DAILY_QUOTA": "100000",
    }
    secret = (
        subprocess.run(["tessera", "keys", "create", "load"], env=env, check=True, capture_output=True, text=True)
        .stdout.strip()
        .splitlines()[-1]
    )
    port = 8000 + os.getpid() % 1000
    server = subprocess.Popen(
        ["tessera", "serve", "--model", str(model), "--port", str(port), "--workers", str(args.workers)],
        env=env,
        stdout=open(work / "server.log", "w"),
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    latency: dict[str, list[float]] = defaultdict(list)
    submitted: list[str] = []
    errors: list[str] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + args.seconds

    def call(client, kind, method, path, **kw):
        t0 = time.perf_counter()
        r = client.request(method, path, **kw)
        with lock:
            latency[kind].append(time.perf_counter() - t0)
            if r.status_code >= 400:
                errors.append(f"{kind} {r.status_code} {r.text[:100]}")
        return r

    def client_loop(i: int) -> None:
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {secret}"}, timeout=60) as c:
            while time.monotonic() < stop_at:
                r = call(
                    c,
                    "create",
                    "POST",
                    "/v1/videos",
                    json={"prompt": f"a red ball falls {i}", "size": size, "seconds": args.video_seconds},
                )
                if r.status_code != 200:
                    continue
                vid = r.json()["id"]
                with lock:
                    submitted.append(vid)
                while True:
                    v = call(c, "retrieve", "GET", f"/v1/videos/{vid}").json()
                    if v["status"] in ("completed", "failed"):
                        break
                    call(c, "list", "GET", "/v1/videos", params={"limit": 20})
                    time.sleep(0.1)
                if v["status"] == "completed":
                    call(c, "download", "GET", f"/v1/videos/{vid}/content")

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client_loop, args=(i,)) for i in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    server.terminate()
    server.wait(timeout=120)

    from sqlalchemy import func, select

    from tessera.serve.db import AuditEvent, Video, make_engine, sessions

    with sessions(make_engine(database))() as s:
        rows = {v.id: v.status for v in s.scalars(select(Video))}
        completions = dict(
            s.execute(
                select(AuditEvent.video_id, func.count())
                .where(AuditEvent.action == "job.completed")
                .group_by(AuditEvent.video_id)
            ).all()
        )
    lost = [v for v in submitted if rows.get(v) not in ("completed", "failed")]
    twice = [v for v, n in completions.items() if n > 1]
    requests = sum(len(v) for v in latency.values())
    done = sum(1 for v in submitted if rows.get(v) == "completed")
    print(
        f"model {model.name}, {args.clients} clients, {args.workers} worker(s), {database.split(':')[0]}, "
        f"{elapsed:.1f} s"
    )
    print(f"requests {requests} ({requests / elapsed:.1f}/s), errors {len(errors)}")
    for kind, values in sorted(latency.items()):
        print(
            f"  {kind:<9} n={len(values):<6} p50 {1000 * statistics.median(values):7.1f} ms   "
            f"p95 {1000 * percentile(values, 0.95):7.1f} ms"
        )
    print(
        f"jobs submitted {len(submitted)}, completed {done} ({done / elapsed:.2f}/s), "
        f"failed {sum(1 for v in submitted if rows.get(v) == 'failed')}"
    )
    print(f"jobs lost {len(lost)}, completed twice {len(twice)}")
    if errors:
        print("first errors:", *errors[:5], sep="\n  ")
    sys.exit(1 if lost or twice else 0)


if __name__ == "__main__":
    main()
