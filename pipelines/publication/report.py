"""The monthly report: one HTML page in French, read from the published marts.

It reads only ``marts.*`` so it renders from the snapshot BI users open (which holds nothing else):
management sees the figures BI tools see. The quarantine by rule and the target of open ALI live only
in the warehouse, so the caller passes them. Every label and definition is the marts' own
(``definitions.py``). Styles are inlined; plotly.js is one file beside the pages (``PLOTLY_FILE``,
written by the asset) instead of 4.6 Mo inlined in each: a page weighs ≈ 280 Ko at the
département's scale and works offline with its folder.
"""

import html
from datetime import date

import duckdb
import plotly

from pipelines.publication.figures import Definition, affiche, definition, marts, nombre
from pipelines.publication.report_charts import STYLE, trend_charts
from pipelines.publication.report_parcours import section as section_parcours
from pipelines.publication.report_qualite import section as section_qualite

MOIS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre",
        "décembre")
DEPARTEMENT, ALI, LIVRAISONS = "mart_departement_mensuel", "mart_ali_mensuel", "mart_livraisons"
DU_RAPPORT = {  # the page's own columns (not figures of a mart)
    "part_quarantaine": Definition("Part en quarantaine", "Lignes en quarantaine / lignes lues.", "taux"),
    "regle": Definition("Règle", "Règle du contrat de livraison non respectée.", "texte"),
    "motifs": Definition("Motifs", "Lignes écartées pour cette règle (une ligne peut en enfreindre plusieurs).",
                         "entier"),
}
NUMERIQUES = {"entier", "decimal", "taux"}
PLOTLY_FILE = f"plotly-{plotly.__version__}.min.js"
"""The chart library, once per folder of pages (its version in the name: a page never meets another version)."""


def defini(mart: str, colonne: str) -> Definition:
    """A column's definition: the mart's (dbt YAML), else one of the page's own columns."""
    return DU_RAPPORT[colonne] if colonne in DU_RAPPORT else definition(mart, colonne)


NON_LIVRES_SQL = """SELECT source_code, source_type, dataset, statut, motif_rejet, fichier, recu_le
FROM marts.mart_livraisons WHERE periode = $p AND attendu AND statut <> 'LIVRE'
ORDER BY statut DESC, source_type, source_code, dataset"""
COMPLETUDE_SQL = """SELECT count(*) FILTER (attendu), count(*) FILTER (attendu AND statut = 'LIVRE'),
count(*) FILTER (attendu AND statut = 'REJETE'), count(*) FILTER (attendu AND statut = 'ABSENT'),
count(*) FILTER (NOT attendu) FROM marts.mart_livraisons WHERE periode = $p"""
QUARANTAINE_SQL = """SELECT {cle}, sum(lignes_lues) AS lignes_lues, sum(lignes_quarantaine) AS lignes_quarantaine,
sum(lignes_quarantaine) / nullif(sum(lignes_lues), 0) AS part_quarantaine
FROM marts.mart_livraisons WHERE periode = $p AND statut = 'LIVRE' GROUP BY ALL {filtre} ORDER BY {ordre}"""


def indicateur(colonne: str, value, classe: str = "") -> str:
    """A departmental figure the browser test compares with the mart: raw value in data-valeur, shown value as text."""
    brut = "" if value is None else repr(value)
    d = definition(DEPARTEMENT, colonne)
    return (f'<span class="{classe}" data-indicateur="{colonne}" data-valeur="{brut}" '
            f'title="{html.escape(d.description)}">{affiche(d.format, value)}</span>')


def requete(con: duckdb.DuckDBPyConnection, sql: str, periode: date) -> list[dict]:
    cursor = con.execute(sql, {"p": periode})
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def tableau(rows: list[dict], mart: str, vide: str) -> str:
    """A table of ``mart``'s columns whose headers carry each column's definition on hover."""
    if not rows:
        return f'<p class="vide">{vide}</p>'
    d = {c: defini(mart, c) for c in rows[0]}
    num = {c: ' class="n"' if d[c].format in NUMERIQUES else "" for c in rows[0]}
    head = "".join(f'<th{n} title="{html.escape(d[c].description)}">{d[c].libelle}</th>' for c, n in num.items())
    body = "".join("<tr>" + "".join(f"<td{n}>{html.escape(affiche(d[c].format, r[c]))}</td>" for c, n in num.items())
                   + "</tr>" for r in rows)
    return f'<div class="defile"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def part(valeur_: float | None, objectif: float | None) -> float | None:
    return valeur_ / objectif if valeur_ is not None and objectif else None


def atteint(part_: float | None) -> str:
    return "" if part_ is None else f" · {nombre(100 * part_, 1)}\u00a0% atteint"


def carte(d: dict, colonne: str, cible: str, jauge: float | None, detail: str) -> str:
    """A headline card: the big figure, its target or context, a gauge (share of the target, or the rate)."""
    barre = "" if jauge is None else f'<div class="jauge"><span style="width:{min(100.0, 100 * jauge):.1f}%"></span></div>'
    return (f'<div class="carte"><div class="libelle">{definition(DEPARTEMENT, colonne).libelle}</div>'
            f'{indicateur(colonne, d[colonne], "chiffre")}<div class="cible">{cible}</div>{barre}'
            f'<div class="detail">{detail}</div></div>')


def cartes(d: dict, objectif_ali: float | None) -> str:
    i = {c: indicateur(c, v) for c, v in d.items()}
    ali, etp = part(d["ali_ouvertes"], objectif_ali), part(d["etp_accompagnement"], d["objectif_conseillers"])
    places = part(d["places_conventionnees"], d["objectif_places"])
    return "".join([
        carte(d, "ali_ouvertes", f"objectif {affiche('entier', objectif_ali)}{atteint(ali)}", ali,
              f"dont {i['ali_ayant_livre']} ont livré leur file du mois"),
        carte(d, "etp_accompagnement", f"objectif {i['objectif_conseillers']} conseillers{atteint(etp)}", etp,
              "conseillers CIP et travailleurs sociaux"),
        carte(d, "places_conventionnees", f"objectif {i['objectif_places']}{atteint(places)}", places,
              "places en actions d'insertion"),
        carte(d, "taux_occupation", f"{i['places_occupees']} places occupées", d["taux_occupation"],
              "actions dont le partenaire a livré le mois"),
        carte(d, "file_active", f"dont {i['accompagnes_fin_mois']} accompagnés en fin de mois", None,
              f"{i['personnes_multi_ali']} suivies par plusieurs ALI"),
        carte(d, "taux_sorties_positives", f"{i['sorties_positives']} sur {i['sorties']} sorties",
              d["taux_sorties_positives"], "emploi, formation qualifiante ou création d'entreprise"),
    ])


def chiffres_cles(con: duckdb.DuckDBPyConnection, month: str) -> dict:
    """The month's mart_departement_mensuel row: a month the marts do not cover is an error, not a blank page."""
    rows = requete(con, "SELECT * FROM marts.mart_departement_mensuel WHERE periode = $p", debut(month))
    if not rows:
        raise ValueError(f"pas de ligne pour {month} dans marts.mart_departement_mensuel")
    return rows[0]


def debut(month: str) -> date:
    return date.fromisoformat(f"{month}-01")


def chiffres_cles_markdown(d: dict, objectif_ali: float | None) -> str:
    """The headline figures as a Markdown table (the Dagster asset's metadata)."""
    lignes = [("ali_ouvertes", affiche("entier", objectif_ali)), ("ali_ayant_livre", ""), ("file_active", ""),
              ("etp_accompagnement", affiche("entier", d["objectif_conseillers"])),
              ("places_conventionnees", affiche("entier", d["objectif_places"])), ("taux_occupation", ""),
              ("taux_sorties_positives", "")]
    rows = [(definition(DEPARTEMENT, c), c, o) for c, o in lignes]
    return "| indicateur | valeur | objectif |\n|---|---:|---:|\n" + "\n".join(
        f"| {x.libelle} | {affiche(x.format, d[c])} | {o} |" for x, c, o in rows)


def render_report(con: duckdb.DuckDBPyConnection, month: str,
                  quarantine_by_rule: list[tuple[str, int]] | None = None, objectif_ali: float | None = None) -> str:
    """The report of ``month`` (``YYYY-MM``) from the ``marts`` schema of ``con``; the quarantine by rule and
    the target of open ALI (``objectifs.csv``) live in the warehouse only: the caller passes them."""
    d, p = chiffres_cles(con, month), debut(month)
    titre = f"{MOIS[p.month - 1]} {p.year}"
    tendance = requete(con, "SELECT * FROM marts.mart_departement_mensuel WHERE periode BETWEEN $p - INTERVAL 11 "
                            "MONTH AND $p ORDER BY periode", p)
    mart = marts()[DEPARTEMENT].columns
    graphiques = "".join(
        f'<figure><figcaption>{t}</figcaption>{g}<p class="note">'
        + " ".join(f"<b>{mart[c].libelle}</b> : {html.escape(mart[c].description)}" for c in cols)
        + "</p></figure>" for t, cols, g in trend_charts(tendance, {c: x.libelle for c, x in mart.items()}))
    ali = requete(con, "SELECT * EXCLUDE (periode) FROM marts.mart_ali_mensuel WHERE periode = $p ORDER BY code_ali", p)
    attendues, livrees, rejetees, absentes, hors = con.execute(COMPLETUDE_SQL, {"p": p}).fetchone()
    par_jeu = requete(con, QUARANTAINE_SQL.format(cle="source_type, dataset", filtre="", ordre="ALL"), p)
    par_source = requete(con, QUARANTAINE_SQL.format(cle="source_code, dataset", filtre="HAVING lignes_quarantaine > 0",
                                                     ordre="lignes_quarantaine DESC, source_code, dataset"), p)
    regles = "" if quarantine_by_rule is None else "<h3>Par règle</h3>" + tableau(
        [{"regle": r, "motifs": n} for r, n in quarantine_by_rule], LIVRAISONS,
        "Aucune ligne en quarantaine ce mois-ci.")
    return f"""<!DOCTYPE html>
<html lang="fr"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>ALI 93 — rapport mensuel — {titre}</title><style>{STYLE}</style><script src="{PLOTLY_FILE}"></script></head>
<body><header><p class="sur-titre">Département de la Seine-Saint-Denis · Agences Locales d'Insertion</p>
<h1>Rapport mensuel de l'insertion — {titre}</h1>
<p>Données des marts publiés, mois de {titre}. Survolez un chiffre ou un en-tête pour sa définition.</p></header>
<main><section><h2>Chiffres clés face aux objectifs</h2><div class="cartes">{cartes(d, objectif_ali)}</div></section>
<section><h2>Évolution sur 12 mois</h2><div class="graphiques">{graphiques}</div></section>
<section><h2>Indicateurs par ALI — {titre}</h2>
{tableau(ali, ALI, "Aucune ALI ouverte ce mois-ci.")}</section>
{section_parcours(con, p)}
<section><h2>Complétude des livraisons</h2><p><b>{nombre(attendues)}</b> livraisons attendues (deux par ALI ouverte
et par partenaire ayant une action au catalogue) : <b>{nombre(livrees)}</b> livrées, <b>{nombre(rejetees)}</b>
rejetées, <b>{nombre(absentes)}</b> absentes ; {nombre(hors)} reçue(s) hors attente (source inconnue ou jeu non
autorisé).</p>{tableau(requete(con, NON_LIVRES_SQL, p), LIVRAISONS,
                       "Toutes les livraisons attendues sont arrivées.")}</section>
<section><h2>Quarantaine</h2><p>Lignes écartées par la validation dans les livraisons en vigueur du mois ; elles ne
comptent dans aucun indicateur.</p><div class="deux"><div><h3>Par type de source et jeu de données</h3>
{tableau(par_jeu, LIVRAISONS, "Aucune livraison en vigueur ce mois-ci.")}</div><div>{regles}</div></div>
<details><summary>Par source ({len(par_source)} livraisons avec des lignes en quarantaine)</summary>
{tableau(par_source, LIVRAISONS, "Aucune ligne en quarantaine ce mois-ci.")}</details></section>
{section_qualite(con, p)}</main>
<footer>Source : schéma <code>marts</code> ; définitions : documentation des marts (dbt). Objectifs : référentiel
des objectifs du Département (objectifs.csv, communiqué du 7 avril 2023).</footer>
</body></html>
"""
