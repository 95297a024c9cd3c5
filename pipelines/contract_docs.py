"""The contract as built, rendered from ``pipelines.contract`` into ``docs/contract.md``.

``python -m pipelines.contract_docs`` rewrites the file; a test fails when it is out of date, so
the document never drifts from what validation enforces.
"""

from __future__ import annotations

from pathlib import Path

from pipelines.contract import DATASETS
from pipelines.warehouse import stored_as, stored_columns

DOC = Path(__file__).resolve().parents[1] / "docs" / "contract.md"


def render() -> str:
    lines = [
        "# The reporting contract as validated",
        "",
        "Generated from `pipelines/contract.py` by `python -m pipelines.contract_docs`; do not edit by hand.",
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
            lines.append(f"| {c.name} | {c.type} | {'R' if c.required else ''} | {values} | {stored} | {c.description} |")
        lines += ["", "| rule | column | reason given |", "|---|---|---|"]
        lines += [f"| `{r.code}` | {r.column} | {r.message} |" for r in dataset.rules]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    DOC.write_text(render())
    print(f"écrit : {DOC}")
