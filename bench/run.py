"""The performance benchmark: ``python bench/run.py`` (see docs/performance.md).

For each scale (``S:FROM:TO``: generator scale and month range; the last month M is "the new month")
it generates the sample once, then measures, each ``--repeat`` times from the same saved state:

- ``backfill``: every month from an empty warehouse;
- ``mois_3``: month M arrives with M-3..M-1 already loaded;
- ``mois_historique``: month M arrives with FROM..M-1 loaded (omitted when that is the same as mois_3);
- ``renvoi``: a corrected file of one ALI for a month in the middle of the range, everything loaded;
- ``plancher``: ``bench/floor.sql`` on month M's files (read and aggregate, nothing else).

Every scenario runs in a fresh child process (``bench/refresh_once.py``, ``bench/floor.py``):
wall, CPU (with dbt's process) and peak RSS of the process tree. Medians are reported, and
``docs/performance.md`` gets the table between its markers (``--doc`` to write elsewhere).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.measure import Measure, measure  # noqa: E402
from bench.report import write_doc  # noqa: E402
from pipelines.sample import generate  # noqa: E402

BENCH_KEY = "cle-du-banc-d-essai-donnees-fictives-uniquement-0123456789"
DEFAULT_SCALES = ["1:2023-02:2026-10", "20:2026-06:2026-10"]


@dataclass
class Result:
    scale: str
    scenario: str
    runs: list[Measure] = field(default_factory=list)
    stages: list[dict[str, float]] = field(default_factory=list)

    def median(self, attribute: str) -> float:
        return statistics.median(getattr(m, attribute) for m in self.runs)

    def stage_medians(self) -> dict[str, float]:
        names = sorted({k for s in self.stages for k in s})
        return {k: statistics.median(s.get(k, 0.0) for s in self.stages) for k in names}


def months_between(first: str, last: str) -> list[str]:
    y, m = map(int, first.split("-"))
    out = []
    while f"{y:04d}-{m:02d}" <= last:
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


class Platform:
    """One scale's directories: the generated inbox, the live platform, saved states."""

    def __init__(self, work: Path, scale: float):
        self.root = work / f"echelle-{scale:g}"
        self.sample = self.root / "echantillon"
        self.live = self.root / "plateforme"
        self.states = self.root / "etats"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "ALI_DEMO_MODE")}
        return {**env, "ALI_INBOX_DIR": str(self.live / "inbox"), "ALI_ARCHIVE_DIR": str(self.live / "archive"),
                "ALI_WAREHOUSE": str(self.live / "warehouse" / "ali.duckdb"),
                "ALI_PUBLISH_DIR": str(self.live / "published"), "ALI_REFERENCE_DIR": str(ROOT / "data" / "reference"),
                "ALI_PSEUDONYMISATION_KEY": BENCH_KEY}

    def inbox_with(self, months: list[str] | None) -> None:
        """The live inbox = hard links to the sample's files (same bytes, same reception times)."""
        inbox = self.live / "inbox"
        shutil.rmtree(inbox, ignore_errors=True)
        for folder in sorted(self.sample.iterdir()):
            if months is None or folder.name in months:
                shutil.copytree(folder, inbox / folder.name, copy_function=os.link)
        inbox.mkdir(parents=True, exist_ok=True)

    def save(self, name: str) -> None:
        target = self.states / name
        shutil.rmtree(target, ignore_errors=True)
        for part in ("warehouse", "archive", "published"):
            if (self.live / part).exists():  # the archive is content-addressed and never rewritten: links suffice
                shutil.copytree(self.live / part, target / part, symlinks=True,
                                copy_function=os.link if part == "archive" else shutil.copy2)

    def restore(self, name: str | None) -> None:
        for part in ("warehouse", "archive", "published"):
            shutil.rmtree(self.live / part, ignore_errors=True)
            if name and (self.states / name / part).exists():
                shutil.copytree(self.states / name / part, self.live / part, symlinks=True,
                                copy_function=os.link if part == "archive" else shutil.copy2)


def refresh(platform: Platform, period: str | None) -> tuple[Measure, dict[str, float]]:
    run = measure([sys.executable, str(ROOT / "bench" / "refresh_once.py"), period or "all"], platform.env(), ROOT)
    if run.returncode != 0:
        raise RuntimeError(f"refresh {period or 'all'} failed:\n{run.stdout[-4000:]}")
    return run, json.loads(run.stdout.strip().splitlines()[-1])["stages"]


def resend(platform: Platform, month: str) -> str:
    """Replace one ALI's beneficiaires file of ``month`` by a corrected version (its last line dropped)."""
    path = sorted((platform.live / "inbox" / month).glob("ALI*/[Bb][Ee][Nn]*.csv"))[0]
    data = path.read_bytes().rstrip(b"\r\n").rsplit(b"\n", 1)[0] + b"\n"
    path.unlink()  # a hard link to the sample: never write through it
    path.write_bytes(data)
    settled = time.time() - 600  # received ten minutes ago: past the inbox's quiet period
    os.utime(path, (settled, settled))
    return str(path.relative_to(platform.live / "inbox"))


def bench_scale(spec: str, work: Path, repeat: int, log) -> list[Result]:
    scale_text, first, last = spec.split(":")
    scale, months = float(scale_text), months_between(first, last)
    if len(months) < 5:
        raise SystemExit(f"{spec}: at least 5 months (3 loaded, the new one, and one for the re-send)")
    platform, new = Platform(work, scale), months[-1]
    if not platform.sample.exists():
        log(f"échelle {scale:g} : génération {first} → {last}")
        generate(platform.sample, scale=scale, start=first, end=last, reference_dir=ROOT / "data" / "reference")
    results = {name: Result(spec, name) for name in ("backfill", "mois_3", "mois_historique", "renvoi", "plancher")}

    def record(name: str, run: Measure, stages: dict[str, float]) -> None:
        results[name].runs.append(run)
        results[name].stages.append(stages)
        log(f"  {spec} {name}: {run.wall_s:.1f} s, CPU {run.cpu_s:.1f} s, {run.peak_rss_mb:.0f} Mo")

    for i in range(repeat):
        platform.restore(None)
        platform.inbox_with(None)
        record("backfill", *refresh(platform, None))
        if i == 0:
            platform.save("complet")
    for state, loaded in (("3mois", months[-4:-1]), ("historique", months[:-1])):
        if state == "historique" and len(months) == 4:
            continue
        platform.restore(None)
        platform.inbox_with(loaded)
        refresh(platform, None)
        platform.save(state)
    for name, state in (("mois_3", "3mois"), ("mois_historique", "historique")):
        if not (platform.states / state).exists():
            continue
        for _ in range(repeat):
            platform.restore(state)
            platform.inbox_with(months[-4:] if state == "3mois" else months)
            record(name, *refresh(platform, new))
    old = months[len(months) // 2]
    for _ in range(repeat):
        platform.restore("complet")
        platform.inbox_with(None)
        log(f"  renvoi de {resend(platform, old)}")
        record("renvoi", *refresh(platform, old))
    for _ in range(repeat):
        run = measure([sys.executable, "-m", "bench.floor", str(platform.sample / new), f"{new}-01"], platform.env(),
                      ROOT)
        if run.returncode != 0:
            raise RuntimeError(f"floor failed:\n{run.stdout[-4000:]}")
        record("plancher", run, json.loads(run.stdout.strip().splitlines()[-1]))
    return [r for r in results.values() if r.runs]


def main(argv: list[str] | None = None) -> list[Result]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", action="append", help="S:FROM:TO (repeatable); default: " + " ".join(DEFAULT_SCALES))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--work", type=Path, default=Path("/tmp/ali93-bench"))
    parser.add_argument("--doc", type=Path, default=ROOT / "docs" / "performance.md")
    parser.add_argument("--json", type=Path, help="also write every run's measures and stages (Dagster steps included)")
    args = parser.parse_args(argv)
    results = []
    for spec in args.scale or DEFAULT_SCALES:
        results += bench_scale(spec, args.work, args.repeat, lambda text: print(text, flush=True))
    if args.json:
        args.json.write_text(json.dumps([
            {"scale": r.scale, "scenario": r.scenario, "stages": r.stages,
             "runs": [{"wall_s": m.wall_s, "cpu_s": m.cpu_s, "peak_rss_mb": m.peak_rss_mb} for m in r.runs]}
            for r in results], indent=1))
    table = write_doc(args.doc, results, args.repeat, dt.date.today())
    print(table)
    return results


if __name__ == "__main__":
    main()
