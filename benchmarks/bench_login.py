"""Login under attack: invented names, forged X-Forwarded-For and simultaneous bad logins (issue 22).

Serves a throw-away study's dashboard with `retour serve` in a subprocess on 127.0.0.1 (a free port),
then, from this machine:
  forged      200 logins one after the other, each with an invented name and another forged
              X-Forwarded-For address: how many were checked (401) and how many refused (429);
  burst       40 bad logins at once (async), while /health is asked every 20 ms: statuses, /health
              latency percentiles, and the server's peak memory (VmHWM) before and after.
Prints the figures; asserts nothing (the behaviour is pinned by tests/test_dashboard_sessions.py).

Run: .venv/bin/python benchmarks/bench_login.py [--forged 200] [--burst 40]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from dashboard_fixtures import add_users  # noqa: E402

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def peak_memory_mb(pid: int) -> float:
    """The process's peak resident memory (VmHWM) in MB, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_server(study: Path, port: int) -> subprocess.Popen[str]:
    server = subprocess.Popen(
        [sys.executable, "-m", "retour.cli", "serve", str(study), "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    while f":{port}/" not in (line := server.stderr.readline()):
        if not line:
            raise SystemExit("retour serve stopped before listening")
    return server


def forged(base: str, count: int) -> tuple[Counter[int], float]:
    with httpx.Client(base_url=base, timeout=60) as client:
        token = CSRF.search(client.get("/login").text).group(1)
        started = time.perf_counter()
        statuses = Counter(
            client.post(
                "/login",
                data={"username": f"invented{number}", "password": "guess-guess", "csrf_token": token},
                headers={"X-Forwarded-For": f"10.{number // 250}.{number % 250}.7"},
            ).status_code
            for number in range(count)
        )
        return statuses, time.perf_counter() - started


async def burst(base: str, count: int) -> tuple[Counter[int], list[float]]:
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        token = CSRF.search((await client.get("/login")).text).group(1)
        done = asyncio.Event()
        health: list[float] = []

        async def poll() -> None:
            while not done.is_set():
                started = time.perf_counter()
                assert (await client.get("/health")).status_code == 200
                health.append(time.perf_counter() - started)
                await asyncio.sleep(0.02)

        poller = asyncio.create_task(poll())
        attempts = [{"username": f"burst{n}", "password": "guess-guess", "csrf_token": token}
                    for n in range(count)]
        responses = await asyncio.gather(*(client.post("/login", data=attempt) for attempt in attempts))
        done.set()
        await poller
        return Counter(response.status_code for response in responses), health


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--forged", type=int, default=200)
    parser.add_argument("--burst", type=int, default=40)
    arguments = parser.parse_args()
    from retour.study import init_study

    with tempfile.TemporaryDirectory() as folder:
        study = Path(folder) / "study"
        add_users(init_study(study).store_path)
        port = free_port()
        server = start_server(study, port)
        base = f"http://127.0.0.1:{port}"
        try:
            statuses, seconds = forged(base, arguments.forged)
            print(f"forged: {arguments.forged} logins, invented names and forged X-Forwarded-For, "
                  f"in {seconds:.2f} s: " + ", ".join(f"{code}: {n}" for code, n in sorted(statuses.items())))
            # The burst comes from one address too, already refused: restart for a clean limiter.
            server.terminate()
            server.communicate(timeout=30)
            server = start_server(study, port)
            before = peak_memory_mb(server.pid)
            statuses, health = asyncio.run(burst(base, arguments.burst))
            after = peak_memory_mb(server.pid)
            p50, p95, top = np.percentile(np.array(health) * 1000, [50, 95, 100])
            print(f"burst: {arguments.burst} simultaneous bad logins: "
                  + ", ".join(f"{code}: {n}" for code, n in sorted(statuses.items())))
            print(f"burst: /health answered {len(health)} times, p50 {p50:.1f} ms, p95 {p95:.1f} ms, "
                  f"max {top:.1f} ms")
            print(f"burst: server peak memory {before:.0f} MB before, {after:.0f} MB after")
        finally:
            server.terminate()
            server.communicate(timeout=30)


if __name__ == "__main__":
    main()
