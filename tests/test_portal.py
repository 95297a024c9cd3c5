"""The deposit portal over real HTTP (issue 19): the API's verdicts, atomic deposits, hostile requests.

One real server for the module (``python -m pipelines portail`` on loopback), tokens issued by the
real command, files written by the real verifier into a temporary inbox. Every hostile case checks
its status and that the inbox (staging folder included) holds exactly what it held before.
"""

from __future__ import annotations

import hashlib
import json
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import BENEF_HEADER, REFERENCE_DIR, benef_row, lines
from portal_client import Portal, multipart
from workbooks import bomb_sheet, write_workbook

from pipelines.senders.verify import Verifier

CONSEILLERS = "referent;fonction;etp;date_arrivee;date_depart\n"
FAULTY = (CONSEILLERS + "R1;CIP;0,5;2024-01-01;\nR2;XX;1,5;31/02/2024;\n").encode()
"""Row 3: a function off the list, an impossible date, an ETP above 1 (three reasons, one row)."""
LIMIT = 1_000_000


@pytest.fixture(scope="module")
def portal(tmp_path_factory):
    server = Portal(tmp_path_factory.mktemp("portail"), ALI_MAX_FILE_BYTES=str(LIMIT), ALI_PORTAIL_ESSAIS="3")
    server.tokens = {s: server.token(s) for s in ("ALI07", "ALI01", "P001")}
    yield server
    print(server.stop())  # the server's own log, shown when a test failed


@pytest.fixture(scope="module")
def verifier():
    v = Verifier(REFERENCE_DIR)
    yield v
    v.close()


def verdict_of(verifier: Verifier, tmp_path: Path, name: str, content: bytes, source: str, periode: str) -> dict:
    path = tmp_path / "verifie" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(content)
    return verifier.check(path, source, periode).as_json()


def test_an_api_deposit_answers_the_verifiers_verdict_and_lands_whole_in_the_inbox(portal, verifier, tmp_path):
    answer = portal.deposit(portal.tokens["ALI07"], "2024-03", "conseillers.csv", FAULTY)
    assert answer.status == 200
    document = answer.json
    expected = verdict_of(verifier, tmp_path, "conseillers.csv", FAULTY, "ALI07", "2024-03")
    assert {k: document[k] for k in expected} == expected
    assert (document["depose"], document["statut"], document["lignes_chargees"], document["lignes_quarantaine"]) \
        == (True, "VALIDE", 1, 1)
    assert sorted((q["ligne"], q["colonne"], q["regle"]) for q in document["quarantaine"]) == [
        (3, "date_arrivee", "date_invalide"), (3, "etp", "etp_hors_bornes"), (3, "fonction", "valeur_hors_liste")]
    assert document["sha256"] == hashlib.sha256(FAULTY).hexdigest()
    assert portal.inbox_files()["2024-03/ALI07/conseillers.csv"] == FAULTY
    assert not [p for p in portal.inbox_files() if Path(p).name.startswith(".")]
    last = portal.attempts()[-1]
    assert {k: last[k] for k in ("canal", "source", "periode", "jeu", "sha256", "statut", "depose", "http")} == {
        "canal": "api", "source": "ALI07", "periode": "2024-03", "jeu": "conseillers",
        "sha256": document["sha256"], "statut": "VALIDE", "depose": True, "http": 200}


def test_the_dataset_comes_from_the_jeu_parameter_or_the_file_name_whatever_its_case(portal):
    clean = (CONSEILLERS + "R1;CIP;1;2024-01-01;\n").encode()
    by_name = portal.deposit(portal.tokens["ALI01"], "2024-04", "Conseillers.CSV", clean)
    by_jeu = portal.deposit(portal.tokens["ALI01"], "2024-05", "export équipe (2).csv", clean, jeu="conseillers")
    assert (by_name.status, by_name.json["depose"], by_jeu.status, by_jeu.json["depose"]) == (200, True, 200, True)
    files = portal.inbox_files()
    assert files["2024-04/ALI01/conseillers.csv"] == clean == files["2024-05/ALI01/conseillers.csv"]


def test_a_file_the_verifier_rejects_is_answered_and_not_deposited(portal):
    before = portal.inbox_files()
    answer = portal.deposit(portal.tokens["ALI07"], "2024-03", "beneficiaires.csv", b"matricule;nom\n1234567;X\n")
    assert answer.status == 200
    assert (answer.json["statut"], answer.json["regle_rejet"], answer.json["depose"]) == \
        ("REJETE", "colonnes_absentes", False)
    assert portal.inbox_files() == before


HOSTILE = {
    "sans jeton": (dict(token=None), 401),
    "jeton faux": (dict(token="ALI07.pas-le-bon"), 401),
    "jeton sans source": (dict(token="nimportequoi"), 401),
    "chemin relatif": (dict(filename="../../x.csv"), 422),
    "chemin vers un jeu": (dict(filename="../../2024-03/ALI07/conseillers.csv"), 422),
    "chemin absolu": (dict(filename="/etc/conseillers.csv"), 422),
    "octet nul": (dict(filename=b"conseillers.csv\x00.txt"), 422),
    "fichier caché": (dict(filename=".conseillers.csv"), 422),
    "jeu inconnu": (dict(filename="stagiaires.csv"), 422),
    "jeu non autorisé": (dict(filename="participations.csv"), 403),
    "mois mal écrit": (dict(periode="2024-13"), 422),
    "mois futur": (dict(periode="2099-01"), 422),
    "mois chemin": (dict(periode="../2024-03"), 422),
    "sans fichier": (dict(filename=None), 422),
}


@pytest.mark.parametrize("case", HOSTILE)
def test_a_hostile_request_gets_its_status_and_writes_nothing(portal, case):
    changes, status = HOSTILE[case]
    request = {"token": portal.tokens["ALI07"], "periode": "2024-03", "filename": "conseillers.csv",
               "content": FAULTY, **changes}
    before = portal.inbox_files()
    answer = portal.deposit(**request, headers={"X-Forwarded-For": f"198.51.100.{len(case)}"})
    assert (answer.status, answer.json["depose"] if "depose" in answer.json else False) == (status, False)
    assert portal.inbox_files() == before
    assert portal.attempts()[-1]["http"] == status


def test_an_oversized_upload_is_refused_while_it_streams(portal):
    before = portal.inbox_files()
    streamed = portal.stream(portal.tokens["ALI07"], "2024-03", "conseillers.csv", 3 * LIMIT)
    content_type, body = multipart({}, "conseillers.csv", b"x")
    declared = portal.request("POST", "/api/depot?periode=2024-03", None, {
        "Content-Type": content_type, "Authorization": f"Bearer {portal.tokens['ALI07']}",
        "Content-Length": str(50 * LIMIT)})
    assert (streamed.status, declared.status) == (413, 413)
    assert "ALI_MAX_FILE_BYTES" in streamed.json["erreur"]
    assert portal.inbox_files() == before
    padded = FAULTY + b" " * (LIMIT - len(FAULTY))
    exactly = portal.deposit(portal.tokens["ALI07"], "2024-06", "conseillers.csv", padded)
    assert exactly.status == 200  # the limit is the file's size, not the body's


def test_a_zip_bomb_named_xlsx_is_rejected_and_not_deposited(portal, tmp_path):
    path = write_workbook(tmp_path / "beneficiaires.xlsx", bomb_sheet(50))  # test_hostile's bomb, smaller
    assert path.stat().st_size < LIMIT
    before = portal.inbox_files()
    answer = portal.deposit(portal.tokens["ALI07"], "2024-03", "beneficiaires.xlsx", path.read_bytes())
    assert (answer.status, answer.json["statut"], answer.json["regle_rejet"], answer.json["depose"]) == \
        (200, "REJETE", "classeur_refuse", False)
    assert "bombe de décompression" in answer.json["motif_rejet"]
    assert portal.inbox_files() == before


def test_twenty_parallel_deposits_are_all_recorded_and_none_half_written(portal):
    jobs = [("ALI07" if i % 2 else "ALI01", f"2025-{1 + i // 2:02d}",
             (CONSEILLERS + "".join(f"R{j};CIP;1;2024-01-01;\n" for j in range(1, 200 + i))).encode())
            for i in range(20)]
    logged = len(portal.attempts())
    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(lambda j: portal.deposit(portal.tokens[j[0]], j[1], "conseillers.csv", j[2]), jobs))
    assert [(a.status, a.json["depose"], a.json["lignes_chargees"]) for a in answers] == \
        [(200, True, 199 + i) for i in range(20)]
    files = portal.inbox_files()
    assert all(files[f"{month}/{source}/conseillers.csv"] == content for source, month, content in jobs)
    assert not [p for p in files if any(part.startswith(".") for part in Path(p).parts)]
    new = portal.attempts()[logged:]
    assert sorted(a["sha256"] for a in new) == sorted(hashlib.sha256(c).hexdigest() for _, _, c in jobs)


def test_a_rotated_token_stops_working_at_once(portal):
    old = portal.token("ALI03")
    assert portal.deposit(old, "2024-03", "conseillers.csv", FAULTY).status == 200
    signed, _ = sign_in(portal, old)
    new = portal.token("ALI03")  # the command again: a new token, the old one replaced
    assert portal.request("GET", "/", headers={"Cookie": signed}).status == 303  # its page session ends too
    assert (portal.deposit(old, "2024-03", "conseillers.csv", FAULTY).status,
            portal.deposit(new, "2024-03", "conseillers.csv", FAULTY).status) == (401, 200)
    store = json.loads((portal.root / "portail" / "jetons.json").read_text())
    assert new.split(".", 1)[1] not in json.dumps(store) and set(store["ALI03"]) >= {"sel", "empreinte", "n"}
    folder = portal.root / "portail"
    assert [oct(p.stat().st_mode & 0o777) for p in (folder, folder / "jetons.json", folder / "depots.jsonl")] == \
        ["0o700", "0o600", "0o600"]


def test_repeated_wrong_tokens_back_off_that_client_only(portal):
    attacker, other = {"X-Forwarded-For": "203.0.113.7"}, {"X-Forwarded-For": "203.0.113.8"}
    statuses = [portal.deposit(f"ALI07.faux{i}", "2024-03", "conseillers.csv", FAULTY, headers=attacker).status
                for i in range(4)]
    assert statuses == [401, 401, 401, 429]
    blocked = portal.deposit(portal.tokens["ALI07"], "2024-03", "conseillers.csv", FAULTY, headers=attacker)
    assert blocked.status == 429 and int(blocked.headers["retry-after"]) > 0
    assert portal.deposit(portal.tokens["ALI07"], "2024-07", "conseillers.csv", FAULTY, headers=other).status == 200


def publish_receipt(portal) -> None:
    """ALI07's receipt for 2024-03, as the receipts asset would have published it (its content is not read here)."""
    folder = portal.root / "published" / "accuses" / "2024-03"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ALI07.json").write_text('{"source_code": "ALI07"}')
    (folder / "ALI07.html").write_text("<p>accusé ALI07</p>")


def test_one_source_never_reads_anothers_receipt_or_history(portal):
    publish_receipt(portal)
    for source in ("ALI07", "ALI01"):
        portal.deposit(portal.tokens[source], "2024-09", "conseillers.csv", FAULTY)
    auth = {s: {"Authorization": f"Bearer {t}"} for s, t in portal.tokens.items()}
    assert portal.request("GET", "/api/accuses?periode=2024-03", headers=auth["ALI07"]).json == \
        {"source_code": "ALI07"}
    assert portal.request("GET", "/api/accuses?periode=2024-03&source=ALI07", headers=auth["ALI01"]).status == 404
    assert portal.request("GET", "/api/accuses?periode=../2024-03", headers=auth["ALI01"]).status == 422
    assert portal.request("GET", "/api/accuses?periode=2024-03").status == 401
    histories = {s: portal.request("GET", "/api/depots", headers=auth[s]).json for s in ("ALI07", "ALI01", "P001")}
    assert {a["source"] for a in histories["ALI07"]} == {"ALI07"} and {a["source"] for a in histories["ALI01"]} == \
        {"ALI01"} and histories["P001"] == []


def session(portal) -> tuple[str, str]:
    """(cookie, csrf) of a fresh page session, not signed in."""
    page = portal.request("GET", "/connexion")
    cookie = page.headers["set-cookie"].split(";")[0]
    return cookie, re.search(r'name="csrf" value="([^"]+)"', page.body.decode()).group(1)


def sign_in(portal, token: str) -> tuple[str, str]:
    cookie, csrf = session(portal)
    answer = portal.request("POST", "/connexion", f"csrf={csrf}&jeton={token}".encode(),
                            {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status == 303 and answer.headers["location"] == "/"
    signed = answer.headers["set-cookie"].split(";")[0]
    assert signed != cookie and "HttpOnly" in answer.headers["set-cookie"] and "SameSite=strict" in \
        answer.headers["set-cookie"]
    home = portal.request("GET", "/", headers={"Cookie": signed})
    return signed, re.search(r'name="csrf" value="([^"]+)"', home.body.decode()).group(1)


def test_the_pages_need_a_session_and_their_forms_a_csrf_token(portal):
    assert portal.request("GET", "/").status == 303
    cookie, csrf = session(portal)
    forged = portal.request("POST", "/connexion", f"csrf=faux&jeton={portal.tokens['ALI07']}".encode(),
                            {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})
    assert forged.status == 303 and "set-cookie" not in forged.headers  # sent back to the form, no session
    signed, csrf = sign_in(portal, portal.tokens["ALI07"])
    before = portal.inbox_files()
    for token, status in (("faux", 403), (csrf, 200)):
        content_type, body = multipart({"csrf": token, "periode": "2024-08", "jeu": "conseillers"},
                                       "conseillers.csv", FAULTY)
        page = portal.request("POST", "/depot", body, {"Cookie": signed, "Content-Type": content_type})
        assert page.status == status
    assert 'data-verdict="VALIDE"' in page.body.decode() and set(portal.inbox_files()) - set(before) == \
        {"2024-08/ALI07/conseillers.csv"}
    publish_receipt(portal)
    assert portal.request("GET", "/accuses/2024-03", headers={"Cookie": signed}).status == 200
    other, _ = sign_in(portal, portal.tokens["ALI01"])
    assert portal.request("GET", "/accuses/2024-03", headers={"Cookie": other}).status == 404
    form = {"Cookie": signed, "Content-Type": "application/x-www-form-urlencoded"}
    assert portal.request("POST", "/deconnexion", b"csrf=faux", form).status == 303
    assert portal.request("GET", "/", headers={"Cookie": signed}).status == 200  # a forged sign-out does nothing
    assert portal.request("POST", "/deconnexion", f"csrf={csrf}".encode(), form).headers["location"] == "/connexion"
    assert portal.request("GET", "/", headers={"Cookie": signed}).status == 303


def test_every_page_forbids_scripts_framing_and_outside_requests(portal):
    publish_receipt(portal)
    signed, _ = sign_in(portal, portal.tokens["ALI07"])
    for path in ("/connexion", "/", "/accuses/2024-03", "/schemas/conseillers/schema.json", "/api/depots"):
        headers = portal.request("GET", path, headers={"Cookie": signed}).headers
        csp = headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src" not in csp and "unsafe" not in csp, path
        assert (headers["x-frame-options"], headers["x-content-type-options"], headers["cache-control"]) == \
            ("DENY", "nosniff", "no-store"), path


def test_no_identifier_reaches_the_answer_or_the_log(portal):
    matricule, nom = "7654321", "Zyxwvutsrq"
    content = lines(BENEF_HEADER, benef_row(matricule, nom=nom, commune="99999")).encode()
    answer = portal.deposit(portal.tokens["ALI07"], "2024-03", "beneficiaires.csv", content)
    assert answer.status == 200 and answer.json["lignes_quarantaine"] == 1
    log = (portal.root / "portail" / "depots.jsonl").read_text()
    for value in (matricule, nom, "1980-04-03"):
        assert value not in answer.body.decode() and value not in log


def test_the_guides_api_example_is_what_the_api_answers(portal):
    """docs/senders.md shows the answer for one file with quarantined rows: it must stay the real one."""
    guide = (Path(__file__).resolve().parents[1] / "docs" / "senders.md").read_text()
    shown = json.loads(re.search(r"```json\n(.*?)```", guide, re.S).group(1).replace("…", ""))
    content = (CONSEILLERS + "R1;CIP;0,5;2026-01-01;\nR2;XX;1,5;31/02/2026;\n").encode()
    answer = portal.deposit(portal.tokens["ALI07"], "2026-10", "conseillers.csv", content).json
    assert answer["sha256"].startswith(shown.pop("sha256"))
    assert {k: answer[k] for k in shown} == shown and set(answer) == {*shown, "sha256"}


def test_a_restarted_portal_clears_what_a_stopped_one_left_in_staging(tmp_path):
    staging = tmp_path / "inbox" / ".portail"
    (staging / "d-0123").mkdir(parents=True)
    (staging / "d-0123" / "beneficiaires.csv").write_text("moitié d'un fichier")
    (staging / ".depot-0123.part").write_text("moitié")
    server = Portal(tmp_path)
    try:
        assert not staging.exists() and server.request("GET", "/sante").status == 200
    finally:
        server.stop()
