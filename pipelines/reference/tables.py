"""Reference data (ALI, partners, action catalogue, barriers → themes, communes, targets): validated, then loaded whole.

These CSV files are data, not code: a new partner, ALI or action is a new row. A file that breaks a
rule stops the load with every problem listed, and the previous reference tables stay in force.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from pipelines.contract import FREINS
from pipelines.crash_points import kill_point


@dataclass(frozen=True)
class ReferenceTable:
    name: str
    file: str
    select: str
    """Typed projection of the all-text CSV ``src``."""
    checks: tuple[tuple[str, str], ...]
    """(query returning offending values, problem) — every value returned is a problem."""


TABLES = (
    ReferenceTable(
        "communes", "communes_93.csv",
        "SELECT code_insee, nom, population_municipale::INTEGER AS population_municipale, ept FROM src",
        (
            ("SELECT code_insee FROM src WHERE NOT regexp_full_match(code_insee, '93\\d{3}')", "code INSEE invalide"),
            ("SELECT code_insee FROM src GROUP BY 1 HAVING count(*) > 1", "code INSEE en double"),
            ("SELECT code_insee FROM src WHERE try_cast(population_municipale AS INTEGER) IS NULL "
             "OR try_cast(population_municipale AS INTEGER) <= 0", "population_municipale invalide"),
        ),
    ),
    ReferenceTable(
        "communes_anciennes", "communes_anciennes.csv",
        "SELECT code_insee_ancien, nom_ancien, code_insee, date_effet::DATE AS date_effet FROM src",
        (("SELECT code_insee FROM src WHERE code_insee NOT IN (SELECT code_insee FROM new_communes)",
          "commune d'accueil absente de communes_93.csv"),),
    ),
    ReferenceTable(
        "ali", "ali.csv",
        "SELECT code_ali, nom, nullif(porteur, '') AS porteur, string_split(communes, '|') AS communes, "
        "date_ouverture::DATE AS date_ouverture FROM src",
        (
            ("SELECT code_ali FROM src GROUP BY 1 HAVING count(*) > 1", "code_ali en double"),
            ("SELECT code_ali FROM src WHERE try_cast(date_ouverture AS DATE) IS NULL", "date_ouverture invalide"),
            ("SELECT code_ali || ' : ' || c FROM (SELECT code_ali, unnest(string_split(communes, '|')) AS c FROM src) "
             "WHERE c NOT IN (SELECT code_insee FROM new_communes)", "commune absente de communes_93.csv"),
        ),
    ),
    ReferenceTable(
        "partenaires", "partenaires.csv",
        "SELECT code_partenaire, nom, thematique, territoire FROM src",
        (
            ("SELECT code_partenaire FROM src GROUP BY 1 HAVING count(*) > 1", "code_partenaire en double"),
            ("SELECT code_partenaire FROM src WHERE code_partenaire IN (SELECT code_ali FROM new_ali)",
             "code partenaire identique à un code ALI"),
        ),
    ),
    ReferenceTable(
        "actions", "actions.csv",
        "SELECT code_action, code_partenaire, thematique, intitule, annee::INTEGER AS annee, "
        "places_conventionnees::INTEGER AS places_conventionnees, budget_annuel_eur::DOUBLE AS budget_annuel_eur "
        "FROM src",
        (
            ("SELECT code_action || ' ' || annee FROM src GROUP BY code_action, annee HAVING count(*) > 1",
             "action en double pour la même année"),
            ("SELECT code_action FROM src WHERE code_partenaire NOT IN "
             "(SELECT code_partenaire FROM new_partenaires)", "partenaire inconnu"),
            ("SELECT code_action FROM src GROUP BY 1 HAVING count(DISTINCT code_partenaire) > 1",
             "action rattachée à plusieurs partenaires"),
            ("SELECT code_action || ' ' || annee FROM src WHERE try_cast(places_conventionnees AS INTEGER) IS NULL "
             "OR try_cast(places_conventionnees AS INTEGER) < 0 OR try_cast(annee AS INTEGER) IS NULL "
             "OR try_cast(budget_annuel_eur AS DOUBLE) IS NULL", "nombre invalide"),
        ),
    ),
    ReferenceTable(
        "freins_thematiques", "freins_thematiques.csv",
        "SELECT frein, thematique FROM src",
        (
            ("SELECT frein || ' ' || thematique FROM src GROUP BY ALL HAVING count(*) > 1", "couple en double"),
            (f"SELECT frein FROM src WHERE frein NOT IN {tuple(FREINS)}", "frein absent du contrat"),
            ("SELECT thematique FROM src WHERE thematique NOT IN (SELECT thematique FROM new_actions)",
             "thématique absente du catalogue des actions"),
        ),
    ),
    ReferenceTable(
        "objectifs", "objectifs.csv",
        "SELECT indicateur, annee::INTEGER AS annee, valeur::DOUBLE AS valeur, source FROM src",
        (
            ("SELECT indicateur || ' ' || annee FROM src GROUP BY indicateur, annee HAVING count(*) > 1",
             "objectif en double"),
            ("SELECT indicateur FROM src WHERE try_cast(valeur AS DOUBLE) IS NULL OR try_cast(annee AS INTEGER) IS NULL",
             "valeur ou année invalide"),
        ),
    ),
)

COMMUNE_KEYS = """
CREATE OR REPLACE TEMP TABLE new_communes_cles AS
SELECT code_insee AS cle, code_insee FROM new_communes
UNION SELECT ali_cle_commune(nom), code_insee FROM new_communes
UNION SELECT code_insee_ancien, code_insee FROM new_communes_anciennes
UNION SELECT ali_cle_commune(nom_ancien), code_insee FROM new_communes_anciennes
"""


def _read_csv(path: Path) -> pa.Table:
    """All-text table of a reference CSV (UTF-8, ``,``; any line endings, as edited by hand)."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        header, *rows = [r for r in csv.reader(handle) if any(c.strip() for c in r)]
    return pa.table({name: [r[i].strip() if i < len(r) else "" for r in rows] for i, name in enumerate(header)})


class InvalidReference(ValueError):
    """At least one reference file breaks a rule; the message lists every problem."""


def load_reference(con: duckdb.DuckDBPyConnection, directory: Path) -> dict[str, int]:
    """Validate every reference file into temp tables, then replace ``reference.*`` in one transaction."""
    problems: list[str] = []
    for table in TABLES:
        path = directory / table.file
        if not path.exists():
            problems.append(f"{table.file} : fichier absent de {directory}")
            continue
        con.register("src_file", _read_csv(path))
        con.execute("CREATE OR REPLACE TEMP TABLE src AS SELECT * FROM src_file")
        con.unregister("src_file")
        found = []
        for query, problem in table.checks:
            try:
                bad = [str(v[0]) for v in con.execute(query).fetchall()]
            except duckdb.CatalogException:
                bad = ["vérification impossible : un fichier dont il dépend est invalide"]
            if bad:
                found.append(f"{table.file} : {problem} ({', '.join(bad[:10])})")
        if not found:
            con.execute(f"CREATE OR REPLACE TEMP TABLE new_{table.name} AS {table.select}")
        problems += found
    if problems:
        raise InvalidReference("données de référence invalides :\n- " + "\n- ".join(problems))
    con.execute(COMMUNE_KEYS)
    names = [t.name for t in TABLES] + ["communes_cles"]
    con.execute("BEGIN")
    try:
        for name in names:
            con.execute(f"CREATE OR REPLACE TABLE reference.{name} AS SELECT * FROM new_{name}")
        kill_point("reference.avant_commit")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return {name: con.execute(f"SELECT count(*) FROM reference.{name}").fetchall()[0][0] for name in names}
