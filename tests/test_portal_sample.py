"""Months of the README's sample deposited through the portal, then processed as any other delivery.

Every file of ``MONTHS`` (two months of the verifier test: planted faults, a dataset a source may not
send, a re-send missing a required column after a good version) goes through ``POST /api/depot``, in
the order the sample received them, with its own name and its source's token. The API's
verdict must equal the verifier's on the original file; the inbox sensor, evaluated for real, must
ask for each month; the real refresh must record for each deposited file what the API answered; the
receipts it publishes must come back through ``GET /api/accuses``. Then Chromium deposits a file
through the pages (the screenshot of docs/senders.md).
"""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest
from conftest import REFERENCE_DIR, platform_env
from portal_client import Portal
from test_verifier import COUNTS, recorded_reasons

from pipelines.definitions import build_defs
from pipelines.defs.automation.sensors import inbox_sensor
from pipelines.portal.tokens import TokenStore
from pipelines.refresh import run_refresh
from pipelines.sample import generate
from pipelines.senders.verify import Verifier
from pipelines.warehouse import connect

pytestmark = pytest.mark.slow
MONTHS = ("2024-05", "2026-02")
MONTH = MONTHS[0]
SCREENSHOT = Path(__file__).resolve().parents[1] / "docs" / "images" / "portail-verdict.png"


@pytest.fixture(scope="module")
def deposited(tmp_path_factory):
    """The months' files deposited through the API: (portal, tokens, [(original path, source, answer)])."""
    root = tmp_path_factory.mktemp("portail-echantillon")
    generate(root / "echantillon", scale=0.05, start="2023-02", end="2026-10", reference_dir=REFERENCE_DIR)
    files = sorted((p for m in MONTHS for p in (root / "echantillon" / m).rglob("*") if p.is_file()),
                   key=lambda p: (p.stat().st_mtime, str(p)))  # as received: a re-send after its first version
    sources = sorted({p.parent.name for p in files})
    portal = Portal(root)
    store = TokenStore(root / "portail")  # what ``portail jeton`` runs, for the month's ~100 sources at once
    known = Verifier(REFERENCE_DIR).sources
    tokens = {s: store.issue(s) for s in sources if s in known}
    answers = [(path, path.parent.name, portal.deposit(tokens[path.parent.name], path.parent.parent.name, path.name,
                                                       path.read_bytes()) if path.parent.name in tokens else None)
               for path in files]
    yield portal, tokens, answers
    print(portal.stop())


def test_the_apis_verdict_is_the_verifiers_for_every_file_of_the_month(deposited):
    _, _, answers = deposited
    verifier = Verifier(REFERENCE_DIR)
    statuses = {}
    for path, source, answer in answers:
        expected = verifier.check(path, source, path.parent.parent.name).as_json()
        if answer is None:  # no token can exist for a source outside the reference
            assert expected["regle_rejet"] == "source_inconnue", path
        elif answer.status == 403:  # the API refuses at once what the verifier would reject for the same reason
            assert expected["regle_rejet"] == "jeu_non_autorise", path
        else:
            assert answer.status == 200, (path, answer.body)
            got = answer.json
            assert {k: got[k] for k in expected if k != "fichier"} == \
                {k: v for k, v in expected.items() if k != "fichier"}, path
            assert got["depose"] == (expected["statut"] != "REJETE")
        statuses[answer.status if answer else None] = statuses.get(answer.status if answer else None, 0) + 1
    quarantined = sum(1 for _, _, a in answers if a and a.status == 200 and a.json["lignes_quarantaine"])
    rejected = [a.json["regle_rejet"] for _, _, a in answers if a and a.status == 200 and not a.json["depose"]]
    assert statuses[200] > 300 and statuses.get(403) and quarantined >= 10 and rejected, (statuses, quarantined)


@pytest.fixture(scope="module")
def refreshed(deposited) -> list[tuple[str, int]]:
    """The inbox sensor evaluated for real, then the real refresh of each month: the sensor's (month, files)."""
    portal, _, _ = deposited
    with pytest.MonkeyPatch.context() as patch, dg.instance_for_test() as instance:
        for name, value in platform_env(portal.root).items():
            patch.setenv(name, value)
        context = dg.build_sensor_context(instance=instance, definitions=build_defs())
        result = inbox_sensor(context)
        requests = [] if isinstance(result, dg.SkipReason) else list(result)
        for month in MONTHS:
            assert run_refresh(month, instance=instance).success
    return sorted((r.partition_key, int(r.tags["ali/fichiers"])) for r in requests)


def test_the_sensor_and_the_refresh_take_the_deposits_as_any_delivery(deposited, refreshed):
    portal, tokens, answers = deposited
    kept = {a.json["fichier"]: a.json for _, _, a in answers if a and a.status == 200 and a.json["depose"]}
    # the last deposit of a (month, source, dataset, extension) replaced the earlier ones in the inbox
    assert refreshed == [(m, sum(f.startswith(m) for f in kept)) for m in MONTHS]
    with connect(portal.root / "warehouse" / "ali.duckdb", read_only=True) as con:
        cursor = con.execute("SELECT * FROM raw.livraisons")
        names = [d[0] for d in cursor.description]
        manifest = {row["fichier"]: row for row in (dict(zip(names, r)) for r in cursor.fetchall())}
        reasons = recorded_reasons(con)
    assert set(manifest) == set(kept)
    for fichier, answer in kept.items():
        row = manifest[fichier]
        assert {k: row[k] for k in COUNTS} == {k: answer[k] for k in COUNTS}, fichier
        assert row["sha256"] == answer["sha256"]
        assert reasons.get((fichier, row["sha256"]), []) == \
            [(q["ligne"], q["colonne"], q["regle"], q["message"]) for q in answer["quarantaine"]], fichier
    source = next(f.split("/")[1] for f, a in kept.items() if f.startswith(MONTH) and a["lignes_quarantaine"])
    receipt = portal.request("GET", f"/api/accuses?periode={MONTH}",
                             headers={"Authorization": f"Bearer {tokens[source]}"})
    assert receipt.status == 200 and receipt.json["source_code"] == source
    assert len(receipt.json["quarantaine"]) == sum(a["lignes_quarantaine"] and len(a["quarantaine"])
                                                   for f, a in kept.items() if f.startswith(f"{MONTH}/{source}/"))
    assert json.dumps(receipt.json).count('"que_faire"') >= len(receipt.json["quarantaine"])


def test_a_sender_deposits_through_the_pages_in_chromium(deposited, refreshed, browser, tmp_path):
    portal, tokens, answers = deposited
    faulty = tmp_path / "conseillers équipe.csv"
    faulty.write_text("referent;fonction;etp;date_arrivee;date_depart\nR1;CIP;0,5;2024-01-01;\n"
                      "R2;XX;1,5;31/02/2024;\nR3;CIP;1;2024-02-01;2023-12-31\n", encoding="utf-8")
    source = next(s for p, s, a in answers if p.parent.parent.name == MONTH and s.startswith("ALI") and a
                  and a.status == 200 and a.json["depose"])
    page = browser.new_page(viewport={"width": 1280, "height": 1100})
    errors, outside = [], []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(portal.url) else None)
    page.goto(f"{portal.url}/")
    page.fill("#jeton", tokens[source])
    page.click("button[type=submit]")
    page.wait_for_selector("#depot")
    assert page.locator(f"[data-accuse='{MONTH}']").count() == 1  # the refresh above published its receipt
    page.fill("#periode", "2024-06")
    page.select_option("#jeu", "conseillers")
    page.set_input_files("#fichier", str(faulty))
    page.click("#depot button[type=submit]")
    page.wait_for_selector("[data-verdict]")
    heading = page.locator("[data-verdict]")
    assert (heading.get_attribute("data-verdict"), heading.get_attribute("data-depose")) == ("VALIDE", "oui")
    rows = page.locator("table.quarantaine tbody tr")
    assert sorted({(r.get_attribute("data-ligne"), r.get_attribute("data-regle")) for r in rows.all()}) == [
        ("3", "date_invalide"), ("3", "etp_hors_bornes"), ("3", "valeur_hors_liste"), ("4", "depart_avant_arrivee")]
    assert (portal.inbox / "2024-06" / source / "conseillers.csv").read_bytes() == faulty.read_bytes()
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    page.click(f"[data-accuse='{MONTH}'] a >> nth=0")
    page.wait_for_selector("h1")
    assert source in page.inner_text("body")
    assert errors == [] and outside == []
