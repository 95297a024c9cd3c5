"""Privacy (contract §5), on real runs: no identifier of the inbox in clear anywhere a run writes.

The scan re-reads the identifiers from the archive and looks for them in the warehouse, the
quarantine, the published files, the run's event log, metadata and compute logs. Here: a sample
refresh passes the three blocking checks after a real scan; hand-planted values (a matricule, a
name pair, a first name, a birth date, a NIR, the key) are each found where they were put, a
surname that is also a commune and a street named after a surname are not; a planted value blocks
the next run before dbt; the key is nowhere; archive and warehouse are owner-only; the UI listens
on loopback.
"""

from __future__ import annotations

import base64
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
from conftest import REFERENCE_DIR, TEST_KEY, free_port, platform_env

from pipelines import warehouse
from pipelines.definitions import build_defs
from pipelines.privacy.scan import scan_places
from pipelines.raw.pseudonymise import Pseudonymiser
from pipelines.refresh import main as refresh_main
from pipelines.refresh import run_refresh
from pipelines.resources import PROJECT_ROOT
from pipelines.sample import generate

CHECKS = ("aucun_identifiant_en_clair", "aucun_identifiant_publie", "aucun_identifiant_diffuse")
HEADER = ("matricule;organisme;nom;prenom;date_naissance;sexe;commune;date_orientation;date_premier_rdv;"
          "date_entree;date_contrat;date_sortie;motif_sortie;referent;nb_entretiens;heures_activite;freins;actions;nir")
PEOPLE = [  # matricule as delivered (Excel-stripped), nom, prénom, birth date as delivered, NIR
    ("123456", "Lebœuf", "Zoé", "03/04/1980", "1 80 04 93 066 123 45"),
    ("7654321", "Bondy", "Ousmane", "1975-12-24", ""),  # a surname that is also a commune of the 93
    ("2345678", "Martin", "Léa", "1990-06-15", ""),
]
SECRET = "cle-connue-du-test-de-confidentialite-0123456789"


def deliver(inbox: Path) -> None:
    folder = inbox / "2024-03" / "ALI01"
    folder.mkdir(parents=True)
    rows = [f"{m};CAF;{nom};{prenom};{naissance};F;93001;2024-02-01;2024-02-10;2024-03-01;;;;R1;2;;;;{nir}"
            for m, nom, prenom, naissance, nir in PEOPLE]
    (folder / "beneficiaires.csv").write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")


def evaluations(instance: dg.DagsterInstance, run_id: str) -> dict:
    return {e.asset_check_evaluation.check_name: e.asset_check_evaluation
            for e in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)}


def number(evaluation, label: str) -> int:
    return evaluation.metadata[label].value


@pytest.mark.slow
def test_a_sample_refresh_passes_the_three_blocking_checks_after_a_real_scan(tmp_path, monkeypatch):
    env = platform_env(tmp_path)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("ALI_DEMO_MODE", raising=False)
    generate(Path(env["ALI_INBOX_DIR"]), scale=0.05, start="2024-02", end="2024-03", reference_dir=REFERENCE_DIR)
    instance = dg.DagsterInstance.ephemeral()
    result = run_refresh(instance=instance)
    assert result.success
    checks = evaluations(instance, result.run_id)
    assert {name: checks[name].passed for name in CHECKS} == dict.fromkeys(CHECKS, True)
    with warehouse.connect(env["ALI_WAREHOUSE"], read_only=True) as con:
        people, rows = con.execute(
            "SELECT count(DISTINCT personne_id), count(*) FROM (SELECT personne_id FROM raw.beneficiaires UNION ALL "
            "SELECT personne_id FROM raw.participations)").fetchall()[0]
        quarantined = con.execute("SELECT count(*) FROM raw.quarantaine").fetchall()[0][0]
    raw, published, spread = (checks[name] for name in CHECKS)
    for check in (raw, published, spread):
        assert number(check, "trouvailles") == 0
        # every person loaded has a matricule in the archive: at least that many matricules searched
        assert number(check, "identifiants_matricule") >= people > 100
        assert number(check, "identifiants_nom_prenom") > 100 and number(check, "identifiants_date_naissance") > 100
        assert number(check, "fichiers_relus") > 100 and number(check, "cellules_journal") > 1000
        assert number(check, "cellules_metadonnees") > 100
    # the ingestion read each delivery once: the checks take its identifiers from the run's memory, and
    # they are those a scan reading every original again finds
    assert [number(c, "fichiers_relus_archive") for c in (raw, published, spread)] == [0, 0, 0]
    assert number(raw, "fichiers_repris_du_run") == number(raw, "fichiers_relus")
    fresh = scan_places(env["ALI_WAREHOUSE"], Path(env["ALI_ARCHIVE_DIR"]), ["2024-02", "2024-03"], result.run_id,
                        scan_warehouse=False).counts
    assert fresh["fichiers_relus_archive"] == fresh["fichiers_relus"] == number(raw, "fichiers_relus")
    for nature in ("matricule", "nom_prenom", "date_naissance", "nir"):
        assert {number(c, f"identifiants_{nature}") for c in (raw, published, spread)} == {fresh[f"identifiants_{nature}"]}
    # the raw check read every personne_id cell (at least) and every quarantine record
    assert number(raw, "cellules_entrepot") >= rows and number(raw, "cellules_quarantaine") >= quarantined > 0
    assert number(raw, "cellules_publication") == 0 < number(published, "cellules_publication")
    # the last check reads the reports and the open data, written after the first publication check started
    # (plus a random sample of older files: comparing the two checks' cell counts would compare samples)
    since = [re.search(r"fichiers publiés depuis (\S+)", check.metadata["portee"].value)[1]
             for check in (published, spread)]
    assert number(spread, "cellules_publication") > 0 and since[0] <= since[1]


@pytest.fixture
def ingested(env):
    """The three people of ``PEOPLE`` through the real refresh (every check passes: no false positive)."""
    deliver(env["ALI_INBOX_DIR"])
    instance = dg.DagsterInstance.ephemeral()
    result = run_refresh("2024-03", instance=instance)
    assert result.success
    checks = {name: c for name, c in evaluations(instance, result.run_id).items() if name in CHECKS}
    assert {name: c.passed for name, c in checks.items()} == dict.fromkeys(CHECKS, True)
    assert all(c.metadata["portee"].value.startswith("mois du run (2024-03)") for c in checks.values())
    return env


@dg.op
def bavard(context):
    """A careless step: logs a name, prints a matricule, puts a birth date and the key in metadata."""
    context.log.info("relance de Zoé Lebœuf")
    print("matricule 0123456 relancé", flush=True)
    yield dg.AssetMaterialization("fiche", metadata={"note": "née le 03/04/1980",
                                                     "trace": os.environ["ALI_PSEUDONYMISATION_KEY"].encode().hex()})
    yield dg.Output(None)


@dg.job
def careless():
    bavard()


def test_planted_identifiers_are_found_where_they_were_put_and_never_shown(ingested, tmp_path):
    env = ingested
    with warehouse.connect(env["ALI_WAREHOUSE"]) as con:
        con.execute("INSERT INTO raw.signalements VALUES ('2024-03-01', 'ALI01', 'beneficiaires', 'note', "
                    "'voir le dossier 0123456', 1)")
        con.execute("CREATE TABLE marts.notes AS SELECT 'appeler LEBOEUF Zoé lundi' AS note, 'Ousmane' AS prenom_seul, "
                    "'12 rue Saint-Martin' AS adresse, 'Bondy' AS ville")
        con.execute("INSERT INTO raw.quarantaine VALUES ('2024-03-01', 'ALI01', 'beneficiaires', 'x', 'f.csv', 9, "
                    "[{'colonne': 'commune', 'regle': 'r', 'message': 'm', 'valeur': '1980-04-03'}])")
    publish = env["ALI_PUBLISH_DIR"]
    csv_file = (publish / "csv" / "mart_ali_mensuel.csv").resolve()
    with csv_file.open("a", encoding="utf-8") as out:
        out.write("180049306612345;x\n")
    csv_line = csv_file.read_text(encoding="utf-8-sig").count("\n")
    report = publish / "rapports" / "rapport_2024-03.html"
    page = report.read_text(encoding="utf-8")
    report.write_text(page.replace("</body>", "<p>Zoé Lebœuf</p>\n</body>", 1), encoding="utf-8")
    report_line = report.read_text(encoding="utf-8").split("<p>Zoé Lebœuf</p>")[0].count("\n") + 1
    receipt = sorted((publish / "accuses" / "2024-03").glob("*.html"))[0]  # the senders' receipts are scanned too
    receipt.write_text(receipt.read_text(encoding="utf-8").replace("</footer>", "<p>Lebœuf Zoé</p></footer>"),
                       encoding="utf-8")
    receipt_csv = receipt.with_suffix(".csv")
    with receipt_csv.open("a", encoding="utf-8") as out:
        out.write("quarantaine;x;;;;;;7;date_entree;r;m;03/04/1980;;\r\n")
    receipt_csv_line = receipt_csv.read_text(encoding="utf-8-sig").count("\n")
    (tmp_path / "dagster").mkdir()
    instance = dg.DagsterInstance.local_temp(str(tmp_path / "dagster"))
    run = careless.execute_in_process(instance=instance)

    scan = scan_places(env["ALI_WAREHOUSE"], env["ALI_ARCHIVE_DIR"], ["2024-03"], run.run_id,
                       key=TEST_KEY, publish_dir=publish, instance=instance)

    found = {(f.lieu, f.objet, f.colonne, f.nature) for f in scan.findings}
    assert found == {
        ("entrepot", "raw.signalements", "message", "matricule"),
        ("entrepot", "marts.notes", "note", "nom_prenom"),
        ("entrepot", "marts.notes", "prenom_seul", "nom_prenom"),
        ("quarantaine", "raw.quarantaine", "motifs", "date_naissance"),
        ("publication", str(csv_file.relative_to(publish.resolve())), "colonne 1", "nir"),
        ("publication", "rapports/rapport_2024-03.html", "texte", "nom_prenom"),
        ("publication", str(receipt.relative_to(publish)), "texte", "nom_prenom"),
        ("publication", str(receipt_csv.relative_to(publish)), "colonne 12", "date_naissance"),
        ("journal", "bavard · LOG", "evenement", "nom_prenom"),
        ("metadonnees", "bavard · ASSET_MATERIALIZATION", "metadonnees", "date_naissance"),
        ("metadonnees", "bavard · ASSET_MATERIALIZATION", "metadonnees", "cle"),
        ("journaux_calcul", run_compute_log_key(instance, run.run_id), "stdout", "matricule"),
        ("journaux_calcul", run_compute_log_key(instance, run.run_id), "stderr", "nom_prenom"),  # the log line
    }
    lines = {(f.objet, f.ligne) for f in scan.findings if f.lieu == "publication"}
    assert lines == {(str(csv_file.relative_to(publish.resolve())), csv_line), ("rapports/rapport_2024-03.html",
                                                                                  report_line),
                     (str(receipt.relative_to(publish)), receipt.read_text().split("<p>Lebœuf")[0].count("\n") + 1),
                     (str(receipt_csv.relative_to(publish)), receipt_csv_line)}
    shown = texts(scan.metadata())
    for value in ("0123456", "123456", "Zoé", "Lebœuf", "LEBOEUF", "Ousmane", "1980", "180049306612345",
                  TEST_KEY.hex()):
        assert value not in shown
    assert scan.metadata()["trouvailles_journaux_calcul"] == 2 and scan.metadata()["trouvailles"] == 13


def texts(metadata: dict) -> str:
    """Every text of a check's metadata, labels included (its numbers are counts)."""
    return " ".join([*metadata, *(v for v in metadata.values() if isinstance(v, str))])


def run_compute_log_key(instance: dg.DagsterInstance, run_id: str) -> str:
    files = list((Path(instance.root_directory) / "storage" / run_id / "compute_logs").glob("*.out"))
    assert len(files) == 1
    return files[0].stem


def test_a_planted_matricule_blocks_the_next_run_before_dbt(ingested):
    env = ingested
    with warehouse.connect(env["ALI_WAREHOUSE"]) as con:
        con.execute("CREATE TABLE marts.notes AS SELECT 'dossier 0123456 à revoir' AS note")
        before = con.execute("SELECT * FROM marts.mart_ali_mensuel ORDER BY ALL").fetchall()
    instance = dg.DagsterInstance.ephemeral()
    result = run_refresh("2024-03", instance=instance)
    assert not result.success
    check = evaluations(instance, result.run_id)["aucun_identifiant_en_clair"]
    assert (check.passed, number(check, "trouvailles"), number(check, "trouvailles_entrepot")) == (False, 1, 1)
    assert "| entrepot | marts.notes | note | 0 | 1 | matricule |" in check.metadata["detail"].value
    assert "0123456" not in texts({k: v.value for k, v in check.metadata.items()})
    ran = {e.step_key for e in result.all_events if e.is_step_success}
    assert "dbt_models" not in ran and "publication__marts" not in ran
    with warehouse.connect(env["ALI_WAREHOUSE"], read_only=True) as con:
        assert con.execute("SELECT * FROM marts.mart_ali_mensuel ORDER BY ALL").fetchall() == before


def test_the_weekly_full_scan_reads_what_no_run_wrote(ingested, tmp_path):
    """A leak in a month no run wrote (2023-11) is only sampled by the runs' checks: the weekly job reads it for certain."""
    env = ingested
    with warehouse.connect(env["ALI_WAREHOUSE"]) as con:
        con.execute("INSERT INTO raw.signalements VALUES ('2023-11-01', 'ALI01', 'beneficiaires', 'note', "
                    "'voir le dossier 0123456', 1)")
    defs = build_defs()
    schedule = defs.resolve_schedule_def("controle_confidentialite_hebdomadaire")
    assert (schedule.cron_schedule, schedule.job_name) == ("0 4 * * 0", "controle_confidentialite")
    assert "aucun_identifiant_nulle_part" not in {
        c.name for c in defs.resolve_job_def("monthly_refresh").asset_layer.asset_graph.asset_check_keys}
    instance = dg.DagsterInstance.ephemeral()
    result = defs.resolve_job_def("controle_confidentialite").execute_in_process(instance=instance,
                                                                                 raise_on_error=False)
    check = evaluations(instance, result.run_id)["aucun_identifiant_nulle_part"]
    assert (check.passed, number(check, "trouvailles"), number(check, "fichiers_relus")) == (False, 1, 1)
    assert "| entrepot | raw.signalements | message | " in check.metadata["detail"].value
    assert "0123456" not in texts({k: v.value for k, v in check.metadata.items()})
    assert check.metadata["portee"].value.startswith("complète : 1 mois d'identifiants")


def test_a_leak_the_guard_did_not_write_stops_the_refresh_with_a_french_summary(ingested, capsys):
    """A name in a quarantine message (the contract's wording: the guard never rewrites it afterwards)."""
    env = ingested
    with warehouse.connect(env["ALI_WAREHOUSE"]) as con:
        con.execute("INSERT INTO raw.quarantaine VALUES ('2024-03-01', 'ALI01', 'beneficiaires', 'x', "
                    "'2024-03/ALI01/beneficiaires.csv', 4, [{'colonne': 'commune', 'regle': 'r', "
                    "'message': 'relancer Zoé Lebœuf', 'valeur': NULL}])")
    published = {p: p.stat().st_mtime_ns for p in env["ALI_PUBLISH_DIR"].rglob("*") if p.is_file()}
    assert refresh_main("2024-03") == 1
    out = "ARRÊT" + capsys.readouterr().out.split("\nARRÊT", 1)[1]
    first, *lines = out.splitlines()
    assert first.startswith("ARRÊT : le contrôle « aucun_identifiant_en_clair » a trouvé 1 texte(s) contenant un "
                            "identifiant en clair (run ")
    assert lines[:3] == [
        "Publication : ni dbt ni la publication n'ont tourné : l'instantané BI, les rapports et l'open data sont "
        "ceux du run précédent.",
        "Où (jamais la valeur) :",
        "  quarantaine · raw.quarantaine · colonne motifs · 1 cellule(s) · nom_prenom · "
        "2024-03/ALI01/beneficiaires.csv, ligne 4",
    ]
    assert "Que faire :\n  - quarantaine : un motif de quarantaine contient un identifiant" in out
    assert out.rstrip().endswith("Ensuite : python -m pipelines refresh --period 2024-03 (le contrôle se refait à "
                                 "chaque run).")
    assert "Zoé" not in out and "Lebœuf" not in out and "Traceback" not in out
    assert {p: p.stat().st_mtime_ns for p in env["ALI_PUBLISH_DIR"].rglob("*") if p.is_file()} == published


def key_forms(key: bytes) -> list[bytes]:
    """The key as text, hex, base64, and the two padded blocks the HMAC runs on (as raw bytes)."""
    block = key.ljust(64, b"\0")
    return [key, key.hex().encode(), key.hex().upper().encode(), base64.b64encode(key),
            base64.urlsafe_b64encode(key), bytes(b ^ 0x36 for b in block), bytes(b ^ 0x5C for b in block)]


@pytest.fixture(scope="module")
def command_run(tmp_path_factory):
    """``python -m pipelines refresh`` in its own process (umask 022), a known key, a kept Dagster instance."""
    root = tmp_path_factory.mktemp("cle")
    home = root / "dagster"
    home.mkdir()
    (home / "dagster.yaml").write_bytes((PROJECT_ROOT / "data" / "dagster" / "dagster.yaml").read_bytes())
    deliver(root / "inbox")
    env = {**os.environ, **platform_env(root), "ALI_PSEUDONYMISATION_KEY": SECRET, "DAGSTER_HOME": str(home)}
    env.pop("ALI_DEMO_MODE", None)
    done = subprocess.run([sys.executable, "-m", "pipelines", "refresh"], cwd=PROJECT_ROOT, env=env, check=False,
                          capture_output=True, timeout=600, preexec_fn=lambda: os.umask(0o022))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    run_id = re.search(rb"run ([0-9a-f-]{36}) r\xc3\xa9ussi", done.stdout).group(1).decode()
    return root, run_id, done


def test_the_key_is_in_no_log_no_output_no_table_and_no_file(command_run):
    root, run_id, done = command_run
    forms = key_forms(SECRET.encode())
    for stream in (done.stdout, done.stderr):
        assert not [f for f in forms if f in stream]
    # the run's event log, through Dagster, with every field of every event
    instance = dg.DagsterInstance.from_config(str(root / "dagster"))
    from dagster._serdes import serialize_value

    events = "\n".join(serialize_value(e) for e in instance.all_logs(run_id)).encode()
    assert len(events) > 100_000 and not [f for f in forms if f in events]
    checks = evaluations(instance, run_id)
    assert {name: checks[name].passed for name in CHECKS} == dict.fromkeys(CHECKS, True)
    assert number(checks["aucun_identifiant_en_clair"], "formes_de_cle") >= 4  # the checks looked for it too
    # every byte Dagster kept (event log database, compute logs), the warehouse, the publication, dbt's logs
    compute_logs = list((root / "dagster" / "storage" / run_id / "compute_logs").glob("*.err"))
    assert compute_logs and number(checks["aucun_identifiant_diffuse"], "journaux_calcul_lus") >= 1
    dbt_log = root / "warehouse" / "dbt" / "dbt.log"  # dbt's whole log and artifacts, beside the warehouse
    assert dbt_log.stat().st_size > 100_000
    files = [p for d in ("dagster", "warehouse", "published") for p in (root / d).rglob("*") if p.is_file()]
    for path in [*files, PROJECT_ROOT / "dbt_project" / "logs" / "dbt.log"]:
        if path.exists() and not path.is_symlink():
            content = path.read_bytes()
            assert not [f for f in forms if f in content], path
    # and no cell of any table, list or struct included, holds it; only its fingerprint is kept
    with warehouse.connect(root / "warehouse" / "ali.duckdb", read_only=True) as con:
        tables = con.execute("SELECT schema_name, table_name FROM duckdb_tables()").fetchall()
        for schema, table in tables:
            for form in forms[:5]:
                hits = con.execute(f'SELECT count(*) FROM "{schema}"."{table}" AS t '
                                   "WHERE contains(lower(t::VARCHAR), lower(?))", [form.decode()]).fetchall()
                assert hits == [(0,)], (schema, table)
        stored = con.execute("SELECT valeur FROM raw.parametres WHERE cle = 'empreinte_cle'").fetchall()
    assert len(tables) > 15 and stored == [(Pseudonymiser(SECRET.encode()).fingerprint(),)]


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_archive_and_warehouse_are_owner_only_even_under_a_permissive_umask(command_run, tmp_path):
    root = command_run[0]
    archive = root / "archive"
    entries = [p for p in archive.rglob("*") if p.name != "journal.jsonl"]
    assert len([p for p in entries if p.is_file()]) == 1  # the one delivery
    assert mode(archive) == 0o700
    assert {mode(p) for p in entries if p.is_dir()} == {0o700}
    assert {mode(p) for p in entries if p.is_file()} == {0o400}
    assert mode(archive / "journal.jsonl") == 0o600  # appended to, by its owner only
    base = root / "warehouse"
    assert (mode(base), mode(base / "ali.duckdb")) == (0o700, 0o600)
    # DuckDB creates the .wal beside the file with the process umask after every checkpoint: what keeps
    # it private is the directory. A directory made by someone else with 0755 is closed on first use.
    old = os.umask(0o022)
    try:
        shared = tmp_path / "entrepot"
        shared.mkdir(mode=0o755)
        assert mode(shared) == 0o755
        with warehouse.connect(shared / "ali.duckdb") as con:
            con.execute("CREATE TABLE raw.essai AS SELECT 1 AS x")
            wal = shared / "ali.duckdb.wal"
            assert wal.exists() and mode(wal) == 0o644  # what DuckDB does…
            assert (mode(shared), mode(shared / "ali.duckdb")) == (0o700, 0o600)  # …and why nobody else reads it
    finally:
        os.umask(old)


def test_every_documented_dagster_dev_command_binds_loopback():
    commands = [line for doc in ("README.md", "docs/operations.md")
                for line in (PROJECT_ROOT / doc).read_text(encoding="utf-8").splitlines()
                if "dagster dev " in line and "-w workspace.yaml" in line]
    assert len(commands) == 2 and all("-h 127.0.0.1" in c for c in commands)


def listening(port: int) -> set[str]:
    """Addresses with a socket in LISTEN state on ``port`` (from /proc/net/tcp and tcp6)."""
    found = set()
    for table, family in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:
                raw = bytes.fromhex(address)
                raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
                found.add(socket.inet_ntop(family, raw))
    return found


@pytest.mark.slow
def test_dagster_dev_without_a_host_listens_on_loopback_only(tmp_path):
    """The default of the installed Dagster (``dagster dev`` passes no host, ``dagster-webserver``
    defaults to 127.0.0.1), checked on a real server, not read from its source."""
    (tmp_path / "tiny.py").write_text("import dagster as dg\n\ndefs = dg.Definitions()\n")
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAGSTER_WEBSERVER")}
    env["DAGSTER_HOME"] = str(tmp_path / "home")
    with open(tmp_path / "dev.log", "w") as log:
        dev = subprocess.Popen([str(Path(sys.executable).with_name("dagster")), "dev", "-f", "tiny.py", "-p", str(port)],
                               cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + 120
            while not listening(port) and time.monotonic() < deadline and dev.poll() is None:
                time.sleep(0.5)
            assert listening(port) == {"127.0.0.1"}, (tmp_path / "dev.log").read_text()[-2000:]
        finally:  # a throw-away server (its own session, a temporary home): no graceful shutdown needed
            os.killpg(dev.pid, signal.SIGKILL)
            dev.wait()
