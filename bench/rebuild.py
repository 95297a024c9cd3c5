"""Rebuild and key rotation: ``python bench/rebuild.py [--scale S:FROM:TO] [--work DIR]`` (docs/performance.md).

Generates the sample of a scale (``bench/run.py``'s directories, reused when present), refreshes every
month from an empty warehouse, then times ``python -m pipelines rebuild`` from the archive alone into a
new file, under the same key and under a new one (the key's rotation), each in a child process (wall,
CPU with dbt, peak RSS). Checks that the marts are equal, and prints one table row per measure.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.measure import measure  # noqa: E402
from bench.run import Platform, months_between, refresh  # noqa: E402
from pipelines.sample import generate  # noqa: E402

NEW_KEY = "nouvelle-cle-du-banc-d-essai-apres-rotation-0123456789abcdef"


def marts_differ(a: Path, b: Path) -> int:
    """Rows of the marts of ``a`` missing from ``b`` or the other way round (0 = equal)."""
    with duckdb.connect() as con:
        con.execute(f"ATTACH '{a}' AS a (READ_ONLY); ATTACH '{b}' AS b (READ_ONLY)")
        tables = con.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = 'a' "
                             "AND schema_name = 'marts'").fetchall()
        return sum(con.execute(f"SELECT count(*) FROM (SELECT * FROM {x}.marts.{t} EXCEPT ALL "
                               f"SELECT * FROM {y}.marts.{t})").fetchone()[0]
                   for (t,) in tables for x, y in (("a", "b"), ("b", "a")))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", default="20:2026-06:2026-10")
    parser.add_argument("--work", type=Path, default=Path("/tmp/ali93-bench"))
    args = parser.parse_args()
    scale_text, first, last = args.scale.split(":")
    platform = Platform(args.work, float(scale_text))
    if not platform.sample.exists():
        generate(platform.sample, scale=float(scale_text), start=first, end=last,
                 reference_dir=ROOT / "data" / "reference")
    platform.inbox_with(months_between(first, last))
    platform.restore(None)
    backfill, _ = refresh(platform, None)
    warehouse = platform.live / "warehouse" / "ali.duckdb"
    files = sum(1 for p in (platform.live / "inbox").rglob("*") if p.is_file())
    print(f"| mesure ({args.scale}, {files} fichiers) | temps | CPU | mémoire max | marts |")
    print("|---|---|---|---|---|")
    print(f"| refresh de tous les mois (référence) | {backfill.wall_s:.1f} s | {backfill.cpu_s:.1f} s | "
          f"{backfill.peak_rss_mb:.0f} Mo | |")
    for label, key in (("reconstruction, même clé", None), ("rotation : reconstruction, nouvelle clé", NEW_KEY)):
        target = platform.live / ("rotation" if key else "reconstruit") / "ali.duckdb"
        shutil.rmtree(target.parent, ignore_errors=True)
        env = {**platform.env(), "ALI_WAREHOUSE": str(target), **({"ALI_PSEUDONYMISATION_KEY": key} if key else {})}
        run = measure([sys.executable, "-m", "pipelines", "rebuild"], env, ROOT)
        if run.returncode != 0:
            raise SystemExit(f"{label} : échec\n{run.stdout[-4000:]}")
        differ = marts_differ(warehouse, target)
        print(f"| {label} | {run.wall_s:.1f} s | {run.cpu_s:.1f} s | {run.peak_rss_mb:.0f} Mo | "
              f"{'identiques' if differ == 0 else f'{differ} lignes différentes'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
