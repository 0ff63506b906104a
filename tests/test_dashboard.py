"""The dashboard without a browser (FastAPI TestClient): sign-in, sessions, CSRF, roles, rate limits,
the store held by another process, and the numbers pages show from the stored tables."""

from __future__ import annotations

import html
import io
import re
import subprocess
import sys
from pathlib import Path

import openpyxl
import polars as pl
import pytest
import yaml
from fastapi.testclient import TestClient

from dashboard_fixtures import PASSWORD, add_users, shape_of, write_results
from retour import store
from retour.config import DashboardSettings, Project, load_project
from retour.dashboard import create_app
from retour.dashboard.auth import FailureCounter, SessionPolicy
from retour.dashboard.i18n import format_percent
from retour.study import example_study_path, init_study

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A study with stored results for baseline and midterm and one user per role."""
    root = tmp_path_factory.mktemp("dashboard") / "study"
    project = init_study(root)
    write_results(project.store_path, ("baseline", "midterm"))
    add_users(project.store_path)
    return root


def client_for(project: Project) -> TestClient:
    return TestClient(create_app(project), follow_redirects=False)


@pytest.fixture
def client(study: Path) -> TestClient:
    return client_for(load_project(study))


def page(response) -> str:
    """The response's HTML with entities decoded, as a reader sees the text."""
    return html.unescape(response.text)


def csrf_of(client: TestClient, path: str = "/login") -> str:
    return CSRF.search(client.get(path).text).group(1)


def sign_in(client: TestClient, name: str, password: str = PASSWORD) -> TestClient:
    response = client.post(
        "/login", data={"username": name, "password": password, "csrf_token": csrf_of(client), "next": "/"}
    )
    assert response.status_code == 303, response.text
    return client


def test_every_page_but_login_and_health_needs_a_session(client):
    for path in (
        "/",
        "/ranking",
        "/communities/kati",
        "/needs",
        "/actors",
        "/rounds",
        "/uploads",
        "/downloads",
        "/downloads/tables.xlsx",
    ):
        response = client.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/login?next=")
    assert client.get("/health").json()["status"] == "ok"
    assert client.get("/login").status_code == 200


def test_htmx_requests_without_a_session_are_sent_to_login(client):
    response = client.get("/ranking", headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == "/login?next=%2Franking"


def test_assets_are_served_by_the_app_with_the_htmx_licence(client):
    script = client.get("/static/htmx.min.js")
    assert script.status_code == 200
    assert script.text.startswith("/*! htmx 2.") and "Zero-Clause BSD" in page(script)[:400]
    home = sign_in(client, "vera").get("/").text
    assert "https://" not in home and "http://" not in home  # no CDN, no outside asset
    assert 'src="/static/htmx.min.js"' in home


def test_sign_in_with_the_right_password_opens_a_session(client):
    sign_in(client, "ana")
    home = client.get("/")
    assert home.status_code == 200
    assert "Connecté : ana (analyste)" in page(home)


def test_a_wrong_password_and_an_unknown_user_get_the_same_answer(client):
    token = csrf_of(client)
    wrong = client.post("/login", data={"username": "ana", "password": "nope-nope", "csrf_token": token})
    unknown = client.post("/login", data={"username": "nobody", "password": "nope-nope", "csrf_token": token})
    assert wrong.status_code == unknown.status_code == 401
    assert "Nom d'utilisateur ou mot de passe incorrect." in page(wrong)
    assert "Nom d'utilisateur ou mot de passe incorrect." in page(unknown)


def test_login_redirects_only_to_paths_of_this_site(client):
    for target, expected in (
        ("/needs?round=baseline", "/needs?round=baseline"),
        ("//evil.example", "/"),
        ("https://evil.example/", "/"),
    ):
        fresh = TestClient(client.app, follow_redirects=False)
        response = fresh.post(
            "/login",
            data={"username": "ana", "password": PASSWORD, "csrf_token": csrf_of(fresh), "next": target},
        )
        assert response.headers["location"] == expected


def test_a_tampered_or_expired_session_cookie_is_refused(client, monkeypatch):
    sign_in(client, "adam")
    cookie = client.cookies["retour_session"]
    client.cookies.set("retour_session", cookie[:-2] + ("AA" if not cookie.endswith("AA") else "BB"))
    assert client.get("/").status_code == 303
    client.cookies.set("retour_session", cookie)
    assert client.get("/").status_code == 200
    sessions = client.app.state.dashboard.sessions
    later = sessions.clock() + sessions.absolute
    monkeypatch.setattr(sessions, "clock", lambda: later)
    assert client.get("/").status_code == 303


def test_every_post_needs_the_session_csrf_token(client):
    sign_in(client, "ana")
    token = csrf_of(client, "/")
    assert client.post("/language", data={"language": "en"}).status_code == 403
    refused = client.post("/language", data={"language": "en", "csrf_token": "forged"})
    assert refused.status_code == 403 and "Formulaire refusé" in page(refused)
    assert (
        client.post(
            "/language", data={"language": "en", "next": "/"}, headers={"X-CSRF-Token": "forged"}
        ).status_code
        == 403
    )
    accepted = client.post("/language", data={"language": "fr", "next": "/"}, headers={"X-CSRF-Token": token})
    assert accepted.status_code == 303 and accepted.headers["location"] == "/"


def test_login_itself_is_protected_by_csrf(client):
    response = client.post("/login", data={"username": "ana", "password": PASSWORD})
    assert response.status_code == 403


def test_the_csrf_token_is_new_after_sign_in(client):
    before = csrf_of(client)
    sign_in(client, "vera")
    assert csrf_of(client, "/") != before


def test_a_viewer_is_refused_every_change_with_403(client):
    sign_in(client, "vera")
    token = csrf_of(client, "/")
    headers = {"X-CSRF-Token": token}
    override = client.post(
        "/needs/kati/water",
        data={"level": "priority", "why": "Seen in the field visit", "round": "baseline"},
        headers=headers,
    )
    assert override.status_code == 403
    assert "Action non autorisée" in page(override) and "analyste" in page(override)
    upload = client.post("/uploads", files={"export": ("x.csv", b"a,b\n1,2\n", "text/csv")}, headers=headers)
    assert upload.status_code == 403
    assert (
        client.post("/actors/bafoulabe_red_cross", data={"strengths_fr": "x"}, headers=headers).status_code
        == 403
    )
    assert client.get("/actors/bafoulabe_red_cross/edit").status_code == 403
    detail = client.get("/needs?round=baseline&community=kati&issue=water")
    assert detail.status_code == 200 and "override-form" not in detail.text


def test_the_login_is_rate_limited_per_address(client):
    token = csrf_of(client)
    for _ in range(5):
        assert (
            client.post(
                "/login", data={"username": "ana", "password": "wrong-one", "csrf_token": token}
            ).status_code
            == 401
        )
    limited = client.post("/login", data={"username": "ana", "password": PASSWORD, "csrf_token": token})
    assert limited.status_code == 429
    assert "Trop de tentatives de connexion" in page(limited)
    assert int(limited.headers["Retry-After"]) > 0
    other = client.post("/login", data={"username": "vera", "password": PASSWORD, "csrf_token": token})
    assert other.status_code == 429
    elsewhere = TestClient(client.app, follow_redirects=False, client=("192.0.2.7", 50000))
    assert sign_in(elsewhere, "ana").get("/").status_code == 200


def test_the_limiter_forgets_failures_after_its_window():
    now = [0.0]
    limiter = FailureCounter(attempts=2, window_seconds=60, clock=lambda: now[0])
    limiter.failed("a|ip")
    limiter.failed("a|ip")
    assert limiter.retry_after("a|ip") == 60
    now[0] = 59.5
    assert limiter.retry_after("a|ip") == 1
    now[0] = 60.0
    assert limiter.retry_after("a|ip") == 0


def test_an_analyst_override_is_stored_with_its_reason_and_shown(client, study):
    sign_in(client, "ana")
    token = csrf_of(client, "/")
    too_short = client.post(
        "/needs/kati/water",
        data={"level": "priority", "why": "no", "round": "baseline"},
        headers={"X-CSRF-Token": token, "HX-Request": "true"},
    )
    assert too_short.status_code == 422 and "Indiquez un motif" in page(too_short)
    saved = client.post(
        "/needs/kati/water",
        data={"level": "priority", "round": "baseline", "why": "Two wells dried up since the survey"},
        headers={"X-CSRF-Token": token, "HX-Request": "true"},
    )
    assert saved.status_code == 200, saved.text
    assert "Niveau enregistré." in page(saved) and 'hx-swap-oob="true"' in page(saved)
    con = store.connect(load_project(study).store_path)
    try:
        cell = (
            store.read_results(con, "needs", "baseline")
            .filter((pl.col("community_id") == "kati") & (pl.col("issue_id") == "water"))
            .row(0, named=True)
        )
        log = store.read_need_overrides(con, "baseline")
    finally:
        con.close()
    assert (cell["level"], cell["overridden"], cell["override_by"]) == ("priority", True, "ana")
    assert (
        log.filter(pl.col("community_id") == "kati").item(-1, "why") == "Two wells dried up since the survey"
    )
    history = client.get("/needs?round=baseline")
    assert "Two wells dried up since the survey" in page(history)  # in the change history


def test_pages_show_the_stored_numbers_in_the_reader_language(client, study):
    sign_in(client, "vera")
    con = store.connect(load_project(study).store_path)
    try:
        scores = store.read_results(con, "index_scores", "midterm")
        estimates = store.read_results(con, "estimates", "midterm")
    finally:
        con.close()
    first = scores.filter((pl.col("pillar") == "composite") & (pl.col("rank") == 1)).row(0, named=True)
    ranking = client.get("/ranking?round=midterm")
    assert f"{first['score']:.2f}".replace(".", ",") in page(ranking)
    cell = estimates.filter(
        (pl.col("community_id") == "kita")
        & (pl.col("group_dimension") == "all")
        & (pl.col("indicator_id") == "paid_job_or_iga")
    ).row(0, named=True)
    sheet = page(client.get("/communities/kita?round=midterm"))
    expected = "moins de 10 rép." if cell["suppressed"] else format_percent(cell["estimate"], "fr")
    assert expected in sheet
    assert "Kita" in sheet and "Cercle : Kita · Région : Kayes" in sheet  # places from communities.yaml
    # blocks, panels and groups as the catalogue names them, in its order
    blocks = ("<h2>Profil socio-économique</h2>", "<h3>Satisfaction quant à l’accès aux services</h3>",
              "<h2>Profil migratoire</h2>", "<h2>Réintégration durable</h2>")
    assert all(block in sheet for block in blocks)
    assert [sheet.index(block) for block in blocks] == sorted(sheet.index(block) for block in blocks)
    assert "Par groupe · Statut migratoire" in sheet and ">Migrants de retour</th>" in sheet
    assert "Par groupe · Sexe" in sheet and ">Femmes</th>" in sheet


def community_names(folder: Path) -> list[str]:
    register = yaml.safe_load((folder / "communities.yaml").read_text(encoding="utf-8"))
    return [entry["name"] for entry in register["communities"]]


@pytest.fixture(scope="module")
def other_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The second shipped example (other country, communes, indicators, blocks, groups and levels), with
    stored results for its own communities, indicators, groups and issues."""
    root = tmp_path_factory.mktemp("dashboard") / "other"
    project = init_study(root, "senegal-2025")
    write_results(project.store_path, ("baseline",), shape=shape_of(root))
    add_users(project.store_path)
    return root


def test_another_study_shows_its_own_names_and_no_name_of_mali(other_study):
    client = sign_in(client_for(load_project(other_study)), "vera")
    names = community_names(other_study)
    mali = community_names(example_study_path("mali-2018"))
    assert names and not set(names) & set(mali)
    pages = {}
    for path in ("/", "/ranking", "/communities/bakel", "/needs", "/actors", "/rounds"):
        response = client.get(f"{path}?round=baseline")
        assert response.status_code == 200, path
        pages[path] = page(response)
        assert [name for name in names if name not in pages[path]] == [], path
        assert [name for name in mali if name in pages[path]] == [], path
    sheet = pages["/communities/bakel"]
    assert "Département : Bakel · Région : Tambacounda" in sheet
    assert "<h2>Emploi et revenus</h2>" in sheet and "<h3>Papiers d'identité</h3>" in sheet
    assert "Par groupe · Position dans le ménage" in sheet and ">Chefs de ménage</th>" in sheet
    assert "Écart : Chefs de ménage moins Autres membres du ménage" in sheet
    assert "Par groupe · Classe d'âge" in sheet and "sans test d'écart" in sheet  # a group not compared
    assert "Emploi" in pages["/needs"] and "Sécurité alimentaire" in pages["/needs"]  # needs.toml labels
    assert 'aria-current="page">Échantillon</a>' in pages["/rounds"]  # the whole sample: a dashboard word


def test_the_print_page_map_marks_the_study_communes_on_its_country(other_study):
    from retour.dashboard.labels import load_labels
    from retour.dashboard.pages import locator_svg

    project = load_project(other_study)
    labels = load_labels(project)
    svg = locator_svg(labels, "bakel", "fr", project.settings.study.country, None)
    assert svg is not None and 'aria-label="Bakel"' in svg and ">Bakel</text>" in svg
    assert ">Sénégal</text>" in svg  # the outline of the study's country (`study.country`), named in French
    assert locator_svg(labels, "nowhere", "fr", "SN", None) is None  # no coordinates: no map, no error


def test_switching_language_is_kept_for_the_user(client, study):
    sign_in(client, "adam")
    token = csrf_of(client, "/")
    assert "Vue d'ensemble de l'étude" in page(client.get("/"))
    client.post("/language", data={"language": "en", "next": "/ranking"}, headers={"X-CSRF-Token": token})
    assert "Community ranking (Table 1)" in page(client.get("/ranking"))
    again = sign_in(TestClient(client.app, follow_redirects=False), "adam")
    assert "Study overview" in page(again.get("/"))
    client.post(
        "/language", data={"language": "fr", "next": "/"}, headers={"X-CSRF-Token": csrf_of(client, "/")}
    )


def test_ranking_sorts_by_any_pillar(client):
    sign_in(client, "vera")
    rows = client.get(
        "/ranking?round=baseline&sort=social&order=desc",
        headers={"HX-Request": "true", "HX-Target": "ranking"},
    )
    assert rows.status_code == 200 and "<html" not in page(rows)  # a fragment for HTMX
    ranks = [int(r) for r in re.findall(r'<td class="rank-cell">(\d+)</td>', rows.text)]
    assert ranks == sorted(ranks, reverse=True)
    assert client.get("/ranking?sort=bogus").status_code == 404


def test_a_new_password_ends_older_sessions(client, study):
    from retour.study import add_dashboard_user, change_dashboard_password

    project = load_project(study)
    add_dashboard_user(project, "temp", "first-password", "viewer")
    sign_in(client, "temp", "first-password")
    assert client.get("/").status_code == 200
    change_dashboard_password(project, "temp", "second-password")
    assert client.get("/").status_code == 303


def test_uploads_refuse_wrong_types_and_files_over_the_limit(study):
    project = load_project(study)
    small = Project(
        project.root,
        project.settings.model_copy(update={"dashboard": DashboardSettings(upload_max_mb=0.001)}),
    )
    client = sign_in(client_for(small), "ana")
    headers = {"X-CSRF-Token": csrf_of(client, "/")}
    wrong = client.post(
        "/uploads",
        files={"export": ("notes.txt", b"hello", "text/plain")},
        data={"round": "baseline"},
        headers=headers,
    )
    assert wrong.status_code == 422 and "n'est ni un .csv ni un .xlsx" in page(wrong)
    big = client.post(
        "/uploads",
        files={"export": ("big.csv", b"x" * 5000, "text/csv")},
        data={"round": "baseline"},
        headers=headers,
    )
    assert big.status_code == 413 and "Fichier trop volumineux" in page(big) or "limite" in page(big)
    huge = client.post(
        "/uploads",
        files={"export": ("huge.csv", b"x" * 200_000, "text/csv")},
        data={"round": "baseline"},
        headers=headers,
    )
    assert huge.status_code == 413


def test_uploads_are_stored_outside_every_served_path(client, study):
    sign_in(client, "ana")
    uploads = load_project(study).path("uploads")
    uploads.mkdir(exist_ok=True)
    (uploads / "secret.csv").write_text("a,b\n")
    for path in ("/uploads/secret.csv", "/static/../uploads/secret.csv", "/static/%2e%2e/uploads/secret.csv"):
        assert client.get(path).status_code == 404, path


def test_tables_download_as_one_xlsx_sheet_per_table(client):
    sign_in(client, "vera")
    response = client.get("/downloads/tables.xlsx?round=baseline")
    assert response.status_code == 200
    workbook = openpyxl.load_workbook(io.BytesIO(response.content), read_only=True)
    assert {"estimates", "gaps", "index_scores", "needs"} <= set(workbook.sheetnames)
    assert "attachment" in response.headers["content-disposition"]


@pytest.mark.slow
def test_the_community_page_embeds_the_report_fact_sheet(client):
    sign_in(client, "vera")
    page_html = client.get("/communities/kayes?round=baseline").text
    assert '<iframe class="factsheet-frame" src="/communities/kayes/factsheet?round=baseline"' in page_html
    sheet = client.get("/communities/kayes/factsheet?round=baseline")
    assert sheet.status_code == 200 and sheet.text.startswith("<!DOCTYPE html>")
    assert 'lang="fr"' in sheet.text[:200] and "Kayes" in sheet.text


@pytest.mark.slow
def test_a_fact_sheet_downloads_as_the_report_two_page_pdf(client):
    from pypdf import PdfReader

    sign_in(client, "vera")
    response = client.get("/downloads/factsheet/kati.pdf?round=baseline&lang=en")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf" and response.content.startswith(b"%PDF")
    document = PdfReader(io.BytesIO(response.content))
    assert len(document.pages) == 2
    assert "Kati" in document.pages[0].extract_text()


HOLD_STORE = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
print("ready", flush=True)
time.sleep(float(sys.argv[2]))
con.close()
"""


def test_a_busy_store_gives_a_503_page_then_recovers(client, study):
    sign_in(client, "vera")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_STORE, str(load_project(study).store_path), "30"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        busy = client.get("/needs?round=baseline")
        assert busy.status_code == 503
        assert "Base de l'étude occupée" in page(busy)
    finally:
        holder.kill()
        holder.wait()
    assert client.get("/needs?round=baseline").status_code == 200


def test_unknown_pages_rounds_and_communities_are_404_in_the_reader_language(client):
    sign_in(client, "vera")
    for path in ("/nowhere", "/communities/atlantis", "/needs?round=final2"):
        response = client.get(path)
        assert response.status_code == 404 and "Page introuvable" in page(response)


def test_security_headers_are_set(client):
    response = client.get("/login")
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("samesite", "SameSite")


def test_csrf_tokens_are_keyed_with_the_study_secret(study):
    policy = SessionPolicy(b"one-secret", 60, 60)
    other = SessionPolicy(b"another-secret", 60, 60)
    session = policy.start()
    assert policy.resume(session.token) == session
    assert other.resume(session.token).csrf != session.csrf
    assert policy.resume("not a token") is None
    assert (load_project(study).path(".retour-dashboard-secret").stat().st_mode & 0o777) == 0o600


def run_cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "retour.cli", *args], input=stdin, capture_output=True, text=True, timeout=120
    )


def test_the_users_command_adds_lists_changes_and_removes(tmp_path):
    root = tmp_path / "study"
    init_study(root)
    added = run_cli(
        "users",
        str(root),
        "add",
        "amina",
        "--role",
        "analyst",
        "--password-stdin",
        stdin="a long enough password\n",
    )
    assert added.returncode == 0 and "Added amina (analyst)." in added.stderr
    listed = run_cli("users", str(root), "list", "--format", "csv")
    assert listed.stdout.splitlines()[0] == "name,role,language,created_at,password_changed_at"
    assert listed.stdout.splitlines()[1].startswith("amina,analyst,fr,")
    assert "hash" not in listed.stdout and "argon2" not in listed.stdout
    short = run_cli("users", str(root), "passwd", "amina", "--password-stdin", stdin="short\n")
    assert short.returncode == 1
    assert short.stderr.strip() == (
        "Error: The password is too short (5 characters). Choose one of at least 8 characters."
    )
    twice = run_cli("users", str(root), "add", "amina", "--password-stdin", stdin="another password\n")
    assert twice.returncode == 1 and "A user called 'amina' already exists." in twice.stderr
    assert run_cli("users", str(root), "remove", "amina").returncode == 0
    missing = run_cli("users", str(root), "remove", "amina")
    assert missing.returncode == 1
    assert missing.stderr.strip() == (
        "Error: There is no user called 'amina'. List them with: retour users DIR list"
    )


def test_retour_serve_on_a_port_in_use_says_so_and_nothing_else(study, capsys):
    import socket

    from retour.cli import main

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(SystemExit) as done:
            main(["serve", str(study), "--port", str(port)])
    assert done.value.code == 1
    output = capsys.readouterr()
    assert output.out == ""
    assert output.err == (f"Error: Port {port} on 127.0.0.1 is in use (another retour serve?). Stop that "
                          f"server, or choose another port: retour serve {study} --port {port + 1}\n")


@pytest.mark.slow
def test_retour_serve_answers_on_loopback(study):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "retour.cli", "serve", str(study), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        import httpx

        # The address is printed once the dashboard listens: the first request after it is answered.
        announced = ""
        while f"on http://127.0.0.1:{port}/" not in announced:
            announced = server.stderr.readline()
            assert announced, "retour serve stopped before printing its address"
        health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=10)
        assert health.json()["status"] == "ok"
        assert httpx.get(f"http://127.0.0.1:{port}/", timeout=10).status_code == 303
    finally:
        server.terminate()
        server.communicate(timeout=30)
    assert announced.startswith("Dashboard of 'Mali 2018")


def test_the_rounds_page_shows_each_round_and_the_stored_change(client, study):
    sign_in(client, "vera")
    con = store.connect(load_project(study).store_path)
    try:
        change = (
            store.read_results(con, "changes", "midterm")
            .filter((pl.col("community_id") == "kita") & (pl.col("indicator_id") == "seeking_job"))
            .row(0, named=True)
        )
    finally:
        con.close()
    text = page(client.get("/rounds?community=kita"))
    assert "Situation de référence → Mi-parcours" in text
    shown = format_percent(change["change"], "fr", 1).replace("\u202f%", "")
    assert ("+" if change["change"] > 0 else "") + shown in text


def test_an_analyst_edit_of_an_actor_is_logged_and_shown(client, study):
    sign_in(client, "ana")
    form = client.get("/actors/bafoulabe_red_cross/edit")
    assert form.status_code == 200 and 'value="psychosocial" checked' in form.text
    saved = client.post(
        "/actors/bafoulabe_red_cross",
        headers={"X-CSRF-Token": csrf_of(client, "/")},
        data={
            "dimensions": ["social", "psychosocial", "c4d", "economic"],
            "strengths_fr": "Savoir-faire en soutien psychosocial ; réseau de jeunes volontaires.",
            "strengths_en": "Psychosocial know-how; trains young volunteers in first aid.",
            "weaknesses_fr": "",
            "weaknesses_en": "",
        },
    )
    assert saved.status_code == 303
    con = store.connect(load_project(study).store_path)
    try:
        edits = store.read_actor_edits(con)
    finally:
        con.close()
    assert sorted(edits.get_column("field").to_list()) == ["economic", "strengths_en"]
    assert set(edits.get_column("edited_by").to_list()) == {"ana"}
    listing = page(client.get("/actors?community=bafoulabe&dimension=economic"))
    assert "Croix-Rouge malienne (Bafoulabé)" in listing and "modifié par ana" in listing
    client.post(
        "/language", data={"language": "en", "next": "/"}, headers={"X-CSRF-Token": csrf_of(client, "/")}
    )
    assert "trains young volunteers in first aid" in page(client.get("/actors?community=bafoulabe"))
    client.post(
        "/language", data={"language": "fr", "next": "/"}, headers={"X-CSRF-Token": csrf_of(client, "/")}
    )


def test_only_admins_manage_accounts(client):
    sign_in(client, "ana")
    assert client.get("/users").status_code == 403
    admin = sign_in(TestClient(client.app, follow_redirects=False), "adam")
    listing = page(admin.get("/users"))
    assert "Utilisateurs du tableau de bord" in listing and "vera" in listing and "argon2" not in listing
    headers = {"X-CSRF-Token": csrf_of(admin, "/users")}
    short = admin.post(
        "/users", data={"name": "newbie", "password": "short", "role": "viewer"}, headers=headers
    )
    assert short.status_code == 422 and "Compte non enregistré" in page(short)
    added = admin.post(
        "/users", data={"name": "newbie", "password": "a fine password", "role": "viewer"}, headers=headers
    )
    assert added.status_code == 303
    sign_in(TestClient(client.app, follow_redirects=False), "newbie", "a fine password")
    assert admin.post("/users/adam/remove", headers=headers).status_code == 422
    assert admin.post("/users/newbie/role", data={"role": "analyst"}, headers=headers).status_code == 303
    assert admin.post("/users/newbie/remove", headers=headers).status_code == 303
    assert "newbie" not in admin.get("/users").text


def test_a_study_without_results_shows_empty_pages_not_errors(tmp_path):
    project = init_study(tmp_path / "fresh")
    from retour.study import add_dashboard_user

    add_dashboard_user(project, "first", "first-password", "admin")
    client = sign_in(client_for(project), "first", "first-password")
    for path, expected in (
        ("/", "Aucune étape n'a encore été exécutée"),
        ("/ranking", "pas encore été calculé"),
        ("/needs", "Pas de matrice des besoins"),
        ("/rounds", "Aucune estimation"),
        ("/uploads", "Aucun import pour l'instant"),
        ("/downloads", "Rien à télécharger"),
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        assert expected in page(response), path


def test_an_unexpected_failure_gives_a_polite_500_page(study, monkeypatch):
    from retour.dashboard import pages

    client = TestClient(
        create_app(load_project(study)), follow_redirects=False, raise_server_exceptions=False
    )
    sign_in(client, "vera")

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(pages, "ranking", broken)
    response = client.get("/ranking")
    assert response.status_code == 500
    assert "Erreur interne" in page(response) and "a bug" not in response.text


def test_an_upload_shows_its_problems_in_the_users_language(tmp_path):
    project = init_study(tmp_path / "study")  # its own study: the upload changes the store
    write_results(project.store_path, ("baseline",))
    add_users(project.store_path)
    client = client_for(project)
    sign_in(client, "ana")
    token = csrf_of(client, "/")
    client.post("/language", data={"language": "en", "next": "/"}, headers={"X-CSRF-Token": token})
    messy = (Path(__file__).parent / "data" / "mali_messy.csv").read_bytes()  # French label headers
    response = client.post("/uploads", files={"export": ("mali_messy.csv", messy, "text/csv")},
                           data={"round": "baseline"}, headers={"X-CSRF-Token": csrf_of(client, "/")})
    assert response.status_code == 200
    assert "matches no field of the questionnaire" in page(response)
    assert "ne correspond à aucun champ" not in page(response)
    assert "new submission(s) stored: the estimates, index and needs of round baseline are now older" in (
        page(response))  # and where the fact sheets went: they wait for the stages to run again
