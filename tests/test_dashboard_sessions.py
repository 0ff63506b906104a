"""Dashboard sessions kept on the server and login limits (issue 22, points 4, 5 and 7).

A copied cookie must stop working at logout, at a new password or role, at removal and after the idle
and absolute timeouts; the store must never hold a session token in clear; invented names and forged
X-Forwarded-For headers must not get around the login limits, whose memory stays bounded.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from dashboard_fixtures import PASSWORD, add_users
from retour import store
from retour.config import Project, load_project
from retour.dashboard import create_app
from retour.dashboard.auth import FailureCounter, LoginLimiter
from retour.errors import ConfigError
from retour.study import init_study
from retour.study.dashboard import (
    change_dashboard_password,
    change_dashboard_role,
    listening_socket,
    remove_dashboard_user,
    server_config,
    with_secure_cookies,
)

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
ADDRESSES = ("192.0.2.1", "192.0.2.2")


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sessions") / "study"
    project = init_study(root)
    add_users(project.store_path)
    return root


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "retour.cli", *args], capture_output=True, text=True, timeout=120
    )


def with_dashboard(project: Project, **changes: object) -> Project:
    """The project with some `[dashboard]` settings changed."""
    dashboard = project.settings.dashboard.model_copy(update=changes)
    return dataclasses.replace(project, settings=project.settings.model_copy(update={"dashboard": dashboard}))


def browser(app, address: str = "198.51.100.1") -> TestClient:
    return TestClient(app, follow_redirects=False, client=(address, 50000))


def csrf_of(client: TestClient, path: str = "/login") -> str:
    return CSRF.search(client.get(path).text).group(1)


def sign_in(client: TestClient, name: str, password: str = PASSWORD) -> TestClient:
    response = client.post(
        "/login", data={"username": name, "password": password, "csrf_token": csrf_of(client), "next": "/"}
    )
    assert response.status_code == 303, response.text
    return client


def copy_of(client: TestClient) -> TestClient:
    """Another browser holding a copy of the first one's session cookie (what a thief would have)."""
    thief = browser(client.app, "203.0.113.9")
    thief.cookies.set("retour_session", client.cookies["retour_session"])
    return thief


def stored_sessions(project: Project) -> list[dict[str, object]]:
    con = store.connect(project.store_path)
    try:
        return store.frame(con, "SELECT * FROM dashboard_sessions ORDER BY created_at").to_dicts()
    finally:
        con.close()


@pytest.fixture
def project(study: Path) -> Project:
    return load_project(study)


@pytest.fixture
def app(project: Project):
    return create_app(project)


def test_the_cookie_holds_a_random_token_and_the_store_only_its_sha256(app, project):
    client = sign_in(browser(app), "vera")
    token = client.cookies["retour_session"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token)  # secrets.token_urlsafe(32), nothing else
    digest = hashlib.sha256(token.encode()).hexdigest()
    rows = [row for row in stored_sessions(project) if row["token_sha256"] == digest]
    assert len(rows) == 1 and rows[0]["user_name"] == "vera" and rows[0]["revoked_at"] is None
    assert all(token not in str(value) for row in stored_sessions(project) for value in row.values())
    assert token.encode() not in project.store_path.read_bytes()


def test_a_copied_cookie_stops_working_at_logout(app, project):
    client = sign_in(browser(app), "ana")
    thief = copy_of(client)
    assert thief.get("/").status_code == 200
    assert client.post("/logout", headers={"X-CSRF-Token": csrf_of(client, "/")}).status_code == 303
    assert client.get("/").status_code == 303
    assert thief.get("/").status_code == 303
    assert thief.get("/").headers["location"] == "/login?next=%2F"
    ended = [row for row in stored_sessions(project) if row["revoked_why"] == "logout"]
    assert ended and ended[-1]["user_name"] == "ana"


def test_a_new_password_role_or_removal_ends_every_session_of_the_user(app, project):
    from retour.study import add_dashboard_user

    for name in ("pat", "rob", "sam"):
        add_dashboard_user(project, name, "a first password", "viewer")
    sessions = {
        name: [sign_in(browser(app, address), name, "a first password") for address in ADDRESSES]
        for name in ("pat", "rob", "sam")
    }
    bystander = sign_in(browser(app), "vera")
    change_dashboard_password(project, "pat", "a second password")
    change_dashboard_role(project, "rob", "analyst")
    remove_dashboard_user(project, "sam")
    for name, clients in sessions.items():
        assert [client.get("/").status_code for client in clients] == [303, 303], name
    assert bystander.get("/").status_code == 200
    why = {row["user_name"]: row["revoked_why"]
           for row in stored_sessions(project) if row["user_name"] in sessions}
    assert why == {"pat": "new password", "rob": "new role", "sam": "user removed"}
    assert sign_in(browser(app), "rob", "a first password").get("/users").status_code == 403  # analyst now


def test_an_admin_changing_a_role_or_removing_a_user_ends_their_sessions(app, project):
    from retour.study import add_dashboard_user

    add_dashboard_user(project, "tia", "a first password", "viewer")
    add_dashboard_user(project, "ugo", "a first password", "viewer")
    tia = sign_in(browser(app, "192.0.2.3"), "tia", "a first password")
    ugo = sign_in(browser(app, "192.0.2.4"), "ugo", "a first password")
    admin = sign_in(browser(app), "adam")
    token = {"X-CSRF-Token": csrf_of(admin, "/")}
    assert admin.post("/users/tia/role", data={"role": "analyst"}, headers=token).status_code == 303
    assert admin.post("/users/ugo/remove", headers=token).status_code == 303
    assert tia.get("/").status_code == 303 and ugo.get("/").status_code == 303
    assert admin.get("/").status_code == 200


def test_the_users_role_command_says_so_and_ends_the_sessions(app, project):
    from retour.study import add_dashboard_user

    add_dashboard_user(project, "val", "a first password", "viewer")
    val = sign_in(browser(app, "192.0.2.5"), "val", "a first password")
    done = run_cli("users", str(project.root), "role", "val", "admin")
    assert done.returncode == 0 and done.stderr == "val is now admin.\n"
    assert val.get("/").status_code == 303
    wrong = run_cli("users", str(project.root), "role", "val", "boss")
    assert wrong.returncode == 2 and "'boss' is not one of 'viewer', 'analyst', 'admin'" in wrong.stderr


def test_a_session_ends_after_the_idle_timeout_and_the_absolute_one(project):
    app = create_app(with_dashboard(project, session_minutes=120, session_idle_minutes=30))
    sessions = app.state.dashboard.sessions
    start = sessions.clock()
    client = sign_in(browser(app), "vera")
    idle = copy_of(client)

    def at(minutes: float) -> None:
        sessions.clock = lambda: start + dt.timedelta(minutes=minutes)

    for minutes in (29, 58, 87, 116):  # active every 29 minutes: never idle for 30
        at(minutes)
        assert client.get("/").status_code == 200, minutes
    at(121)
    assert client.get("/").status_code == 303  # the absolute limit, however active
    client = sign_in(browser(app), "vera")
    at(121 + 29.5)
    assert client.get("/").status_code == 200
    at(121 + 29.5 + 30)
    assert client.get("/").status_code == 303  # idle 30 minutes
    assert idle.get("/").status_code == 303


def test_last_seen_is_written_at_most_once_a_minute(project):
    app = create_app(project)
    sessions = app.state.dashboard.sessions
    start = sessions.clock()
    client = sign_in(browser(app), "vera")
    digest = hashlib.sha256(client.cookies["retour_session"].encode()).hexdigest()

    def last_seen() -> dt.datetime:
        return next(row["last_seen_at"] for row in stored_sessions(project) if row["token_sha256"] == digest)

    first = last_seen()
    sessions.clock = lambda: start + dt.timedelta(seconds=59)
    writes_before = project.store_path.stat().st_mtime_ns
    for _ in range(5):
        assert client.get("/").status_code == 200
    assert last_seen() == first
    assert project.store_path.stat().st_mtime_ns == writes_before
    sessions.clock = lambda: start + dt.timedelta(seconds=61)
    for _ in range(3):
        assert client.get("/").status_code == 200
    assert last_seen() == start + dt.timedelta(seconds=61)


def test_cookies_are_secure_only_when_asked(project):
    plain = browser(create_app(project)).get("/login").headers.get_list("set-cookie")
    assert plain and all("Secure" not in cookie for cookie in plain)
    for secured_project in (with_dashboard(project, secure_cookies=True), with_secure_cookies(project)):
        client = browser(create_app(secured_project))
        cookies = client.get("/login?lang=en").headers.get_list("set-cookie")
        assert {cookie.split("=")[0] for cookie in cookies} == {"retour_session", "retour_language"}
        assert all(cookie.endswith("; HttpOnly; SameSite=lax; Secure") for cookie in cookies)


def test_serve_has_a_secure_cookies_option():
    done = run_cli("serve", "--help")
    assert "--secure-cookies" in done.stdout


def test_forwarded_headers_are_believed_only_from_configured_proxies(project):
    default = server_config(project, create_app(project), "127.0.0.1", 8000)
    assert default.proxy_headers is False
    proxied = with_dashboard(project, trusted_proxies=("10.0.0.0/8", "127.0.0.1"))
    configured = server_config(proxied, create_app(proxied), "127.0.0.1", 8000)
    assert configured.proxy_headers is True and configured.forwarded_allow_ips == ["10.0.0.0/8", "127.0.0.1"]


def test_a_trusted_proxy_that_is_not_an_address_is_one_line(tmp_path):
    root = tmp_path / "study"
    init_study(root)
    settings = root / "retour.toml"
    settings.write_text(settings.read_text() + '\n[dashboard]\ntrusted_proxies = ["proxy.local"]\n')
    with pytest.raises(ConfigError) as error:
        load_project(root)
    assert str(error.value) == (
        f"{settings}: setting 'dashboard.trusted_proxies': Value error, 'proxy.local' is not an IP address "
        'or network (write e.g. "127.0.0.1" or "10.0.0.0/8"). See `retour init --help` and docs/settings.md '
        "for every setting."
    )


def test_failures_are_limited_per_account_across_addresses(project):
    app = create_app(with_dashboard(project, login_attempts_per_minute=100, login_attempts_per_account=10))
    for number in range(10):
        client = browser(app, f"192.0.2.{100 + number}")
        attempt = {"username": "ana", "password": "not it!", "csrf_token": csrf_of(client)}
        wrong = client.post("/login", data=attempt)
        assert wrong.status_code == 401
    fresh = browser(app, "192.0.2.200")
    attempt = {"username": "ana", "password": PASSWORD, "csrf_token": csrf_of(fresh)}
    refused = fresh.post("/login", data=attempt)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert sign_in(fresh, "vera").get("/").status_code == 200  # other accounts can sign in from there


def test_a_login_finding_every_password_check_busy_is_refused_at_once(project):
    app = create_app(with_dashboard(project, password_checks=2))
    limiter: LoginLimiter = app.state.dashboard.limiter
    client = browser(app)
    token = csrf_of(client)
    with limiter.password_check() as first, limiter.password_check() as second:
        assert first and second
        busy = client.post("/login", data={"username": "ana", "password": PASSWORD, "csrf_token": token})
    assert busy.status_code == 429 and busy.headers["Retry-After"] == "1"
    assert "Trop de tentatives de connexion" in busy.text
    assert sign_in(client, "ana").get("/").status_code == 200  # free again afterwards


def test_the_limiter_forgets_the_least_recent_keys_beyond_its_size():
    now = [0.0]
    counter = FailureCounter(attempts=3, window_seconds=60, max_keys=1000, clock=lambda: now[0])
    for number in range(50_000):
        now[0] = number / 1000
        counter.failed(f"invented-{number}")
        assert counter.retry_after(f"never-tried-{number}") == 0  # asking adds nothing
    assert len(counter) == 1000
    for _ in range(10):
        counter.failed("invented-49999")
    assert counter.retry_after("invented-49999") > 0 and len(counter) == 1000


@contextmanager
def running(project: Project) -> Iterator[tuple[object, str]]:
    """The dashboard served by uvicorn on a free loopback port, as `retour serve` configures it."""
    import uvicorn

    app = create_app(project)
    sock = listening_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    server = uvicorn.Server(server_config(project, app, "127.0.0.1", port))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.02)
        yield app, f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


def forged_logins(base: str, count: int) -> list[int]:
    """`count` logins with invented names, each claiming another address in X-Forwarded-For."""
    with httpx.Client(base_url=base, timeout=30) as client:
        token = CSRF.search(client.get("/login").text).group(1)
        return [
            client.post(
                "/login",
                data={"username": f"invented{number}", "password": "guess-guess", "csrf_token": token},
                headers={"X-Forwarded-For": f"10.{number // 250}.{number % 250}.7"},
            ).status_code
            for number in range(count)
        ]


def test_invented_names_and_forged_forwarded_for_are_throttled_while_health_answers(project):
    with running(project) as (app, base):
        health: list[int] = []
        done = threading.Event()

        def poll() -> None:
            with httpx.Client(base_url=base, timeout=30) as client:
                while not done.is_set():
                    health.append(client.get("/health").status_code)

        poller = threading.Thread(target=poll)
        poller.start()
        try:
            statuses = forged_logins(base, 200)
        finally:
            done.set()
            poller.join(30)
        limiter: LoginLimiter = app.state.dashboard.limiter
        assert statuses == [401] * 5 + [429] * 195  # the forged addresses count as the real one
        assert len(limiter.addresses) == 1 and len(limiter.accounts) == 0  # invented names keep nothing
        assert health and set(health) == {200}


def test_behind_a_configured_proxy_each_forwarded_address_has_its_own_limit(project):
    with running(with_dashboard(project, trusted_proxies=("127.0.0.1",))) as (app, base):
        statuses = forged_logins(base, 20)
        assert statuses == [401] * 20
        assert len(app.state.dashboard.limiter.addresses) == 20
