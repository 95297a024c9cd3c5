"""What is generated from the contract declaration (``pipelines.contract``), never written by hand.

- ``docs/contract.md``: the contract as validated;
- ``docs/senders.md``: the senders' guide in French (``pipelines.senders.guide``): its columns, rules and
  fixes;
- ``dbt_project/macros/contrat.sql``: the contract's numbers the models read (the due day);
- ``dbt_project/seeds/contrat_*.csv``: the closed lists the marts read (exit motifs and results
  with ``est_positif``, functions with ``est_accompagnement``, datasets per source type), joined in
  SQL and used by dbt's ``relationships`` tests, so no model spells one of those values.

``python -m pipelines.contract_render`` rewrites them; a test fails when one is out of date.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from pipelines.contract import DATASETS, ECHEANCE_JOUR, SEEDS
from pipelines.warehouse import stored_as, stored_columns

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "contract.md"
GUIDE = ROOT / "docs" / "senders.md"
MACRO = ROOT / "dbt_project" / "macros" / "contrat.sql"
SEED_DIR = ROOT / "dbt_project" / "seeds"


def render() -> str:
    lines = [
        "# The reporting contract as validated",
        "",
        "Generated from `pipelines/contract.py` by `python -m pipelines.contract_render`; do not edit by hand.",
        "Rule codes are those of `raw.quarantaine.motifs[].regle`. Every typed column also has the rules of",
        "its type: `obligatoire`, `date_invalide`, `nombre_invalide`, `entier_attendu`, `negatif`,",
        "`valeur_hors_liste`, `element_hors_liste`; every dataset has `doublon` (later occurrences of a key",
        "among otherwise valid rows) and `champs_en_trop` (more cells than the header).",
    ]
    for dataset in DATASETS.values():
        lines += [
            "", f"## `{dataset.name}` ({dataset.source_type}) — {dataset.description}", "",
            f"Key within a file: {dataset.key_label}. Stored in `raw.{dataset.name}` as: "
            + ", ".join(f"`{n}`" for n, _ in stored_columns(dataset)) + ".",
            "", "| column | type | required | values | stored | description |", "|---|---|---|---|---|---|",
        ]
        for c in dataset.columns:
            values = ", ".join(c.values) if c.values else ""
            stored = ", ".join(f"`{n}`" for n, _ in stored_as(c)) or "never (direct identifier)"
            required = "R" if c.required else ""
            lines.append(f"| {c.name} | {c.type} | {required} | {values} | {stored} | {c.description} |")
        lines += ["", "| rule | column | reason given |", "|---|---|---|"]
        lines += [f"| `{r.code}` | {r.column} | {r.message} |" for r in dataset.rules]
    lines += ["", "## Closed lists read by the marts (dbt seeds `dbt_project/seeds/`)"]
    for name, (header, rows) in SEEDS.items():
        lines += ["", f"`{name}`", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(("oui" if v else "non") if isinstance(v, bool) else v for v in row) + " |"
                  for row in rows]
    return "\n".join(lines) + "\n"


def seed(name: str) -> str:
    """One seed as CSV (header, then one row per value; booleans as ``true``/``false``)."""
    header, rows = SEEDS[name]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([str(v).lower() if isinstance(v, bool) else v for v in row] for row in rows)
    return out.getvalue()


def macros() -> str:
    """The contract's scalars as dbt macros (a seed would be a table to join for one number)."""
    return ("{#- Generated from pipelines/contract.py by python -m pipelines.contract_render; do not edit. -#}\n\n"
            "{#- The day of M + 1 on which the delivery of month M is due (end of day, Europe/Paris). -#}\n"
            f"{{% macro echeance_jour() %}}{{{{ return({ECHEANCE_JOUR}) }}}}{{% endmacro %}}\n")


def outputs() -> dict[Path, str]:
    """Every generated file and its expected content."""
    from pipelines.senders import guide

    return {DOC: render(), GUIDE: guide.render(), MACRO: macros(), **{SEED_DIR / f"{name}.csv": seed(name) for name in SEEDS}}


if __name__ == "__main__":
    SEED_DIR.mkdir(exist_ok=True)
    for path, text in outputs().items():
        path.write_text(text)
        print(f"écrit : {path.relative_to(ROOT)}")
