"""``python -m pipelines audit``: which file, received when, produced an ALI's figures for a month.

A figure of ``marts.mart_ali_mensuel`` is challenged ("why 412 accompanied in ALI04 in October?"):
the answer is the ALI's delivery in force for that month, its fingerprint, when it was received and
processed, by which run, where its original is archived and what became of its lines, next to the
versions it replaced and the re-sends that were rejected (and why). Everything comes from the
manifest ``raw.livraisons`` and the marts, which hold no personal data: the audit never reads a
data table, so it can be shown to anyone allowed to see the marts.

Which dataset feeds which column is declared in ``FEEDS`` (dbt's manifest has no column-level
lineage); the datasets the mart reads at all are derived from dbt's ``manifest.json`` and checked
against ``FEEDS`` on every audit, so a model that starts reading another dataset (a partner's,
say) makes the audit say its mapping is out of date instead of silently omitting that source.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipelines import warehouse
from pipelines.contract import DATASETS
from pipelines.resources import PROJECT_ROOT, env_path
from pipelines.warehouse_lock import warehouse_lock

MART = "mart_ali_mensuel"
MANIFEST = PROJECT_ROOT / "dbt_project" / "target" / "manifest.json"
KEYS = ("periode", "code_ali", "nom_ali")
"""Identify the row (nom_ali comes from the reference ali.csv): not figures."""
_B, _C = ("beneficiaires",), ("conseillers",)
FEEDS: dict[str, tuple[str, ...]] = {
    "livre": _B, "file_active": _B, "accompagnes_fin_mois": _B, "entrees": _B, "sorties": _B,
    "sorties_positives": _B, "taux_sorties_positives": _B, "etp_accompagnement": _C,
    "accompagnes_par_etp": _B + _C, "delai_moyen_orientation_rdv_j": _B, "part_rdv_sous_30j": _B,
    "taux_contractualisation": _B, "entretiens_par_personne": _B, "activite_renseignee": _B, "part_activite_15h": _B,
}
"""Column of mart_ali_mensuel → the ALI's datasets it is computed from (see _marts.yml)."""

ROLE = {"en vigueur": 0, "remplacée": 1, "rejetée": 2}

DELIVERIES_SQL = """
SELECT l.dataset,
    CASE WHEN l.statut = 'REJETE' THEN 'rejetée' WHEN l.en_vigueur THEN 'en vigueur' ELSE 'remplacée' END AS role,
    l.fichier, l.sha256, l.recu_le, l.traite_le, l.run_id, l.archive, l.lignes_lues, l.lignes_chargees,
    l.lignes_quarantaine, l.lignes_ignorees, l.motif_rejet,
    m.fichier IS NOT NULL AS dans_les_marts
FROM raw.livraisons l
LEFT JOIN marts.mart_livraisons m
    ON m.statut = 'LIVRE' AND m.periode = l.periode AND m.source_code = l.source_code AND m.dataset = l.dataset
    AND m.fichier = l.fichier AND m.sha256 = l.sha256
WHERE l.periode = ?::DATE AND l.source_code = ?
ORDER BY l.dataset NULLS LAST, l.recu_le DESC, l.fichier
"""


@dataclass(frozen=True)
class Audit:
    periode: str
    ali: str
    livraisons: list[dict]
    """Every file received for (periode, ali), in force first, then by reception time, newest first."""
    chiffres: list[dict]
    """The mart's figures: colonne, valeur, jeux (datasets it is computed from); [] without a row."""
    nom_ali: str | None


def audit(con, periode: str, ali: str) -> Audit:
    """The audit of ``ali`` for month ``periode`` (``YYYY-MM``) from an open warehouse connection."""
    cursor = con.execute(DELIVERIES_SQL, [f"{periode}-01", ali])
    names = [d[0] for d in cursor.description]
    livraisons = sorted((dict(zip(names, row)) for row in cursor.fetchall()),
                        key=lambda r: (r["dataset"] or "", ROLE[r["role"]]))
    cursor = con.execute(f"SELECT * FROM marts.{MART} WHERE periode = ?::DATE AND code_ali = ?", [f"{periode}-01", ali])
    names = [d[0] for d in cursor.description]
    rows = cursor.fetchall()
    row = dict(zip(names, rows[0])) if rows else {}
    chiffres = [{"colonne": c, "valeur": row[c], "jeux": FEEDS.get(c, ())} for c in names if c not in KEYS and row]
    return Audit(periode, ali, livraisons, chiffres, row.get("nom_ali"))


def read_audit(periode: str, ali: str) -> Audit:
    """The audit read from ``ALI_WAREHOUSE``, read-only, under the warehouse's shared lock."""
    path = Path(env_path("ALI_WAREHOUSE"))
    if not path.exists():
        raise SystemExit(f"pas d'entrepôt en {path} : lancer d'abord python -m pipelines refresh")
    with warehouse_lock(path, shared=True), warehouse.connect(path, read_only=True) as con:
        try:
            return audit(con, periode, ali)
        except duckdb.CatalogException as error:
            raise SystemExit(f"marts absents de l'entrepôt (aucun dbt build réussi ?) : {str(error).splitlines()[0]}") from None


def upstream_datasets(manifest: Path = MANIFEST) -> set[str]:
    """The delivered datasets (raw.<dataset> sources) that dbt's lineage says the mart reads, at any depth."""
    data = json.loads(manifest.read_text())
    mart, = [uid for uid, node in data["nodes"].items() if node["resource_type"] == "model" and node["name"] == MART]
    seen, todo = set(), [mart]
    while todo:
        for parent in data["parent_map"].get(todo.pop(), []):
            if parent not in seen:
                seen.add(parent)
                todo.append(parent)
    return {data["sources"][uid]["name"] for uid in seen
            if uid in data["sources"] and data["sources"][uid]["source_name"] == "raw"} & set(DATASETS)


def lineage_problems(manifest: Path = MANIFEST) -> list[str]:
    """Where ``FEEDS`` disagrees with dbt's manifest (columns of the mart, datasets it reads); [] if none."""
    data = json.loads(manifest.read_text())
    node, = [n for n in data["nodes"].values() if n["resource_type"] == "model" and n["name"] == MART]
    problems = []
    columns = set(node["columns"]) - set(KEYS)
    if columns != set(FEEDS):
        problems.append(f"colonnes de {MART} sans source déclarée dans FEEDS : {sorted(columns ^ set(FEEDS))}")
    declared, read = {d for jeux in FEEDS.values() for d in jeux}, upstream_datasets(manifest)
    if declared != read:
        problems.append(f"{MART} lit {sorted(read)} selon dbt, FEEDS (pipelines/audit.py) déclare {sorted(declared)}")
    return problems


def lineage_lines(manifest: Path = MANIFEST) -> list[str]:
    """What dbt's lineage says the mart reads, and any disagreement with ``FEEDS``."""
    if not manifest.exists():
        return [f"ATTENTION : lignage non vérifié, {manifest} absent (bash .ci/setup ou dbt parse)"]
    read = upstream_datasets(manifest)
    partners = sorted(d for d in read if DATASETS[d].source_type == "PARTENAIRE")
    line = (f"Lignage dbt (manifest.json) : {MART} lit les fichiers {', '.join(sorted(read))} de l'ALI ; "
            + (f"aussi ceux des partenaires ({', '.join(partners)}), non listés ici." if partners
               else "aucun fichier de partenaire n'entre dans ces chiffres."))
    return [line, *(f"ATTENTION : {p}" for p in lineage_problems(manifest))]


def _value(value) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".").replace(".", ",")
    return str(value)


def _time(value: dt.datetime | None, zone: str = "") -> str:
    return "—" if value is None else f"{value:%Y-%m-%d %H:%M:%S}{zone}"


def format_audit(result: Audit, archive_dir: Path, lineage: list[str]) -> list[str]:
    """The audit as the CLI prints it (French)."""
    name = f" ({result.nom_ali})" if result.nom_ali else ""
    lines = [f"Audit de {result.ali}{name} pour {result.periode}", "", "Fichiers reçus (manifeste raw.livraisons) :"]
    if not result.livraisons:
        lines.append("  aucun fichier reçu pour ce mois et cette ALI")
    for r in result.livraisons:
        lines.append(f"  {r['dataset'] or '?'} — {r['role']} : {r['fichier']}")
        lines.append(f"    sha256        {r['sha256']}")
        lines.append(f"    reçu le       {_time(r['recu_le'], ' UTC')} (date du fichier)")
        lines.append(f"    traité le     {_time(r['traite_le'], ' UTC')} par le run {r['run_id']}")
        lines.append(f"    archive       {archive_dir / r['archive'] if r['archive'] else '— (fichier non archivé)'}")
        if r["role"] == "rejetée":
            lines.append(f"    motif du rejet {r['motif_rejet']}")
        else:
            lines.append(f"    lignes        lues {r['lignes_lues']} = chargées {r['lignes_chargees']} + quarantaine "
                         f"{r['lignes_quarantaine']} + ignorées {r['lignes_ignorees']}")
        if r["role"] == "en vigueur" and not r["dans_les_marts"]:
            lines.append("    ATTENTION     les marts n'ont pas encore été reconstruits avec ce fichier : les chiffres "
                         "ci-dessous viennent de la version précédente (relancer refresh pour ce mois)")
    lines += ["", f"Chiffres de marts.{MART} :"]
    if not result.chiffres:
        lines.append("  aucune ligne (ALI inconnue ou pas encore ouverte ce mois-là, ou mois non construit)")
    for c in result.chiffres:
        lines.append(f"  {c['colonne']:<31} {_value(c['valeur']):>10}   ← {' + '.join(c['jeux'])}")
    return [*lines, "", *lineage]


def main(periode: str, ali: str) -> int:
    result = read_audit(periode, ali.upper())
    print("\n".join(format_audit(result, Path(env_path("ALI_ARCHIVE_DIR")), lineage_lines())))
    return 0 if result.livraisons or result.chiffres else 1
