"""The ``flashc`` command: parse arguments, call :mod:`flashc.api`, render, exit.

Exit codes: 0 clean, 1 findings at error severity, 2 usage or flashc's own
failure (the message says what; ``--debug`` adds the traceback).
"""

from __future__ import annotations

import functools
import sys
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from . import __version__, api
from .errors import FlashcError
from .render import diagnostics as diagnostics_render
from .render import inspect as inspect_render

app = typer.Typer(
    name="flashc",
    help="Check, build and deploy runpod-flash style remote endpoints, statically.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class OutputFormat(str, Enum):
    text = "text"
    json = "json"


_debug = False


def _version(value: bool) -> None:
    if value:
        typer.echo(f"flashc {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks of flashc's own failures."),
) -> None:
    global _debug
    _debug = debug


@app.command()
def inspect(
    path: Path = typer.Argument(Path("."), help="The project directory (or a file in it)."),
    format: OutputFormat = typer.Option(OutputFormat.text, "--format", help="Output format."),
) -> None:
    """Show every endpoint flashc found and its resolved configuration."""
    model = _run(lambda: api.inspect_project(path))
    if format is OutputFormat.json:
        typer.echo(inspect_render.render_json(model), nl=False)
    else:
        typer.echo(inspect_render.render_text(model), nl=False)


@app.command()
def check(
    paths: Optional[list[Path]] = typer.Argument(None, help="Files or directories to report on (default: the project)."),
    format: OutputFormat = typer.Option(OutputFormat.text, "--format", help="Output format."),
) -> None:
    """Check endpoints statically and report problems."""
    result = _run(lambda: api.check(list(paths or [Path(".")])))
    if format is OutputFormat.json:
        typer.echo(diagnostics_render.render_json(result.diagnostics), nl=False)
    else:
        root = result.model.root

        @functools.lru_cache(maxsize=None)
        def file_lines(path: str) -> list[str]:
            try:
                return (root / path).read_text(encoding="utf-8", errors="replace").splitlines()
            except OSError:
                return []

        def read_line(path: str, line: int) -> str | None:
            lines = file_lines(path)
            return lines[line - 1] if 0 < line <= len(lines) else None

        output = diagnostics_render.render_text(result.diagnostics, read_line)
        if output:
            typer.echo(output)
        typer.echo(diagnostics_render.summary(result.diagnostics))
    raise typer.Exit(1 if result.has_errors else 0)


def _run(action):  # type: ignore[no-untyped-def]
    """Run an api call, turning flashc's own failures into a message and exit code 2."""
    try:
        return action()
    except FlashcError as error:
        if _debug:
            raise
        typer.echo(f"flashc: error: {error}", err=True)
        raise typer.Exit(2) from None


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover - interactive only
        typer.echo("flashc: interrupted", err=True)
        sys.exit(130)
