"""Each mart as a PostgreSQL table: types, key and comments, all read from the marts' dbt YAML.

The grain is the mart's ``unique_combination`` test (or its ``unique`` column): a primary key when
every column of it is tested ``not_null``, else ``UNIQUE NULLS NOT DISTINCT`` (``mart_livraisons``
records a misplaced file with an empty source or dataset). Comments carry each definition's one
wording (``figures.marts()``), so Metabase, Power BI or DBeaver show it beside the column.
"""

from __future__ import annotations

from pipelines.publication.figures import marts

TYPES = {"varchar": "text", "integer": "integer", "bigint": "bigint", "double": "double precision",
         "boolean": "boolean", "date": "date", "timestamp": "timestamp"}
"""dbt contract types (DuckDB) → PostgreSQL: rates stay floating point (DOUBLE PRECISION), a DuckDB
``DECIMAL(p,s)`` would become ``numeric(p,s)``."""


def pg_type(duckdb_type: str) -> str:
    name = duckdb_type.strip().lower()
    if name.startswith(("decimal", "numeric")):
        return name.replace("decimal", "numeric")
    return TYPES[name]


def grains() -> dict[str, tuple[tuple[str, ...], bool]]:
    """Per mart: the columns of its grain, and whether each is tested ``not_null`` (``figures.marts()``)."""
    return {name: (mart.grain, mart.grain_not_null) for name, mart in marts().items()}


def quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def create_table(schema: str, mart: str) -> list[str]:
    """The statements creating ``schema.mart`` empty, with its key and comments."""
    definition = marts()[mart]
    columns, not_null = grains()[mart]
    lines = [f"{name} {pg_type(d.type)}" for name, d in definition.columns.items()]
    if columns:
        constraint = "PRIMARY KEY" if not_null else "UNIQUE NULLS NOT DISTINCT"
        lines.append(f"CONSTRAINT {mart}_grain {constraint} ({', '.join(columns)})")
    statements = [f"CREATE TABLE {schema}.{mart} ({', '.join(lines)})",
                  f"COMMENT ON TABLE {schema}.{mart} IS {quoted(definition.description)}"]
    statements += [f"COMMENT ON COLUMN {schema}.{mart}.{name} IS {quoted(f'{d.libelle} — {d.description}')}"
                   for name, d in definition.columns.items()]
    return statements
