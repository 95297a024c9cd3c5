"""The pre-flight check (``retours.md`` §2): the verdict ingestion would give a file, before it is sent.

It runs ingestion's own code on the file: the reading and whole-file rejections of
``pipelines.raw.prepare`` and the set-based validation of ``pipelines.raw.load`` (one query
generated from the contract), over the reference data of ``ALI_REFERENCE_DIR`` loaded by
``pipelines.reference.tables`` into an in-memory DuckDB. There is no second implementation of a
rule, so the verdict is the one the run records (a test compares them on every file of the sample).

It needs no pseudonymisation key, opens no warehouse and writes nothing. What it prints holds no
cell value at all (the contract's messages quote none): a row number, a column, a rule, a message.
Extra header cells are given by position, not by name (a header may be a row of data).
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from pipelines.contract import FIXES
from pipelines.inbox.discover import InboxFile, inbox_file
from pipelines.inbox.headers import map_header
from pipelines.raw.load import known_sources, validate_files
from pipelines.raw.prepare import Prepared, prepare
from pipelines.reference.tables import load_reference
from pipelines.warehouse import MACROS

QUARANTINE_SQL = """
SELECT file_id, ligne, e.colonne, e.regle, e.message
FROM (SELECT file_id, ligne, unnest(erreurs) AS e, generate_subscripts(erreurs, 1) AS rang FROM validated_{name})
ORDER BY file_id, ligne, rang
"""
REASON_KEYS = ("ligne", "colonne", "regle", "message")
COUNTS_SQL = ("SELECT file_id, count(*) FILTER (len(erreurs) = 0), count(*) FILTER (len(erreurs) > 0) "
              "FROM validated_{name} GROUP BY file_id")


@dataclass
class Verdict:
    """What ingestion would record for the file: ``raw.livraisons``' status and counts, ``raw.quarantaine``'s
    reasons (``quarantaine``: one item per reason of each quarantined row, as ``{ligne, colonne, regle, message}``)."""

    fichier: str
    source: str
    periode: str
    jeu: str | None
    statut: str
    motif_rejet: str | None = None
    regle_rejet: str | None = None
    lignes_lues: int | None = None
    lignes_chargees: int | None = None
    lignes_quarantaine: int | None = None
    lignes_ignorees: int | None = None
    quarantaine: list[dict] = field(default_factory=list)
    colonnes_ignorees: list[int] = field(default_factory=list)
    """Positions (from 1) of the header cells that are not contract columns: ignored, reported."""

    @property
    def clean(self) -> bool:
        """Nothing would be rejected or quarantined (exit code 0)."""
        return self.statut == "VALIDE" and not self.lignes_quarantaine

    def as_json(self) -> dict:
        return dataclasses.asdict(self)


class Verifier:
    """One in-memory DuckDB with the reference data, for as many files as needed."""

    def __init__(self, reference_dir: Path):
        self.con = duckdb.connect(config={"temp_directory": ""})  # in memory; never spills to disk
        self.con.execute("CREATE SCHEMA reference")
        self.con.execute(MACROS)
        load_reference(self.con, reference_dir)
        self.sources = known_sources(self.con)

    def close(self) -> None:
        self.con.close()

    def check(self, path: Path, source: str, periode: str, name: str | None = None) -> Verdict:
        """The verdict on ``path`` delivered as ``<periode>/<source>/<name>`` (by default, its own name)."""
        return self.check_many([(path, source, periode, name)])[0]

    def check_many(self, files: list[tuple]) -> list[Verdict]:
        """Verdicts of (path, source, periode[, name]) files, validated as ingestion does: one query per month and
        dataset."""
        prepared = [prepare(Prepared(delivered_as(*f), sha256="", archive=None), self.sources) for f in files]
        verdicts = [_verdict(p) for p in prepared]
        groups: dict[tuple[str, str], list[int]] = {}
        for i, p in enumerate(prepared):
            if not p.rejection:
                groups.setdefault((p.file.periode_dossier, p.dataset.name), []).append(i)
        for (periode, name), members in groups.items():
            validate_files(self.con, name, [prepared[i] for i in members], prepared[members[0]].file.periode)
            for file_id, loaded, quarantined in self.con.execute(COUNTS_SQL.format(name=name)).fetchall():
                verdict = verdicts[members[file_id]]
                verdict.lignes_chargees, verdict.lignes_quarantaine = loaded, quarantined
            for file_id, *reason in self.con.execute(QUARANTINE_SQL.format(name=name)).fetchall():
                verdicts[members[file_id]].quarantaine.append(dict(zip(REASON_KEYS, reason)))
        return verdicts


def _verdict(prepared: Prepared) -> Verdict:
    """The verdict known before validation: a rejection, or the reading's counts."""
    file = prepared.file
    verdict = Verdict(file.fichier, file.source_code or "", file.periode_dossier, file.dataset, "VALIDE")
    if prepared.rejection:
        verdict.statut, verdict.motif_rejet, verdict.regle_rejet = "REJETE", prepared.rejection, \
            prepared.rejection_rule
        return verdict
    table = prepared.table
    verdict.lignes_lues, verdict.lignes_ignorees = table.rows_read, len(table.ignored_rows)
    verdict.lignes_chargees, verdict.lignes_quarantaine = 0, 0  # a file without data rows
    verdict.colonnes_ignorees = extra_positions(table.header, prepared.dataset.column_names)
    return verdict


def delivered_as(path: Path, source: str, periode: str, name: str | None = None) -> InboxFile:
    """The file as the inbox would list it as ``<periode>/<source>/<name>`` (a link stays a link: refused)."""
    return inbox_file(path, (periode, source.strip().upper(), name or path.name), os.lstat(path))


def extra_positions(header: list[str], columns: tuple[str, ...]) -> list[int]:
    """Positions (from 1) of the header cells ingestion ignores (``map_header``'s extra cells)."""
    taken = set(map_header(header, columns)[0].values())
    return [i for i, cell in enumerate(header, start=1) if cell.strip() and i - 1 not in taken]


def as_text(verdict: Verdict) -> str:
    """The verdict in French for a sender's terminal: every quarantined row, then how to fix each rule once."""
    lines = [f"Fichier vérifié : {verdict.fichier} (jeu {verdict.jeu or 'inconnu'})"]
    if verdict.statut == "REJETE":
        return "\n".join([*lines, "Verdict : REJETÉ, le fichier entier serait refusé",
                          f"  Motif : {verdict.motif_rejet}", f"  Que faire : {FIXES[verdict.regle_rejet]}"])
    lines.append("Verdict : VALIDE" + (f", {verdict.lignes_quarantaine} ligne(s) en quarantaine"
                                       if verdict.lignes_quarantaine else ", aucune ligne en quarantaine"))
    lines.append(f"  lignes lues {verdict.lignes_lues} · chargées {verdict.lignes_chargees} · "
                 f"en quarantaine {verdict.lignes_quarantaine} · ignorées {verdict.lignes_ignorees}")
    if verdict.quarantaine:
        lines.append("Lignes en quarantaine (ligne du fichier · colonne · règle · message) :")
        lines += [f"  {q['ligne']} · {q['colonne'] or '-'} · {q['regle']} · {q['message']}"
                  for q in verdict.quarantaine]
        counts = Counter(q["regle"] for q in verdict.quarantaine)
        lines.append("Que faire :")
        lines += [f"  {rule} ({n} motif(s)) : {FIXES[rule]}" for rule, n in sorted(counts.items())]
    if verdict.colonnes_ignorees:
        positions = ", ".join(map(str, verdict.colonnes_ignorees))
        lines.append(f"Signalé sans blocage : colonne(s) hors contrat ignorée(s), position(s) {positions} de "
                     f"l'en-tête. {FIXES['colonnes_ignorees']}")
    return "\n".join(lines)


def main(path: Path, source: str, periode: str, as_json: bool) -> int:
    """``python -m pipelines verifier``: 0 nothing would be rejected or quarantined, 1 otherwise, 2 usage error."""
    from pipelines.resources import env_path

    if not path.exists() and not path.is_symlink():
        print(f"fichier introuvable : {path}", file=sys.stderr)
        return 2
    if path.is_dir():
        print(f"{path} est un dossier : donner un fichier .csv ou .xlsx", file=sys.stderr)
        return 2
    verifier = Verifier(Path(env_path("ALI_REFERENCE_DIR")))
    try:
        verdict = verifier.check(path, source, periode)
    finally:
        verifier.close()
    print(json.dumps(verdict.as_json(), ensure_ascii=False, indent=2) if as_json else as_text(verdict))
    return 0 if verdict.clean else 1
