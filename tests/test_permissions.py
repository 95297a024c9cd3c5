"""Permissions of what the platform publishes: its owner's only, or also ``ALI_PUBLISH_GROUP``'s; never others'.

Every writer of the publication folder goes through ``pipelines/publication/files.py`` (``restrict``):
here each of them writes a real, small publication — the snapshot of the marts (published twice: a
switch and a prune), the open-data export, a monthly report page, a sender's receipt — from a warehouse
holding empty marts of the open-data tables' columns, then every file and folder is checked.
"""

from __future__ import annotations

import grp
import os
import stat
from pathlib import Path

import duckdb
import pytest

from pipelines.defs.publish.assets import report_path, write_page
from pipelines.publication import open_data
from pipelines.publication.files import write_if_changed
from pipelines.publication.secrecy import TABLES
from pipelines.publication.snapshot import MARTS, publish


def column_type(column: str) -> str:
    if column in ("periode", "cohorte"):
        return "DATE"
    if column == "livre":
        return "BOOLEAN"
    if column.startswith(("taux_", "accompagnes_p", "entretiens_par", "etp_", "montant")):
        return "DOUBLE"
    if column.startswith(("code_", "nom_", "thematique", "commune", "ept", "frein")):
        return "VARCHAR"
    return "INTEGER"


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    """Every mart, empty, with the columns the open-data export reads (and ``periode``)."""
    columns: dict[str, dict[str, str]] = {m: {} for m in MARTS}
    for spec in TABLES.values():
        columns[spec.source].update({c: column_type(c) for c in spec.columns})
    path = tmp_path / "entrepot.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE SCHEMA marts")
        for mart, cols in columns.items():
            cols = cols or {"periode": "DATE"}
            con.execute(f"CREATE TABLE marts.{mart} ({', '.join(f'{c} {t}' for c, t in cols.items())})")
    return path


def publish_everything(warehouse: Path, directory: Path) -> None:
    """What a refresh writes into ``ALI_PUBLISH_DIR``, each by its own writer."""
    for run in ("run-un", "run-deux"):
        publish(warehouse, directory, run)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert open_data.export(con, directory / "open_data").problems == []
    write_page(report_path(directory, "2024-03"), "<html>rapport</html>")
    write_if_changed(directory / "accuses" / "2024-03" / "ALI01.html", b"<html>accuse</html>")


def entries(directory: Path) -> list[tuple[Path, os.stat_result]]:
    """Every file and folder under ``directory`` (itself included), symbolic links aside (no mode of their own)."""
    found = [(directory, directory.lstat())]
    for root, folders, files in os.walk(directory):
        found += [(Path(root) / n, (Path(root) / n).lstat()) for n in folders + files]
    return [(p, st) for p, st in found if not stat.S_ISLNK(st.st_mode)]


def test_the_publication_is_owner_only_by_default(warehouse, tmp_path, monkeypatch):
    monkeypatch.delenv("ALI_PUBLISH_GROUP", raising=False)
    directory = tmp_path / "publie"
    publish_everything(warehouse, directory)
    found = entries(directory)
    names = {p.relative_to(directory).as_posix() for p, _ in found}
    assert {"rapports/rapport_2024-03.html", "accuses/2024-03/ALI01.html"} <= names
    assert any(n.endswith("/marts.duckdb") for n in names) and any(n.endswith("ali_mensuel.csv") for n in names)
    for path, st in found:
        expected = 0o700 if stat.S_ISDIR(st.st_mode) else 0o600
        assert stat.S_IMODE(st.st_mode) == expected, f"{path}: {stat.S_IMODE(st.st_mode):o}"
        assert st.st_uid == os.geteuid(), path


def readers_group() -> grp.struct_group:
    """A group the publication may be given: any, as root (``nogroup``); else one the user belongs to."""
    if os.geteuid() == 0:
        return grp.getgrnam("nogroup")
    others = [g for g in os.getgroups() if g != os.getegid()]
    if not others:
        pytest.skip("the user belongs to no second group to give the publication to")
    return grp.getgrgid(others[0])


def test_with_a_readers_group_every_entry_is_that_group_s_readable_never_others(warehouse, tmp_path, monkeypatch):
    group = readers_group()
    monkeypatch.setenv("ALI_PUBLISH_GROUP", group.gr_name)
    directory = tmp_path / "publie"
    publish_everything(warehouse, directory)
    for path, st in entries(directory):
        mode = stat.S_IMODE(st.st_mode)
        assert st.st_gid == group.gr_gid, path
        assert mode & 0o007 == 0 and mode & 0o020 == 0, f"{path}: {mode:o}"  # nothing for others, no group write
        if stat.S_ISDIR(st.st_mode):
            assert mode == 0o2750, f"{path}: {mode:o}"  # enter and list; setgid: new entries stay the group's
        else:
            assert mode == 0o640, f"{path}: {mode:o}"


def test_an_old_world_readable_publication_is_restricted_and_unchanged_files_keep_their_date(
        warehouse, tmp_path, monkeypatch):
    monkeypatch.delenv("ALI_PUBLISH_GROUP", raising=False)
    directory = tmp_path / "publie"
    receipt = directory / "accuses" / "2024-03" / "ALI01.html"
    receipt.parent.mkdir(parents=True)
    receipt.write_bytes(b"<html>accuse</html>")
    for path, mode in ((directory, 0o755), (directory / "accuses", 0o755), (receipt.parent, 0o755), (receipt, 0o644)):
        path.chmod(mode)
    os.utime(receipt, (1_700_000_000, 1_700_000_000))
    publish_everything(warehouse, directory)  # the receipt's bytes are the same: not rewritten
    assert receipt.stat().st_mtime == 1_700_000_000
    modes = {p: stat.S_IMODE(p.stat().st_mode) for p in (directory, receipt.parent, receipt)}
    assert modes == {directory: 0o700, receipt.parent: 0o700, receipt: 0o600}  # ``accuses/`` between: unreachable


def test_an_unknown_group_stops_the_publication_with_a_french_message(warehouse, tmp_path, monkeypatch):
    monkeypatch.setenv("ALI_PUBLISH_GROUP", "groupe-qui-n-existe-pas")
    with pytest.raises(RuntimeError, match="ALI_PUBLISH_GROUP=groupe-qui-n-existe-pas : groupe inconnu"):
        publish(warehouse, tmp_path / "publie", "run-un")


def test_the_archive_stays_owner_only_whatever_the_publication_s_group(tmp_path, monkeypatch):
    import hashlib

    from pipelines.raw.archive import archive

    monkeypatch.setenv("ALI_PUBLISH_GROUP", readers_group().gr_name)
    source = tmp_path / "beneficiaires.csv"
    source.write_bytes(b"matricule;nom\n1234567;Martin\n")
    target = archive(source, hashlib.sha256(source.read_bytes()).hexdigest(), tmp_path / "archive")
    assert [stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "archive", target.parent, target)] == [0o700, 0o700,
                                                                                                       0o400]
