"""The monthly report, rendered from the published snapshot the project's own pipeline built.

Sample deliveries (full scale, 2024-01..2024-03) go through the real refresh, which publishes
``marts.duckdb``: only the ``marts`` schema and a ``publication`` table, as BI users get it, so a
report that read anything else would fail here. The browser test opens the page in
Debian's Chromium (never a downloaded browser) and compares the figures shown with the marts.
"""

from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from conftest import BENEF_HEADER, benef_row, lines, refreshed_sample

from pipelines.defs.publish.assets import pages_to_write, rapport_mensuel, report_path
from pipelines.months import range_tags
from pipelines.publication.figures import FORMATS, affiche, definition, marts, nombre
from pipelines.publication.report import PLOTLY_FILE, render_report
from pipelines.publication.snapshot import MARTS
from pipelines.refresh import run_refresh
from pipelines.resources import PROJECT_ROOT, PublishResource, WarehouseResource

SCREENSHOT = PROJECT_ROOT / "docs" / "images" / "rapport-mensuel.png"
SCALE = 1.0  # full size costs ~2 s more than 0.05 and gives the README a screenshot with realistic figures
HEADLINE = {"ali_ouvertes", "ali_ayant_livre", "etp_accompagnement", "objectif_conseillers", "places_conventionnees",
            "objectif_places", "taux_occupation", "file_active", "taux_sorties_positives"}


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> dict[str, Path]:
    """The real refresh (which publishes the snapshot) on sample deliveries 2023-07..2024-03, then the report
    asset on 2024-02..03."""
    paths = refreshed_sample(tmp_path_factory.mktemp("rapport"), SCALE, "2023-07", "2024-03")  # 3 mature cohorts
    assert (paths["ALI_PUBLISH_DIR"] / "rapports" / "rapport_2023-07.html").exists()  # the refresh ends with reports
    shutil.rmtree(paths["ALI_PUBLISH_DIR"] / "rapports")  # so the asset alone is seen writing only its months
    result = dg.materialize(
        [rapport_mensuel], instance=dg.DagsterInstance.ephemeral(),
        resources={"publish": PublishResource(directory=str(paths["ALI_PUBLISH_DIR"])),
                   "warehouse": WarehouseResource(path=str(paths["ALI_WAREHOUSE"]))},
        tags=range_tags("2024-02", "2024-03"),
    )
    assert result.success
    paths["materializations"] = [e.materialization for e in result.get_asset_materialization_events()]
    return paths


@pytest.fixture(scope="module")
def snapshot(published):
    with duckdb.connect(str(published["ALI_PUBLISH_DIR"] / "marts.duckdb"), read_only=True) as con:
        yield con


class Tags(HTMLParser):
    """Every start tag of a page with its attributes."""

    def __init__(self, page: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def test_french_number_formatting():
    assert nombre(1234567.891, 1) == "1\u202f234\u202f567,9"
    assert affiche("taux", 0.78345) == "78,3\u00a0%"
    assert affiche("entier", 31402) == "31\u202f402"
    assert affiche("decimal", 337.2) == "337,2"
    assert [affiche(f, None) for f in ("entier", "taux", "oui_non")] == ["—"] * 3
    assert affiche("oui_non", False) == "non"


def test_every_mart_column_has_one_french_definition_label_and_format():
    for mart in marts().values():
        assert mart.description
        for name, d in mart.columns.items():
            assert d.libelle and d.description and d.format in FORMATS, (mart.name, name)
    assert definition("mart_ali_mensuel", "taux_contractualisation").format == "taux"


def test_report_is_self_contained_french_and_has_one_row_per_ali(snapshot):
    tables = {t for (t,) in snapshot.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    assert tables == {"publication", *MARTS}, "the snapshot has no raw or reference table to lean on"
    page = render_report(snapshot, "2024-03")
    tags = Tags(page).tags
    external = [(t, a) for t, a in tags if t in ("script", "link", "img", "iframe")
                and re.match(r"(https?:)?//", a.get("src") or a.get("href") or "")]
    assert external == []
    scripts = [a.get("src") for t, a in tags if t == "script"]
    assert scripts[0] == PLOTLY_FILE and "* plotly.js v" not in page, "the library is one file beside the pages"
    assert page.count("Plotly.newPlot(") == 5  # 4 trends, the cohorts
    assert len(page.encode()) <= 600_000
    for label in ("Rapport mensuel de l'insertion — mars 2024", "Chiffres clés face aux objectifs", "ALI ouvertes",
                  "ETP d'accompagnement", "Places conventionnées", "Taux d'occupation", "Évolution sur 12 mois",
                  "Indicateurs par ALI", "Parcours", "Cohortes d'entrants", "Freins périphériques",
                  "Prescriptions devenues participations", "Complétude des livraisons", "Quarantaine",
                  "Qualité des livraisons", "Sources en retard ou manquantes",
                  "Les dix taux de quarantaine les plus élevés", "Ponctualité sur 12 mois"):
        assert label in page, label
    assert "Par règle" not in page  # no rule breakdown unless the caller passes it
    codes = [c for (c,) in snapshot.execute(
        "SELECT code_ali FROM marts.mart_ali_mensuel WHERE periode = DATE '2024-03-01' ORDER BY code_ali").fetchall()]
    section = page.split("<h2>Indicateurs par ALI", 1)[1].split("</section>", 1)[0]
    rows = re.findall(r"<tr><td>([^<]*)</td>", section.split("<tbody>", 1)[1])
    assert codes and rows == codes
    headers = re.findall(r'<th[^>]* title="([^"]*)">', section.split("<tbody>", 1)[0])
    assert len(headers) == len(snapshot.execute("DESCRIBE marts.mart_ali_mensuel").fetchall()) - 1  # all but periode
    assert all(headers), "every column header carries its definition"


def test_a_month_outside_the_marts_is_an_error(snapshot):
    with pytest.raises(ValueError, match="2030-01"):
        render_report(snapshot, "2030-01")


def test_asset_writes_one_page_per_month_and_links_the_last(published):
    directory = published["ALI_PUBLISH_DIR"]
    # 2024-02 and 2024-03 rebuilt the cohorts 2023-02 … 2024-03, shown on the pages 2023-08 … 2024-03
    assert sorted(p.name for p in (directory / "rapports").iterdir()) == [PLOTLY_FILE] + [
        f"rapport_{m}.html" for m in ("2023-08", "2023-09", "2023-10", "2023-11", "2023-12", "2024-01", "2024-02",
                                      "2024-03")]
    metadata = published["materializations"][-1].metadata
    assert metadata["rapport"].path == str(report_path(directory, "2024-03"))
    assert "| ALI ouvertes |" in metadata["chiffres_cles"].md_str and "**2024-03**" in metadata["chiffres_cles"].md_str
    assert "<h3>Par règle</h3>" in report_path(directory, "2024-03").read_text(encoding="utf-8")


def shown_number(text: str) -> tuple[float, float]:
    """A French figure read back from the page, and half a unit of its last digit (the rounding)."""
    digits = text.replace("\u202f", "").replace("\u00a0", "").replace(" ", "").rstrip("%")
    decimals = len(digits.split(",")[1]) if "," in digits else 0
    return float(digits.replace(",", ".")), 0.5 * 10 ** -decimals + 1e-9


def offline_only(route, requests: list[str]) -> None:
    """Let the page read its own file; record and refuse anything that would need the network."""
    if route.request.url.startswith("file:"):
        route.continue_()
    else:
        requests.append(route.request.url)
        route.abort()


def test_report_in_headless_chromium_shows_the_mart_values(published, snapshot, browser):
    page_file = report_path(published["ALI_PUBLISH_DIR"], "2024-03")
    expected = dict(zip([d[0] for d in snapshot.execute("SELECT * FROM marts.mart_departement_mensuel").description],
                        snapshot.execute("SELECT * FROM marts.mart_departement_mensuel "
                                         "WHERE periode = DATE '2024-03-01'").fetchone()))
    errors, requests = [], []
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.route("**/*", lambda route: offline_only(route, requests))
    page.goto(page_file.as_uri(), wait_until="load")
    page.wait_for_function("document.querySelectorAll('.plotly-graph-div .main-svg').length >= 4")
    figures = page.eval_on_selector_all(
        "[data-indicateur]", "els => els.map(e => [e.dataset.indicateur, e.dataset.valeur, e.textContent])")
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert errors == [] and requests == []
    assert HEADLINE <= {name for name, _, _ in figures}
    for name, raw, text in figures:
        value = expected[name]
        if value is None:
            assert (raw, text) == ("", "—"), name
            continue
        assert float(raw) == value, name
        shown, rounding = shown_number(text)
        percent = definition("mart_departement_mensuel", name).format == "taux"
        assert abs(shown - (100 * value if percent else value)) <= rounding, (name, text)
    assert SCREENSHOT.stat().st_size > 10_000
    parcours = page.eval_on_selector_all(
        "[data-parcours]", "els => els.map(e => [e.dataset.parcours, e.dataset.valeur, e.textContent])")
    check_parcours(parcours, snapshot)
    qualite = page.eval_on_selector_all(
        "[data-qualite]", "els => els.map(e => [e.dataset.qualite, e.dataset.valeur, e.textContent])")
    check_qualite(qualite, snapshot)


PARCOURS_EXPECTED = {  # written from parcours.md, not from the report's code: département = Σ of the ALI rows
    "mart_parcours_cohortes": """SELECT strftime(cohorte, '%Y-%m'), sum(entrants),
        sum(sortis_positifs_6m) / sum(entrants) FILTER (WHERE mature_6m),
        sum(sortis_positifs_12m) / sum(entrants) FILTER (WHERE mature_12m)
        FROM marts.mart_parcours_cohortes GROUP BY 1""",
    "mart_freins_mensuel": """SELECT code_ali || '|' || frein, personnes, taux_orientation, taux_en_action
        FROM marts.mart_freins_mensuel WHERE periode = DATE '2024-03-01'""",
    "mart_actions_mensuel": """SELECT coalesce(thematique, '*'), sum(prescrits), sum(prescrits_entres_3m),
        sum(prescrits_entres_3m) / sum(prescrits) FROM marts.mart_actions_mensuel
        WHERE periode = DATE '2024-01-01' AND prescrits > 0 GROUP BY ROLLUP (thematique)""",
}
PARCOURS_COLUMNS = {
    "mart_parcours_cohortes": ("entrants", "taux_sorties_positives_6m", "taux_sorties_positives_12m"),
    "mart_freins_mensuel": ("personnes", "taux_orientation", "taux_en_action"),
    "mart_actions_mensuel": ("prescrits", "prescrits_entres_3m", "taux_concretisation_3m"),
}


def check_parcours(shown: list[list[str]], snapshot) -> None:
    """Each figure of the Parcours section equals the marts' value (raw and as displayed)."""
    expected = {}
    for mart, sql in PARCOURS_EXPECTED.items():
        for key, *values in snapshot.execute(sql).fetchall():
            expected |= {(mart, c, key): v for c, v in zip(PARCOURS_COLUMNS[mart], values)}
    marts_shown = {name.split(":")[0] for name, _, _ in shown}
    assert marts_shown == set(PARCOURS_EXPECTED), marts_shown  # cohorts, barriers and prescriptions all shown
    assert sum(name.startswith("mart_parcours_cohortes:entrants:") for name, _, _ in shown) == 3  # 2023-07 … 09
    for name, raw, text in shown:
        mart, column, key = name.split(":", 2)
        value = expected[(mart, column, key)]
        if value is None:
            assert (raw, text) == ("", "—"), name
            continue
        assert float(raw) == pytest.approx(float(value), abs=1e-12), name
        number, rounding = shown_number(text)
        percent = definition(mart, column).format == "taux"
        assert abs(number - (100 * float(value) if percent else float(value))) <= rounding, (name, text)


QUALITE_SQL = """SELECT source_code, a_l_heure, retard_j, datasets_livres, datasets_attendus, lignes_lues,
    lignes_quarantaine, taux_quarantaine FROM marts.mart_qualite_sources WHERE periode = DATE '2024-03-01'"""
PONCTUALITE_SQL = """SELECT source_code, count(*), count(*) FILTER (WHERE a_l_heure), avg(a_l_heure::INTEGER)
    FROM marts.mart_qualite_sources WHERE periode BETWEEN DATE '2023-04-01' AND DATE '2024-03-01'
    GROUP BY source_code"""  # written from retours.md: months on time / months expected, M − 11 … M


def check_qualite(shown: list[list[str]], snapshot) -> None:
    """The « Qualité des livraisons » section of 2024-03 against the mart: every source not on time with its
    delay (or « manquant ») and datasets; the ten highest quarantine rates; every expected source's on-time
    rate over 2023-04 … 2024-03. Each figure raw (data-valeur) and as displayed."""
    names = [d[0] for d in snapshot.execute(QUALITE_SQL).description]
    rows = {r[0]: dict(zip(names, r)) for r in snapshot.execute(QUALITE_SQL).fetchall()}
    for source, n, on_time, rate in snapshot.execute(PONCTUALITE_SQL).fetchall():
        if source in rows:
            rows[source] |= {"mois_attendus": n, "mois_a_l_heure": on_time, "ponctualite_12m": rate}
    figures: dict[str, dict[str, tuple[str, str]]] = {}
    for name, raw, text in shown:
        column, source = name.split(":", 1)
        figures.setdefault(column, {})[source] = (raw, text)
    late = {s for s, r in rows.items() if not r["a_l_heure"]}
    missing = {s for s in late if rows[s]["retard_j"] is None}
    assert missing, "the sample leaves sources missing in its last month (late ones arrive after the snapshot)"
    assert set(figures["retard_j"]) == set(figures["datasets_livres"]) == set(figures["datasets_attendus"]) == late
    assert {s for s, (raw, text) in figures["retard_j"].items() if (raw, text) == ("", "manquant")} == missing
    positives = {s: r["taux_quarantaine"] for s, r in rows.items() if r["lignes_quarantaine"] > 0}
    top = set(figures["taux_quarantaine"])
    assert len(top) == min(10, len(positives)) > 0 and top <= set(positives)
    assert min(positives[s] for s in top) >= max([positives[s] for s in set(positives) - top], default=0)
    assert set(figures["ponctualite_12m"]) == set(rows) and len(rows) == 20 + 82  # ALI open in March, partners
    assert any(0 < r["ponctualite_12m"] < 1 for r in rows.values())
    for column, cells in figures.items():
        for source, (raw, text) in cells.items():
            value = rows[source][column]
            if value is None:
                assert raw == "" and text in ("—", "manquant"), (column, source)
                continue
            assert float(raw) == pytest.approx(float(value), abs=1e-12), (column, source)
            number, rounding = shown_number(text)
            percent = column in ("taux_quarantaine", "ponctualite_12m")
            assert abs(number - (100 * float(value) if percent else float(value))) <= rounding, (column, text)


def test_pages_to_write_follow_the_twelve_month_window_and_the_cohorts_shown():
    """Page P shows the months P − 11 … P and the cohorts P − 17 … P − 6; a change of month X rebuilds
    the cohorts X − 12 … X: the pages X − 6 … X + 17 that exist."""
    available = {f"2024-{m:02d}" for m in range(1, 13)} | {f"2025-{m:02d}" for m in range(1, 4)}
    assert pages_to_write(["2024-03"], available) == sorted(available)  # 2023-09 … 2025-08
    assert pages_to_write(["2025-02", "2025-03"], available) == [f"2024-{m:02d}" for m in range(8, 13)] + [
        "2025-01", "2025-02", "2025-03"]
    assert pages_to_write(["2023-02"], {"2023-02", "2023-03"}) == ["2023-02", "2023-03"]  # first partition
    years = {f"{y}-{m:02d}" for y in range(2023, 2027) for m in range(1, 13)}
    assert pages_to_write(["2024-10"], years) == [f"2024-{m:02d}" for m in range(4, 13)] + [
        f"2025-{m:02d}" for m in range(1, 13)] + ["2026-01", "2026-02", "2026-03"]


def trend(page: str, series: str) -> dict[str, float | None]:
    """Month label → value of one series of the page's first chart (its plotly JSON)."""
    found = re.search(r'"name":"' + series + r'","x":(\[[^\]]*\]),"y":(\[[^\]]*\])', page)
    labels, values = json.loads(found.group(1)), json.loads(found.group(2))
    return dict(zip(labels, values))


@pytest.mark.slow
def test_a_late_file_rewrites_exactly_the_reports_whose_charts_include_its_month(env, inbox):
    """15 months of one ALI, October 2024 missing; October arrives late and is refreshed alone: its page and
    the later ones are rewritten with October in their 12-month charts, and the six before it for their
    cohorts (2023-10 … 2024-10 rebuilt, shown from 2024-04 on); January to March 2024 are left as they were."""
    months = [f"2024-{m:02d}" for m in range(1, 13)] + ["2025-01", "2025-02", "2025-03"]

    def deliver(month: str, people: int) -> None:
        rows = [benef_row(f"{1234567 + i}", orientation="2023-06-01", rdv="2023-06-10", entree=f"{month}-01")
                for i in range(people)]
        inbox.put(f"{month}/ALI01/beneficiaires.csv", lines(BENEF_HEADER, *rows))

    for month in months:
        if month != "2024-10":
            deliver(month, 1)
    assert run_refresh(instance=dg.DagsterInstance.ephemeral()).success
    pages = {m: report_path(env["ALI_PUBLISH_DIR"], m) for m in months}
    before = {m: (p.stat().st_ino, p.stat().st_mtime_ns) for m, p in pages.items()}
    assert trend(pages["2025-03"].read_text(encoding="utf-8"), "File active")["oct.<br>2024"] is None

    deliver("2024-10", 2)
    instance = dg.DagsterInstance.ephemeral()
    result = run_refresh("2024-10", instance=instance)
    assert result.success
    rewritten = {m for m, p in pages.items() if (p.stat().st_ino, p.stat().st_mtime_ns) != before[m]}
    assert rewritten == set(months[3:])  # 2024-04 … 2025-03
    with duckdb.connect(str(env["ALI_PUBLISH_DIR"] / "marts.duckdb"), read_only=True) as con:
        assert con.execute("SELECT file_active FROM marts.mart_departement_mensuel "
                           "WHERE periode = DATE '2024-10-01'").fetchall() == [(2,)]
    for month in months[9:]:
        assert trend(pages[month].read_text(encoding="utf-8"), "File active")["oct.<br>2024"] == 2, month
    # Dagster knows: the run's partition materialized, each other page as its own materialization event
    written = sorted(e.asset_materialization.partition for e in instance.all_logs(
        result.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
        if e.asset_materialization.asset_key == dg.AssetKey(["publication", "rapport_mensuel"]))
    assert written == months[3:]


def test_the_sample_makes_every_parcours_figure_non_trivial(published, snapshot):
    """The generator's people persist, come back, move, have barriers and get (or not) an answer:
    on its 9 months every parcours figure takes values other than 0 and 1, and passages show
    re-entries at the same ALI and moves between ALI."""
    figures = snapshot.execute("""
        SELECT
            (SELECT count(*) FROM marts.mart_parcours_cohortes WHERE sortis_positifs_6m > 0
                AND sortis_positifs_6m < sortis_6m AND contrats_60j > 0 AND contrats_60j < entrants),
            (SELECT count(*) FROM marts.mart_freins_mensuel WHERE periode = DATE '2024-03-01'
                AND taux_orientation > 0 AND taux_orientation < 1),
            (SELECT count(*) FROM marts.mart_freins_mensuel WHERE periode = DATE '2024-03-01'
                AND taux_en_action > 0 AND taux_en_action < 1),
            (SELECT sum(prescrits_entres_3m) / sum(prescrits) FROM marts.mart_actions_mensuel
                WHERE periode = DATE '2024-01-01')
    """).fetchone()
    assert figures[0] > 0 and figures[1] > 0 and figures[2] > 0 and 0.2 < figures[3] < 0.95, figures
    with duckdb.connect(str(published["ALI_WAREHOUSE"]), read_only=True) as con:
        reentries, movers = con.execute("""
            SELECT count(*) FILTER (WHERE n_ali = 1 AND n > 1), count(*) FILTER (WHERE n_ali > 1)
            FROM (SELECT personne_id, count(*) AS n, count(DISTINCT code_ali) AS n_ali
                  FROM intermediate.int_passages GROUP BY personne_id)""").fetchone()
    assert reentries > 10 and movers > 10, (reentries, movers)
