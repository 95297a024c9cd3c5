"""The benchmark's table and targets, written into ``docs/performance.md`` between two markers.

Only the text between the markers is generated; the analysis around it is written by people and kept.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

BEGIN, END = "<!-- mesures: générées par bench/run.py -->", "<!-- fin des mesures -->"
STAGES = [("lecture", "lecture"), ("validation", "validation"), ("pseudonymisation", "pseudo."),
          ("garde", "garde"), ("chargement", "chargement"), ("dbt_modeles", "dbt modèles"), ("dbt_tests", "dbt tests"),
          ("dbt_total", "dbt total"), ("publication", "publication"), ("rapport", "rapport"),
          ("open_data", "open data")]
INGESTION = ("archivage", "lecture", "validation", "pseudonymisation", "garde", "chargement")
"""Ingestion (issue 13: read + validate + pseudonymise + load), archive and write guard included."""
PRIVACY_STEP = "aucun_identifiant"
"""Steps of the blocking privacy checks (their step keys end with the check's name)."""


def ingestion_rate(stages: dict[str, float]) -> float | None:
    """Data rows per second of the ingestion stages."""
    seconds = sum(stages.get(name, 0.0) for name in INGESTION)
    return stages["lignes"] / seconds if seconds and stages.get("lignes") else None


def privacy_seconds(stages: dict[str, float]) -> float:
    return sum(v for k, v in stages.items() if k.startswith("etape:") and PRIVACY_STEP in k)


def machine() -> str:
    memory = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal:"))
    return f"{os.cpu_count()} cœurs, {memory / 1024 ** 2:.0f} Gio de mémoire"


def _stage_text(stages: dict[str, float]) -> str:
    return ", ".join(f"{label} {stages[key]:.1f}" for key, label in STAGES if stages.get(key))


def table(results) -> str:
    lines = ["| échelle:mois | scénario | mur (s) | CPU (s) | RSS max (Mo) | lignes | lignes/s ingestion | étapes (s) |",
             "|---|---|---|---|---|---|---|---|"]
    for r in results:
        stages = r.stage_medians()
        rate = f"{ingestion_rate(stages):,.0f}".replace(",", " ") if ingestion_rate(stages) else ""
        rows = f"{stages.get('lignes', stages.get('rows_read', 0)):,.0f}".replace(",", " ")
        lines.append(f"| {r.scale} | {r.scenario} | {r.median('wall_s'):.1f} | {r.median('cpu_s'):.1f} | "
                     f"{max(m.peak_rss_mb for m in r.runs):.0f} | {rows} | {rate} | {_stage_text(stages)} |")
    return "\n".join(lines)


def targets(results) -> list[str]:
    """Each target of issue 13, measured; ✅ met, ❌ missed (explained below the table)."""
    by = {(r.scale, r.scenario): r for r in results}
    scales = sorted({r.scale for r in results}, key=lambda s: float(s.split(":")[0]))
    dept, national = scales[0], scales[-1]

    def wall(scale, scenario):
        r = by.get((scale, scenario))
        return r.median("wall_s") if r else None

    def verdict(ok: bool) -> str:
        return "✅" if ok else "❌"

    def number(value: float) -> str:
        return f"{value:,.0f}".replace(",", " ")

    out = []
    month = by.get((dept, "mois_historique"))
    if month:
        rss = max(m.peak_rss_mb for m in month.runs)
        out.append(f"{verdict(month.median('wall_s') <= 60 and rss <= 1536)} one-month refresh ({dept}, "
                   f"mois_historique): {month.median('wall_s'):.1f} s (≤ 60 s), {rss:.0f} Mo (≤ 1 536 Mo)")
    if wall(dept, "mois_historique") and wall(dept, "mois_3"):
        ratio = wall(dept, "mois_historique") / wall(dept, "mois_3")
        out.append(f"{verdict(ratio <= 1.15)} history / 3 months ({dept}): ×{ratio:.2f} (≤ ×1.15)")
    for scale in dict.fromkeys([dept, national]):
        run = by.get((scale, "mois_historique"))
        if run:
            share = privacy_seconds(run.stage_medians()) / run.median("wall_s")
            out.append(f"{verdict(share <= 0.15)} privacy checks, share of a one-month refresh ({scale}): "
                       f"{share:.0%} (≤ 15 %)")
    if national != dept and wall(national, "mois_historique") and wall(national, "plancher"):
        run = by[(national, "mois_historique")]
        ratio = wall(national, "mois_historique") / wall(national, "plancher")
        rss = max(m.peak_rss_mb for m in run.runs)
        out.append(f"{verdict(ratio <= 8)} one-month refresh / floor ({national}, mois_historique): "
                   f"×{ratio:.1f} (≤ ×8)")
        out.append(f"{verdict(rss <= 2048)} peak RSS, one-month refresh ({national}): {number(rss)} Mo (≤ 2 048 Mo)")
        rate = ingestion_rate(run.stage_medians())
        if rate:
            out.append(f"{verdict(rate >= 500_000)} ingestion throughput ({national}): {number(rate)} rows/s "
                       "(≥ 500 000)")
    if wall(dept, "backfill"):
        out.append(f"{verdict(wall(dept, 'backfill') <= 600)} full backfill ({dept}): "
                   f"{wall(dept, 'backfill'):.0f} s (≤ 600 s)")
    return out


def write_doc(path: Path, results, repeat: int, day: dt.date) -> str:
    text = table(results)
    generated = "\n".join([
        BEGIN, "", f"Measured on {day.isoformat()} on this machine ({machine()}); median of {repeat} run(s) "
        "per scenario (RSS: the maximum). Generated by `python bench/run.py`; do not edit by hand.", "",
        text, "", "Targets:", "", *[f"- {t}" for t in targets(results)], "", END,
    ])
    current = path.read_text() if path.exists() else f"# Performance\n\n{BEGIN}\n{END}\n"
    head, rest = current.split(BEGIN, 1) if BEGIN in current else (current.rstrip("\n") + "\n\n", END)
    path.write_text(head + generated + rest.split(END, 1)[1])
    return text
