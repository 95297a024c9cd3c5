"""Resources, configured from the environment (README lists the variables).

Paths default to the project's ``data/`` folder; the pseudonymisation key is never a resource
field (the UI shows resource configuration): it is read from the environment when a run starts.
"""

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb

from pipelines import warehouse
from pipelines.raw.load import Settings
from pipelines.raw.pseudonymise import Pseudonymiser, from_environment
from pipelines.warehouse_lock import WarehouseBusy, warehouse_lock

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULTS = {
    "ALI_INBOX_DIR": "data/inbox",
    "ALI_ARCHIVE_DIR": "data/archive",
    "ALI_WAREHOUSE": "data/warehouse/ali.duckdb",
    "ALI_REFERENCE_DIR": "data/reference",
    "ALI_PUBLISH_DIR": "data/published",
    "ALI_PORTAIL_DIR": "data/portail",
}


def env_path(name: str, environ: dict[str, str] | None = None) -> str:
    """``$name`` if set, else its default under the project root."""
    environ = os.environ if environ is None else environ
    return str(Path(environ.get(name) or PROJECT_ROOT / DEFAULTS[name]))


HELD, RELEASED = "entrepôt pris", "entrepôt rendu"
"""Debug events around each step's hold of the warehouse: the run's log shows who waited for whom."""


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse (``ALI_WAREHOUSE``); one writer at a time (pool ``warehouse``).

    Every step that opens it, or writes the publication folder, holds its lock
    (``with warehouse.lock(context)``) for the whole step:
    another run, even one the pool does not see (a CLI run, dbt), waits for it. Per step, not per
    run: a step takes its pool slot first, then the lock, so a run never holds the lock while it
    waits for a slot that a step waiting for the lock holds. The lock is the guarantee, the pool an
    economy: Dagster's SQLite storage cannot make a slot claim atomic (it ignores ``FOR UPDATE SKIP
    LOCKED``), so two steps of runs started in the same instant can both get the one slot; the
    second then waits here.
    """

    path: str

    @contextmanager
    def lock(self, context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> Iterator[None]:
        """The step holds the warehouse; a transient failure (the lock not obtained in time, a DuckDB
        I/O error: another program holding the file, a full disk) asks Dagster to retry the step.
        Bad data never raises here: it is quarantined or rejected, and a failed check blocks."""
        try:
            with warehouse_lock(self.path, holder=f"run {context.run.run_id}"):
                context.log.debug(HELD)
                try:
                    yield
                finally:
                    context.log.debug(RELEASED)
        except (WarehouseBusy, duckdb.IOException) as error:
            retries = int(os.environ.get("ALI_RETRIES", "3"))
            wait = float(os.environ.get("ALI_RETRY_WAIT_SECONDS", "60"))
            context.log.warning(f"échec transitoire, nouvelle tentative dans {wait:.0f} s : {error}")
            raise dg.RetryRequested(max_retries=retries, seconds_to_wait=wait) from error

    def connect(self) -> duckdb.DuckDBPyConnection:
        return warehouse.connect(self.path)


class InboxResource(dg.ConfigurableResource):
    """The drop zone (``ALI_INBOX_DIR``) and the archive of originals (``ALI_ARCHIVE_DIR``)."""

    inbox_dir: str
    archive_dir: str

    @property
    def settings(self) -> Settings:
        return Settings(Path(self.inbox_dir), Path(self.archive_dir))


class ReferenceResource(dg.ConfigurableResource):
    """The reference CSV files (``ALI_REFERENCE_DIR``)."""

    directory: str


class PublishResource(dg.ConfigurableResource):
    """Where BI tools, Excel users and management read (``ALI_PUBLISH_DIR``); never the warehouse."""

    directory: str

    def postgres_url(self) -> str | None:
        """``ALI_PUBLISH_POSTGRES_URL``, read when the step runs: it holds a password, never a resource
        field (the UI shows those)."""
        return os.environ.get("ALI_PUBLISH_POSTGRES_URL") or None


class PseudonymisationResource(dg.ConfigurableResource):
    """Reads ``ALI_PSEUDONYMISATION_KEY`` (or the explicit demo mode) when a run starts."""

    def load(self) -> Pseudonymiser:
        return from_environment()


def resources_from_env(environ: dict[str, str] | None = None) -> dict[str, dg.ConfigurableResource]:
    from pipelines.defs.dbt.resource import VenvDbtCliResource

    return {
        "dbt": VenvDbtCliResource(
            project_dir=str(PROJECT_ROOT / "dbt_project"), profiles_dir=str(PROJECT_ROOT / "dbt_project"),
            dbt_executable=str(Path(sys.executable).with_name("dbt")),  # the venv's dbt, activated or not
        ),
        "warehouse": WarehouseResource(path=env_path("ALI_WAREHOUSE", environ)),
        "inbox": InboxResource(
            inbox_dir=env_path("ALI_INBOX_DIR", environ), archive_dir=env_path("ALI_ARCHIVE_DIR", environ)
        ),
        "reference_files": ReferenceResource(directory=env_path("ALI_REFERENCE_DIR", environ)),
        "pseudonymisation": PseudonymisationResource(),
        "publish": PublishResource(directory=env_path("ALI_PUBLISH_DIR", environ)),
    }
