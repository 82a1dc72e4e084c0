"""``flashc build`` output: what was built, for people and for CI."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from ..diagnostics import Diagnostic
from .diagnostics import check_json


class _Package(Protocol):
    output: Path
    artifact: Path
    sha256: str
    size: int
    files: int


class _Gate(Protocol):
    diagnostics: tuple[Diagnostic, ...]


class BuildResult(Protocol):
    """What the renderers read of :class:`flashc.api.BuildResult` (render sits below api)."""

    gate: _Gate
    package: _Package | None
    endpoints: Sequence[str]
    skipped: Sequence[tuple[str, str, str]]


def render_text(result: BuildResult) -> str:
    """A few lines: what was built, where, how big, its digest, and what was not installed."""
    package = result.package
    assert package is not None
    count = len(result.endpoints)
    lines = [
        f"Built {count} endpoint{'s' if count != 1 else ''} into {package.output.name}/: {', '.join(result.endpoints)}",
        f"  artifact {package.artifact.name}: {_size(package.size)}, {package.files} files, sha256 {package.sha256}",
    ]
    for endpoint, name, reason in result.skipped:
        lines.append(f"  info: {endpoint}: `{name}` not installed: {reason}")
    return "\n".join(lines) + "\n"


def render_json(result: BuildResult) -> str:
    package = result.package
    document = {
        "built": package is not None,
        "endpoints": list(result.endpoints),
        "artifact": None
        if package is None
        else {"path": package.artifact.name, "sha256": package.sha256, "size": package.size, "files": package.files},
        "skipped": [{"endpoint": e, "package": p, "reason": r} for e, p, r in result.skipped],
        "diagnostics": [check_json(d) for d in result.gate.diagnostics],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _size(size: int) -> str:
    return f"{size / 1024:.1f} KiB" if size < 1024 * 1024 else f"{size / 1024 / 1024:.1f} MiB"
