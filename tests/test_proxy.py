"""The Dagster UI behind its authenticating proxy, for real: dagster-webserver, nginx, Chromium.

A dagster-webserver serves the project's ``workspace.yaml`` on a loopback port with a throw-away SQLite
instance; ``python -m pipelines proxy`` creates two users (password on stdin, then in
``ALI_PROXY_PASSWORD``) and starts Debian's nginx on another port in front of it. Without the right
password nothing reaches Dagster (not the page, not a query, not a run launch: the instance holds no
run, while the same mutation sent to the webserver itself creates one); plain HTTP gets no answer from
Dagster; with the password, GraphQL, its WebSocket and the asset graph in Chromium work through TLS.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
from pathlib import Path

import dagster as dg
import pytest
from conftest import dagster_home, free_port, platform_env
from playwright.sync_api import Error as PlaywrightError
from test_ui import GRAPH, REPORT, asset_cards, open_graph, wait_until
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from pipelines.publication.snapshot import MARTS
from pipelines.resources import PROJECT_ROOT

pytestmark = pytest.mark.slow  # the Dagster webserver, nginx and Chromium

USER, PASSWORD = "camille", "mot-de-passe-de-test-9f2c"
SECOND, SECOND_PASSWORD = "dominique", "autre-mot-de-passe-71ab"
LAUNCH = """mutation ($params: ExecutionParams!) { launchRun(executionParams: $params) {
  __typename ... on LaunchRunSuccess { run { runId status } } ... on PythonError { message } } }"""
PARAMS = {"selector": {"repositoryLocationName": "ali93", "repositoryName": "__repository__",
                       "jobName": "monthly_refresh"},
          "executionMetadata": {"tags": [{"key": "dagster/partition", "value": "2024-03"}]}}
LOADED = "{ workspaceOrError { ... on Workspace { locationEntries { loadStatus } } } }"


@pytest.fixture(scope="module")
def webserver(tmp_path_factory, request):
    """dagster-webserver alone (no daemon: a launched run stays queued) on 127.0.0.1; yields (port, home)."""
    root = tmp_path_factory.mktemp("proxy")
    env = {**os.environ, **platform_env(root), **dagster_home(root / "dagster", "sqlite", request)}
    env.pop("ALI_DEMO_MODE", None)
    port = free_port()
    log = open(root / "webserver.log", "w")
    server = subprocess.Popen([str(PROJECT_ROOT / ".venv" / "bin" / "dagster-webserver"), "-w", "workspace.yaml",
                               "-h", "127.0.0.1", "-p", str(port)], cwd=PROJECT_ROOT, env=env, stdout=log,
                              stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until(lambda: "LOADED" in post(port, {"query": LOADED}, tls=False)[1], 120, "the code location to load")
        yield port, root / "dagster"
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=60)
        log.close()


def cli(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipelines", "proxy", *args], input=stdin, env=env, cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def proxy(webserver):
    """nginx in front of the webserver through ``python -m pipelines proxy``; yields (port, folder).

    Its folder is in /tmp, whose parents nginx's workers (``www-data`` when the tests run as root) can
    traverse: not in pytest's 0700 ``/tmp/pytest-of-root``."""
    top = Path(tempfile.mkdtemp(prefix="ali93-proxy-", dir="/tmp"))
    top.chmod(0o755)
    port, folder = free_port(), top / "proxy"
    env = {**os.environ, "ALI_PROXY_DIR": str(folder), "ALI_PROXY_LISTEN": f"127.0.0.1:{port}",
           "ALI_DAGSTER_UI_URL": f"http://127.0.0.1:{webserver[0]}"}
    env.pop("ALI_PROXY_PASSWORD", None)
    try:
        done = [cli(env, "utilisateur", USER, stdin=PASSWORD + "\n"),
                cli({**env, "ALI_PROXY_PASSWORD": SECOND_PASSWORD}, "utilisateur", SECOND), cli(env, "start")]
        for d in done:
            assert d.returncode == 0, d.stderr
            assert PASSWORD not in d.stdout + d.stderr and SECOND_PASSWORD not in d.stdout + d.stderr
        assert cli(env, "status").returncode == 0
        yield port, folder
    finally:
        stopped = cli(env, "stop")
        master = (folder / "nginx.pid").read_text().strip() if (folder / "nginx.pid").exists() else None
        if master and Path(f"/proc/{master}").exists() and "(nginx)" in Path(f"/proc/{master}/stat").read_text():
            os.killpg(int(master), signal.SIGKILL)  # the stop failed: leave no nginx behind, then fail
        shutil.rmtree(top, ignore_errors=True)
    assert stopped.returncode == 0 and cli(env, "status").returncode == 1, stopped.stderr


def trusting(folder: Path | None = None) -> ssl.SSLContext:
    """Trusting the proxy's own self-signed certificate only (its name is the host's, not 127.0.0.1)."""
    context = ssl.create_default_context(cafile=str(folder / "cert.pem")) if folder else ssl.create_default_context()
    context.check_hostname = False
    if folder is None:
        context.verify_mode = ssl.CERT_NONE
    return context


def request(port: int, method: str, path: str, body: bytes | None = None, auth: tuple[str, str] | None = None,
            tls: bool = True, folder: Path | None = None) -> tuple[int, str, dict[str, str]]:
    headers = {"Content-Type": "application/json"}
    if auth:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    con = (http.client.HTTPSConnection("127.0.0.1", port, context=trusting(folder), timeout=30) if tls
           else http.client.HTTPConnection("127.0.0.1", port, timeout=30))
    try:
        con.request(method, path, body=body, headers=headers)
        response = con.getresponse()
        return response.status, response.read().decode("utf-8", "replace"), dict(response.getheaders())
    finally:
        con.close()


def post(port: int, payload: dict, **kwargs) -> tuple[int, str]:
    status, text, _ = request(port, "POST", "/graphql", json.dumps(payload).encode(), **kwargs)
    return status, text


def runs(home: Path) -> int:
    with dg.DagsterInstance.from_config(str(home)) as instance:
        return instance.get_runs_count()


def test_without_the_right_password_nothing_reaches_dagster(proxy, webserver):
    port, folder = proxy
    launch = {"query": LAUNCH, "variables": {"params": PARAMS}}
    for auth in (None, (USER, "mauvais-mot-de-passe"), ("inconnu", PASSWORD), (SECOND, PASSWORD)):
        for method, path, body in (("GET", "/", None), ("GET", "/graphql", None), ("GET", "/server_info", None),
                                   ("POST", "/graphql", json.dumps({"query": "{ version }"}).encode()),
                                   ("POST", "/graphql", json.dumps(launch).encode())):
            status, text, headers = request(port, method, path, body, auth=auth, folder=folder)
            assert status == 401 and "dagster" not in text.lower(), (auth, method, path, status, text[:200])
            assert headers["WWW-Authenticate"] == 'Basic realm="ALI 93 - Dagster"'
            assert headers["Server"] == "nginx"  # no version
            assert headers["Strict-Transport-Security"].startswith("max-age=") and headers["X-Frame-Options"] == "DENY"
    assert runs(webserver[1]) == 0
    for auth in ((USER, PASSWORD), (SECOND, SECOND_PASSWORD)):  # the right passwords reach GraphQL
        status, text = post(port, {"query": "{ version }"}, auth=auth, folder=folder)
        assert status == 200 and json.loads(text)["data"]["version"], text
    # the same mutation, sent to the webserver itself, does launch a run: what the proxy stopped was real
    status, text = post(webserver[0], launch, tls=False)
    assert json.loads(text)["data"]["launchRun"]["__typename"] == "LaunchRunSuccess", text
    assert runs(webserver[1]) == 1


def test_plain_http_on_the_tls_port_gets_no_answer_from_dagster_and_the_certificate_is_served(proxy):
    port, folder = proxy
    try:
        status, text, _ = request(port, "GET", "/", auth=(USER, PASSWORD), tls=False)
    except (OSError, http.client.HTTPException):
        pass  # refused: as good
    else:
        assert status == 400 and "plain HTTP request was sent to HTTPS port" in text and "dagster" not in text.lower()
    served = ssl.get_server_certificate(("127.0.0.1", port))
    assert ssl.PEM_cert_to_DER_cert(served) == ssl.PEM_cert_to_DER_cert((folder / "cert.pem").read_text())
    status, _, _ = request(port, "GET", "/server_info", auth=(USER, PASSWORD), folder=folder)  # verified TLS
    assert status == 200


def test_the_graphql_websocket_goes_through_with_the_password_only(proxy):
    port, folder = proxy
    url = f"wss://127.0.0.1:{port}/graphql"
    with pytest.raises(InvalidStatus) as refused:
        connect(url, ssl=trusting(folder), subprotocols=["graphql-ws"], open_timeout=10)
    assert refused.value.response.status_code == 401
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    with connect(url, ssl=trusting(folder), subprotocols=["graphql-ws"], open_timeout=10,
                 additional_headers={"Authorization": f"Basic {token}"}) as ws:
        ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(ws.recv(timeout=10))["type"] == "connection_ack"


def test_the_asset_graph_loads_in_chromium_through_the_proxy(proxy, browser):
    port, _ = proxy
    anonymous = browser.new_context(ignore_https_errors=True)
    with pytest.raises(PlaywrightError, match="ERR_INVALID_AUTH_CREDENTIALS"):  # headless: no dialog, a 401
        anonymous.new_page().goto(f"https://127.0.0.1:{port}/")
    anonymous.close()
    context = browser.new_context(ignore_https_errors=True, http_credentials={"username": USER, "password": PASSWORD},
                                  viewport={"width": 2200, "height": 1400})
    page = context.new_page()
    errors = open_graph(page, f"https://127.0.0.1:{port}{GRAPH}")
    cards = wait_until(lambda: (c := asset_cards(page.inner_text("body"), [*MARTS, REPORT]))
                       and all(n in c and "Loading..." not in c[n] for n in [*MARTS, REPORT]) and c,
                       60, "every mart's and the report's card")
    for name in [*MARTS, REPORT]:  # partitioned, nothing materialized here (a run may be queued): through GraphQL
        assert "Partitions\n0% filled" in cards[name], cards[name]
    context.close()
    assert errors == []


def test_the_password_file_and_the_folder_are_nobody_else_s(proxy):
    port, folder = proxy
    text = (folder / "htpasswd").read_text()
    assert text.count(":$2y$") == 2 and PASSWORD not in text and SECOND_PASSWORD not in text  # bcrypt
    for path in [folder, *folder.rglob("*")]:
        if not path.is_symlink():
            assert path.stat().st_mode & 0o007 == 0, f"{path}: {path.stat().st_mode & 0o777:o}"
    master = int((folder / "nginx.pid").read_text())
    workers = [p for p in Path("/proc").glob("[0-9]*") if (p / "stat").exists()
               and (p / "stat").read_text().rsplit(")", 1)[1].split()[1] == str(master)]
    uids = {int((p / "status").read_text().split("\nUid:")[1].split()[0]) for p in workers}
    if os.geteuid() == 0:  # the master is root; its workers www-data, which may read htpasswd and nothing more
        import pwd

        www = pwd.getpwnam("www-data")
        assert uids == {www.pw_uid}
        for path, mode, gid in ((folder, 0o710, www.pw_gid), (folder / "htpasswd", 0o640, www.pw_gid),
                                (folder / "key.pem", 0o600, 0), (folder / "nginx.conf", 0o600, 0)):
            assert (path.stat().st_mode & 0o7777, path.stat().st_gid) == (mode, gid), path
    else:
        assert uids == {os.geteuid()}
        assert folder.stat().st_mode & 0o777 == 0o700 and (folder / "htpasswd").stat().st_mode & 0o777 == 0o600


@pytest.fixture(scope="module")
def portal_behind_proxy(tmp_path_factory):
    """The deposit portal on loopback and nginx's second server in front of it (``ALI_PORTAIL_LISTEN``)."""
    from portal_client import Portal

    portal = Portal(tmp_path_factory.mktemp("portail-proxy"))
    top = Path(tempfile.mkdtemp(prefix="ali93-proxy-", dir="/tmp"))
    top.chmod(0o755)
    port, folder = free_port(), top / "proxy"
    env = {**os.environ, "ALI_PROXY_DIR": str(folder), "ALI_PROXY_LISTEN": f"127.0.0.1:{free_port()}",
           "ALI_DAGSTER_UI_URL": f"http://127.0.0.1:{free_port()}", "ALI_PORTAIL_LISTEN": f"127.0.0.1:{port}",
           "ALI_PORTAIL_URL": portal.url}
    try:
        started = cli(env, "start")
        assert started.returncode == 0, started.stderr
        assert f"https://127.0.0.1:{port} → {portal.url}" in started.stdout
        yield portal, port, folder
    finally:
        cli(env, "stop")
        shutil.rmtree(top, ignore_errors=True)
        print(portal.stop())


def test_the_deposit_portal_answers_through_its_own_tls_port(portal_behind_proxy):
    from portal_client import multipart

    portal, port, folder = portal_behind_proxy
    token = portal.token("ALI05")
    content = b"referent;fonction;etp;date_arrivee\nR1;CIP;1;2024-01-01\n"
    content_type, body = multipart({}, "conseillers.csv", content)
    con = http.client.HTTPSConnection("127.0.0.1", port, context=trusting(folder), timeout=60)
    try:
        con.request("POST", "/api/depot?periode=2024-03", body=body,
                    headers={"Content-Type": content_type, "Authorization": f"Bearer {token}"})
        response = con.getresponse()
        answer = json.loads(response.read())
        con.request("GET", "/connexion")
        page = con.getresponse()
        page.read()
    finally:
        con.close()
    assert (response.status, answer["depose"], answer["lignes_chargees"]) == (200, True, 1)
    assert (portal.inbox / "2024-03" / "ALI05" / "conseillers.csv").read_bytes() == content
    assert "Secure" in page.getheader("set-cookie")  # behind TLS the session cookie never travels in clear
    assert request(port, "GET", "/connexion", tls=False)[0] == 400  # plain HTTP on the TLS port: nginx's 400
