"""The privacy scan (contract §5): does any identifier of the inbox appear where it must not?

Set-based in DuckDB, over the distinct texts of ``textes`` (``places.py``) against ``identifiants``
(``identifiers.py``), with the matching the write guard uses too (``matching.py``).

A finding names its place, object (table, file or event), column and first row, and the kind of
identifier, never the value; an object or column name that is itself a finding is masked.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb

from pipelines.privacy import places
from pipelines.privacy.identifiers import add_key, collect, scanner
from pipelines.privacy.matching import touch
from pipelines.privacy.places import TEXTES_SQL
from pipelines.privacy.scope import Scope

PLACES = ("entrepot", "quarantaine", "publication", "journal", "metadonnees", "journaux_calcul")
QUE_FAIRE = {
    "entrepot": "une table de l'entrepôt contient un identifiant que l'ingestion n'y écrit jamais : retrouver ce qui "
                "l'a écrit (objet, colonne, ligne ci-dessus), effacer la valeur ou corriger le code en cause, puis "
                "relancer.",
    "quarantaine": "un motif de quarantaine contient un identifiant que la garde d'écriture n'a pas masqué : effacer "
                   "ce motif (fichier et ligne ci-dessus) dans raw.quarantaine, signaler le cas à l'équipe qui "
                   "maintient la plateforme (docs/ingestion.md, garde d'écriture), puis relancer.",
    "publication": "un fichier publié contient un identifiant : le retirer de la publication, corriger le modèle ou "
                   "le code qui l'a produit, puis relancer.",
    "journal": "une étape a écrit un identifiant dans le journal du run : corriger son code, supprimer le run de "
               "l'historique Dagster (dagster run delete <run_id>), puis relancer.",
}
QUE_FAIRE["metadonnees"] = QUE_FAIRE["journaux_calcul"] = QUE_FAIRE["journal"]

FINDINGS_SQL = """
CREATE OR REPLACE TEMP MACRO masque(nom) AS
    CASE WHEN EXISTS (SELECT 1 FROM touches h WHERE contains(nom, h.valeur)) THEN '(nom masqué)' ELSE nom END;
SELECT t.lieu, masque(t.objet), masque(t.colonne), t.ligne, t.cellules,
    string_agg(DISTINCT h.nature, ', ' ORDER BY h.nature), masque(t.origine)
FROM textes t JOIN touches h USING (valeur)
GROUP BY t.lieu, t.objet, t.colonne, t.ligne, t.cellules, t.valeur, t.origine
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
    origine: str | None = None
    """The sender's file and row, for a record of a table about deliveries (quarantine, manifest)."""


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
        rows = "\n".join(f"| {f.lieu} | {f.objet} | {f.colonne} | {f.ligne} | {f.cellules} | {f.nature} | "
                         f"{f.origine or ''} |" for f in self.findings[:50])
        more = f"\n\n… et {len(self.findings) - 50} autres" if len(self.findings) > 50 else ""
        return {
            **self.counts,
            **{f"cellules_{p}": self.cells.get(p, 0) for p in PLACES},
            "textes_distincts": self.values,
            "trouvailles": len(self.findings),
            **{f"trouvailles_{p}": n for p, n in by_place.items()},
            "detail": "| lieu | objet | colonne | ligne | cellules | nature | origine |\n" + "|---" * 7 + "|\n"
            + rows + more if self.findings else "aucune valeur d'identifiant trouvée",
            "lieux": [asdict(f) for f in self.findings[:50]],
            "que_faire": "\n".join(f"- {lieu} : {QUE_FAIRE[lieu]}" for lieu in sorted({f.lieu for f in self.findings})),
            "duree_scan_s": round(self.seconds, 2),
        }


def start(con: duckdb.DuckDBPyConnection) -> float:
    """Create the empty ``textes`` table; returns the start time."""
    con.execute(TEXTES_SQL)
    return time.monotonic()


def match(con: duckdb.DuckDBPyConnection, started: float, counts: dict[str, int]) -> Scan:
    """Match ``textes`` against ``identifiants``: the findings, the cells scanned by place, the time."""
    con.execute("CREATE OR REPLACE TEMP TABLE valeurs AS SELECT DISTINCT valeur FROM textes")
    touch(con)
    findings = [Finding(*row) for row in con.execute(FINDINGS_SQL).fetchall()]
    cells = dict(con.execute("SELECT lieu, sum(cellules)::BIGINT FROM textes GROUP BY lieu").fetchall())
    values = con.execute("SELECT count(*) FROM valeurs").fetchall()[0][0]
    con.execute("DROP TABLE touches; DROP TABLE valeurs; DROP TABLE textes")
    return Scan(findings, cells, values, time.monotonic() - started, counts)


def scan_places(
    warehouse: str | Path, archive_dir: Path, months: list[str], run_id: str, *, key: bytes | None = None,
    scan_warehouse: bool = True, publish_dir: Path | None = None, instance=None, scope: Scope | None = None,
    postgres_url: str | None = None,
) -> Scan:
    """Collect the identifiers of ``months`` from the archive, read the places asked for, match.

    The warehouse is attached read-only (the manifest names the archived files; the reference
    tables are the words that are not names) whether or not its own tables are scanned. With a
    ``scope``, tables and published files are read as far as the run wrote them (``scope.py``),
    and the identifiers the run's earlier steps read are taken from memory (``kept.py``); without,
    everything is read.
    """
    with scanner() as con:
        started = start(con)
        con.execute(f"ATTACH '{str(warehouse).replace(chr(39), chr(39) * 2)}' AS entrepot (READ_ONLY)")
        counts = collect(con, "entrepot", archive_dir, months, run_id, keep=scope is not None)
        if key:
            counts["formes_de_cle"] = add_key(con, key)
        if scan_warehouse:
            places.database(con, "entrepot", lambda s, t: "quarantaine" if (s, t) == ("raw", "quarantaine")
                            else "entrepot", scope=scope)
        con.execute("DETACH entrepot")
        if publish_dir is not None:
            counts["fichiers_non_examines"] = places.published(con, publish_dir, scope)
        if postgres_url:
            counts["tables_postgres_lues"] = places.postgres(con, postgres_url, scope)
        if instance is not None:
            places.run_log(con, instance, run_id, scope.events_since if scope is not None else None)
            counts["journaux_calcul_lus"] = places.compute_logs(con, instance, run_id)
        return match(con, started, counts)
