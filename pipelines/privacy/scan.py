"""The privacy scan (contract §5): does any identifier of the inbox appear where it must not?

Set-based in DuckDB, over the distinct texts of ``textes`` (``places.py``) against ``identifiants``
(``identifiers.py``). How a text matches, chosen so that a finding is a real leak:

- ``jeton``: an ASCII letters-and-digits run of the text equals the form (``0123456`` in
  ``matricule 0123456 rejeté``, never inside a hexadecimal ``personne_id`` or hash, nor the decimals
  of a number: ``19,8148985`` is read ``19``);
- ``date``: a ``\\d+[-/]\\d+[-/]\\d+`` run equals the form (``1980-04-03T00:00`` too);
- ``nir``: a token of 13 or 15 digits, once single spaces between digits are removed
  (``1 80 04 93 066 123 45``), is the form, or is any 15-digit number whose key (97 − the first 13
  digits mod 97) is right: a NIR that is in no delivery is a leak too;
- ``cellule``: the whole text, normalised (case, accents, punctuation), is the name;
- ``paire``: the normalised text contains ``prénom nom`` or ``nom prénom`` as whole words;
- ``sous_chaine``: the text contains the pseudonymisation key (as text, hex or base64).

A finding names its place, object (table, file or event), column and first row, and the kind of
identifier, never the value; an object or column name that is itself a finding is masked.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from pipelines.privacy import places
from pipelines.privacy.identifiers import add_key, collect, scanner
from pipelines.privacy.places import TEXTES_SQL

PLACES = ("entrepot", "quarantaine", "publication", "journal", "metadonnees", "journaux_calcul")

MATCH_SQL = r"""
CREATE OR REPLACE TEMP TABLE valeurs AS SELECT DISTINCT valeur FROM textes;
CREATE OR REPLACE TEMP TABLE touches AS
WITH entiers AS (  -- decimal fractions dropped: the digits of 19,8148985 are no matricule
    SELECT valeur, regexp_replace(valeur, '([0-9])[.,][0-9]+', '\1', 'g') AS texte
    FROM valeurs WHERE regexp_matches(valeur, '[0-9]')
), jetons AS (
    SELECT valeur, unnest(regexp_extract_all(upper(texte), '[0-9A-Z]+')) AS forme FROM entiers
), dates AS (
    SELECT valeur, unnest(regexp_extract_all(valeur, '\d+[-/]\d+[-/]\d+')) AS forme
    FROM valeurs WHERE regexp_matches(valeur, '\d[-/]\d')
), nirs AS (
    SELECT * FROM (
        SELECT valeur, unnest(regexp_extract_all(upper(regexp_replace(regexp_replace(texte,
            '(\d) (\d)', '\1\2', 'g'), '(\d) (\d)', '\1\2', 'g')), '[0-9A-Z]+')) AS forme
        FROM entiers WHERE regexp_matches(texte, '\d{4}|\d \d\d \d\d')
    ) WHERE length(forme) IN (13, 15) AND regexp_full_match(forme, '\d+')
), normes AS (
    SELECT valeur, ali_norme(valeur) AS n FROM valeurs
), mots AS (
    SELECT valeur, n, unnest(string_split(n, ' ')) AS mot FROM normes
)
SELECT j.valeur, i.nature FROM jetons j JOIN identifiants i ON i.mode = 'jeton' AND i.forme = j.forme
UNION SELECT d.valeur, i.nature FROM dates d JOIN identifiants i ON i.mode = 'date' AND i.forme = d.forme
UNION SELECT n.valeur, i.nature FROM nirs n JOIN identifiants i ON i.mode = 'nir' AND i.forme = n.forme
UNION SELECT valeur, 'nir' FROM nirs WHERE length(forme) = 15 AND forme[1] IN ('1', '2', '3', '4', '7', '8')
    AND 97 - forme[1:13]::BIGINT % 97 = forme[14:15]::INTEGER
UNION SELECT n.valeur, i.nature FROM normes n JOIN identifiants i ON i.mode = 'cellule' AND i.forme = n.n
UNION SELECT m.valeur, i.nature FROM mots m JOIN identifiants i ON i.mode = 'paire' AND i.cle = m.mot
    AND contains(' ' || m.n || ' ', ' ' || i.forme || ' ')
UNION SELECT v.valeur, i.nature FROM valeurs v JOIN identifiants i ON i.mode = 'sous_chaine'
    AND contains(lower(v.valeur), lower(i.forme));
"""
FINDINGS_SQL = """
SELECT t.lieu,
    CASE WHEN EXISTS (SELECT 1 FROM touches h WHERE contains(t.objet, h.valeur)) THEN '(nom masqué)' ELSE t.objet END,
    CASE WHEN EXISTS (SELECT 1 FROM touches h WHERE contains(t.colonne, h.valeur)) THEN '(nom masqué)' ELSE t.colonne END,
    t.ligne, t.cellules, string_agg(DISTINCT h.nature, ', ' ORDER BY h.nature)
FROM textes t JOIN touches h USING (valeur)
GROUP BY t.lieu, t.objet, t.colonne, t.ligne, t.cellules, t.valeur
ORDER BY ALL
"""


@dataclass(frozen=True)
class Finding:
    """Where an identifier was found: never which one."""

    lieu: str
    objet: str
    colonne: str
    ligne: int
    cellules: int
    nature: str


@dataclass
class Scan:
    """The outcome of one scan: where identifiers were found (never which), and what was read."""

    findings: list[Finding] = field(default_factory=list)
    cells: dict[str, int] = field(default_factory=dict)
    values: int = 0
    seconds: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)
    """What was searched and read (identifier forms by kind, files re-read): counts only."""

    @property
    def passed(self) -> bool:
        return not self.findings

    def metadata(self) -> dict:
        by_place = {p: 0 for p in PLACES}
        for f in self.findings:
            by_place[f.lieu] = by_place.get(f.lieu, 0) + 1
        rows = "\n".join(f"| {f.lieu} | {f.objet} | {f.colonne} | {f.ligne} | {f.cellules} | {f.nature} |"
                         for f in self.findings[:50])
        more = f"\n\n… et {len(self.findings) - 50} autres" if len(self.findings) > 50 else ""
        return {
            **self.counts,
            **{f"cellules_{p}": self.cells.get(p, 0) for p in PLACES},
            "textes_distincts": self.values,
            "trouvailles": len(self.findings),
            **{f"trouvailles_{p}": n for p, n in by_place.items()},
            "detail": "| lieu | objet | colonne | ligne | cellules | nature |\n|---|---|---|---|---|---|\n" + rows + more
            if self.findings else "aucune valeur d'identifiant trouvée",
            "duree_scan_s": round(self.seconds, 2),
        }


def start(con: duckdb.DuckDBPyConnection) -> float:
    """Create the empty ``textes`` table; returns the start time."""
    con.execute(TEXTES_SQL)
    return time.monotonic()


def match(con: duckdb.DuckDBPyConnection, started: float, counts: dict[str, int]) -> Scan:
    """Match ``textes`` against ``identifiants``: the findings, the cells scanned by place, the time."""
    con.execute(MATCH_SQL)
    findings = [Finding(*row) for row in con.execute(FINDINGS_SQL).fetchall()]
    cells = dict(con.execute("SELECT lieu, sum(cellules)::BIGINT FROM textes GROUP BY lieu").fetchall())
    values = con.execute("SELECT count(*) FROM valeurs").fetchall()[0][0]
    con.execute("DROP TABLE touches; DROP TABLE valeurs; DROP TABLE textes")
    return Scan(findings, cells, values, time.monotonic() - started, counts)


def scan_places(
    warehouse: str | Path, archive_dir: Path, months: list[str], run_id: str, *, key: bytes | None = None,
    scan_warehouse: bool = True, publish_dir: Path | None = None, instance=None,
) -> Scan:
    """Collect the run's identifiers from the archive, read the places asked for, match.

    The warehouse is attached read-only (the manifest names the archived files; the reference
    tables are the words that are not names) whether or not its own tables are scanned.
    """
    with scanner() as con:
        started = start(con)
        con.execute(f"ATTACH '{str(warehouse).replace(chr(39), chr(39) * 2)}' AS entrepot (READ_ONLY)")
        counts = collect(con, "entrepot", archive_dir, months, run_id)
        if key:
            counts["formes_de_cle"] = add_key(con, key)
        if scan_warehouse:
            places.database(con, "entrepot", lambda s, t: "quarantaine" if (s, t) == ("raw", "quarantaine")
                            else "entrepot")
        con.execute("DETACH entrepot")
        if publish_dir is not None:
            counts["fichiers_non_examines"] = places.published(con, publish_dir)
        if instance is not None:
            places.run_log(con, instance, run_id)
            counts["journaux_calcul_lus"] = places.compute_logs(con, instance, run_id)
        return match(con, started, counts)
