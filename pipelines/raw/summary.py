"""Per-month figures of the manifest: what the CLI prints and what the assets report to the UI."""

from __future__ import annotations

import duckdb

SUMMARY_SQL = """
SELECT periode_dossier AS mois,
    count(*) AS fichiers_recus,
    count(*) FILTER (statut = 'VALIDE') AS fichiers_valides,
    count(*) FILTER (statut = 'REJETE') AS fichiers_rejetes,
    count(*) FILTER (en_vigueur) AS livraisons_en_vigueur,
    coalesce(sum(lignes_chargees) FILTER (en_vigueur), 0) AS lignes_chargees,
    coalesce(sum(lignes_quarantaine) FILTER (en_vigueur), 0) AS lignes_quarantaine,
    coalesce(sum(lignes_ignorees) FILTER (en_vigueur), 0) AS lignes_ignorees
FROM raw.livraisons
WHERE periode_dossier IN (SELECT unnest($mois))
GROUP BY ALL ORDER BY mois
"""

DATASET_SQL = """
SELECT dataset,
    coalesce(sum(lignes_chargees) FILTER (en_vigueur), 0),
    coalesce(sum(lignes_quarantaine) FILTER (en_vigueur), 0),
    count(*) FILTER (statut = 'REJETE')
FROM raw.livraisons WHERE periode_dossier IN (SELECT unnest($mois)) GROUP BY ALL
"""

RULES_SQL = """
SELECT m.regle AS regle, count(*) AS lignes
FROM (SELECT unnest(q.motifs) AS m FROM raw.quarantaine q
      JOIN raw.livraisons l USING (fichier, sha256)
      WHERE l.en_vigueur AND l.periode_dossier IN (SELECT unnest($mois)))
GROUP BY ALL ORDER BY lignes DESC, regle
"""


REPORTED_SQL = """
SELECT regle, sum(nb_lignes)::BIGINT FROM raw.signalements
WHERE strftime(periode, '%Y-%m') IN (SELECT unnest($mois)) GROUP BY ALL ORDER BY regle
"""


def reported_by_rule(con: duckdb.DuckDBPyConnection, months: list[str]) -> dict[str, int]:
    return dict(con.execute(REPORTED_SQL, {"mois": months}).fetchall())


def month_summary(con: duckdb.DuckDBPyConnection, months: list[str]) -> list[dict]:
    cursor = con.execute(SUMMARY_SQL, {"mois": months})
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def dataset_figures(con: duckdb.DuckDBPyConnection, months: list[str]) -> dict[str, tuple[int, int, int]]:
    """dataset → (rows loaded, rows quarantined, files rejected) over ``months``."""
    return {d: (int(a), int(b), int(c)) for d, a, b, c in con.execute(DATASET_SQL, {"mois": months}).fetchall()}


def quarantine_by_rule(con: duckdb.DuckDBPyConnection, months: list[str]) -> list[tuple[str, int]]:
    return con.execute(RULES_SQL, {"mois": months}).fetchall()


def format_summary(rows: list[dict]) -> str:
    header = ("mois", "reçus", "valides", "rejetés", "en vigueur", "lignes chargées", "quarantaine", "ignorées")
    lines = [" | ".join(header)]
    for r in rows:
        lines.append(" | ".join(str(v) for v in r.values()))
    if rows:
        totals = [sum(r[k] for r in rows) for k in list(rows[0])[1:]]
        lines.append(" | ".join(["TOTAL", *map(str, totals)]))
    return "\n".join(lines)
