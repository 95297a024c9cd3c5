"""The data dictionary of ``docs/bi.md``, rendered from the marts' dbt documentation.

The marts are documented once, in ``dbt_project/models/marts/_marts.yml`` (the same YAML dbt enforces
as contracts and ``dbt docs`` serves); ``python -m pipelines.publication.bi_docs`` copies it into the
BI users' guide between two markers, and a test fails when the copy is stale.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
MARTS_YML = ROOT / "dbt_project" / "models" / "marts" / "_marts.yml"
DOC = ROOT / "docs" / "bi.md"
BEGIN, END = "<!-- dictionnaire: généré depuis _marts.yml -->", "<!-- fin du dictionnaire -->"


def _one_line(text: str | None) -> str:
    return re.sub(r"\s+", " ", text or "").strip().replace("|", "\\|")


def dictionary() -> str:
    """One section per mart: its description, then its columns in contract order."""
    lines = [BEGIN, "", "Generated from `dbt_project/models/marts/_marts.yml` by "
             "`python -m pipelines.publication.bi_docs`; do not edit by hand."]
    for model in yaml.safe_load(MARTS_YML.read_text())["models"]:
        lines += ["", f"### `{model['name']}`", "", _one_line(model.get("description")), "",
                  "| column | type | meaning |", "|---|---|---|"]
        lines += [f"| `{c['name']}` | {c.get('data_type', '')} | {_one_line(c.get('description'))} |"
                  for c in model["columns"]]
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
