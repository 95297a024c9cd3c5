"""A receipt as one self-contained French HTML page, for a structure's coordinator (no script, no request).

Sections: the verdict against the due date, the files received, the quarantined rows with how to
fix each rule once, what was reported without blocking, and the datasets still expected. Elements
carry ``data-*`` attributes (the tests read the page as a browser renders it).
"""

from __future__ import annotations

import html
from collections import Counter

from pipelines.contract import FIXES
from pipelines.senders.receipts import MISSING, Receipt, timeliness

MOIS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre",
        "décembre")
STYLE = """body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:60rem;color:#1b1b1b;line-height:1.45}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ccc}
table{border-collapse:collapse;width:100%;font-size:.9rem}th,td{border:1px solid #ddd;padding:.3rem .5rem;
text-align:left;vertical-align:top}th{background:#f2f2f2}.bilan{padding:.8rem 1rem;border-radius:.4rem;
background:#eef5ee}.bilan.alerte{background:#fbeeee}.faire{color:#114d8a}.nombre{text-align:right}
footer{margin-top:2rem;font-size:.85rem;color:#555}"""
UNKNOWN_RULE = "corriger le fichier selon le motif, puis le déposer à nouveau."
"""A rejection recorded before its rule had a code (warehouse of an earlier version)."""
QUARANTINE_SHOWN = 1000
"""Rows listed per file in the page; every row is in the CSV."""


def e(value) -> str:
    return "" if value is None else html.escape(str(value))


def month_name(mois: str) -> str:
    year, month = mois.split("-")
    return f"{MOIS[int(month) - 1]} {year}"


def page(receipt: Receipt) -> str:
    due = receipt.echeance
    q = receipt.qualite
    alert = q is not None and not q["a_l_heure"]
    parts = [
        f"<h1>Accusé de réception — {e(receipt.nom)} ({e(receipt.source_code)})</h1>",
        f"<p>Livraisons du mois de <strong>{month_name(receipt.mois)}</strong>, attendues au plus tard le "
        f"{due.day} {MOIS[due.month - 1]} {due.year} à minuit (heure de Paris).</p>",
        f'<p class="bilan{" alerte" if alert else ""}" data-bilan data-a-l-heure="{e(q and q["a_l_heure"])}" '
        f'data-retard-j="{e(q and q["retard_j"])}">{e(timeliness(receipt))}</p>',
        _files(receipt), _quarantine(receipt), _reported(receipt), _missing(receipt),
        "<footer><p>Ce document ne cite aucune valeur des colonnes d'identification (matricule, nom, prénom, date "
        "de naissance). Un nouvel envoi d'un fichier valide pour le même jeu remplace la version en vigueur ; un "
        "envoi rejeté laisse la version précédente en vigueur. Avant d'envoyer un fichier, la commande "
        "<code>python -m pipelines verifier</code> donne ce verdict à l'avance.</p></footer>",
    ]
    return ("<!DOCTYPE html>\n<html lang=\"fr\"><head><meta charset=\"utf-8\">"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
            f"<title>Accusé de réception {e(receipt.source_code)} {e(receipt.mois)}</title>"
            f"<style>{STYLE}</style></head><body>\n" + "\n".join(parts) + "\n</body></html>\n")


def _files(receipt: Receipt) -> str:
    rows = []
    for f in receipt.fichiers:
        counts = "".join(f'<td class="nombre">{e(f[k])}</td>' for k in ("lignes_lues", "lignes_chargees",
                                                                         "lignes_quarantaine", "lignes_ignorees"))
        rows.append(f'<tr data-fichier="{e(f["fichier"])}" data-statut="{e(f["statut"])}" '
                    f'data-version="{e(f["version"])}"><td>{e(f["fichier"])}</td><td>{e(f["recu_le"])}</td>'
                    f'<td><code>{e(f["empreinte"])}</code></td><td>{e(f["version"])}</td>{counts}</tr>')
        if f["statut"] == "REJETE":
            rows.append(f'<tr data-rejet="{e(f["fichier"])}" data-regle="{e(f["regle_rejet"])}"><td colspan="8">'
                        f'<strong>Rejeté :</strong> {e(f["motif_rejet"])}<br><span class="faire">Que faire : '
                        f'{e(FIXES.get(f["regle_rejet"] or "", UNKNOWN_RULE))}'
                        f"</span></td></tr>")
    return ("<h2>Fichiers reçus</h2><table><tr><th>Fichier</th><th>Reçu le (Paris)</th><th>Empreinte SHA-256</th>"
            "<th>Version</th><th>Lignes lues</th><th>Chargées</th><th>En quarantaine</th><th>Ignorées</th></tr>"
            + "".join(rows) + "</table>")


def _quarantine(receipt: Receipt) -> str:
    if not receipt.quarantaine:
        return ("<h2>Lignes en quarantaine</h2><p data-quarantaine-vide>Aucune ligne écartée dans les versions en "
                "vigueur.</p>")
    by_file: dict[str, list[dict]] = {}
    for q in receipt.quarantaine:
        by_file.setdefault(q["fichier"], []).append(q)
    parts = ["<h2>Lignes en quarantaine</h2><p>Ces lignes des versions en vigueur ne sont pas comptées dans les "
             "indicateurs. Le numéro de ligne est celui de votre fichier (l'en-tête est la ligne 1).</p>"]
    for fichier, reasons in by_file.items():
        shown = reasons[:QUARANTINE_SHOWN]
        parts.append(f"<h3>{e(fichier)}</h3><table><tr><th>Ligne</th><th>Colonne</th><th>Règle</th>"
                     "<th>Message</th><th>Valeur lue</th></tr>" + "".join(
                         f'<tr data-ligne="{q["ligne"]}" data-colonne="{e(q["colonne"])}" data-regle="{e(q["regle"])}">'
                         f'<td class="nombre">{q["ligne"]}</td><td>{e(q["colonne"])}</td><td>{e(q["regle"])}</td>'
                         f"<td>{e(q['message'])}</td><td>{e(q['valeur'])}</td></tr>" for q in shown) + "</table>")
        if len(reasons) > len(shown):
            parts.append(f"<p>… et {len(reasons) - len(shown)} autres motifs : la liste complète est dans le CSV.</p>")
    counts = Counter(q["regle"] for q in receipt.quarantaine)
    parts.append("<h3>Comment corriger</h3><ul>" + "".join(
        f'<li data-correction="{e(rule)}"><strong>{e(rule)}</strong> ({n} motif(s)) : '
        f'<span class="faire">{e(FIXES[rule])}</span></li>' for rule, n in sorted(counts.items())) + "</ul>")
    return "\n".join(parts)


def _reported(receipt: Receipt) -> str:
    items = [f'<li data-signalement="{e(s["regle"])}" data-nb="{s["nb_lignes"]}">{e(s["message"])} : '
             f'{s["nb_lignes"]} ligne(s). <span class="faire">{e(FIXES[s["regle"]])}</span></li>'
             for s in receipt.signalements]
    items += [f'<li data-signalement="colonnes_ignorees" data-fichier="{e(f["fichier"])}">{e(f["fichier"])} : '
              f'colonne(s) hors contrat ignorée(s) : {e(", ".join(f["colonnes_ignorees"]))}. '
              f'<span class="faire">{e(FIXES["colonnes_ignorees"])}</span></li>'
              for f in receipt.fichiers if f["colonnes_ignorees"] and f["version"] == "en vigueur"]
    body = "<ul>" + "".join(items) + "</ul>" if items else "<p>Rien à signaler.</p>"
    return "<h2>Signalé sans blocage</h2><p>Ces lignes sont chargées ; merci de vérifier.</p>" + body


def _missing(receipt: Receipt) -> str:
    if not receipt.manquants:
        return ("<h2>Jeux encore attendus</h2><p data-manquants-aucun>Aucun : chaque jeu attendu a une version "
                "valide.</p>")
    return "<h2>Jeux encore attendus</h2><ul>" + "".join(
        f'<li data-manquant="{e(m["dataset"])}" data-statut="{e(m["statut"])}">{e(m["dataset"])} : '
        f"{MISSING[m['statut']]}</li>" for m in receipt.manquants) + "</ul>"
