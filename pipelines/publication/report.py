"""The monthly report: one self-contained HTML page in French, read from the published marts.

It reads only ``marts.*`` so it renders from the snapshot BI users open (which holds nothing else):
management sees the figures BI tools see. The quarantine by rule lives only in the warehouse, so the
caller passes it. Styles and plotly.js (once) are inlined: the page works offline, as an attachment.
"""

import html
from datetime import date
from typing import NamedTuple

import duckdb
from plotly.offline import get_plotlyjs

from pipelines.publication.report_charts import STYLE, trend_charts

OBJECTIF_ALI_OUVERTES = 22
"""ALI to open: target of the Département's press release of 7 April 2023 (not carried by the marts)."""
MOIS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre",
        "décembre")


class Indicateur(NamedTuple):
    libelle: str
    definition: str
    format: str = "entier"  # entier, decimal, taux, oui_non, texte, horodatage


# Wording of indicators.md. One entry per column shown anywhere: table headers, cards, chart captions.
INDICATEURS = {
    "code_ali": Indicateur("Code", "Code de l'ALI au référentiel.", "texte"),
    "nom_ali": Indicateur("ALI", "Agence Locale d'Insertion ouverte le dernier jour du mois.", "texte"),
    "livre": Indicateur("Livré", "Une livraison « beneficiaires » valide existe pour le mois ; sinon les indicateurs "
                        "qui en sont calculés sont vides (—).", "oui_non"),
    "file_active": Indicateur("File active", "Personnes distinctes dans les bénéficiaires du mois (une personne "
                              "suivie par deux ALI compte une fois pour le Département)."),
    "accompagnes_fin_mois": Indicateur("Accompagnés fin de mois", "Personnes distinctes sans date de sortie."),
    "personnes_multi_ali": Indicateur("Suivies par plusieurs ALI", "Personnes dans la file de deux ALI ou plus."),
    "entrees": Indicateur("Entrées", "Lignes dont la date d'entrée est dans le mois (événements, pas personnes)."),
    "sorties": Indicateur("Sorties", "Lignes ayant une date de sortie."),
    "sorties_positives": Indicateur("Sorties positives", "Sorties pour emploi durable, emploi temporaire, formation "
                                    "qualifiante ou création d'entreprise."),
    "taux_sorties_positives": Indicateur("Sorties positives", "Sorties positives / sorties.", "taux"),
    "etp_accompagnement": Indicateur("ETP d'accompagnement", "Somme des ETP des conseillers CIP ou travailleurs "
                                     "sociaux présents en fin de mois (vide sans livraison « conseillers » valide).",
                                     "decimal"),
    "accompagnes_par_etp": Indicateur("Accompagnés par ETP", "Accompagnés en fin de mois / ETP d'accompagnement.",
                                      "decimal"),
    "delai_moyen_orientation_rdv_j": Indicateur("Délai 1er RDV (jours)", "Moyenne en jours de (premier "
                                                "rendez-vous − orientation), sur les premiers rendez-vous du mois.",
                                                "decimal"),
    "part_rdv_sous_30j": Indicateur("RDV sous 30 j", "Parmi ces mêmes premiers rendez-vous, part dont le délai est "
                                    "d'au plus 30 jours.", "taux"),
    "taux_contractualisation": Indicateur("Contrats signés", "Parmi les personnes sans sortie entrées au moins "
                                          "60 jours avant la fin du mois, part ayant signé un contrat.", "taux"),
    "entretiens_par_personne": Indicateur("Entretiens par personne", "Somme des entretiens / file active.", "decimal"),
    "ali_ouvertes": Indicateur("ALI ouvertes", "ALI dont la date d'ouverture est au plus tard le dernier jour du mois."),
    "ali_ayant_livre": Indicateur("ALI ayant livré", "ALI ouvertes ayant une livraison « beneficiaires » valide."),
    "objectif_conseillers": Indicateur("Objectif conseillers", "Cible « conseillers de suivi » de la dernière année "
                                       "des objectifs du Département."),
    "places_conventionnees": Indicateur("Places conventionnées", "Somme des places des actions : livraison « actions »"
                                        " du partenaire pour le mois, sinon catalogue de l'année."),
    "places_occupees": Indicateur("Places occupées", "Places occupées des actions livrées pour le mois."),
    "taux_occupation": Indicateur("Taux d'occupation", "Places occupées / places conventionnées de ces mêmes actions "
                                  "livrées.", "taux"),
    "objectif_places": Indicateur("Objectif places", "Cible « places en actions d'insertion » de la dernière année "
                                  "des objectifs du Département."),
    "source_code": Indicateur("Source", "Code de l'ALI ou du partenaire qui livre.", "texte"),
    "source_type": Indicateur("Type", "ALI ou PARTENAIRE.", "texte"),
    "dataset": Indicateur("Jeu de données", "beneficiaires, conseillers (ALI) ; actions, participations "
                          "(partenaires).", "texte"),
    "statut": Indicateur("Statut", "REJETE : seulement des fichiers rejetés ; ABSENT : rien reçu.", "texte"),
    "motif_rejet": Indicateur("Motif de rejet", "Pourquoi le dernier fichier reçu a été rejeté.", "texte"),
    "fichier": Indicateur("Fichier", "Le dernier fichier rejeté.", "texte"),
    "recu_le": Indicateur("Reçu le", "Date de réception du fichier (UTC).", "horodatage"),
    "lignes_lues": Indicateur("Lignes lues", "Lignes de données du fichier en vigueur."),
    "lignes_quarantaine": Indicateur("Lignes en quarantaine", "Lignes écartées par la validation, avec leurs motifs."),
    "part_quarantaine": Indicateur("Part en quarantaine", "Lignes en quarantaine / lignes lues.", "taux"),
    "regle": Indicateur("Règle", "Règle du contrat de livraison non respectée.", "texte"),
    "motifs": Indicateur("Motifs", "Lignes écartées pour cette règle (une ligne peut en enfreindre plusieurs).")}
NUMERIQUES = {"entier", "decimal", "taux"}

NON_LIVRES_SQL = """SELECT source_code, source_type, dataset, statut, motif_rejet, fichier, recu_le
FROM marts.mart_livraisons WHERE periode = $p AND attendu AND statut <> 'LIVRE'
ORDER BY statut DESC, source_type, source_code, dataset"""
COMPLETUDE_SQL = """SELECT count(*) FILTER (attendu), count(*) FILTER (attendu AND statut = 'LIVRE'),
count(*) FILTER (attendu AND statut = 'REJETE'), count(*) FILTER (attendu AND statut = 'ABSENT'),
count(*) FILTER (NOT attendu) FROM marts.mart_livraisons WHERE periode = $p"""
QUARANTAINE_SQL = """SELECT {cle}, sum(lignes_lues) AS lignes_lues, sum(lignes_quarantaine) AS lignes_quarantaine,
sum(lignes_quarantaine) / nullif(sum(lignes_lues), 0) AS part_quarantaine
FROM marts.mart_livraisons WHERE periode = $p AND statut = 'LIVRE' GROUP BY ALL {filtre} ORDER BY {ordre}"""


def nombre(value: float, decimales: int = 0) -> str:
    """French convention: narrow no-break space between thousands, decimal comma."""
    return f"{value:,.{decimales}f}".replace(",", "\u202f").replace(".", ",")


def valeur(colonne: str, value) -> str:
    """A value as the page shows it; '—' for NULL."""
    format_ = INDICATEURS[colonne].format
    if value is None:
        return "—"
    if format_ == "taux":
        return f"{nombre(100 * value, 1)}\u00a0%"
    if format_ in ("entier", "decimal"):
        return nombre(value, 0 if format_ == "entier" else 1)
    if format_ == "oui_non":
        return "oui" if value else "non"
    return f"{value:%d/%m/%Y %H:%M}" if format_ == "horodatage" else str(value)


def indicateur(colonne: str, value, classe: str = "") -> str:
    """A figure the browser test compares with the mart: raw value in data-valeur, shown value as text."""
    brut = "" if value is None else repr(value)
    return (f'<span class="{classe}" data-indicateur="{colonne}" data-valeur="{brut}" '
            f'title="{html.escape(INDICATEURS[colonne].definition)}">{valeur(colonne, value)}</span>')


def requete(con: duckdb.DuckDBPyConnection, sql: str, periode: date) -> list[dict]:
    cursor = con.execute(sql, {"p": periode})
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def tableau(rows: list[dict], vide: str) -> str:
    """A table whose headers carry each column's definition on hover."""
    if not rows:
        return f'<p class="vide">{vide}</p>'
    num = {c: ' class="n"' if INDICATEURS[c].format in NUMERIQUES else "" for c in rows[0]}
    head = "".join(f'<th{n} title="{html.escape(INDICATEURS[c].definition)}">{INDICATEURS[c].libelle}</th>'
                   for c, n in num.items())
    body = "".join("<tr>" + "".join(f"<td{n}>{html.escape(valeur(c, r[c]))}</td>" for c, n in num.items()) + "</tr>"
                   for r in rows)
    return f'<div class="defile"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def part(valeur_: float | None, objectif: float | None) -> float | None:
    return valeur_ / objectif if valeur_ is not None and objectif else None


def atteint(part_: float | None) -> str:
    return "" if part_ is None else f" · {nombre(100 * part_, 1)}\u00a0% atteint"


def carte(d: dict, colonne: str, cible: str, jauge: float | None, detail: str) -> str:
    """A headline card: the big figure, its target or context, a gauge (share of the target, or the rate)."""
    barre = "" if jauge is None else f'<div class="jauge"><span style="width:{min(100.0, 100 * jauge):.1f}%"></span></div>'
    return (f'<div class="carte"><div class="libelle">{INDICATEURS[colonne].libelle}</div>'
            f'{indicateur(colonne, d[colonne], "chiffre")}<div class="cible">{cible}</div>{barre}'
            f'<div class="detail">{detail}</div></div>')


def cartes(d: dict) -> str:
    i = {c: indicateur(c, v) for c, v in d.items() if c in INDICATEURS}
    ali, etp = part(d["ali_ouvertes"], OBJECTIF_ALI_OUVERTES), part(d["etp_accompagnement"], d["objectif_conseillers"])
    places = part(d["places_conventionnees"], d["objectif_places"])
    return "".join([
        carte(d, "ali_ouvertes", f"objectif {OBJECTIF_ALI_OUVERTES}{atteint(ali)}", ali,
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


def chiffres_cles_markdown(d: dict) -> str:
    """The headline figures as a Markdown table (the Dagster asset's metadata)."""
    lignes = [("ali_ouvertes", str(OBJECTIF_ALI_OUVERTES)), ("ali_ayant_livre", ""), ("file_active", ""),
              ("etp_accompagnement", valeur("objectif_conseillers", d["objectif_conseillers"])),
              ("places_conventionnees", valeur("objectif_places", d["objectif_places"])), ("taux_occupation", ""),
              ("taux_sorties_positives", "")]
    return "| indicateur | valeur | objectif |\n|---|---:|---:|\n" + "\n".join(
        f"| {INDICATEURS[c].libelle} | {valeur(c, d[c])} | {o} |" for c, o in lignes)


def render_report(con: duckdb.DuckDBPyConnection, month: str,
                  quarantine_by_rule: list[tuple[str, int]] | None = None) -> str:
    """The report of ``month`` (``YYYY-MM``) from the ``marts`` schema of ``con``."""
    d, p = chiffres_cles(con, month), debut(month)
    titre = f"{MOIS[p.month - 1]} {p.year}"
    tendance = requete(con, "SELECT * FROM marts.mart_departement_mensuel WHERE periode BETWEEN $p - INTERVAL 11 "
                            "MONTH AND $p ORDER BY periode", p)
    graphiques = "".join(
        f'<figure><figcaption>{t}</figcaption>{g}<p class="note">'
        + " ".join(f"<b>{INDICATEURS[c].libelle}</b> : {html.escape(INDICATEURS[c].definition)}" for c in cols)
        + "</p></figure>" for t, cols, g in trend_charts(tendance, {c: i.libelle for c, i in INDICATEURS.items()}))
    ali = requete(con, "SELECT * EXCLUDE (periode) FROM marts.mart_ali_mensuel WHERE periode = $p ORDER BY code_ali", p)
    attendues, livrees, rejetees, absentes, hors = con.execute(COMPLETUDE_SQL, {"p": p}).fetchone()
    par_jeu = requete(con, QUARANTAINE_SQL.format(cle="source_type, dataset", filtre="", ordre="ALL"), p)
    par_source = requete(con, QUARANTAINE_SQL.format(cle="source_code, dataset", filtre="HAVING lignes_quarantaine > 0",
                                                     ordre="lignes_quarantaine DESC, source_code, dataset"), p)
    regles = "" if quarantine_by_rule is None else "<h3>Par règle</h3>" + tableau(
        [{"regle": r, "motifs": n} for r, n in quarantine_by_rule], "Aucune ligne en quarantaine ce mois-ci.")
    return f"""<!DOCTYPE html>
<html lang="fr"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>ALI 93 — rapport mensuel — {titre}</title><style>{STYLE}</style><script>{get_plotlyjs()}</script></head>
<body><header><p class="sur-titre">Département de la Seine-Saint-Denis · Agences Locales d'Insertion</p>
<h1>Rapport mensuel de l'insertion — {titre}</h1>
<p>Données des marts publiés, mois de {titre}. Survolez un chiffre ou un en-tête pour sa définition.</p></header>
<main><section><h2>Chiffres clés face aux objectifs</h2><div class="cartes">{cartes(d)}</div></section>
<section><h2>Évolution sur 12 mois</h2><div class="graphiques">{graphiques}</div></section>
<section><h2>Indicateurs par ALI — {titre}</h2>
{tableau(ali, "Aucune ALI ouverte ce mois-ci.")}</section>
<section><h2>Complétude des livraisons</h2><p><b>{nombre(attendues)}</b> livraisons attendues (deux par ALI ouverte
et par partenaire ayant une action au catalogue) : <b>{nombre(livrees)}</b> livrées, <b>{nombre(rejetees)}</b>
rejetées, <b>{nombre(absentes)}</b> absentes ; {nombre(hors)} reçue(s) hors attente (source inconnue ou jeu non
autorisé).</p>{tableau(requete(con, NON_LIVRES_SQL, p), "Toutes les livraisons attendues sont arrivées.")}</section>
<section><h2>Quarantaine</h2><p>Lignes écartées par la validation dans les livraisons en vigueur du mois ; elles ne
comptent dans aucun indicateur.</p><div class="deux"><div><h3>Par type de source et jeu de données</h3>
{tableau(par_jeu, "Aucune livraison en vigueur ce mois-ci.")}</div><div>{regles}</div></div>
<details><summary>Par source ({len(par_source)} livraisons avec des lignes en quarantaine)</summary>
{tableau(par_source, "Aucune ligne en quarantaine ce mois-ci.")}</details></section></main>
<footer>Source : schéma <code>marts</code> (définitions : indicators.md). Objectif de {OBJECTIF_ALI_OUVERTES} ALI :
communiqué du Département du 7 avril 2023 ; objectifs conseillers et places : référentiel des objectifs.</footer>
</body></html>
"""
