"""dagster-dbt's ``DbtCliResource``, told dbt's version without starting ``dbt --version``.

Before each build dagster-dbt runs ``dbt --version`` in a process of its own to learn which engine
it drives (dbt-core or Fusion). That process imports dbt and asks PyPI for the latest release: ≈ 2 s
of CPU, and a network call, on every run. The dbt it would ask is the venv's own (``DBT_EXECUTABLE``),
whose version is that of the dbt-core package installed beside this code: read it from there.
"""

from functools import cached_property

from dagster_dbt import DbtCliResource
from packaging import version


class VenvDbtCliResource(DbtCliResource):
    """The venv's dbt, its version read from the installed dbt-core package."""

    @cached_property
    def _cli_version(self) -> version.Version:
        from dbt.version import __version__

        return version.parse(__version__)
