"""What ``refresh`` shows while it runs: one line per step and per asset materialized, in French.

A Dagster logger (``progression``), enabled by the refresh's run config only: runs launched from the
UI, the schedule or the sensor keep Dagster's default console. Each asset shows once, however many
month partitions it covers, as soon as it is materialized (dbt's models as dbt finishes them); a
failed step shows its error's first line, never a stack trace, and messages show only from warnings
up (everything stays in the run's event log); dbt's own log goes to its log file (``dbt.log`` of the
build's target folder), not to the console.
"""

from __future__ import annotations

import logging
import sys

import dagster as dg

DAGSTER_META = "dagster_meta"
"""The attribute Dagster puts on each log record it passes to a logger: step, event, message."""

KINDS = {"STEP_START": "→", "STEP_SUCCESS": "✓", "STEP_FAILURE": "✗", "ASSET_MATERIALIZATION": "  ·"}
SKIPPED = "Dependencies for step "


class ProgressHandler(logging.Handler):
    """Formats the run's events as short French lines on the real standard output."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)  # Dagster logs step events at DEBUG
        self.seen: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        line = self.line(record)
        if line:
            sys.__stdout__.write(line + "\n")
            sys.__stdout__.flush()

    def line(self, record: logging.LogRecord) -> str | None:
        meta = getattr(record, DAGSTER_META, None) or {}
        event, step = meta.get("dagster_event"), meta.get("step_key") or ""
        if event is None:  # a message: only warnings and errors (the rest is in the run's log)
            message = meta.get("orig_message", record.getMessage())
            if record.levelno < logging.WARNING or message.startswith(SKIPPED):
                return None  # a step skipped after a failure: the failure has its own line
            return f"  ! {message}"
        kind = event.event_type_value
        if kind == "ASSET_MATERIALIZATION":
            key = event.asset_key.to_user_string()
            if key in self.seen:
                return None
            self.seen.add(key)
            return f"{KINDS[kind]} {key}"
        if kind == "STEP_FAILURE":
            error = event.step_failure_data.error
            while error is not None and error.cause is not None:
                error = error.cause
            if error is not None and error.cls_name == "DagsterAssetCheckFailedError":
                return f"{KINDS[kind]} {step} : contrôle bloquant en échec, la suite du run est arrêtée"
            first = (error.message if error else "").strip().splitlines()
            return f"{KINDS[kind]} {step} : {first[0] if first else 'échec'}"
        if kind == "ASSET_CHECK_EVALUATION" and not event.event_specific_data.passed:
            evaluation = event.event_specific_data
            return f"  ✗ contrôle {evaluation.check_name} ({evaluation.asset_key.to_user_string()})"
        if kind in ("STEP_START", "STEP_SUCCESS"):
            return f"{KINDS[kind]} {step}"
        return None


@dg.logger(description="Console du refresh : une ligne par étape et par asset, en français, sans pile d'appels.")
def progression(init_context: dg.InitLoggerContext) -> logging.Logger:
    logger = logging.Logger("ali93.refresh", level=logging.DEBUG)
    logger.addHandler(ProgressHandler())
    return logger
