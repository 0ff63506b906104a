"""A live dashboard (uvicorn in a thread on a free loopback port) and headless Debian Chromium, for
the browser tests. Screenshots go to tests/artifacts/screenshots/ (not committed)."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from dashboard_fixtures import add_users, shape_of, write_results
from retour.config import load_project
from retour.dashboard import create_app
from retour.study import init_study

TESTS = Path(__file__).resolve().parent.parent
SCREENSHOTS = TESTS / "artifacts" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def make_study(root: Path, questionnaire: Path | None = None) -> Path:
    """A study with stored results for two rounds and one user per role."""
    project = init_study(root)
    if questionnaire is not None:
        shutil.copy(questionnaire, root / "instrument.xlsx")
    write_results(project.store_path, ("baseline", "midterm"))
    add_users(project.store_path)
    return root


def serve(root: Path) -> Iterator[str]:
    """The dashboard of `root` served by uvicorn on 127.0.0.1 (a free port) in a background thread."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(load_project(root)), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the dashboard did not start within 30 s")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def live_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The example study's dashboard."""
    yield from serve(make_study(tmp_path_factory.mktemp("browser") / "study"))


@pytest.fixture(scope="session")
def upload_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A dashboard whose questionnaire is the small test form, so that the messy export fixture can be
    uploaded and its row-level problems seen."""
    yield from serve(
        make_study(tmp_path_factory.mktemp("browser") / "upload", TESTS / "data" / "mini_form.xlsx")
    )


@pytest.fixture(scope="session")
def other_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The dashboard of the second example study (senegal-2025), with results for its own shape."""
    root = tmp_path_factory.mktemp("browser") / "other"
    project = init_study(root, "senegal-2025")
    write_results(project.store_path, ("baseline",), shape=shape_of(root))
    add_users(project.store_path)
    yield from serve(root)


@pytest.fixture
def shoot() -> object:
    """Save a full-page screenshot under tests/artifacts/screenshots/NAME.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page: object, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
        return path

    return take
