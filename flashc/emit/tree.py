"""The in-memory result of compiling a project, before anything touches the disk.

Everything that decides what a build contains produces a :class:`BuildTree`;
only :mod:`flashc.package` writes one out. Keeping it as data makes builds
snapshot-testable and lets ``--dry-run`` style tooling inspect a build for free.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..errors import BuildError

DEFAULT_EPOCH = 315532800
"""1980-01-01T00:00:00Z: a build's timestamp when ``SOURCE_DATE_EPOCH`` is not set (the
earliest a zip can hold; the usual choice of reproducible builds)."""


def build_epoch(argument: int | None = None) -> int:
    """The timestamp every generated file and archive entry carries.

    ``argument``, else ``SOURCE_DATE_EPOCH`` (reproducible-builds.org), else
    :data:`DEFAULT_EPOCH`: never the clock, so two builds of the same sources are identical.
    """
    value: object = argument
    if value is None:
        value = os.environ.get("SOURCE_DATE_EPOCH", "").strip() or DEFAULT_EPOCH
    try:
        epoch = int(value)  # type: ignore[call-overload]
    except ValueError:
        raise BuildError(f"SOURCE_DATE_EPOCH must be a whole number of seconds, not {value!r}") from None
    if not 0 <= epoch < 2**32:
        raise BuildError(f"SOURCE_DATE_EPOCH {epoch} is out of range (0 to 2**32 - 1)")
    return epoch


@dataclass(frozen=True, slots=True)
class BuildFile:
    path: str
    """POSIX path relative to the output directory (``.flash/``)."""
    data: bytes
    executable: bool = False


@dataclass(frozen=True, slots=True)
class BuildTree:
    """What ``.flash/`` will hold.

    ``artifact`` files make up ``artifact.tar.gz`` (laid out as runpod-flash's
    artifact: ``handler_<endpoint>.py`` and ``flash_manifest.json`` at the root);
    ``local`` files stay on this machine (the compiled client package).
    Both are sorted by path.
    """

    artifact: tuple[BuildFile, ...]
    local: tuple[BuildFile, ...] = ()

    def file(self, path: str) -> BuildFile | None:
        for entry in (*self.artifact, *self.local):
            if entry.path == path:
                return entry
        return None
