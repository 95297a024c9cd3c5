"""Publication to PostgreSQL: ``python bench/postgres.py WAREHOUSE [--repeat N]`` (docs/performance.md).

Takes a warehouse built by a refresh (e.g. the README's ``data/warehouse/ali.duckdb`` for the
département, ``bench/run.py``'s national one), writes its snapshot files once, then times, ``--repeat``
times, the bulk copy of every mart into a new schema (``publication.postgres.stage``) and its switch
(``switch``) on a throw-away local server (``pipelines/postgres``). Prints the rows and the medians.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipelines.postgres.cluster import Cluster  # noqa: E402
from pipelines.postgres.roles import local_access  # noqa: E402
from pipelines.publication import postgres  # noqa: E402
from pipelines.publication.snapshot import MARTS, stage  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("warehouse", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ali93-bench-pg-", dir="/tmp"))
    work.chmod(0o755)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    cluster = Cluster(work / "cluster", port)
    try:
        url = local_access(cluster)["ALI_PUBLISH_POSTGRES_URL"]
        done = stage(args.warehouse, work / "published", "bench")
        file = done.staged / "marts.duckdb"
        copies, switches, rows = [], [], {}
        for i in range(args.repeat):
            schema = postgres.staged_schema(f"{done.snapshot.name}{i}")
            started = time.perf_counter()
            rows = postgres.stage(url, file, schema, MARTS)
            copies.append(time.perf_counter() - started)
            started = time.perf_counter()
            assert postgres.switch(url, schema, role="ali_bi")
            switches.append(time.perf_counter() - started)
        print(f"{args.warehouse}: {sum(rows.values()):,} lignes ({', '.join(f'{t} {n:,}' for t, n in rows.items())})")
        print(f"copie (schéma, clés, commentaires, COPY binaire) : médiane {statistics.median(copies):.2f} s "
              f"sur {args.repeat} ({', '.join(f'{c:.2f}' for c in copies)})")
        print(f"bascule (une transaction, puis purge) : médiane {statistics.median(switches):.3f} s")
    finally:
        cluster.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
