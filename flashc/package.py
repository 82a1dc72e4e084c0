"""Writing a :class:`~flashc.emit.tree.BuildTree` out to ``.flash/``: the first write to disk.

``.flash/`` holds the artifact's files unpacked (``handler_<name>.py``, ``endpoints/...``,
``flash_manifest.json``), the local files (the client package), ``artifact.tar.gz`` and
``build.json`` (what was built). Three promises:

* **Reproducible.** The same tree and installed packages give the same ``artifact.tar.gz``
  byte for byte: sorted entries, directories listed explicitly, owner 0/0 with no names,
  modes 0o755 (directories, executables) or 0o644, one mtime everywhere (``source_date_epoch``,
  else ``$SOURCE_DATE_EPOCH``, else :data:`~flashc.emit.tree.DEFAULT_EPOCH`), a gzip header without file name
  and with that mtime, a fixed compression level (the same zlib gives the same bytes).
* **All or nothing.** Everything is written into ``.flash.tmp-<pid>-<random>`` beside
  ``.flash/`` and swapped in by two renames only when complete; a failure or an interrupt
  before that leaves the previous ``.flash/`` as it was. ``.flash/deployments/`` (deploy
  state, and the workspaces running supervisors use) is moved, not copied, into the new
  output right after the swap, so running supervisors keep their files, logs and locks.
  What a killed build leaves behind is cleaned up (or, if it was killed between the two
  renames, the previous output is put back; if after them, its deployments are moved
  over) by the next build or deploy (:func:`recover_output`).
* **Nothing secret ships.** A ``.env`` / ``.env.*`` file or anything under ``.git/`` is
  refused, wherever it comes from.

:func:`extract_artifact` is the other direction, for targets that unpack an artifact: it
refuses anything that would write outside the destination (absolute paths, ``..``, links
leading out, writes through links), device files and FIFOs, and oversized totals.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import posixpath
import re
import secrets
import shutil
import stat
import tarfile
import time
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from .errors import BuildError
from .testhooks import pause_point

if TYPE_CHECKING:  # importing flashc.emit loads libcst: an up-to-date build never needs it
    from .emit.tree import BuildFile, BuildTree

OUTPUT = ".flash"
ARTIFACT = "artifact.tar.gz"
BUILD_INFO = "build.json"
INPUTS = "build-inputs.json"
"""The fingerprint of what the current output was built from (see :mod:`flashc.fingerprint`)."""
DEPLOYMENTS = "deployments"
"""1980-01-01T00:00:00Z: the timestamp of every entry when no SOURCE_DATE_EPOCH is given."""
COMPRESSION_LEVEL = 6
MB = 1024 * 1024

_RESERVED = frozenset({ARTIFACT, BUILD_INFO, INPUTS, DEPLOYMENTS})
_LEFTOVER = re.compile(r"^\.flash\.(tmp|old)-(?:(\d+)-)?.*$")
_NO_INSTALLED: Mapping[str, Path] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class PackageResult:
    output: Path
    """The ``.flash/`` directory."""
    artifact: Path
    """``.flash/artifact.tar.gz``."""
    sha256: str
    size: int
    """Bytes of the compressed artifact."""
    files: int
    """Regular files in the artifact."""


@dataclass(frozen=True, slots=True)
class _Member:
    """One artifact entry: ``path`` relative to the output, ``source`` on disk (None: a directory)."""

    path: str
    source: Path | None = None
    size: int = 0
    executable: bool = False


def write_output(
    root: Path,
    tree: BuildTree,
    *,
    installed: Mapping[str, Path] = _NO_INSTALLED,
    size_limit_mb: int = 1500,
    source_date_epoch: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> PackageResult:
    """Write ``tree`` to ``root/.flash`` and its artifact to ``root/.flash/artifact.tar.gz``.

    ``installed`` maps an artifact directory (``"endpoints/worker/_deps"``) to a directory of
    installed packages to put there; they are hard-linked when possible, else copied, and
    bytecode (``__pycache__``, ``*.pyc``) is left out. A compressed artifact over
    ``size_limit_mb`` MiB is a :class:`BuildError` naming the largest contributors, raised
    before anything replaces the previous output.

    Installed files may be hard links into the dependency cache: treat ``.flash/`` as
    read-only (a build replaces it whole).
    """
    say = progress or (lambda message: None)
    root = Path(root)
    if not root.is_dir():
        raise BuildError(f"{root}: not a directory")
    epoch = _epoch(source_date_epoch)
    installed = {target: Path(source) for target, source in installed.items()}
    _check_paths(tree, installed)
    _clean_leftovers(root)

    staging = root / f"{OUTPUT}.tmp-{os.getpid()}-{secrets.token_hex(6)}"
    staging.mkdir()
    try:
        members = [_write_file(staging, entry) for entry in tree.artifact]
        for entry in tree.local:
            _write_file(staging, entry)
        for target, source in sorted(installed.items()):
            say(f"adding installed packages to {target}")
            members += _place_installed(source, staging, target)
        members = _with_directories(members)
        files = sum(1 for member in members if member.source is not None)
        total = sum(member.size for member in members)
        say(f"packaging {files} files ({total / MB:.1f} MB)")
        digest, size = _write_tarball(staging / ARTIFACT, members, epoch)
        if size > size_limit_mb * MB:
            raise BuildError(_too_large(size, size_limit_mb, members, installed))
        info = _build_info(digest, size, members, len(tree.local), epoch if _epoch_given(source_date_epoch) else None)
        (staging / BUILD_INFO).write_text(info, encoding="utf-8")
        pause_point("before-swap")
        _swap(root, staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    output = root / OUTPUT
    say(f"wrote {OUTPUT}/{ARTIFACT} ({size / MB:.1f} MB, sha256 {digest[:12]})")
    return PackageResult(output=output, artifact=output / ARTIFACT, sha256=digest, size=size, files=files)


# --- up-to-date outputs ----------------------------------------------------------------------


def record_inputs(root: Path, fingerprint: str, result: PackageResult, details: Mapping[str, object]) -> None:
    """Note in the output what it was built from, with ``details`` of the build to hand back
    when nothing changed (:func:`unchanged_output`). Written last, atomically: an output
    without it (a build killed just before) is simply built again."""
    artifact = result.artifact.stat()
    record = {
        "fingerprint": fingerprint,
        "artifact": {"sha256": result.sha256, "size": result.size, "files": result.files, "mtime_ns": artifact.st_mtime_ns},
        "details": dict(details),
    }
    target = Path(root) / OUTPUT / INPUTS
    temporary = target.with_name(f".{INPUTS}.tmp-{os.getpid()}")
    temporary.write_text(json.dumps(record, sort_keys=True), encoding="utf-8")
    os.replace(temporary, target)


def unchanged_output(root: Path, fingerprint: str) -> tuple[PackageResult, dict] | None:
    """The current output and its build's details if it was built from ``fingerprint`` and its
    artifact is still the one that build wrote (same size and modification time); else None."""
    output = Path(root) / OUTPUT
    try:
        record = json.loads((output / INPUTS).read_text(encoding="utf-8"))
        recorded = record["artifact"]
        artifact = (output / ARTIFACT).stat()
        if record["fingerprint"] != fingerprint or (artifact.st_size, artifact.st_mtime_ns) != (recorded["size"], recorded["mtime_ns"]):
            return None
        result = PackageResult(output, output / ARTIFACT, str(recorded["sha256"]), int(recorded["size"]), int(recorded["files"]))
        return result, dict(record["details"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


# --- checks --------------------------------------------------------------------------------------


def _epoch_given(argument: int | None) -> bool:
    return argument is not None or bool(os.environ.get("SOURCE_DATE_EPOCH", "").strip())


def _epoch(argument: int | None) -> int:
    from .emit.tree import build_epoch

    return build_epoch(argument)


def _check_path(path: str, what: str) -> None:
    parts = path.split("/")
    if not path or path.startswith("/") or "\\" in path or any(part in ("", ".", "..") for part in parts):
        raise BuildError(f"{what} {path!r} is not a relative POSIX path inside the output")
    for part in parts:
        if part == ".git" or part == ".env" or part.startswith(".env."):
            raise BuildError(
                f"refusing to package {path!r}: `.env` files and `.git/` may hold secrets and never ship"
            )
    if parts[0] in _RESERVED:
        raise BuildError(f"{what} {path!r} would overwrite {OUTPUT}/{parts[0]}, which the build writes itself")


def _check_paths(tree: BuildTree, installed: Mapping[str, Path]) -> None:
    """Every path is safe, and no path is both a file and a directory."""
    files: set[str] = set()
    for entry in (*tree.artifact, *tree.local):
        _check_path(entry.path, "build file")
        if entry.path in files:
            raise BuildError(f"build file {entry.path!r} is given twice")
        files.add(entry.path)
    directories = {path.rsplit("/", depth)[0] for path in files for depth in range(1, path.count("/") + 1)}
    for target, source in installed.items():
        _check_path(target, "installed directory")
        if not source.is_dir():
            raise BuildError(f"installed packages for {target!r}: {source} is not a directory")
        directories.add(target)
    clash = sorted(files & directories)
    if clash:
        raise BuildError(f"build path {clash[0]!r} is both a file and a directory")


# --- writing -------------------------------------------------------------------------------------


def _write_file(staging: Path, entry: BuildFile) -> _Member:
    path = staging / entry.path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(entry.data)
    path.chmod(0o755 if entry.executable else 0o644)
    return _Member(entry.path, path, len(entry.data), entry.executable)


def _place_file(source: Path, destination: Path) -> None:
    """Hard-link ``source`` (same filesystem), else copy it."""
    try:
        os.link(source, destination)
    except OSError:
        shutil.copy2(source, destination)


def _place_installed(source: Path, staging: Path, target: str) -> list[_Member]:
    """Link or copy the installed packages in ``source`` to ``staging/target``, bytecode left out."""
    members = [_Member(target)]
    (staging / target).mkdir(parents=True, exist_ok=True)
    for directory, subdirectories, names in os.walk(source):
        subdirectories[:] = sorted(name for name in subdirectories if name != "__pycache__")
        relative = Path(directory).relative_to(source).as_posix()
        prefix = target if relative == "." else f"{target}/{relative}"
        for name in subdirectories:
            _check_path(f"{prefix}/{name}", "installed directory")
            if os.path.islink(os.path.join(directory, name)):
                raise BuildError(f"installed packages contain a symbolic link, {prefix}/{name}; it cannot ship")
            (staging / prefix / name).mkdir(parents=True, exist_ok=True)
            members.append(_Member(f"{prefix}/{name}"))
        for name in sorted(names):
            if name.endswith((".pyc", ".pyo")):
                continue
            path = f"{prefix}/{name}"
            _check_path(path, "installed file")
            origin = Path(directory, name)
            status = origin.lstat()
            if not stat.S_ISREG(status.st_mode):
                raise BuildError(f"installed packages contain {path}, which is not a regular file; it cannot ship")
            destination = staging / path
            if destination.exists():
                raise BuildError(f"installed file {path} would replace a file of the build")
            _place_file(origin, destination)
            members.append(_Member(path, destination, status.st_size, bool(status.st_mode & 0o100)))
    return members


def _sort_key(path: str) -> tuple[str, ...]:
    return tuple(path.split("/"))


def _with_directories(members: Iterable[_Member]) -> list[_Member]:
    """``members`` plus an entry for every directory above them, sorted, each path once."""
    by_path = {member.path: member for member in members}
    for path in list(by_path):
        parts = path.split("/")
        for depth in range(1, len(parts)):
            by_path.setdefault("/".join(parts[:depth]), _Member("/".join(parts[:depth])))
    return [by_path[path] for path in sorted(by_path, key=_sort_key)]


class _HashingWriter:
    """A binary file that also counts and hashes what goes through it."""

    def __init__(self, file) -> None:
        self.file = file
        self.sha256 = hashlib.sha256()
        self.size = 0

    def write(self, data) -> int:
        self.file.write(data)
        self.sha256.update(data)
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        self.file.flush()


def _write_tarball(destination: Path, members: list[_Member], epoch: int) -> tuple[str, int]:
    """Write the reproducible gzip tar of ``members``; return its sha256 and size."""
    with open(destination, "wb") as raw:
        writer = _HashingWriter(raw)
        with gzip.GzipFile(filename="", mode="wb", fileobj=writer, compresslevel=COMPRESSION_LEVEL, mtime=epoch) as zipped:  # type: ignore[arg-type]
            with tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT, encoding="utf-8") as archive:
                for member in members:
                    info = tarfile.TarInfo(f"./{member.path}")
                    info.uid = info.gid = 0
                    info.uname = info.gname = ""
                    info.mtime = epoch
                    if member.source is None:
                        info.type, info.mode = tarfile.DIRTYPE, 0o755
                        archive.addfile(info)
                        continue
                    info.mode = 0o755 if member.executable else 0o644
                    info.size = member.size
                    with open(member.source, "rb") as content:
                        archive.addfile(info, content)
    return writer.sha256.hexdigest(), writer.size


def _build_info(digest: str, size: int, members: list[_Member], local_files: int, epoch: int | None) -> str:
    entries: dict[str, int] = {}
    for member in members:
        top = member.path.split("/", 1)[0]
        entries[top] = entries.get(top, 0) + member.size
    info: dict[str, object] = {
        "format": 1,
        "artifact": {"path": ARTIFACT, "sha256": digest, "size": size},
        "files": sum(1 for member in members if member.source is not None),
        "entries": dict(sorted(entries.items())),
        "local_files": local_files,
    }
    if epoch is not None:
        info["source_date_epoch"] = epoch
    return json.dumps(info, indent=2, sort_keys=True) + "\n"


def _too_large(size: int, limit_mb: int, members: list[_Member], installed: Mapping[str, Path]) -> str:
    """The size-limit message: the five largest contributors (uncompressed) and what to do."""
    contributors: dict[str, int] = {}
    targets = sorted(installed, key=len, reverse=True)
    for member in members:
        if member.source is None:
            continue
        target = next((t for t in targets if member.path.startswith(t + "/")), None)
        parts = member.path.split("/")
        if target is not None:
            unit = f"{target}/{member.path[len(target) + 1:].split('/', 1)[0]}"
        elif parts[0] == "endpoints" and len(parts) > 2:
            unit = "/".join(parts[:2])
        else:
            unit = parts[0]
        contributors[unit] = contributors.get(unit, 0) + member.size
    largest = sorted(contributors.items(), key=lambda item: (-item[1], item[0]))[:5]
    width = max((len(unit) for unit, _ in largest), default=0)
    lines = "\n".join(f"  {unit:<{width}}  {bytes_ / MB:9.1f} MB" for unit, bytes_ in largest)
    return (
        f"{ARTIFACT} is {size / MB:.1f} MB, over the {limit_mb} MB limit. Largest contributors "
        f"(uncompressed):\n{lines}\n"
        "Leave packages the worker does not need (or already has) out of the build with "
        "`--exclude NAME` (a distribution name, e.g. `--exclude torch`)."
    )


# --- the swap ------------------------------------------------------------------------------------


def _move_deployments(previous: Path, output: Path) -> None:
    """Move ``previous/deployments`` (or what of it ``output`` lacks) into ``output``.

    Moved, not copied: a running supervisor keeps its open logs and working directory, and a
    deploy holding an environment's lock keeps it. Another process may have moved them
    already (recovering a build it thought dead): nothing to do then.
    """
    source = previous / DEPLOYMENTS
    if source.is_symlink() or not source.is_dir() or output.is_symlink() or not output.is_dir():
        return
    target = output / DEPLOYMENTS
    try:
        os.rename(source, target)
        return
    except FileNotFoundError:
        return
    except OSError:
        if not target.is_dir() or target.is_symlink():
            raise
    for entry in sorted(source.iterdir()):  # both exist: keep what output has, add the rest
        destination = target / entry.name
        if not (destination.exists() or destination.is_symlink()):
            try:
                os.rename(entry, destination)
            except FileNotFoundError:
                pass


def _swap(root: Path, staging: Path) -> None:
    """Put ``staging`` in place of ``root/.flash`` by renames, move the deployments over, then
    remove the previous output."""
    output = root / OUTPUT
    previous = None
    if output.exists() or output.is_symlink():
        previous = root / f"{OUTPUT}.old-{os.getpid()}-{secrets.token_hex(6)}"
        os.rename(output, previous)
    try:
        pause_point("mid-swap")
        os.rename(staging, output)
    except BaseException:
        if previous is not None:
            os.rename(previous, output)
        raise
    if previous is not None:
        _move_deployments(previous, output)
        _remove(previous)


def _remove(path: Path) -> None:
    if path.is_symlink() or not path.is_dir():
        path.unlink(missing_ok=True)
    else:
        shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int | None, path: Path) -> bool:
    """Whether the build that made ``path`` may still be running."""
    if pid is None:
        return False
    if pid == os.getpid():
        return True
    if os.name == "nt":  # no signal-0 probe there; trust a day
        return time.time() - path.lstat().st_mtime < 86400
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def recover_output(root: Path) -> None:
    """Repair what killed builds left in ``root``: restore ``.flash/`` if one died between its
    renames, move deployments stranded in a previous output back, remove dead builds' leftovers.

    Builds do this first; deploy targets do it before they read the build.
    """
    if Path(root).is_dir():
        _clean_leftovers(Path(root))


def _clean_leftovers(root: Path) -> None:
    """Remove what killed builds left; if one died between its renames, restore its old output."""
    stale: list[Path] = []
    previous_outputs: list[Path] = []
    for path in root.iterdir():
        match = _LEFTOVER.match(path.name)
        if not match:
            continue
        if match[1] == "old":
            previous_outputs.append(path)
        if not _alive(int(match[2]) if match[2] else None, path):
            stale.append(path)
    output = root / OUTPUT
    if not (output.exists() or output.is_symlink()):
        previous = [path for path in stale if path.name.startswith(f"{OUTPUT}.old-")]
        if previous:
            newest = max(previous, key=lambda path: path.lstat().st_mtime)
            os.rename(newest, output)
            stale.remove(newest)
            previous_outputs.remove(newest)
    # A build killed after its renames left the deployments in its previous output; a live
    # build may be about to move them itself (it tolerates finding them moved).
    for path in sorted(previous_outputs, key=lambda path: path.lstat().st_mtime, reverse=True):
        if not path.is_symlink() and path.is_dir():
            _move_deployments(path, output)
    for path in stale:
        _remove(path)


# --- unpacking -----------------------------------------------------------------------------------

EXTRACT_LIMIT = 8 * 1024 * MB
"""The most bytes (uncompressed, regular files) :func:`extract_artifact` writes by default."""
EXTRACT_MEMBERS = 200_000
"""The most entries it reads by default."""
_CHUNK = 1024 * 1024


class UnsafeArchiveError(BuildError):
    """An archive holds an entry that would escape its destination, a special file, or too much."""


def extract_artifact(
    archive: Path,
    destination: Path,
    *,
    max_bytes: int = EXTRACT_LIMIT,
    max_members: int = EXTRACT_MEMBERS,
) -> int:
    """Unpack the (gzip) tar ``archive`` into ``destination`` safely; return how many files it wrote.

    Refused, with an :class:`UnsafeArchiveError` naming the entry: absolute names, ``..``
    components, backslashes, the same name twice, a symbolic link whose target is absolute
    or leads outside, a hard link to anything but a regular file unpacked before it, an entry
    under a link or a file, device files, FIFOs and any other special entry, regular files
    totalling more than ``max_bytes``, more than ``max_members`` entries. Files get mode
    0o644 (0o755 when executable in the archive), directories 0o755; owners are not set.

    ``destination`` must not exist, or be an empty directory. Everything is unpacked into a
    directory beside it, renamed into place when complete: a refused archive leaves nothing.
    """
    archive, destination = Path(archive), Path(destination)
    if destination.is_symlink() or (destination.exists() and (not destination.is_dir() or any(destination.iterdir()))):
        raise BuildError(f"cannot unpack {archive} into {destination}: it exists and is not an empty directory")
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = destination.parent / f".{destination.name}.unpack-{os.getpid()}-{secrets.token_hex(6)}"
    staging.mkdir(mode=0o700)
    try:
        files = _unpack(archive, staging, max_bytes, max_members)
        staging.chmod(0o755)
        if destination.is_dir():
            destination.rmdir()
        os.rename(staging, destination)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return files


def _entry_path(archive: Path, name: str) -> str | None:
    """``name`` as a normalised relative path (None: the archive's root), or refused."""
    if "\x00" in name or "\\" in name:
        raise UnsafeArchiveError(f"{archive}: entry {name!r} has a NUL or a backslash in its name")
    if name.startswith("/"):
        raise UnsafeArchiveError(f"{archive}: entry {name!r} has an absolute path")
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise UnsafeArchiveError(f"{archive}: entry {name!r} has a '..' component")
    return "/".join(parts) or None


def _unpack(archive: Path, staging: Path, max_bytes: int, max_members: int) -> int:
    try:
        opened = tarfile.open(archive, mode="r:*")
    except (OSError, tarfile.TarError, EOFError) as error:
        raise UnsafeArchiveError(f"{archive}: not a readable tar archive ({error})") from None
    kinds: dict[str, str] = {}
    """What each unpacked path is: ``dir``, ``file`` or ``link``."""
    total = members = files = 0
    try:
        with opened:
            for member in opened:
                members += 1
                if members > max_members:
                    raise UnsafeArchiveError(f"{archive}: more than {max_members} entries")
                path = _entry_path(archive, member.name)
                if path is None:
                    if not member.isdir():
                        raise UnsafeArchiveError(f"{archive}: entry {member.name!r} is the archive's root but not a directory")
                    continue
                if path in kinds and not (member.isdir() and kinds[path] == "dir"):
                    raise UnsafeArchiveError(f"{archive}: entry {member.name!r} appears twice")
                _make_parents(archive, member.name, path, staging, kinds)
                target = staging / path
                if member.isdir():
                    if path not in kinds:
                        target.mkdir(mode=0o755)
                        kinds[path] = "dir"
                elif member.isfile():
                    total += member.size
                    if total > max_bytes:
                        raise UnsafeArchiveError(f"{archive}: unpacks to more than {max_bytes} bytes (at {member.name!r})")
                    _write_entry(opened, member, target)
                    kinds[path] = "file"
                    files += 1
                elif member.issym():
                    link = member.linkname
                    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(path), link)) if link else ""
                    if not link or link.startswith("/") or "\\" in link or resolved == ".." or resolved.startswith("../"):
                        raise UnsafeArchiveError(f"{archive}: symbolic link {member.name!r} -> {link!r} leads outside the destination")
                    os.symlink(link, target)
                    kinds[path] = "link"
                elif member.islnk():
                    try:
                        linked = _entry_path(archive, member.linkname)
                    except UnsafeArchiveError:
                        linked = None
                    if linked is None or kinds.get(linked) != "file":
                        raise UnsafeArchiveError(
                            f"{archive}: hard link {member.name!r} -> {member.linkname!r} does not point to a file unpacked before it"
                        )
                    os.link(staging / linked, target, follow_symlinks=False)
                    kinds[path] = "file"
                    files += 1
                else:
                    what = "a device file" if member.ischr() or member.isblk() else "a FIFO" if member.isfifo() else "a special entry"
                    raise UnsafeArchiveError(f"{archive}: entry {member.name!r} is {what}; only files, directories and links unpack")
    except (tarfile.TarError, EOFError, zlib.error) as error:
        raise UnsafeArchiveError(f"{archive}: corrupt archive ({error})") from None
    return files


def _make_parents(archive: Path, name: str, path: str, staging: Path, kinds: dict[str, str]) -> None:
    """Create the directories above ``path``; refuse a path that goes through a file or a link."""
    parts = path.split("/")
    for depth in range(1, len(parts)):
        parent = "/".join(parts[:depth])
        kind = kinds.get(parent)
        if kind is None:
            (staging / parent).mkdir(mode=0o755)
            kinds[parent] = "dir"
        elif kind != "dir":
            raise UnsafeArchiveError(f"{archive}: entry {name!r} lies under {parent!r}, which is not a directory")


def _write_entry(opened: tarfile.TarFile, member: tarfile.TarInfo, target: Path) -> None:
    source = opened.extractfile(member)
    if source is None:  # pragma: no cover -- a regular member always has a file object
        raise UnsafeArchiveError(f"entry {member.name!r} cannot be read")
    mode = 0o755 if member.mode & 0o111 else 0o644
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), mode)
    with source, os.fdopen(descriptor, "wb") as out:
        remaining = member.size
        while remaining > 0:
            chunk = source.read(min(_CHUNK, remaining))
            if not chunk:
                raise UnsafeArchiveError(f"entry {member.name!r} is truncated")
            out.write(chunk)
            remaining -= len(chunk)
    os.chmod(target, mode)
    os.utime(target, (member.mtime, member.mtime))
