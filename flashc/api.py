"""The library surface every shell (CLI, pre-commit hook, LSP server) calls.

Shells parse arguments and render results; every decision is made here or
below. Nothing in this module prints.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from .analysis import analyse_project
from .config import load_config
from .diagnostics import Diagnostic, Severity
from .diagnostics import Span
from .discovery import find_nested_projects, find_project_root
from .model import ProjectModel


def inspect_project(path: Path) -> ProjectModel:
    """Discover the project containing ``path`` and model it statically."""
    root = find_project_root(path)
    return analyse_project(root, load_config(root))


@dataclass(frozen=True, slots=True)
class CheckResult:
    model: ProjectModel
    diagnostics: tuple[Diagnostic, ...]
    """Sorted by path, position and code; only those under the requested paths."""

    @property
    def has_errors(self) -> bool:
        return any(d.severity is Severity.ERROR for d in self.diagnostics)


def check(paths: list[Path]) -> CheckResult:
    """Check the project containing ``paths[0]``, reporting findings under ``paths`` only.

    The whole project is analysed because configurations and endpoints cross
    module boundaries; the paths only filter what is reported.
    """
    targets = [p.resolve() for p in paths] or [Path.cwd().resolve()]
    model = inspect_project(targets[0])
    found = _findings(model, prefix="")
    # A directory holding other projects (examples/a, examples/b) checks each of them too.
    for target in targets:
        if target.is_dir():
            for nested in find_nested_projects(target):
                nested_model = inspect_project(nested)
                found.extend(_findings(nested_model, prefix=nested.relative_to(model.root).as_posix() + "/"))
    wanted = [t.relative_to(model.root).as_posix() if t != model.root else "" for t in targets if t.is_relative_to(model.root)]
    selected = [d for d in found if _under(d.span.path, wanted)]
    return CheckResult(model, tuple(sorted(set(selected), key=Diagnostic.sort_key)))


def _findings(model: ProjectModel, prefix: str) -> list[Diagnostic]:
    """All findings of ``model``, with paths made relative to an outer root by ``prefix``."""
    found = list(model.diagnostics) + [d for endpoint in model.endpoints for d in endpoint.problems]
    if not prefix:
        return found

    def moved(span: Span) -> Span:
        return Span(prefix + span.path, span.start, span.end)

    return [
        replace(
            d,
            span=moved(d.span),
            notes=tuple(replace(n, span=moved(n.span)) if n.span else n for n in d.notes),
        )
        for d in found
    ]


def _under(path: str, prefixes: list[str]) -> bool:
    return any(not p or path == p or path.startswith(p.rstrip("/") + "/") for p in prefixes)
