"""Load test of the dashboard: 50 concurrent signed-in users on the community pages, on loopback.

Builds a throw-away study with stored results (the shapes of contracts 4-6), serves its dashboard with
uvicorn in a subprocess on 127.0.0.1 (a free port) and signs in 50 users with httpx (async). Two runs,
each bounded in requests and time:
  paced       every user opens a community page, reads it for `--think` seconds (default 0.5), opens
              the next one: the target is p95 under 200 ms at 50 concurrent users;
  saturation  every user requests pages back to back with no pause: the server's top throughput (its
              latency is then just 50 / throughput, by Little's law).
Prints requests per second and latency percentiles for both. Client and server share this machine.

Run: .venv/bin/python benchmarks/bench_dashboard.py [--users 50] [--requests 40] [--seconds 120] [--think 0.5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from dashboard_fixtures import COMMUNITIES, PASSWORD, write_results  # noqa: E402

SERVER = """
import sys, uvicorn
from retour.config import load_project
from retour.dashboard import create_app
uvicorn.run(create_app(load_project(sys.argv[1])), host="127.0.0.1", port=int(sys.argv[2]),
            log_level="warning", access_log=False)
"""
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def make_study(folder: Path, users: int) -> Path:
    from retour.dashboard.access import StoreAccess
    from retour.dashboard.users import add_user
    from retour.study import init_study

    project = init_study(folder / "study")
    write_results(project.store_path, ("baseline", "midterm"))
    access = StoreAccess(project.store_path)
    for number in range(users):
        add_user(access, f"user{number:02d}", PASSWORD, "viewer")
    return project.root


async def wait_until_up(base: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            try:
                if (await client.get(f"{base}/health")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError("the dashboard did not start")


async def sign_in(base: str, name: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=base, timeout=30)
    token = CSRF.search((await client.get("/login")).text).group(1)
    response = await client.post("/login", data={"username": name, "password": PASSWORD, "csrf_token": token})
    if response.status_code != 303:
        raise RuntimeError(f"sign-in failed for {name}: {response.status_code}")
    return client


async def user_session(
    client: httpx.AsyncClient,
    offset: int,
    requests: int,
    deadline: float,
    latencies: list[float],
    failures: list[int],
    think: float = 0.0,
) -> None:
    if think:
        await asyncio.sleep(think * offset / 50)  # users arrive spread over one think time
    for number in range(requests):
        if time.monotonic() > deadline:
            return
        if think and number:
            await asyncio.sleep(think)
        community = COMMUNITIES[(offset + number) % len(COMMUNITIES)]
        started = time.perf_counter()
        response = await client.get(f"/communities/{community}?round=baseline")
        latencies.append(time.perf_counter() - started)
        if response.status_code != 200:
            failures.append(response.status_code)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run(
    clients: list[httpx.AsyncClient], requests: int, seconds: float, think: float, title: str, server_pid: int
) -> float:
    """One bounded run; prints its figures and returns its p95 in milliseconds."""
    server_cpu, client_cpu = cpu_seconds(server_pid), time.process_time()
    latencies: list[float] = []
    failures: list[int] = []
    deadline = time.monotonic() + seconds
    started = time.perf_counter()
    await asyncio.gather(
        *(
            user_session(client, number, requests, deadline, latencies, failures, think)
            for number, client in enumerate(clients)
        )
    )
    elapsed = time.perf_counter() - started
    server_cpu, client_cpu = cpu_seconds(server_pid) - server_cpu, time.process_time() - client_cpu
    milliseconds = np.array(latencies) * 1000
    p95 = float(np.percentile(milliseconds, 95))
    print(
        f"{title}: {len(clients)} concurrent users, {len(latencies)} community pages in {elapsed:.1f} s, "
        f"{len(latencies) / elapsed:.1f} requests/s, {len(failures)} failures"
    )
    print(
        f"  latency ms: p50 {np.percentile(milliseconds, 50):.0f}, p95 {p95:.0f}, "
        f"p99 {np.percentile(milliseconds, 99):.0f}, max {milliseconds.max():.0f}"
    )
    print(
        f"  CPU per request: server {1000 * server_cpu / len(latencies):.1f} ms, "
        f"client {1000 * client_cpu / len(latencies):.1f} ms"
    )
    return p95


async def load(base: str, users: int, requests: int, seconds: float, think: float, server_pid: int) -> None:
    await wait_until_up(base)
    clients = []
    for number in range(users):  # sequential: each sign-in verifies an Argon2 hash
        clients.append(await sign_in(base, f"user{number:02d}"))
    warm: list[float] = []
    await user_session(clients[0], 0, len(COMMUNITIES), time.monotonic() + 60, warm, [])
    print(f"first visit of each community page (one user): {1000 * max(warm):.0f} ms at most")
    p95 = await run(clients, requests, seconds, think, f"paced (think time {think} s)", server_pid)
    await run(clients, requests, seconds, 0.0, "saturation (no think time)", server_pid)
    for client in clients:
        await client.aclose()
    verdict = "met" if p95 < 200 else "NOT met"
    print(f"target p95 < 200 ms at {users} concurrent users (paced run): {verdict}")
    print(
        "machine load average (1, 5, 15 min): "
        + ", ".join(f"{value:.1f}" for value in os.getloadavg())
        + f" on {os.cpu_count()} cores (other work on the machine slows both client and server)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--requests", type=int, default=40, help="requests per user (bounded)")
    parser.add_argument(
        "--seconds", type=float, default=120, help="stop each run after this long in any case"
    )
    parser.add_argument("--think", type=float, default=0.5, help="seconds a user reads a page (paced run)")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = make_study(Path(folder), options.users)
        port = free_port()
        server = subprocess.Popen([sys.executable, "-c", SERVER, str(root), str(port)])
        try:
            asyncio.run(
                load(
                    f"http://127.0.0.1:{port}",
                    options.users,
                    options.requests,
                    options.seconds,
                    options.think,
                    server.pid,
                )
            )
        finally:
            server.terminate()
            server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
