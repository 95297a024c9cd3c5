"""The report's « Parcours » section (parcours.md): cohorts' positive exits, barriers and their answers
by ALI, prescriptions that became participations. Read from the published marts only.

The page of month M shows the cohorts C in [M − 17, M − 6] (the last twelve that can have six months
of hindsight by M; the 12-month rate where C + 12 ≤ L), the barriers of M, and the prescriptions of
M − 2 (the last month whose three-month window M − 2 … M is closed). Département figures are sums of
the ALI rows (``parcours.py``). Every figure carries its raw value (``data-valeur``) and its
definition on hover, as the rest of the page.
"""

from __future__ import annotations

import html
from datetime import date

from pipelines.publication.figures import affiche, definition
from pipelines.publication.parcours import cohortes_matures
from pipelines.publication.report_charts import cohort_chart

COHORTES, FREINS, ACTIONS = "mart_parcours_cohortes", "mart_freins_mensuel", "mart_actions_mensuel"
FENETRE_COHORTES = (17, 6)
"""Cohorts shown on the page of M: M − 17 … M − 6 (a partition mapping of the report asset says so)."""

FREINS_SQL = """SELECT code_ali, nom_ali, frein, personnes, personnes_orientees, taux_orientation,
personnes_en_action, taux_en_action FROM marts.mart_freins_mensuel WHERE periode = $p ORDER BY code_ali, frein"""
PRESCRIPTIONS_SQL = """SELECT thematique, sum(prescrits) AS prescrits, sum(prescrits_entres_3m) AS prescrits_entres_3m
FROM marts.mart_actions_mensuel WHERE periode = $p - INTERVAL 2 MONTH AND prescrits > 0
GROUP BY ROLLUP (thematique) ORDER BY thematique NULLS FIRST"""


def chiffre(mart: str, colonne: str, cle: str, value, format_: str | None = None) -> str:
    """A figure the browser test compares with the marts: which figure in data-*, its text, its definition."""
    d = definition(mart, colonne)
    brut = "" if value is None else repr(value)
    return (f'<span data-parcours="{mart}:{colonne}:{html.escape(cle)}" data-valeur="{brut}" '
            f'title="{html.escape(d.description)}">{affiche(format_ or d.format, value)}</span>')


def ratio(n, d) -> float | None:
    return None if n is None or not d else n / d


def th(mart: str, colonne: str, libelle: str | None = None) -> str:
    d = definition(mart, colonne)
    return f'<th class="n" title="{html.escape(d.description)}">{libelle or d.libelle}</th>'


def mois_avant(p: date, n: int) -> date:
    months = p.year * 12 + p.month - 1 - n
    return date(months // 12, months % 12 + 1, 1)


def cohortes(con, p: date) -> str:
    first, last = (mois_avant(p, n) for n in FENETRE_COHORTES)
    par_cohorte: dict[date, dict] = {}
    for c in cohortes_matures(con):  # mature at 6 months in the window; at 12 where it is
        if first <= c.cohorte <= last:
            row = par_cohorte.setdefault(c.cohorte, {"cohorte": c.cohorte, "entrants": c.entrants,
                                                     "taux_sorties_positives_12m": None})
            row[f"taux_sorties_positives_{c.horizon}m"] = c.taux
    rows = [r for _, r in sorted(par_cohorte.items()) if "taux_sorties_positives_6m" in r]
    if not rows:
        return '<p class="vide">Aucune cohorte n\'a encore six mois de recul.</p>'
    libelles = {c: definition(COHORTES, c).libelle for c in ("taux_sorties_positives_6m", "taux_sorties_positives_12m")}
    body = "".join(
        f"<tr><td>{r['cohorte']:%m/%Y}</td>"
        + "".join(f'<td class="n">{chiffre(COHORTES, c, r["cohorte"].strftime("%Y-%m"), r[c])}</td>'
                  for c in ("entrants", *libelles))
        + "</tr>" for r in rows)
    table = (f'<div class="defile"><table><thead><tr><th>Cohorte</th>{th(COHORTES, "entrants")}'
             + "".join(th(COHORTES, c) for c in libelles) + f"</tr></thead><tbody>{body}</tbody></table></div>")
    note = " ".join(f"<b>{definition(COHORTES, c).libelle}</b> : {html.escape(definition(COHORTES, c).description)}"
                    for c in libelles)
    return (f'<div class="deux"><figure><figcaption>Sorties positives des cohortes d\'entrants (Département)'
            f'</figcaption>{cohort_chart(rows, libelles)}<p class="note">{note}</p></figure>{table}</div>')


def freins(con, p: date) -> str:
    rows = con.execute(FREINS_SQL, {"p": p}).fetchall()
    noms = sorted({r[2] for r in rows})
    par_ali: dict[tuple[str, str], dict[str, tuple]] = {}
    for code, nom, frein, *figures in rows:
        par_ali.setdefault((code, nom), {})[frein] = figures
    if not any(f[0] for cells in par_ali.values() for f in cells.values() if f[0] is not None):
        return '<p class="vide">Aucun frein renseigné ce mois-ci.</p>'

    def cellule(code: str, frein: str, figures) -> str:
        personnes, _, orientation, _, en_action = figures
        if personnes is None:
            return '<td class="n">—</td>'
        cle = f"{code}|{frein}"
        return (f'<td class="n">{chiffre(FREINS, "personnes", cle, personnes)}<br>'
                f'{chiffre(FREINS, "taux_orientation", cle, orientation)}<br>'
                f'{chiffre(FREINS, "taux_en_action", cle, en_action)}</td>')
    head = "".join(f"<th class=\"n\">{html.escape(f)}</th>" for f in noms)
    body = "".join(f"<tr><td>{html.escape(nom)}</td>" + "".join(cellule(code, f, cells[f]) for f in noms) + "</tr>"
                   for (code, nom), cells in par_ali.items())
    legende = " · ".join(f'<span title="{html.escape(definition(FREINS, c).description)}">'
                         f"{definition(FREINS, c).libelle}</span>"
                         for c in ("personnes", "taux_orientation", "taux_en_action"))
    return (f'<p class="note">Dans chaque case, de haut en bas : {legende}.</p><div class="defile"><table>'
            f"<thead><tr><th>ALI</th>{head}</tr></thead><tbody>{body}</tbody></table></div>")


def prescriptions(con, p: date) -> str:
    rows = [r for r in con.execute(PRESCRIPTIONS_SQL, {"p": p}).fetchall() if r[1] is not None]  # ROLLUP of none
    mois = f"{(p.month - 3) % 12 + 1:02d}/{p.year - (p.month <= 2)}"
    if not rows:
        return f'<p class="vide">Aucune prescription en {mois}.</p>'
    body = "".join(
        f'<tr><td>{html.escape(t or "Toutes thématiques")}</td>'
        f'<td class="n">{chiffre(ACTIONS, "prescrits", t or "*", int(n))}</td>'
        f'<td class="n">{chiffre(ACTIONS, "prescrits_entres_3m", t or "*", None if e is None else int(e))}</td>'
        f'<td class="n">{chiffre(ACTIONS, "taux_concretisation_3m", t or "*", None if e is None else ratio(e, n))}</td>'
        "</tr>" for t, n, e in rows)
    return (f"<p>Personnes prescrites sur une action en {mois} par leur ALI, et parmi elles celles entrées dans "
            f"l'action sous trois mois.</p><div class=\"defile\"><table><thead><tr><th>Thématique</th>"
            f"{th(ACTIONS, 'prescrits')}{th(ACTIONS, 'prescrits_entres_3m')}{th(ACTIONS, 'taux_concretisation_3m')}"
            f"</tr></thead><tbody>{body}</tbody></table></div>")


def section(con, p: date) -> str:
    return (f'<section id="parcours"><h2>Parcours</h2><h3>Cohortes d\'entrants : sorties positives à 6 et 12 mois</h3>'
            f"{cohortes(con, p)}<h3>Freins périphériques et réponses apportées, par ALI</h3>{freins(con, p)}"
            f"<h3>Prescriptions devenues participations</h3>{prescriptions(con, p)}</section>")
