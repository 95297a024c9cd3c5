"""Writing a published file: aside, synced, renamed, and only when its bytes change.

A reader (a BI user, a mail attachment, the senders' receipts page) never gets half a file, a power
cut never leaves an empty one, and a file that did not change keeps its date (what the senders and
the privacy scan see as new is what is new).

Every file and folder of the publication passes through here (written, synced or created), and gets
its permissions here, once (``restrict``): its owner's only, or also readable by the group
``ALI_PUBLISH_GROUP`` when set (the BI readers'): group read, folders group-enterable and setgid so
what is created inside stays the group's. Never any permission for others: the marts are aggregates,
but the receipts name senders' files and the reports are the Département's, before anyone decides to
share them.
"""

import grp
import os
from pathlib import Path

PUBLISH_GROUP = "ALI_PUBLISH_GROUP"


def _access() -> tuple[int, int, int]:
    """(group id or -1, group bits of a file, mode of a folder) of the publication."""
    name = os.environ.get(PUBLISH_GROUP)
    if not name:
        return -1, 0, 0o700
    try:
        return grp.getgrnam(name).gr_gid, 0o040, 0o2750
    except KeyError:
        raise RuntimeError(f"{PUBLISH_GROUP}={name} : groupe inconnu sur cette machine (getent group {name})") from None


def restrict(target: Path | int, folder: bool = False) -> None:
    """Give a published file or folder (path or open descriptor) the publication's permissions.

    A file keeps its owner's bits (read-only stays so), loses any for others, and gets group read
    only with ``ALI_PUBLISH_GROUP``. A folder somebody else owns (a parent an administrator made) is
    left as it is: its permissions are theirs."""
    gid, group_bits, folder_mode = _access()
    st = os.stat(target)
    if st.st_uid != os.geteuid() and os.geteuid() != 0:
        return
    if gid != -1 and st.st_gid != gid:
        try:
            os.chown(target, -1, gid)
        except PermissionError:
            raise RuntimeError(f"{PUBLISH_GROUP}={os.environ[PUBLISH_GROUP]} : l'utilisateur de la publication "
                               "n'est pas membre de ce groupe (usermod -aG)") from None
    os.chmod(target, folder_mode if folder else st.st_mode & 0o700 | group_bits)


def make_folders(folder: Path) -> None:
    """``mkdir -p`` whose new folders get the publication's permissions at once (not the umask's)."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for new in reversed(missing):
        new.mkdir(mode=0o700, exist_ok=True)
        restrict(new, folder=True)


def write_if_changed(path: Path, content: bytes) -> bool:
    """Replace ``path`` atomically when its bytes differ; True if written."""
    if path.exists() and path.read_bytes() == content:
        restrict(path)  # an older file's permissions made today's; chmod keeps its date
        restrict(path.parent, folder=True)
        return False
    write_atomically(path, content)
    return True


def write_atomically(path: Path, content: bytes) -> None:
    """Write ``content`` aside (``.<name>.tmp``), restricted and synced, rename it over ``path``, sync the folder.

    The aside name is fixed, so a crash leaves one leftover that the next write replaces; the
    steps that publish hold the platform's lock (``WarehouseResource.lock``), so no two writers
    ever share it."""
    make_folders(path.parent)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("wb") as out:
        restrict(out.fileno())
        out.write(content)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
    sync_folder(path.parent)


def sync_tree(folder: Path) -> None:
    """Restrict and fsync every file under ``folder``, then every folder bottom-up, before ``folder`` is
    renamed into place: after a power cut the renamed snapshot is whole, never a name over empty files."""
    for root, _, names in os.walk(folder, topdown=False):
        for name in names:
            fd = os.open(Path(root) / name, os.O_RDONLY)
            try:
                restrict(fd)
                os.fsync(fd)
            finally:
                os.close(fd)
        sync_folder(Path(root))


def sync_folder(folder: Path) -> None:
    """Restrict and fsync a folder: a rename or a new entry inside it survives a power cut."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        restrict(fd, folder=True)
        os.fsync(fd)
    finally:
        os.close(fd)
