"""Set-based validation of a month's rows in DuckDB, generated from the contract declaration.

One query per dataset types every cell, evaluates every rule of contract §3–§4 and ranks
duplicate keys; its result says, for each row, the typed values and the list of reasons it breaks
(empty list = the row loads). Values of personal columns never enter a reason.
"""

from __future__ import annotations

from pipelines.contract import CHECKS, Column, Dataset

_NUMBER = r"-?\d{1,15}([.,]\d+)?"
_SPACES = "[\\s\u00a0\u202f]"
"""Thousands separators: space, no-break space, narrow no-break space."""


TRIMMED = " \t\r\n\u00a0\u202f"
"""What surrounds a value without being part of it: spaces, tabs, line breaks, no-break spaces."""


def trimmed(name: str) -> str:
    """``name`` without ``TRIMMED`` at either end. DuckDB's ``trim`` with a character list is slow (on a
    national month's 638 000 beneficiaires, 19 columns: 3.7 s against 1.7 s for this): most cells
    have nothing to trim, so a cheap test first, same result."""
    return f"CASE WHEN regexp_matches({name}, '^[{TRIMMED}]|[{TRIMMED}]$') THEN trim({name}, '{TRIMMED}') ELSE {name} END"


def _text(name: str) -> str:
    """Trimmed (``trimmed``); empty = NULL."""
    return f"nullif({trimmed(name)}, '')"


def _parse(column: Column) -> str:
    """Typed value of a column from its trimmed text ``<name>__txt`` (NULL when invalid)."""
    txt = f"{column.name}__txt"
    if column.parse:
        return column.parse
    if column.type == "date":
        return (
            f"CASE WHEN regexp_full_match({txt}, '\\d{{4}}-\\d{{1,2}}-\\d{{1,2}}') "
            f"THEN try_strptime({txt}, '%Y-%m-%d')::DATE "
            f"WHEN regexp_full_match({txt}, '\\d{{1,2}}/\\d{{1,2}}/\\d{{4}}') "
            f"THEN try_strptime({txt}, '%d/%m/%Y')::DATE "
            f"WHEN excel AND regexp_full_match({txt}, '\\d{{5}}') THEN DATE '1899-12-30' + {txt}::INTEGER END"
        )
    if column.type in ("int", "decimal"):
        value = f"{column.name}__val"
        if column.type == "int":
            return f"CASE WHEN {value} = floor({value}) THEN {value}::BIGINT END"
        return value
    if column.type == "enum":
        default = "NULL" if column.default is None else f"'{column.default}'"
        return f"coalesce(upper(strip_accents({txt})), {default})"
    if column.type == "list":
        return f"list_filter(list_transform(string_split_regex({txt}, '[|,]'), lambda x: upper(strip_accents(trim(x)))), lambda x: x <> '')"
    return txt


def _numbers(column: Column) -> list[str]:
    """A number column's text without thousands separators, decimal point (``__num``), whether it is
    a number (``__nombre``) and its value (``__val``): computed once, read by the parse and the checks."""
    name = column.name
    return [f"replace(regexp_replace({name}__txt, '{_SPACES}', '', 'g'), ',', '.') AS {name}__num",
            f"regexp_full_match({name}__num, '{_NUMBER}') AS {name}__nombre",
            f"CASE WHEN {name}__nombre THEN {name}__num::DOUBLE END AS {name}__val"]


def _checks(column: Column) -> list[tuple[str, str, str]]:
    """(condition, rule code, message) of the column's own type and presence (rules of ``CHECKS``)."""
    name, txt = column.name, f"{column.name}__txt"
    checks = []

    def check(condition: str, code: str, detail: str = "") -> None:
        checks.append((condition, code, CHECKS[code].message + detail))

    if column.required:
        check(f"{txt} IS NULL", "obligatoire")
    if column.type == "date":
        check(f"{txt} IS NOT NULL AND {name} IS NULL", "date_invalide")
    if column.type in ("int", "decimal"):
        check(f"{txt} IS NOT NULL AND NOT {name}__nombre", "nombre_invalide")
        if column.type == "int":
            check(f"{name}__nombre AND {name} IS NULL", "entier_attendu")
        check(f"{name} < 0", "negatif")
    allowed = ", ".join(f"'{v}'" for v in column.values)
    if column.type == "enum":
        check(f"{name} NOT IN ({allowed})", "valeur_hors_liste", f" ({', '.join(column.values)})")
    if column.type == "list" and column.values:
        check(f"len(list_filter({name}, lambda x: x NOT IN ({allowed}))) > 0", "element_hors_liste",
              f" ({', '.join(column.values)})")
    return checks


def _quoted(text: str) -> str:
    return text.replace("'", "''")


def _reason(column: Column, condition: str, code: str, message: str) -> str:
    # A row whose cells do not line up with the header may hold an identifier in any column.
    value = "NULL" if column.personal else f"CASE WHEN r.aligne THEN left(r.{column.name}__txt, 60) END"
    message = _quoted(message)
    return (f"CASE WHEN {condition} THEN {{'colonne': '{column.name}', 'regle': '{code}', "
            f"'message': '{message}', 'valeur': {value}}} END")


def validation_sql(dataset: Dataset) -> str:
    """Query over ``incoming`` + ``incoming_files``: typed columns, ``erreurs`` and ``rang`` per row."""
    texts = ", ".join(f"{_text('i.' + c.name)} AS {c.name}__txt" for c in dataset.columns)
    parsed = ", ".join(f"{_parse(c)} AS {c.name}" for c in dataset.columns)
    reasons = [_reason(c, cond, code, msg) for c in dataset.columns for cond, code, msg in _checks(c)]
    reasons += [_reason(dataset.column(r.column), r.broken_when, r.code, r.message) for r in dataset.rules]
    reasons.append(
        "CASE WHEN champs_en_trop THEN {'colonne': NULL, 'regle': 'champs_en_trop', "
        f"'message': '{_quoted(CHECKS['champs_en_trop'].message)}', 'valeur': NULL}} END"
    )
    key = ", ".join(dataset.key)
    numeric = [c for c in dataset.columns if c.type in ("int", "decimal")]
    layers = [[_numbers(c)[step] for c in numeric] for step in range(3)]  # each reads the one before
    reads = ["texts", "numbers_0", "numbers_1"]
    number_ctes = "".join(f"numbers_{i} AS (SELECT *, {', '.join(layer)} FROM {reads[i]}),\n"
                          for i, layer in enumerate(layers) if numeric)
    source = "numbers_2" if numeric else "texts"
    helpers = ", ".join(f"{c.name}__{part}" for c in numeric for part in ("num", "nombre", "val"))
    return f"""
WITH texts AS (
    SELECT i.file_id, i.ligne, i.champs_en_trop, i.aligne, f.debut, f.fin, f.annee, f.source_code, f.excel, {texts}
    FROM incoming i JOIN incoming_files f USING (file_id)
),
{number_ctes}parsed AS (SELECT *, {parsed} FROM {source}),
checked AS (
    SELECT r.*, list_filter([{", ".join(reasons)}], lambda e: e IS NOT NULL) AS erreurs FROM parsed r
),
ranked AS (
    SELECT *,
        row_number() OVER (PARTITION BY file_id, len(erreurs) = 0, {key} ORDER BY ligne) AS rang,
        first(ligne) OVER (PARTITION BY file_id, len(erreurs) = 0, {key} ORDER BY ligne) AS premiere_ligne
    FROM checked
)
SELECT * EXCLUDE (erreurs, rang, premiere_ligne{", " + helpers if helpers else ""}),
    CASE WHEN len(erreurs) = 0 AND rang > 1 THEN [{{
        'colonne': '{dataset.key[-1]}', 'regle': 'doublon',
        'message': '{_quoted(CHECKS["doublon"].message)} {dataset.key_label} (première occurrence ligne '
            || premiere_ligne || ')',
        'valeur': NULL}}]
    ELSE erreurs END AS erreurs
FROM ranked
"""
