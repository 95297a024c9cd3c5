"""The write guard (contract §5): no text the platform writes about a delivery equals an identifier.

Ingestion writes a few texts taken from the deliveries: the value of a quarantined cell
(``raw.quarantaine.motifs[].valeur``, never for an identifier column), the reason's message, and
the names of ignored header cells (``raw.livraisons.colonnes_ignorees``). Any of them may coincide
with an identifier of some delivery: a birth date typed in the wrong column, a placeholder such as
``01/01/1900`` also used as a birth date, the same impossible date ``31/02/2025`` typed in both
columns of two rows. Such a text is withheld: the value becomes NULL and the message says why
(``MASQUE``); a header name is replaced by ``EN_TETE_MASQUE``; a message (the contract's wording,
which quotes nothing) that would coincide is replaced by ``MESSAGE_MASQUE``.

The guard and the blocking privacy scan agree by construction: the same forms (``identifiers.py``,
built by the same code from the same files: every archived version of the run's months, as the
scan's ``archived_files`` lists them, and every file the run reads), the same matching
(``matching.py``), plus every 13- or 15-digit number (``nir_tout``: the scan also looks for NIRs
in columns the guard does not read). Only the pseudonymisation key, which the scan looks for too,
is left out: it never becomes a table row, even a TEMP one, and no sender knows it.

A later delivery can make an earlier value a coincidence, so
every run, and each month's transaction, re-applies the guard to the values and header names
already stored. Anything else the scan finds was not written by this path: it still blocks.

Everything stays in TEMP tables of the warehouse connection: nothing about the forms is committed.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipelines.privacy.identifiers import Forms, archived_files
from pipelines.privacy.matching import prepare, touch

MASQUE = (" — valeur non reproduite : elle coïncide avec un identifiant (matricule, nom, prénom, date de naissance "
          "ou NIR) d'une livraison")
MESSAGE_MASQUE = "message non reproduit : il coïncide avec un identifiant d'une livraison"
EN_TETE_MASQUE = "(en-tête non reproduit : il coïncide avec un identifiant d'une livraison)"

MACROS_SQL = f"""
CREATE OR REPLACE TEMP MACRO ali_masque(t) AS list_contains(getvariable('ali_masques'), t);
CREATE OR REPLACE TEMP MACRO ali_garde_motifs(motifs) AS list_transform(motifs, lambda m:
    CASE WHEN ali_masque(m.valeur) OR ali_masque(m.message) THEN {{
        'colonne': m.colonne, 'regle': m.regle,
        'message': CASE WHEN ali_masque(m.message) THEN '{MESSAGE_MASQUE.replace("'", "''")}' ELSE m.message END
            || CASE WHEN ali_masque(m.valeur) THEN '{MASQUE.replace("'", "''")}' ELSE '' END,
        'valeur': CASE WHEN ali_masque(m.valeur) THEN NULL ELSE m.valeur END}}
    ELSE m END);
CREATE OR REPLACE TEMP MACRO ali_garde_colonnes(colonnes) AS list_transform(colonnes, lambda c:
    CASE WHEN ali_masque(c) THEN '{EN_TETE_MASQUE.replace("'", "''")}' ELSE c END);
"""
# The texts a month's transaction writes (new) or already holds (stored), as (place, row key, text). Of
# the stored ones, only those taken from deliveries: a message is the contract's wording, checked as written.
NEW_TEXTS = """SELECT '{name}' AS lieu, file_id AS cle, unnest([m.valeur, m.message]) AS texte
FROM (SELECT file_id, unnest(erreurs) AS m FROM validated_{name} WHERE len(erreurs) > 0)"""
RECEIVED_TEXTS = "SELECT 'recues' AS lieu, file_id AS cle, unnest(colonnes_ignorees) AS texte FROM received"
STORED_TEXTS = """
SELECT 'quarantaine' AS lieu, rowid AS cle, m.valeur AS texte
FROM (SELECT rowid, unnest(motifs) AS m FROM raw.quarantaine)
UNION ALL SELECT 'livraisons', rowid, unnest(colonnes_ignorees) FROM raw.livraisons
"""


class Guard:
    """The identifier forms of a run's deliveries, held in the ingestion's connection.

    Built once per run from the archived versions of its months, when it re-applies itself to the
    texts stored (a run that receives nothing new may still bring forms, those of its months, that
    the scan will look for); each month then adds the files it has just read (``add``) before its
    transaction calls ``withhold`` and ``scrub``.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, archive_dir: Path, months: list[str], run_id: str):
        self.catalog = con.execute("SELECT current_database()").fetchone()[0]
        prepare(con)
        con.execute("DELETE FROM identifiants")
        con.execute("INSERT INTO identifiants VALUES ('nir', 'nir_tout', NULL, NULL)")
        con.execute(MACROS_SQL)
        self.run_id = run_id
        forms = Forms(nirs=False, run_id=run_id)
        for archive, dataset in archived_files(con, self.catalog, months, run_id):
            forms.add_archived(archive_dir / archive, archive, dataset)
        forms.insert(con, self.catalog)
        self.withhold(con, [], received=False)
        con.execute("BEGIN")
        try:
            self.scrub(con)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise

    def add(self, con: duckdb.DuckDBPyConnection, todo: list) -> None:
        """The forms of the files just received (``Prepared``): the tables read, else the archived copy
        of a file refused before reading (the scan reads those too)."""
        forms = Forms(nirs=False, run_id=self.run_id)
        for prepared in todo:
            archive = (prepared.archive, prepared.file.dataset) if prepared.copy is not None else None
            if prepared.table is not None:
                same_reading = prepared.dataset is not None and prepared.dataset.name == prepared.file.dataset
                forms.add(prepared.table, prepared.cells, archive if same_reading else None)
            elif archive is not None and not prepared.unreadable:
                forms.add_archived(prepared.copy, *archive)
        forms.insert(con, self.catalog)

    def withhold(self, con: duckdb.DuckDBPyConnection, validated: list[str], *, received: bool = True) -> None:
        """Match the texts about to be written (``validated_<name>``, ``received``) and those stored.

        Sets ``ali_masques`` (the texts to withhold) and the TEMP table ``touchees`` (place and row
        key of the texts holding one), which the transaction's statements read."""
        new = [NEW_TEXTS.format(name=name) for name in validated] + ([RECEIVED_TEXTS] if received else [])
        con.execute("CREATE OR REPLACE TEMP TABLE textes_garde AS SELECT * FROM ("
                    + " UNION ALL ".join([*new, STORED_TEXTS]) + ") WHERE texte IS NOT NULL AND texte <> ''")
        con.execute("CREATE OR REPLACE TEMP TABLE valeurs AS SELECT DISTINCT texte AS valeur FROM textes_garde")
        touch(con)
        con.execute("CREATE OR REPLACE TEMP TABLE touchees AS SELECT DISTINCT g.lieu, g.cle FROM textes_garde g "
                    "SEMI JOIN touches t ON t.valeur = g.texte")
        con.execute("SET VARIABLE ali_masques = (SELECT coalesce(list(DISTINCT valeur), []::VARCHAR[]) FROM touches)")
        con.execute("DROP TABLE textes_garde; DROP TABLE valeurs; DROP TABLE touches")

    def guarded(self, name: str, alias: str = "v") -> str:
        """SQL for the motifs of a new quarantine row of ``validated_<name>``, withheld where needed."""
        return (f"CASE WHEN {alias}.file_id IN (SELECT cle FROM touchees WHERE lieu = '{name}') "
                f"THEN ali_garde_motifs({alias}.erreurs) ELSE {alias}.erreurs END")

    @staticmethod
    def scrub(con: duckdb.DuckDBPyConnection) -> int:
        """Withhold, in the texts already stored, those a form of this run now matches; returns rows changed."""
        changed = con.execute(
            "UPDATE raw.quarantaine SET motifs = ali_garde_motifs(motifs) "
            "WHERE rowid IN (SELECT cle FROM touchees WHERE lieu = 'quarantaine')").fetchall()[0][0]
        changed += con.execute(
            "UPDATE raw.livraisons SET colonnes_ignorees = ali_garde_colonnes(colonnes_ignorees) "
            "WHERE rowid IN (SELECT cle FROM touchees WHERE lieu = 'livraisons')").fetchall()[0][0]
        return changed
