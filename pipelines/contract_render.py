"""What is generated from the contract declaration (``pipelines.contract``), never written by hand.

- ``docs/contract.md``: the contract as validated;
- ``docs/senders.md``: the senders' guide in French (``pipelines.senders.guide``): its columns, rules and
  fixes;
- ``dbt_project/macros/contrat.sql``: the contract's numbers the models read (the due day);
- ``dbt_project/seeds/contrat_*.csv``: the closed lists the marts read (exit motifs and results
  with ``est_positif``, functions with ``est_accompagnement``, datasets per source type), joined in
  SQL and used by dbt's ``relationships`` tests, so no model spells one of those values;
- ``docs/schemas/<jeu>/``: each dataset as Table Schema, its CSV and Excel templates and a valid
  example (``pipelines.senders.table_schema``), for the senders' own tools.

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
        "The same declaration gives each dataset's Table Schema, CSV and Excel templates and a valid example",
        "in `docs/schemas/<jeu>/` (`pipelines/senders/table_schema.py`).",
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


def outputs() -> dict[Path, str | bytes]:
    """Every generated file and its expected content (bytes for a workbook)."""
    from pipelines.senders import guide, table_schema

    seeds = {SEED_DIR / f"{name}.csv": seed(name) for name in SEEDS}
    return {DOC: render(), GUIDE: guide.render(), MACRO: macros(), **seeds, **table_schema.outputs()}


def current(path: Path, content: str | bytes) -> bool:
    """``path`` holds ``content`` (what the staleness test asks of every output)."""
    if not path.exists():
        return False
    return path.read_bytes() == content if isinstance(content, bytes) else path.read_text(encoding="utf-8") == content


if __name__ == "__main__":
    for path, content in outputs().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        print(f"écrit : {path.relative_to(ROOT)}")
