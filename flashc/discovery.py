"""Which project, and which of its files, flashc reads.

The root is the nearest directory holding a ``pyproject.toml`` (or the given
directory when there is none). Files are the ``*.py`` below it, minus what
``.gitignore`` files, ``[tool.flashc] exclude`` and the built-in exclusions
(virtualenvs, build output, caches) leave out.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pathspec

from .config import Config
from .errors import ProjectNotFoundError

# Directories that never hold project source: environments, caches, build output.
BUILTIN_EXCLUDES = (
    ".git/",
    ".hg/",
    ".venv/",
    "venv/",
    ".tox/",
    ".nox/",
    "__pycache__/",
    ".mypy_cache/",
    ".flashc_cache/",
    ".pytest_cache/",
    ".ruff_cache/",
    "node_modules/",
    ".flash/",
    ".flashc/",
    "build/",
    "dist/",
    "*.egg-info/",
    "site-packages/",
)


def find_project_root(path: Path) -> Path:
    """The nearest ancestor of ``path`` (itself included) with a pyproject.toml."""
    path = path.resolve()
    if not path.exists():
        raise ProjectNotFoundError(f"{path}: no such file or directory")
    start = path if path.is_dir() else path.parent
    for candidate in (start, *start.parents):
        if (candidate / "pyproject.toml").is_file():
            return candidate
    return start


def iter_source_files(root: Path, config: Config) -> Iterator[Path]:
    """Yield project ``.py`` files in a stable (sorted) order, pruning excluded directories.

    A subdirectory with its own pyproject.toml is another project and is not entered.
    """
    for path, _ in iter_source_paths(root, config):
        yield Path(path)


def iter_source_paths(root: Path, config: Config) -> Iterator[tuple[str, str]]:
    """:func:`iter_source_files` as text: each file's path and its project-relative POSIX path
    (the editor re-reads the file list on every check, and path objects cost more than the rest)."""
    excludes = pathspec.GitIgnoreSpec.from_lines([*BUILTIN_EXCLUDES, *config.exclude])
    # The built-in exclusions name directories only, and excluded directories are not entered:
    # files need matching against them only when the configuration adds patterns of its own.
    yield from _walk(root, str(root), "", [excludes], [excludes] if config.exclude else [])


def _walk(root: Path, directory: str, relative_directory: str, specs: list, file_specs: list) -> Iterator[tuple[str, str]]:
    """``specs`` are matchers (``match_file(relative_posix_path)``), outermost first; ``file_specs``
    the part of them that can exclude a file in a directory that is not excluded."""
    gitignore = os.path.join(directory, ".gitignore")
    if os.path.isfile(gitignore):
        lines = Path(gitignore).read_text(encoding="utf-8", errors="replace").splitlines()
        anchored = _Anchored(Path(relative_directory or "."), pathspec.GitIgnoreSpec.from_lines(lines))
        specs, file_specs = [*specs, anchored], [*file_specs, anchored]
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        relative = relative_directory + entry.name
        if entry.is_dir(follow_symlinks=False):
            nested_project = os.path.isfile(os.path.join(entry.path, "pyproject.toml"))
            if not nested_project and not any(spec.match_file(relative + "/") for spec in specs):
                yield from _walk(root, entry.path, relative + "/", specs, file_specs)
        elif entry.name.endswith(".py") and not any(spec.match_file(relative) for spec in file_specs):
            yield entry.path, relative


class _Anchored:
    """A nested .gitignore: its patterns apply to paths relative to its own directory."""

    def __init__(self, base: Path, spec: pathspec.PathSpec) -> None:
        self._prefix = "" if base == Path(".") else base.as_posix() + "/"
        self._spec = spec

    def match_file(self, file: str) -> bool:
        if not file.startswith(self._prefix):
            return False
        return self._spec.match_file(file[len(self._prefix) :])


def find_nested_projects(directory: Path) -> list[Path]:
    """Directories below ``directory`` with their own pyproject.toml: separate projects."""
    excludes = pathspec.GitIgnoreSpec.from_lines(BUILTIN_EXCLUDES)
    found = []
    for current, subdirectories, files in os.walk(directory):
        relative = Path(current).relative_to(directory).as_posix()
        if relative != "." and "pyproject.toml" in files:
            found.append(Path(current))
        subdirectories[:] = sorted(d for d in subdirectories if not excludes.match_file(f"{d}/"))
    return found


def module_name(relative: Path | str) -> tuple[str, bool]:
    """``pkg/sub/mod.py`` -> ``("pkg.sub.mod", False)``; ``pkg/__init__.py`` -> ``("pkg", True)``.

    A leading ``src/`` is dropped, since that is the import root of a src layout. ``relative``
    may be a path or a project-relative POSIX string.
    """
    if isinstance(relative, str):
        parts = relative.split("/")
        dot = parts[-1].rfind(".")
        if 0 < dot < len(parts[-1]) - 1:  # the suffix, as ``PurePath.with_suffix("")`` sees it
            parts[-1] = parts[-1][:dot]
    else:
        parts = list(relative.with_suffix("").parts)
    if len(parts) > 1 and parts[0] == "src":
        parts = parts[1:]
    is_package = parts[-1] == "__init__"
    if is_package:
        parts = parts[:-1]
    return ".".join(parts), is_package
