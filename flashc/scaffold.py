"""``flashc init``: a new project, rendered from the templates in ``flashc/templates/init/``.

The project has a GPU worker, a CPU worker, a load-balanced API whose route calls
both, a client script, ``pyproject.toml`` with ``[tool.flashc]``, a README and a
``.gitignore``. It checks clean and builds as written, and its GPU worker needs
nothing but the standard library, so it also runs where there is no GPU.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from flashc_runtime.sdk import tables

from .errors import FlashcError
from .templates import render

FILES: tuple[tuple[str, str], ...] = (
    ("pyproject.toml.j2", "pyproject.toml"),
    ("gpu_worker.py.j2", "gpu_worker.py"),
    ("cpu_worker.py.j2", "cpu_worker.py"),
    ("api.py.j2", "api.py"),
    ("main.py.j2", "main.py"),
    ("README.md.j2", "README.md"),
    ("gitignore.j2", ".gitignore"),
)
"""Template (under ``init/``) -> the file it becomes, in the order they are written."""

ENDPOINT_SUFFIXES = ("-gpu", "-cpu", "-api")
"""What the templates append to the slug to name their endpoints."""

SLUG_MAX_LENGTH = tables.ENDPOINT_NAME_MAX_LENGTH - max(map(len, ENDPOINT_SUFFIXES))
DEFAULT_SLUG = "app"
"""The slug of a name without a single ASCII letter or digit."""


def project_slug(name: str) -> str:
    """``name`` as an endpoint-name prefix: lower-case ASCII letters and digits joined by ``-``.

    Accents are dropped (``Crème`` -> ``creme``); the result is short enough for
    every endpoint name built from it, and ``app`` when nothing is left.
    """
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:SLUG_MAX_LENGTH].rstrip("-") or DEFAULT_SLUG


def init_project(directory: Path, name: str | None = None) -> list[Path]:
    """Write a new project into ``directory`` (created if missing) and return the files written.

    ``name`` is the app name (default: the directory's name). Raises
    :class:`FlashcError` when ``directory`` exists and is not an empty directory,
    or when the name is empty or holds control characters; nothing is written then.
    """
    name = (directory.resolve().name if name is None else name).strip()
    if not name:
        raise FlashcError("the project name is empty; give one with letters or digits")
    if not name.isprintable():
        raise FlashcError(f"the project name {name!r} contains control characters")
    if directory.exists():
        if not directory.is_dir():
            raise FlashcError(f"{directory} exists and is not a directory")
        if any(directory.iterdir()):
            raise FlashcError(f"{directory} is not empty; choose a new or empty directory for the project")
    context = {"name": name, "slug": project_slug(name)}
    rendered = [(directory / target, render(f"init/{template}", **context)) for template, target in FILES]
    directory.mkdir(parents=True, exist_ok=True)
    for path, text in rendered:
        path.write_text(text, encoding="utf-8", newline="\n")
    return [path for path, _ in rendered]
