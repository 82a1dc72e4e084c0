"""The check cache: raw rule findings, reused while nothing they depend on changed.

What the rules find depends on the files that can declare or call endpoints
(the *candidate* modules: every other file is never parsed), on the project's
configuration and on flashc's version. The cache stores the findings per file
under one key made of exactly those inputs: the content hash of each candidate
file, the config and the version. Selection, severity overrides and suppression
comments are applied after the cache, so changing them never needs a re-check.

Entries are JSON (never pickle: a cache directory must not be a way to run
code), written atomically; an unreadable or stale entry is simply a miss.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from . import __version__
from .config import Config
from .diagnostics import Applicability, Diagnostic, Edit, Fix, InsertStatements, Note, Position, Span, Severity

DEFAULT_DIRECTORY = ".flashc_cache"


def cache_directory(root: Path, override: Path | None) -> Path:
    if override is not None:
        return override
    from_env = os.environ.get("FLASHC_CACHE_DIR")
    return Path(from_env) if from_env else root / DEFAULT_DIRECTORY


def cache_key(config: Config, files: Iterable[tuple[str, str]]) -> str:
    """A digest of flashc's version, the config and ``(path, text)`` of every candidate file."""
    digest = hashlib.sha256()
    digest.update(f"flashc {__version__}\n{config!r}\n".encode())
    for path, text in sorted(files):
        digest.update(path.encode("utf-8", "surrogateescape") + b"\0")
        digest.update(hashlib.sha256(text.encode("utf-8", "surrogateescape")).digest())
    return digest.hexdigest()


def load(directory: Path, root: Path, key: str) -> list[Diagnostic] | None:
    try:
        data = json.loads(_entry(directory, root).read_text(encoding="utf-8"))
        if data.get("key") != key:
            return None
        return [_diagnostic(d) for entries in data["files"].values() for d in entries]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def store(directory: Path, root: Path, key: str, diagnostics: Iterable[Diagnostic]) -> None:
    """Write the entry; a cache that cannot be written is not an error (read-only checkouts)."""
    files: dict[str, list[dict]] = {}
    for diagnostic in diagnostics:
        files.setdefault(diagnostic.span.path, []).append(_json(diagnostic))
    entry = _entry(directory, root)
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        _mark(directory)
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=entry.parent, delete=False, suffix=".tmp") as handle:
            json.dump({"key": key, "files": files}, handle, sort_keys=True)
        os.replace(handle.name, entry)
    except OSError:
        return


def _entry(directory: Path, root: Path) -> Path:
    project = hashlib.sha256(str(root).encode("utf-8", "surrogateescape")).hexdigest()[:16]
    return directory / __version__ / f"check-{project}.json"


def _mark(directory: Path) -> None:
    """Tell git and backup tools to leave the directory alone."""
    gitignore = directory / ".gitignore"
    if not gitignore.exists():
        gitignore.write_text("# Created by flashc.\n*\n", encoding="utf-8")
    tag = directory / "CACHEDIR.TAG"
    if not tag.exists():
        tag.write_text("Signature: 8a477f597d28d172789f06886806bc55\n# This is a flashc cache directory.\n", encoding="utf-8")


# --- (de)serialising diagnostics ---------------------------------------------------------------


def _json(diagnostic: Diagnostic) -> dict:
    fix = diagnostic.fix
    return {
        "code": diagnostic.code,
        "message": diagnostic.message,
        "span": _span_json(diagnostic.span),
        "severity": diagnostic.severity.value,
        "notes": [{"message": n.message, "span": _span_json(n.span) if n.span else None} for n in diagnostic.notes],
        "fix": None
        if fix is None
        else {
            "title": fix.title,
            "applicability": fix.applicability.value,
            "edits": [{"span": _span_json(e.span), "replacement": e.replacement} for e in fix.edits],
            "pending": [{"scope": [list(p) for p in c.scope], "statements": list(c.statements)} for c in fix.pending],
        },
    }


def _diagnostic(data: dict) -> Diagnostic:
    fix = data["fix"]
    return Diagnostic(
        data["code"],
        data["message"],
        _span(data["span"]),
        Severity(data["severity"]),
        None
        if fix is None
        else Fix(
            fix["title"],
            tuple(Edit(_span(e["span"]), e["replacement"]) for e in fix["edits"]),
            Applicability(fix["applicability"]),
            tuple(InsertStatements(tuple((str(n), int(i)) for n, i in c["scope"]), tuple(c["statements"])) for c in fix["pending"]),
        ),
        tuple(Note(n["message"], _span(n["span"]) if n["span"] else None) for n in data["notes"]),
    )


def _span_json(span: Span) -> list:
    return [span.path, span.start.line, span.start.column, span.end.line, span.end.column]


def _span(data: list) -> Span:
    path, line, column, end_line, end_column = data
    return Span(path, Position(line, column), Position(end_line, end_column))
