"""Receipts (``retours.md`` §1): what the platform made of one source's files for one month.

One receipt per (month, source) of the reference that has files in the manifest for the month,
written as ``<ALI_PUBLISH_DIR>/accuses/<YYYY-MM>/<source>.html``, ``.csv`` and ``.json`` (for the
deposit portal's API). Everything in it comes from the warehouse: the manifest (files, status,
counts, reason), the quarantine of the versions in force (row in the sender's own file, column,
rule, message, and the value read, which ingestion never keeps for an identifier column and
withholds when it coincides with one), the reported anomalies of the source itself (not
``personne_multi_ali``: that one speaks of another ALI's people), and, from the marts, whether the
delivery was on time (``mart_qualite_sources``) and which expected datasets are missing
(``mart_livraisons``). The due date is the marts'.

A receipt holds nothing that changes when nothing about the source's month changed (no run time),
and a file is rewritten only when its bytes change: a run that changes nothing leaves every
receipt byte for byte, a run that changes one source's files rewrites that source's receipt only.
A file of an unknown source code gets no receipt (there is no one to send it to): the data team
sees it in ``mart_livraisons``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from dataclasses import dataclass

import duckdb

from pipelines.contract import FIXES
from pipelines.months import due_date
from pipelines.publication.snapshot import FORMULA_START

SOURCES_SQL = """
SELECT DISTINCT l.source_code, s.nom, s.source_type
FROM raw.livraisons l
JOIN (SELECT code_ali AS code, nom, 'ALI' AS source_type FROM reference.ali
      UNION ALL SELECT code_partenaire, nom, 'PARTENAIRE' FROM reference.partenaires) s ON s.code = l.source_code
WHERE l.periode_dossier = $mois ORDER BY l.source_code
"""
FILES_SQL = """
SELECT source_code, fichier, dataset,
    strftime(timezone('Europe/Paris', timezone('UTC', recu_le)), '%d/%m/%Y %H:%M') AS recu_le,
    left(sha256, 12) AS empreinte, statut,
    CASE WHEN statut = 'REJETE' THEN 'rejeté' WHEN en_vigueur THEN 'en vigueur'
         ELSE 'remplacé par une version plus récente' END AS version,
    lignes_lues, lignes_chargees, lignes_quarantaine, lignes_ignorees, motif_rejet, regle_rejet,
    coalesce(colonnes_ignorees, []) AS colonnes_ignorees
FROM raw.livraisons WHERE periode_dossier = $mois
ORDER BY source_code, recu_le, fichier
"""
QUARANTINE_SQL = """
SELECT source_code, fichier, ligne, m.colonne, m.regle, m.message, m.valeur
FROM (SELECT l.source_code, q.fichier, q.ligne, unnest(q.motifs) AS m, generate_subscripts(q.motifs, 1) AS rang
      FROM raw.quarantaine q JOIN raw.livraisons l USING (fichier, sha256)
      WHERE l.en_vigueur AND l.periode_dossier = $mois)
ORDER BY source_code, fichier, ligne, rang
"""
REPORTED_SQL = """
SELECT source_code, regle, message, nb_lignes FROM raw.signalements
WHERE strftime(periode, '%Y-%m') = $mois AND regle <> 'personne_multi_ali'
ORDER BY source_code, regle
"""
QUALITY_SQL = """
SELECT source_code, a_l_heure, retard_j, datasets_attendus, datasets_livres FROM marts.mart_qualite_sources
WHERE strftime(periode, '%Y-%m') = $mois
"""
MISSING_SQL = """
SELECT source_code, dataset, statut FROM marts.mart_livraisons
WHERE strftime(periode, '%Y-%m') = $mois AND attendu AND statut <> 'LIVRE'
ORDER BY source_code, dataset
"""


@dataclass
class Receipt:
    mois: str
    source_code: str
    nom: str
    source_type: str
    fichiers: list[dict]
    quarantaine: list[dict]
    signalements: list[dict]
    qualite: dict | None
    """``mart_qualite_sources``' row; None when the source was not expected this month."""
    manquants: list[dict]

    @property
    def echeance(self) -> dt.date:
        """The due date, for display (whether a delivery met it is the marts' ``mart_qualite_sources``)."""
        return due_date(self.mois)


def _by_source(con: duckdb.DuckDBPyConnection, sql: str, mois: str) -> dict[str, list[dict]]:
    """The rows of ``sql`` for the month (one query for every source), grouped by ``source_code``."""
    cursor = con.execute(sql, {"mois": mois})
    names = [d[0] for d in cursor.description][1:]
    grouped: dict[str, list[dict]] = {}
    for code, *values in cursor.fetchall():
        grouped.setdefault(code, []).append(dict(zip(names, values)))
    return grouped


def receipts(con: duckdb.DuckDBPyConnection, mois: str) -> list[Receipt]:
    """Every receipt of ``mois`` (YYYY-MM), from the warehouse opened read-only."""
    files, quarantine, reported, quality, missing = (
        _by_source(con, sql, mois) for sql in (FILES_SQL, QUARANTINE_SQL, REPORTED_SQL, QUALITY_SQL, MISSING_SQL))
    return [Receipt(mois, code, nom, source_type, files.get(code, []), quarantine.get(code, []),
                    reported.get(code, []), (quality.get(code) or [None])[0], missing.get(code, []))
            for code, nom, source_type in con.execute(SOURCES_SQL, {"mois": mois}).fetchall()]


CSV_COLUMNS = ("rubrique", "fichier", "jeu", "recu_le", "empreinte", "statut", "version", "ligne", "colonne",
               "regle", "message", "valeur", "nb_lignes", "que_faire")


def csv_rows(receipt: Receipt) -> list[dict]:
    """One row per file, quarantined reason, reported anomaly and missing dataset, plus the timeliness."""
    rows = [{"rubrique": "delai", "message": timeliness(receipt)}]
    for f in receipt.fichiers:
        rows.append({"rubrique": "fichier", **{k: f[k] for k in ("fichier", "recu_le", "empreinte", "statut",
                                                                    "version")},
                     "jeu": f["dataset"], "regle": f["regle_rejet"], "message": f["motif_rejet"],
                     "nb_lignes": f["lignes_lues"], "que_faire": FIXES.get(f["regle_rejet"] or "", "")})
        if f["colonnes_ignorees"] and f["version"] == "en vigueur":
            rows.append({"rubrique": "signalement", "fichier": f["fichier"], "regle": "colonnes_ignorees",
                         "message": ", ".join(f["colonnes_ignorees"]), "que_faire": FIXES["colonnes_ignorees"]})
    rows += [{"rubrique": "quarantaine", **q, "que_faire": FIXES[q["regle"]]} for q in receipt.quarantaine]
    rows += [{"rubrique": "signalement", **s, "que_faire": FIXES[s["regle"]]} for s in receipt.signalements]
    rows += [{"rubrique": "attendu", "jeu": m["dataset"], "statut": m["statut"],
              "message": MISSING[m["statut"]]} for m in receipt.manquants]
    return rows


MISSING = {"ABSENT": "aucun fichier reçu", "REJETE": "seulement des fichiers rejetés"}


def timeliness(receipt: Receipt) -> str:
    """The delivery's verdict against the due date, in one French sentence."""
    q = receipt.qualite
    if q is None:
        return "Aucune livraison n'était attendue de cette structure pour ce mois."
    if q["retard_j"] is None:
        return (f"Livraison incomplète : {q['datasets_livres']} jeu(x) sur {q['datasets_attendus']} attendus "
                "ont une version valide.")
    if q["a_l_heure"]:
        return "Livraison complète et à l'heure."
    return f"Livraison complète, en retard de {q['retard_j']} jour(s) sur l'échéance."


def as_json(receipt: Receipt) -> bytes:
    """The receipt for a sender's automation (the portal's ``GET /api/accuses``): the page's content as data."""
    document = {"mois": receipt.mois, "source_code": receipt.source_code, "nom": receipt.nom,
                "source_type": receipt.source_type, "echeance": receipt.echeance.isoformat(),
                "bilan": timeliness(receipt), "qualite": receipt.qualite, "fichiers": receipt.fichiers,
                "quarantaine": [{**q, "que_faire": FIXES[q["regle"]]} for q in receipt.quarantaine],
                "signalements": [{**s, "que_faire": FIXES[s["regle"]]} for s in receipt.signalements],
                "manquants": [{**m, "message": MISSING[m["statut"]]} for m in receipt.manquants]}
    return (json.dumps(document, ensure_ascii=False, indent=1, default=str) + "\n").encode("utf-8")


def _cell(value) -> str:
    """French Excel: empty for NULL, formula-like text neutralised with a leading apostrophe."""
    if value is None:
        return ""
    text = str(value)
    return "'" + text if re.search(FORMULA_START, text) else text


def as_csv(receipt: Receipt) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows([_cell(row.get(c)) for c in CSV_COLUMNS] for row in csv_rows(receipt))
    return b"\xef\xbb\xbf" + out.getvalue().encode("utf-8")
