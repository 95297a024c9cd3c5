"""The report's « Qualité des livraisons » section (retours.md §3), read from ``mart_qualite_sources`` only.

For month M: the expected sources late or missing (not ``a_l_heure``: the delay in days, or
« manquant » while a dataset has no valid delivery, with the datasets delivered out of those
expected), the ten highest quarantine rates of M (sources with at least one line in quarantine), and
every source expected in M with its on-time rate over M − 11 … M: months on time / months it was
expected (a row of the mart is a month it was expected). Labels and definitions are the mart's (dbt
YAML), or, for the page's own figures, ``DU_RAPPORT``; every figure carries its raw value
(``data-valeur``, checked by the browser test) and its definition on hover.
"""

from __future__ import annotations

import html
from datetime import date

from pipelines.contract import ECHEANCE_JOUR
from pipelines.months import due_date
from pipelines.publication.figures import Definition, affiche, definition

QUALITE = "mart_qualite_sources"
DU_RAPPORT = {  # the page's own figures, computed from a_l_heure over twelve months
    "mois_attendus": Definition("Mois attendus", "Mois de M − 11 à M où la source était attendue.", "entier",
                                "mois"),
    "mois_a_l_heure": Definition("Mois à l'heure", "Parmi eux, mois où elle était à l'heure (a_l_heure).", "entier",
                                 "mois"),
    "ponctualite_12m": Definition("Ponctualité sur 12 mois",
                                  "Mois à l'heure / mois attendus, de M − 11 à M : part des mois où chaque jeu "
                                  f"attendu a eu sa première version valide au plus tard le {ECHEANCE_JOUR} du "
                                  "mois suivant.",
                                  "taux"),
}

RESUME_SQL = """SELECT count(*), count(*) FILTER (a_l_heure), count(*) FILTER (retard_j >= 1),
count(*) FILTER (retard_j IS NULL) FROM marts.mart_qualite_sources WHERE periode = $p"""
RETARDS_SQL = """SELECT source_code, source_type, datasets_livres, datasets_attendus, retard_j
FROM marts.mart_qualite_sources WHERE periode = $p AND NOT a_l_heure
ORDER BY retard_j DESC NULLS FIRST, source_code"""
QUARANTAINE_SQL = """SELECT source_code, source_type, lignes_lues, lignes_quarantaine, taux_quarantaine
FROM marts.mart_qualite_sources WHERE periode = $p AND lignes_quarantaine > 0
ORDER BY taux_quarantaine DESC, lignes_quarantaine DESC, source_code LIMIT 10"""
PONCTUALITE_SQL = """SELECT source_code, max(source_type), count(*), count(*) FILTER (a_l_heure)
FROM marts.mart_qualite_sources
WHERE periode BETWEEN $p - INTERVAL 11 MONTH AND $p
    AND source_code IN (SELECT source_code FROM marts.mart_qualite_sources WHERE periode = $p)
GROUP BY source_code ORDER BY count(*) FILTER (a_l_heure) / count(*), source_code"""


def defini(colonne: str) -> Definition:
    return DU_RAPPORT[colonne] if colonne in DU_RAPPORT else definition(QUALITE, colonne)


def chiffre(colonne: str, source: str, value, texte: str | None = None) -> str:
    """A figure the browser test compares with the mart: which one in data-qualite, its raw value, its text."""
    brut = "" if value is None else repr(value)
    return (f'<span data-qualite="{colonne}:{html.escape(source)}" data-valeur="{brut}" '
            f'title="{html.escape(defini(colonne).description)}">{texte or affiche(defini(colonne).format, value)}'
            "</span>")


def th(colonne: str, libelle: str | None = None) -> str:
    d = defini(colonne)
    unite = f" ({d.unite})" if d.unite and libelle is None and d.unite not in d.libelle.lower() else ""
    classe = ' class="n"' if d.format in ("entier", "decimal", "taux") else ""
    return f'<th{classe} title="{html.escape(d.description)}">{libelle or d.libelle}{unite}</th>'


def tableau(colonnes: list[str], lignes: list[str]) -> str:
    return (f'<div class="defile"><table><thead><tr>{"".join(colonnes)}</tr></thead>'
            f'<tbody>{"".join(lignes)}</tbody></table></div>')


def retards(con, p: date) -> str:
    rows = con.execute(RETARDS_SQL, {"p": p}).fetchall()
    if not rows:
        return '<p class="vide">Toutes les sources attendues ont livré à l\'heure.</p>'
    jeux = f"{defini('datasets_livres').libelle} / {defini('datasets_attendus').libelle.split()[-1]}"
    lignes = [f"<tr><td>{html.escape(s)}</td><td>{html.escape(t)}</td>"
              f'<td class="n">{chiffre("datasets_livres", s, livres)} / {chiffre("datasets_attendus", s, attendus)}'
              f'</td><td class="n">{chiffre("retard_j", s, retard, None if retard is not None else "manquant")}</td>'
              "</tr>" for s, t, livres, attendus, retard in rows]
    return tableau([th("source_code"), th("source_type"), th("datasets_livres", jeux), th("retard_j")], lignes)


def par_source(rows: list[tuple], colonnes: tuple[str, ...]) -> str:
    """A table of sources: code, type, then one figure of ``colonnes`` per value of each row."""
    lignes = [f"<tr><td>{html.escape(s)}</td><td>{html.escape(t)}</td>" + "".join(
        f'<td class="n">{chiffre(c, s, v)}</td>' for c, v in zip(colonnes, valeurs)) + "</tr>"
        for s, t, *valeurs in rows]
    return tableau([th(c) for c in ("source_code", "source_type", *colonnes)], lignes)


def quarantaine(con, p: date) -> str:
    rows = con.execute(QUARANTAINE_SQL, {"p": p}).fetchall()
    if not rows:
        return '<p class="vide">Aucune ligne en quarantaine ce mois-ci.</p>'
    return par_source(rows, ("lignes_lues", "lignes_quarantaine", "taux_quarantaine"))


def ponctualite(con, p: date) -> str:
    rows = con.execute(PONCTUALITE_SQL, {"p": p}).fetchall()
    if not rows:
        return '<p class="vide">Aucune source attendue ce mois-ci.</p>'
    table = par_source([(s, t, n_heure, n, n_heure / n) for s, t, n, n_heure in rows],
                       ("mois_a_l_heure", "mois_attendus", "ponctualite_12m"))
    return (f"<details><summary>{defini('ponctualite_12m').libelle}, par source ({len(rows)} sources attendues en "
            f"{p:%m/%Y}, de la moins ponctuelle à la plus ponctuelle)</summary>{table}</details>")


def section(con, p: date) -> str:
    attendues, a_l_heure, en_retard, incompletes = con.execute(RESUME_SQL, {"p": p}).fetchone()
    echeance = f"{due_date(f'{p:%Y-%m}'):%d/%m/%Y}"
    return (f'<section id="qualite"><h2>Qualité des livraisons</h2><p>Échéance de la livraison du mois : le '
            f"{echeance}, fin de journée (heure de Paris). Sur {attendues} sources "
            f"attendues : <b>{a_l_heure}</b> à l'heure, <b>{en_retard}</b> en retard, <b>{incompletes}</b> avec "
            f"un jeu de données manquant.</p><h3>Sources en retard ou manquantes</h3>{retards(con, p)}"
            f"<h3>Les dix taux de quarantaine les plus élevés</h3>{quarantaine(con, p)}"
            f"<h3>Ponctualité sur 12 mois</h3>{ponctualite(con, p)}</section>")
