"""The data dictionary of ``docs/bi.md``, rendered from the marts' dbt documentation.

The marts are documented once, in ``dbt_project/models/marts/_marts.yml`` (the same YAML dbt enforces
as contracts and ``dbt docs`` serves, read through ``definitions.py``); ``python -m
pipelines.publication.bi_docs`` copies it into the BI users' guide between two markers, and a test
fails when the copy is stale.
"""

from __future__ import annotations

from pathlib import Path

from pipelines.publication.figures import marts

DOC = Path(__file__).resolve().parents[2] / "docs" / "bi.md"
BEGIN, END = "<!-- dictionnaire: généré depuis _marts.yml -->", "<!-- fin du dictionnaire -->"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def dictionary() -> str:
    """One section per mart: its description, then its columns in contract order."""
    lines = [BEGIN, "", "Generated from `dbt_project/models/marts/_marts.yml` by "
             "`python -m pipelines.publication.bi_docs`; do not edit by hand."]
    for mart in marts().values():
        lines += ["", f"### `{mart.name}`", "", _cell(mart.description), "",
                  "| colonne | libellé | type | unité | définition |", "|---|---|---|---|---|"]
        lines += [f"| `{name}` | {d.libelle} | {d.type} | {d.unite} | {_cell(d.description)} |"
                  for name, d in mart.columns.items()]
    return "\n".join([*lines, "", END])


def render(current: str) -> str:
    """``current`` with the text between the markers replaced (markers appended if absent)."""
    if BEGIN not in current:
        return current.rstrip("\n") + "\n\n## What each mart holds\n\n" + dictionary() + "\n"
    head, rest = current.split(BEGIN, 1)
    return head + dictionary() + rest.split(END, 1)[1]


if __name__ == "__main__":
    DOC.write_text(render(DOC.read_text()))
    print(f"écrit : {DOC}")
