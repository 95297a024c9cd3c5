"""The Dagster UI end to end, as a data engineer uses it: real webserver and daemon, real run, real browser.

``dagster dev`` serves the project's ``workspace.yaml`` on a loopback port with a throw-away instance
(the project's ``dagster.yaml``: pool ``warehouse`` limited to 1). A one-month refresh is launched through
GraphQL with Dagster's own Python client, exactly as the UI's "Materialize" button would, and runs in
the daemon's run workers. Then Debian's Chromium opens the asset graph of the marts and publication
groups and must find every mart and the report materialized. The screenshot goes into the README.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time

import pytest
from conftest import INSTANCES, REFERENCE_DIR, dagster_home, free_port, platform_env
from dagster_graphql import DagsterGraphQLClient

from pipelines.publication.snapshot import MARTS
from pipelines.resources import PROJECT_ROOT
from pipelines.sample import generate

pytestmark = pytest.mark.slow  # the Dagster webserver and Chromium

MONTH = "2024-03"
SCREENSHOT = PROJECT_ROOT / "docs" / "images" / "dagster-asset-graph.png"
GRAPH = ("/asset-groups~group%3Amarts%20or%20group%3Apublication/"
         "?expanded=global%40global%3Amarts%2Cglobal%40global%3Apublication")
REPORT = "rapport_mensuel"
SENSOR = """{ sensorOrError(sensorSelector: {repositoryLocationName: "ali93", repositoryName: "__repository__",
                                          sensorName: "inbox_sensor"}) {
  ... on Sensor { sensorState { id status } } } }"""
STOP_SENSOR = """mutation ($id: String) {
  stopSensor(id: $id) { ... on StopSensorMutationResult { instigationState { status } } }
}"""
RUNS = """{ runsOrError(filter: {pipelineName: "monthly_refresh"}) {
  ... on Runs { results { runId tags { key value } } } } }"""
PARTITIONS = """query ($keys: [AssetKeyInput!]) {
  assetNodes(assetKeys: $keys) { assetKey { path } partitionStats { numMaterialized } }
}"""


def wait_until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception:  # the server is still starting
            pass
        time.sleep(1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.fixture(scope="module", params=INSTANCES)
def webserver(tmp_path_factory, request):
    """``dagster dev`` on 127.0.0.1, then a sample month in the inbox; yields (client, port, root).

    The inbox sensor is stopped (``dagster sensor stop``) before the webserver and its daemon start: a
    tick already under way when the UI stops it could still request a run for files landing then, so
    the only run is the one the test launches.
    """
    root = tmp_path_factory.mktemp("ui")
    env = {**os.environ, **platform_env(root), **dagster_home(root / "dagster", request.param, request)}
    env.pop("ALI_DEMO_MODE", None)
    (root / "inbox").mkdir()
    subprocess.run([str(PROJECT_ROOT / ".venv" / "bin" / "dagster"), "sensor", "stop", "inbox_sensor", "-w",
                    "workspace.yaml"], cwd=PROJECT_ROOT, env=env, check=True, capture_output=True)
    port = free_port()
    log = open(root / "dagster-dev.log", "w")
    dev = subprocess.Popen(
        [str(PROJECT_ROOT / ".venv" / "bin" / "dagster"), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1",
         "-p", str(port)],
        cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        client = DagsterGraphQLClient("127.0.0.1", port_number=port)
        wait_until(lambda: client._execute(
            "{ workspaceOrError { ... on Workspace { locationEntries { loadStatus } } } }"
        )["workspaceOrError"]["locationEntries"][0]["loadStatus"] == "LOADED", 180, "the code location to load")
        sensor = client._execute(SENSOR)["sensorOrError"]["sensorState"]
        assert sensor["status"] == "STOPPED"
        stopped = client._execute(STOP_SENSOR, {"id": sensor["id"]})["stopSensor"]["instigationState"]
        assert stopped["status"] == "STOPPED"  # and the UI's stop button answers as the UI expects
        generate(root / "inbox", scale=0.05, start=MONTH, end=MONTH, reference_dir=REFERENCE_DIR)
        yield client, port, root
    finally:  # a throw-away instance: killed at once (asked to stop, dagster dev waits 60 s for its children)
        os.killpg(dev.pid, signal.SIGKILL)
        dev.wait(timeout=60)
        log.close()


@pytest.fixture(scope="module")
def refreshed(webserver):
    """One-month refresh launched through GraphQL, as the UI launches it; waits for the run to end."""
    client, port, root = webserver
    run_id = client.submit_job_execution("monthly_refresh", tags={"dagster/partition": MONTH})
    status = wait_until(lambda: (s := client.get_run_status(run_id)).value in ("SUCCESS", "FAILURE", "CANCELED") and s,
                        600, f"run {run_id}")
    assert status.value == "SUCCESS", (root / "dagster-dev.log").read_text()[-5000:]
    runs = client._execute(RUNS)["runsOrError"]["results"]
    assert [r["runId"] for r in runs] == [run_id], runs  # the tags say who launched another one
    return webserver


def test_webserver_listens_on_loopback_only(webserver):
    _, port, _ = webserver
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) == 0
    addresses = {a[4][0] for a in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)} - {"127.0.0.1",
                                                                                                    "127.0.1.1"}
    for address in addresses:
        with socket.socket() as s:
            s.settimeout(2)
            assert s.connect_ex((address, port)) != 0, f"the webserver answers on {address}"


def test_one_month_refresh_launched_through_graphql_materializes_marts_and_report(refreshed):
    client, _, _ = refreshed
    keys = [{"path": ["marts", m]} for m in MARTS] + [{"path": ["publication", REPORT]}]
    nodes = client._execute(PARTITIONS, {"keys": keys})["assetNodes"]
    assert {"/".join(n["assetKey"]["path"]): n["partitionStats"]["numMaterialized"] for n in nodes} == {
        # the month's report, and the six before it (the marts cover every month since the first ALI opened,
        # 2023-02): their Parcours section shows cohorts the month rebuilt
        **{f"marts/{m}": 1 for m in MARTS}, f"publication/{REPORT}": 7}
    assert (refreshed[2] / "published" / "rapports" / f"rapport_{MONTH}.html").exists()


def asset_cards(text: str, names: list[str]) -> dict[str, str]:
    """Split the graph's visible text into one block per asset node (from its name to the next name)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    starts = sorted((i, line) for i, line in enumerate(lines) if line in names)
    return {name: "\n".join(lines[i:j]) for (i, name), (j, _) in zip(starts, [*starts[1:], (len(lines), "")])}


def loaded(cards: dict[str, str]) -> dict[str, str] | None:
    """The cards once none of the marts and report is still « Loading... » (else None: wait)."""
    return None if any("Loading..." in cards.get(name, "Loading...") for name in [*MARTS, REPORT]) else cards


def open_graph(page, url: str) -> list[str]:
    """Open the asset graph at ``url`` until the report's card shows; returns the page's errors, as they come."""
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url, wait_until="networkidle")
    page.get_by_text(REPORT, exact=True).wait_for(timeout=60_000)
    skip = page.get_by_role("button", name="Skip")  # Dagster's newsletter dialog on a fresh instance
    if skip.count():
        skip.click()
    return errors


def test_asset_graph_in_chromium_shows_marts_and_report_materialized(refreshed, browser, request):
    _, port, _ = refreshed
    page = browser.new_page(viewport={"width": 2200, "height": 1400})  # large enough that the cards show statuses
    errors = open_graph(page, f"http://127.0.0.1:{port}{GRAPH}")
    page.get_by_text("Materialized", exact=True).first.wait_for(timeout=60_000)  # statuses load after the graph
    cards = wait_until(lambda: loaded(asset_cards(page.inner_text("body"), [*MARTS, REPORT, "open_data", "marts"])),
                       60, "every partitioned asset's status")  # they load one by one after the first
    for name in [*MARTS, REPORT]:  # partitioned: one month of the 45 filled, a latest event, never "never"
        assert "Latest event" in cards[name] and "Never materialized" not in cards[name], cards[name]
        assert "0% filled" not in cards[name] and "% filled" in cards[name], cards[name]
    for name in ("marts", "open_data"):  # unpartitioned publication assets
        assert "Materialized" in cards[name].splitlines(), cards[name]
    if request.node.callspec.params["webserver"] == "sqlite":  # the README's picture: the default instance
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT))
    assert errors == []
