"""Stage timings: where a run's time goes, reported as asset metadata (``duree_<stage>_s``).

The benchmark (``bench/``) reads them from the run's events; a data engineer sees them in the UI on
the materialization of ``raw/livraisons`` (ingestion stages) and of the marts (dbt models and tests).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager


class Stopwatch:
    """Accumulates wall seconds per named stage (a stage may be entered many times), and counts."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.counts: dict[str, int] = defaultdict(int)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - started

    def metadata(self) -> dict[str, float]:
        return {**as_metadata(self.seconds), **self.counts}


def as_metadata(seconds: Mapping[str, float]) -> dict[str, float]:
    return {f"duree_{name}_s": round(value, 3) for name, value in seconds.items()}


def dbt_timings(run_results: Mapping) -> dict[str, float]:
    """Seconds spent by dbt in models, data tests and unit tests, from its ``run_results.json``."""
    seconds = {"dbt_modeles": 0.0, "dbt_tests": 0.0}
    for result in run_results.get("results", []):
        kind = result["unique_id"].split(".", 1)[0]
        seconds["dbt_modeles" if kind == "model" else "dbt_tests"] += result.get("execution_time") or 0.0
    seconds["dbt_total"] = run_results.get("elapsed_time") or 0.0
    return seconds
