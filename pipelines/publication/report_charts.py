"""How the monthly report looks: its trend charts (plotly figures as bare ``<div>``s) and its style sheet.

The page inlines plotly.js once for all charts (``include_plotlyjs=False`` here), so a report
stays one file that works offline. Div ids are fixed so the same marts give the same page.
"""

import plotly.graph_objects as go

BLEU, BLEU_CLAIR, ROUGE = "#1f4e79", "#7a9cc6", "#b03a2e"
MOIS_COURTS = ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc.")
CONFIG = {"displayModeBar": False, "responsive": True}

# (title, columns shown, columns drawn as a dashed target line, y axis in percent)
GRAPHIQUES = (
    ("File active et accompagnés en fin de mois", ("file_active", "accompagnes_fin_mois"), (), False),
    ("ETP d'accompagnement face à l'objectif", ("etp_accompagnement", "objectif_conseillers"),
     ("objectif_conseillers",), False),
    ("Places conventionnées et occupées face à l'objectif",
     ("places_conventionnees", "places_occupees", "objectif_places"), ("objectif_places",), False),
    ("Taux d'occupation des places", ("taux_occupation",), (), True),
)


def mois_court(periode) -> str:
    return f"{MOIS_COURTS[periode.month - 1]}<br>{periode.year}"


def mise_en_page(fig: go.Figure, pourcentage: bool, showlegend: bool) -> None:
    """The one look of the report's charts."""
    fig.update_layout(
        template="none", separators=", ", height=300, hovermode="x unified",
        margin={"l": 56, "r": 12, "t": 28, "b": 44},
        font={"family": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", "size": 12, "color": "#333"},
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0},
        xaxis={"type": "category", "showgrid": False, "linecolor": "#999", "tickangle": 0},
        yaxis={"gridcolor": "#e5e5e5", "rangemode": "tozero", "tickformat": ".0%" if pourcentage else ",~f",
               "zeroline": False},
        showlegend=showlegend,
    )


def trend_charts(rows: list[dict], libelles: dict[str, str]) -> list[tuple[str, tuple[str, ...], str]]:
    """(title, columns, html div) per chart, over ``rows`` of mart_departement_mensuel in month order.

    ``libelles`` names the series with the report's labels, so charts and tables say the same thing.
    """
    x = [mois_court(r["periode"]) for r in rows]
    charts = []
    for i, (titre, colonnes, objectifs, pourcentage) in enumerate(GRAPHIQUES):
        fig = go.Figure()
        couleurs = iter((BLEU, BLEU_CLAIR))
        for colonne in colonnes:
            cible = colonne in objectifs
            fig.add_scatter(
                x=x, y=[r[colonne] for r in rows], name=libelles[colonne],
                mode="lines" if cible else "lines+markers",
                line={"color": ROUGE if cible else next(couleurs), "width": 2, "dash": "dash" if cible else "solid"},
                hovertemplate="%{y:.1%}" if pourcentage else "%{y:,.4~f}",
            )
        mise_en_page(fig, pourcentage, showlegend=len(colonnes) > 1)
        html = fig.to_html(full_html=False, include_plotlyjs=False, div_id=f"graphique-{i + 1}", config=CONFIG)
        charts.append((titre, colonnes, html))
    return charts

def cohort_chart(rows: list[dict], libelles: dict[str, str]) -> str:
    """The positive-exit rates of the cohorts (``rows``: cohorte and the rate columns named in ``libelles``)."""
    fig = go.Figure()
    for colonne, couleur in zip(libelles, (BLEU, BLEU_CLAIR)):
        fig.add_scatter(x=[mois_court(r["cohorte"]) for r in rows], y=[r[colonne] for r in rows],
                        name=libelles[colonne], mode="lines+markers", line={"color": couleur, "width": 2},
                        hovertemplate="%{y:.1%}")
    mise_en_page(fig, True, showlegend=True)
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id="graphique-cohortes", config=CONFIG)


STYLE = """
*{box-sizing:border-box}
body{margin:0;background:#f4f5f7;color:#222;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
header{background:#1f3a5f;color:#fff;padding:22px 40px 18px}
header h1{margin:2px 0 6px;font-size:26px;font-weight:600}
header p{margin:0;color:#c9d5e3}
header .sur-titre{text-transform:uppercase;letter-spacing:.06em;font-size:12px}
main{max-width:1280px;margin:0 auto;padding:8px 28px 24px}
section{background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:16px 22px;margin:18px 0}
h2{font-size:18px;color:#1f3a5f;margin:0 0 12px;font-weight:600}
h3{font-size:14px;color:#444;margin:16px 0 8px}
[title]{cursor:help}
.cartes{display:grid;grid-template-columns:repeat(3,1fr);gap:14px}
.carte{border:1px solid #dde1e6;border-left:4px solid #1f4e79;border-radius:4px;padding:12px 16px}
.carte .libelle{font-size:13px;color:#555;text-transform:uppercase;letter-spacing:.03em}
.carte .chiffre{display:block;font-size:36px;font-weight:600;color:#1f3a5f;margin:2px 0;font-variant-numeric:tabular-nums}
.carte .cible{color:#333}.carte .detail{color:#666;font-size:12.5px;margin-top:4px}
.jauge{height:6px;background:#e6e9ee;border-radius:3px;margin-top:8px;overflow:hidden}
.jauge span{display:block;height:100%;background:#1f4e79}
.graphiques{display:grid;grid-template-columns:1fr 1fr;gap:14px 24px}
figure{margin:0}figcaption{font-weight:600;color:#333;margin-bottom:4px}
.note{font-size:12px;color:#666;margin:4px 0 0}
.defile{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:12px}
th{background:#eef1f5;color:#1f3a5f;text-align:left;vertical-align:bottom;padding:6px;font-weight:600;
border-bottom:2px solid #c5ccd6;text-decoration:underline dotted #9aa5b4}
td{padding:5px 6px;border-bottom:1px solid #eceef1}
tbody tr:nth-child(even){background:#f9fafb}
.n{text-align:right;font-variant-numeric:tabular-nums}td.n{white-space:nowrap}th.n{width:1%}
.deux{display:grid;grid-template-columns:3fr 2fr;gap:0 28px;align-items:start}
.vide{color:#666;font-style:italic}
details summary{cursor:pointer;margin:14px 0 8px;color:#1f3a5f;font-weight:600}
footer{max-width:1280px;margin:0 auto;padding:0 28px 30px;color:#666;font-size:12px}
"""
