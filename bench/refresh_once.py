"""One refresh in this process, then its stage timings as JSON on the last line of stdout.

Run by ``bench/run.py`` as a child process so that wall, CPU and memory are those of one refresh.
Stage timings are the pipeline's own (``duree_*_s`` metadata of the run's materializations) plus the
wall time of each Dagster step.
"""

from __future__ import annotations

import json
import sys

import dagster as dg

from pipelines.refresh import run_refresh


def stage_timings(result: dg.ExecuteInProcessResult, instance: dg.DagsterInstance) -> dict[str, float]:
    stages: dict[str, float] = {"lignes": 0}
    for event in result.get_asset_materialization_events():
        # one materialization per month for a range run, all with the run's metadata: not summed
        for key, value in event.materialization.metadata.items():
            if key == "lignes_traitees":  # data rows read in the files this run processed
                stages["lignes"] = value.value
            if key.startswith("duree_") and key.endswith("_s"):
                stages[key[len("duree_"):-2]] = value.value  # the dbt timings repeat on each mart: same value
    started = {}
    for entry in instance.all_logs(result.run_id):
        event = entry.dagster_event
        if event is None:
            continue
        if event.event_type_value == "STEP_START":
            started[event.step_key] = entry.timestamp
        elif event.event_type_value == "STEP_SUCCESS" and event.step_key in started:
            stages[f"etape:{event.step_key}"] = round(entry.timestamp - started[event.step_key], 3)
    return stages


def main(period: str | None) -> int:
    instance = dg.DagsterInstance.ephemeral()
    result = run_refresh(period, instance=instance)
    print(json.dumps({"success": result.success, "stages": stage_timings(result, instance)}))
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 and sys.argv[1] != "all" else None))
