"""A fingerprint of everything a build reads, so an unchanged project is not built twice.

Building is deterministic: the same inputs give the same ``.flash/`` byte for byte. So when
the inputs of the build that made the current ``.flash/`` are the inputs now, its result
stands, and ``flashc build`` (and every ``flashc deploy``, which builds first) answers from
it instead of compiling and packaging again (see :func:`flashc.package.unchanged_output`).

What a build reads: the project's Python files (the ones discovery yields, by path and
content), its ``pyproject.toml``, the requirement files given, the build options,
``$SOURCE_DATE_EPOCH``, and flashc itself: its version, templates and the runtime it vendors
(by path, size and modification time, so an edited development checkout counts too).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

import flashc_runtime

from . import __version__
from .config import Config
from .discovery import iter_source_files

FORMAT = 1
"""Bumped whenever what goes into the fingerprint changes."""


def build_fingerprint(root: Path, config: Config, options: Iterable[object], requirement_files: Iterable[Path] = ()) -> str:
    """The sha256 of the build's inputs; ``options`` are the build options that shape the output."""
    digest = hashlib.sha256(f"flashc-build {FORMAT} {__version__}\n".encode())
    for package in (Path(__file__).parent, Path(flashc_runtime.__file__).parent):
        for path, size, mtime in _own_files(package):
            digest.update(f"own {path} {size} {mtime}\n".encode())
    digest.update(f"options {[repr(option) for option in options]!r}\n".encode())
    digest.update(f"epoch {os.environ.get('SOURCE_DATE_EPOCH', '').strip()!r}\n".encode())
    pyproject = root / "pyproject.toml"
    _add_file(digest, "pyproject.toml", pyproject)
    for index, file in enumerate(requirement_files):
        _add_file(digest, f"requirements {index} {file}", Path(file))
    for file in iter_source_files(root, config):
        _add_file(digest, file.relative_to(root).as_posix(), file)
    return digest.hexdigest()


def _own_files(package: Path) -> list[tuple[str, int, int]]:
    found = []
    for directory, subdirectories, files in os.walk(package):
        subdirectories[:] = sorted(d for d in subdirectories if d != "__pycache__")
        for name in sorted(files):
            if name.endswith((".py", ".j2", ".typed")):
                status = os.stat(os.path.join(directory, name))
                found.append((os.path.relpath(os.path.join(directory, name), package), status.st_size, status.st_mtime_ns))
    return found


def _add_file(digest: "hashlib._Hash", label: str, path: Path) -> None:
    try:
        content = path.read_bytes()
    except OSError:
        digest.update(f"file {label} missing\n".encode())
        return
    digest.update(f"file {label} {len(content)}\n".encode())
    digest.update(content)
