"""The ``flashc`` command: parse arguments, call :mod:`flashc.api`, render, exit.

Exit codes: 0 clean, 1 findings at the ``fail-on`` severity (or, with ``--diff``,
fixes to apply), 2 usage or flashc's own failure (the message says what;
``--debug`` adds the traceback).
"""

from __future__ import annotations

import difflib
import functools
import sys
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from . import __version__, api
from .diagnostics import Severity
from .errors import FlashcError
from .render import build as build_render
from .render import diagnostics as diagnostics_render
from .render import github as github_render
from .render import inspect as inspect_render
from .render import rules as rules_render
from .render import sarif as sarif_render
from .rules.registry import RULES
from .rules.registry import by_name
from .rules.registry import rule as lookup_rule

app = typer.Typer(
    name="flashc",
    help="Check, build and deploy runpod-flash style remote endpoints, statically.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class TextOrJson(str, Enum):
    """The formats of ``inspect`` and ``build``."""

    text = "text"
    json = "json"


class RuleFormat(str, Enum):
    text = "text"
    json = "json"
    markdown = "markdown"


class CheckFormat(str, Enum):
    text = "text"
    concise = "concise"
    json = "json"
    sarif = "sarif"
    github = "github"


class FailOn(str, Enum):
    error = "error"
    warning = "warning"
    info = "info"
    never = "never"


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
    format: TextOrJson = typer.Option(TextOrJson.text, "--format", help="Output format."),
) -> None:
    """Show every endpoint flashc found and its resolved configuration."""
    model = _run(lambda: api.inspect_project(path))
    if format is TextOrJson.json:
        typer.echo(inspect_render.render_json(model), nl=False)
    else:
        typer.echo(inspect_render.render_text(model), nl=False)


@app.command()
def check(
    paths: Optional[list[Path]] = typer.Argument(None, help="Files or directories to report on (default: the project)."),
    format: CheckFormat = typer.Option(CheckFormat.text, "--format", help="Output format."),
    select: Optional[list[str]] = typer.Option(None, "--select", help="Rule codes or prefixes to run, replacing the configured set (comma-separated)."),
    extend_select: Optional[list[str]] = typer.Option(None, "--extend-select", help="Rule codes or prefixes to run on top of the configured set."),
    ignore: Optional[list[str]] = typer.Option(None, "--ignore", help="Rule codes or prefixes not to run."),
    fail_on: Optional[FailOn] = typer.Option(None, "--fail-on", help="Lowest severity that makes the exit status 1 [default: as configured, else error]."),
    fix: bool = typer.Option(False, "--fix", help="Apply safe fixes (and unsafe ones with --unsafe-fixes), then report what remains."),
    unsafe_fixes: bool = typer.Option(False, "--unsafe-fixes", help="Include unsafe fixes in --fix and --diff, and count them as fixable."),
    diff: bool = typer.Option(False, "--diff", help="Show the fixes as a diff without writing them; exit 1 if there are any."),
    statistics: bool = typer.Option(False, "--statistics", help="Print how often each rule was found instead of the findings."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print the findings only, without the summary."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Neither read nor write the cache."),
    cache_dir: Optional[Path] = typer.Option(None, "--cache-dir", help="Where to keep the cache [default: .flashc_cache in the project]."),
) -> None:
    """Check endpoints statically and report problems."""
    options = api.CheckOptions(
        select=select,
        extend_select=extend_select,
        ignore=ignore,
        fail_on="config" if fail_on is None else (None if fail_on is FailOn.never else Severity(fail_on.value)),
        use_cache=not no_cache,
        cache_dir=cache_dir,
    )
    targets = list(paths or [Path(".")])
    if diff or fix:
        fixed = _run(lambda: api.fix(targets, options, unsafe=unsafe_fixes))
        if diff:
            _print_diff(fixed)
            raise typer.Exit(1 if fixed.changed else 0)
        _run(lambda: api.write_fixes(fixed.result.root, fixed.changed))
        result = fixed.result
        if fixed.fixed and not quiet:
            typer.echo(f"Fixed {fixed.fixed} finding{'s' if fixed.fixed != 1 else ''} in {len(fixed.changed)} file{'s' if len(fixed.changed) != 1 else ''}.", err=True)
    else:
        result = _run(lambda: api.check(targets, options))
    _report(result, format, unsafe_fixes=unsafe_fixes, statistics=statistics, quiet=quiet)
    raise typer.Exit(1 if result.failed else 0)


def _report(result: api.CheckResult, format: CheckFormat, *, unsafe_fixes: bool, statistics: bool, quiet: bool) -> None:
    diagnostics = result.diagnostics
    if statistics:
        typer.echo(diagnostics_render.render_statistics(diagnostics, unsafe_fixes=unsafe_fixes), nl=False)
        return
    if format is CheckFormat.json:
        typer.echo(diagnostics_render.render_json(result.with_edits().diagnostics), nl=False)
    elif format is CheckFormat.sarif:
        typer.echo(sarif_render.render_sarif(result.with_edits().diagnostics, list(RULES.values()), version=__version__), nl=False)
    elif format is CheckFormat.github:
        typer.echo(github_render.render_github(diagnostics), nl=False)
    else:
        if format is CheckFormat.concise:
            output = diagnostics_render.render_concise(diagnostics, unsafe_fixes=unsafe_fixes)
        else:
            output = diagnostics_render.render_text(diagnostics, _line_reader(result), unsafe_fixes=unsafe_fixes)
        if output:
            typer.echo(output, nl=format is CheckFormat.text and not quiet)
        if not quiet:
            typer.echo(diagnostics_render.summary(diagnostics, unsafe_fixes=unsafe_fixes))


def _line_reader(result: api.CheckResult):  # type: ignore[no-untyped-def]
    @functools.lru_cache(maxsize=None)
    def lines(path: str) -> list[str]:
        text = result.texts.get(path)
        if text is None:
            try:
                text = (result.root / path).read_text(encoding="utf-8", errors="replace")
            except OSError:
                return []
        return text.splitlines()

    def read_line(path: str, line: int) -> str | None:
        found = lines(path)
        return found[line - 1] if 0 < line <= len(found) else None

    return read_line


def _print_diff(fixed: api.FixResult) -> None:
    for path, (before, after) in sorted(fixed.changed.items()):
        typer.echo(
            "".join(difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True), f"a/{path}", f"b/{path}")),
            nl=False,
        )
    count = len(fixed.changed)
    typer.echo(f"Would fix {fixed.fixed} finding{'s' if fixed.fixed != 1 else ''} in {count} file{'s' if count != 1 else ''}." if count else "No fixes available.", err=True)


class Ship(str, Enum):
    function = "function"
    module = "module"


@app.command()
def build(
    path: Path = typer.Argument(Path("."), help="The project directory (or a file in it)."),
    ship: Ship = typer.Option(Ship.function, "--ship", help="What each endpoint ships: its own definitions (function), or its whole source modules as runpod-flash does (module; scoping findings become warnings)."),
    no_deps: bool = typer.Option(False, "--no-deps", help="Do not install dependencies (requirements.txt files are still written)."),
    exclude: Optional[list[str]] = typer.Option(None, "--exclude", help="A package not to install (repeatable, or comma-separated)."),
    offline: bool = typer.Option(False, "--offline", help="Install without a package index (use --wheelhouse)."),
    wheelhouse: Optional[Path] = typer.Option(None, "--wheelhouse", help="A directory of wheels to install from."),
    requirements: Optional[list[Path]] = typer.Option(None, "--requirements", "-r", help="A requirements file every endpoint installs too (repeatable)."),
    size_limit: int = typer.Option(1500, "--size-limit", help="Largest artifact allowed, in MB."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress, only the result or the findings."),
    format: TextOrJson = typer.Option(TextOrJson.text, "--format", help="Output format."),
) -> None:
    """Check, then compile the project into .flash/: handler packages, client, manifest, artifact."""

    def progress(message: str) -> None:
        if not quiet and format is TextOrJson.text:
            typer.echo(f"  {message}", err=True)

    excluded = tuple(item.strip() for value in exclude or () for item in value.split(",") if item.strip())
    options = api.BuildOptions(
        ship_module=ship is Ship.module,
        install_dependencies=not no_deps,
        exclude=excluded,
        offline=offline,
        wheelhouse=wheelhouse,
        requirement_files=tuple(requirements or ()),
        size_limit_mb=size_limit,
        progress=progress,
    )
    result = _run(lambda: api.build(path, options))
    if format is TextOrJson.json:
        typer.echo(build_render.render_json(result), nl=False)
    elif result.failed:
        output = diagnostics_render.render_text(result.gate.diagnostics, _line_reader(result.gate))
        typer.echo(output)
        typer.echo(diagnostics_render.summary(result.gate.diagnostics))
        typer.echo("Build stopped: fix the errors above (nothing was written).", err=True)
    else:
        if result.gate.diagnostics and not quiet:
            typer.echo(diagnostics_render.render_concise(result.gate.diagnostics), nl=False)
        typer.echo(build_render.render_text(result), nl=False)
    raise typer.Exit(1 if result.failed else 0)


@app.command()
def rule(
    code: Optional[str] = typer.Argument(None, help="A rule code (FC101) or name (module-import-captured)."),
    all_rules: bool = typer.Option(False, "--all", help="List every rule."),
    format: RuleFormat = typer.Option(RuleFormat.text, "--format", help="Output format."),
) -> None:
    """Explain a rule: what it finds, why it matters, an example and its fix."""
    if all_rules or code is None:
        rules = list(RULES.values())
        render = {
            RuleFormat.text: rules_render.render_rule_list,
            RuleFormat.json: rules_render.render_rules_json,
            RuleFormat.markdown: rules_render.render_rules_markdown,
        }[format]
        typer.echo(render(rules), nl=False)
        return
    found = lookup_rule(code) or by_name(code)
    if found is None:
        typer.echo(f"flashc: error: unknown rule {code!r}; `flashc rule --all` lists them", err=True)
        raise typer.Exit(2)
    render_one = {
        RuleFormat.text: rules_render.render_rule,
        RuleFormat.json: rules_render.render_rule_json,
        RuleFormat.markdown: rules_render.rule_markdown,
    }[format]
    typer.echo(render_one(found), nl=False)


def _run(action):  # type: ignore[no-untyped-def]
    """Run an api call, turning flashc's own failures into a message and exit code 2."""
    try:
        return action()
    except FlashcError as error:
        if _debug:
            raise
        typer.echo(f"flashc: error: {error}", err=True)
        raise typer.Exit(2) from None
    except Exception as error:  # a bug in flashc: say so plainly, keep the traceback for --debug
        if _debug:
            raise
        typer.echo(
            f"flashc: internal error: {type(error).__name__}: {error} "
            "(run with --debug for the traceback, and please report it)",
            err=True,
        )
        raise typer.Exit(2) from None


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover - interactive only
        typer.echo("flashc: interrupted", err=True)
        sys.exit(130)
