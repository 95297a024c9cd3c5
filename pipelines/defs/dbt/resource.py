"""dagster-dbt's ``DbtCliResource``, without the two set-ups a build of this project never uses.

- Before each build dagster-dbt runs ``dbt --version`` in a process of its own to learn which engine
  it drives (dbt-core or Fusion). That process imports dbt and asks PyPI for the latest release: ≈ 2 s
  of CPU, and a network call, on every run. The dbt it would ask is the venv's own
  (``DBT_EXECUTABLE``), whose version is that of the dbt-core package installed beside this code:
  read it from there.
- It also loads the dbt project, profile and adapter into the Dagster process (≈ 3-7 s) for
  ``fetch_row_counts`` and ``fetch_column_metadata``, which query the warehouse while dbt writes it:
  DuckDB refuses that, and the marts' row counts are taken once dbt has exited
  (``assets.with_mart_row_counts``). Without an adapter dagster-dbt streams the same events (its
  Fusion path already does so).
"""

from functools import cached_property

from dagster_dbt import DbtCliResource
from packaging import version


class VenvDbtCliResource(DbtCliResource):
    """The venv's dbt, its version read from the installed dbt-core package, no adapter in this process."""

    @cached_property
    def _cli_version(self) -> version.Version:
        from dbt.version import __version__

        return version.parse(__version__)

    def _initialize_dbt_core_adapter(self, args):
        return None
