"""The ``flashc`` command: parse arguments, call :mod:`flashc.api`, render, exit.

Exit codes: 0 clean, 1 findings at the ``fail-on`` severity (or, with ``--diff``,
fixes to apply), 2 usage or flashc's own failure (the message says what;
``--debug`` adds the traceback).
"""

from __future__ import annotations

import difflib
import functools
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from . import __version__, api
from .diagnostics import Severity, split_lines
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
    watch: bool = typer.Option(False, "--watch", help="Check again whenever a file of the project changes, printing what changed; Ctrl-C stops."),
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
    if watch:
        if fix or diff or statistics or format not in (CheckFormat.text, CheckFormat.concise):
            typer.echo("flashc: error: --watch prints findings as text or concise; it does not combine with --fix, --diff, --statistics or another --format", err=True)
            raise typer.Exit(2)
        for target in targets:
            if not target.exists():
                typer.echo(f"flashc: error: {target.resolve()}: no such file or directory", err=True)
                raise typer.Exit(2)
        _watch(targets, options, format, unsafe_fixes=unsafe_fixes, quiet=quiet)
        raise typer.Exit(0)
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


def _watch(
    targets: list[Path],
    options: api.CheckOptions,
    format: CheckFormat,
    *,
    unsafe_fixes: bool,
    quiet: bool,
    sleep: Callable[[float], None] = time.sleep,
    stop: Callable[[], bool] = lambda: False,
) -> None:
    """``check --watch``: the first check in full, then after each change only the findings that
    appeared, a ``fixed:`` line per finding that disappeared, and the summary. Ctrl-C ends it."""
    from . import watch

    previous: list[api.CheckResult] = []

    def run(round: watch.Round) -> None:
        if round.changed:
            shown = [os.path.relpath(path) for path in round.changed[:3]]
            more = f" and {len(round.changed) - 3} more" if len(round.changed) > 3 else ""
            typer.echo(f"[watch] {', '.join(shown)}{more} changed: checking again", err=True)
        try:
            result = api.check(targets, options)
        except FlashcError as error:
            typer.echo(f"flashc: error: {error}", err=True)
            return
        except Exception as error:  # a bug in flashc: say so, keep watching
            if _debug:
                raise
            typer.echo(f"flashc: internal error: {type(error).__name__}: {error} (run with --debug for the traceback, and please report it)", err=True)
            return
        before = previous[-1] if previous else None
        new, gone = watch.compare(before.diagnostics if before else (), result.diagnostics, before.texts if before else {}, result.texts)
        if new:
            if format is CheckFormat.concise:
                typer.echo(diagnostics_render.render_concise(new, unsafe_fixes=unsafe_fixes), nl=False)
            else:
                typer.echo(diagnostics_render.render_text(new, _line_reader(result), unsafe_fixes=unsafe_fixes))
        for diagnostic in gone:
            typer.echo(f"fixed: {diagnostic.span}: {diagnostic.code} {diagnostic.message}")
        if not quiet:
            typer.echo(diagnostics_render.summary(result.diagnostics, unsafe_fixes=unsafe_fixes))
        previous[:] = [result]
        if round.number == 1:
            typer.echo("[watch] watching for changes (Ctrl-C to stop)", err=True)

    try:
        watch.loop(run, lambda: watch.snapshot(targets), sleep=sleep, stop=stop)
    except KeyboardInterrupt:
        typer.echo("[watch] stopped", err=True)


def _line_reader(result: api.CheckResult):  # type: ignore[no-untyped-def]
    @functools.lru_cache(maxsize=None)
    def lines(path: str) -> list[str]:
        text = result.texts.get(path)
        if text is None:
            try:
                text = (result.root / path).read_text(encoding="utf-8", errors="replace")
            except OSError:
                return []
        return split_lines(text)

    def read_line(path: str, line: int) -> str | None:
        found = lines(path)
        return found[line - 1] if 0 < line <= len(found) else None

    return read_line


def _print_diff(fixed: api.FixResult) -> None:
    for path, (before, after) in sorted(fixed.changed.items()):
        typer.echo(
            "".join(difflib.unified_diff(split_lines(before, keepends=True), split_lines(after, keepends=True), f"a/{path}", f"b/{path}")),
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


ENV_OPTION = typer.Option("default", "--env", "-e", help="The deployment environment.")


@app.command()
def deploy(
    path: Path = typer.Argument(Path("."), help="The project directory (or a file in it)."),
    target: str = typer.Option("local", "--target", help="Where to deploy: local (this machine)."),
    env: str = ENV_OPTION,
    plan: bool = typer.Option(False, "--plan", help="Show what would change, change nothing."),
    no_build: bool = typer.Option(False, "--no-build", help="Deploy the existing build as it is."),
    no_isolate: bool = typer.Option(False, "--no-isolate", help="Run every endpoint with flashc's own Python instead of its own environment."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address the local supervisor listens on."),
    port: int = typer.Option(0, "--port", help="Its port (default: a free one, kept across redeploys)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress lines."),
) -> None:
    """Build, then run the endpoints on a target (local: worker processes behind a RunPod-compatible API)."""

    def progress(message: str) -> None:
        if not quiet:
            typer.echo(f"  {message}", err=True)

    options = api.DeployOptions(
        env=env, target=target, build=not no_build, dry_run=plan, host=host, port=port, isolate=not no_isolate, progress=progress,
        build_options=api.BuildOptions(progress=progress),
    )
    result = _run(lambda: api.deploy(path, options))
    if result.build is not None and result.build.failed:
        typer.echo(diagnostics_render.render_text(result.build.gate.diagnostics, _line_reader(result.build.gate)))
        typer.echo(diagnostics_render.summary(result.build.gate.diagnostics))
        typer.echo("Deploy stopped: the build found errors.", err=True)
        raise typer.Exit(1)
    typer.echo(result.plan.render(), nl=False)  # type: ignore[union-attr]
    if result.state is not None:
        deployed = result.state
        typer.echo(f"Deployed to {deployed.target}/{deployed.env} at {deployed.url}")  # type: ignore[attr-defined]
        for name, url in deployed.endpoint_urls().items():  # type: ignore[attr-defined]
            typer.echo(f"  {name}: {url}")
        typer.echo(f"Call them with `flashc run SCRIPT --env {env}`; the API token is in .flash/deployments/{env}.json.")


@app.command()
def status(
    path: Path = typer.Argument(Path("."), help="The project directory."),
    env: str = ENV_OPTION,
    format: TextOrJson = typer.Option(TextOrJson.text, "--format", help="Output format."),
) -> None:
    """What is deployed and running, per endpoint."""
    found = _run(lambda: api.deployment_status(path, env))
    if format is TextOrJson.json:
        typer.echo(json.dumps(found, indent=2, sort_keys=True))
        return
    typer.echo(f"{env}: {'running' if found['running'] else 'NOT RUNNING (run `flashc deploy` again)'} at {found['url']}")
    supervisor = found.get("supervisor", {})
    details = {e.get("name"): e for e in supervisor.get("endpoints", [])} if isinstance(supervisor.get("endpoints"), list) else supervisor.get("endpoints", {})
    for name, endpoint in sorted(found["endpoints"].items()):
        extra = details.get(name) or {}
        summary = ", ".join(f"{k} {v}" for k, v in sorted(extra.items()) if isinstance(v, (int, str)) and k not in ("name", "digest"))
        typer.echo(f"  {name}: {endpoint['url']}" + (f"  ({summary})" if summary else ""))


@app.command()
def logs(
    endpoint: Optional[str] = typer.Argument(None, help="An endpoint (default: the supervisor's own log)."),
    path: Path = typer.Option(Path("."), "--path", help="The project directory."),
    env: str = ENV_OPTION,
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new lines."),
) -> None:
    """Print an endpoint's worker logs."""
    file = _run(lambda: api.log_path(path, endpoint, env))
    position = 0
    while True:
        try:
            with file.open("r", encoding="utf-8", errors="replace") as handle:
                handle.seek(position)
                chunk = handle.read()
                position = handle.tell()
        except FileNotFoundError:
            chunk = ""
        if chunk:
            typer.echo(chunk, nl=False)
        if not follow:
            return
        time.sleep(0.5)


@app.command()
def undeploy(
    path: Path = typer.Argument(Path("."), help="The project directory."),
    env: str = ENV_OPTION,
    all_envs: bool = typer.Option(False, "--all", help="Every environment of the project."),
) -> None:
    """Stop everything a deployment started and remove its state."""
    removed = _run(lambda: api.undeploy(path, env, all_envs=all_envs))
    typer.echo(f"Undeployed {', '.join(removed)}." if removed else "Nothing was deployed.")


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def run(
    ctx: typer.Context,
    script: Path = typer.Argument(..., help="A Python script whose endpoint calls go to the deployment."),
    path: Path = typer.Option(Path("."), "--path", help="The project directory."),
    env: str = ENV_OPTION,
) -> None:
    """Run SCRIPT [ARGS...] with the compiled client bound to a deployed environment."""
    variables = _run(lambda: api.client_environment(path, env))
    completed = subprocess.run([sys.executable, str(script), *ctx.args], env={**os.environ, **variables})
    raise typer.Exit(completed.returncode)


@app.command()
def serve(
    path: Path = typer.Argument(Path("."), help="The project directory."),
    env: str = typer.Option("serve", "--env", "-e", help="The environment it runs as."),
    port: int = typer.Option(0, "--port", help="The supervisor's port."),
    no_isolate: bool = typer.Option(False, "--no-isolate", help="Run endpoints with flashc's own Python."),
) -> None:
    """Deploy locally in the foreground: stream worker logs, redeploy on source changes, stop on Ctrl-C."""
    options = api.DeployOptions(env=env, port=port, isolate=not no_isolate, progress=lambda m: typer.echo(f"  {m}", err=True))
    root = _run(lambda: api.find_project_root(path.resolve()))
    try:
        snapshot = _sources_snapshot(root)
        _serve_once(root, options)
        offsets: dict[Path, int] = {}
        while True:
            _print_new_log_lines(root, env, offsets)
            time.sleep(0.5)
            current = _sources_snapshot(root)
            if current != snapshot:
                snapshot = current
                typer.echo("  sources changed: redeploying", err=True)
                _serve_once(root, options)
    except KeyboardInterrupt:
        typer.echo("  stopping", err=True)
    finally:
        api.undeploy(root, env)


def _serve_once(root: Path, options: api.DeployOptions) -> None:
    result = _run(lambda: api.deploy(root, options))
    if result.build is not None and result.build.failed:
        typer.echo(diagnostics_render.render_concise(result.build.gate.diagnostics), nl=False)
        typer.echo("  not redeployed: fix the errors above", err=True)
        return
    typer.echo(result.plan.render(), nl=False)  # type: ignore[union-attr]
    for name, url in result.state.endpoint_urls().items():  # type: ignore[union-attr]
        typer.echo(f"  {name}: {url}")


def _sources_snapshot(root: Path) -> dict[str, float]:
    from .discovery import iter_source_files
    from .config import load_config

    return {str(p): p.stat().st_mtime for p in iter_source_files(root, load_config(root))}


def _print_new_log_lines(root: Path, env: str, offsets: dict[Path, int]) -> None:
    directory = root / ".flash" / "deployments" / env / "logs"
    for file in sorted(directory.glob("*.log")):
        with file.open("r", encoding="utf-8", errors="replace") as handle:
            handle.seek(offsets.get(file, 0))
            for line in handle:
                typer.echo(f"[{file.stem}] {line}", nl=False)
            offsets[file] = handle.tell()


@app.command()
def init(
    directory: Path = typer.Argument(..., help="The new project's directory (created)."),
    name: Optional[str] = typer.Option(None, "--name", help="The app name (default: the directory's name)."),
) -> None:
    """Create a new project: a GPU worker, a CPU worker, an API calling both, and a script calling them."""
    from .scaffold import init_project

    written = _run(lambda: init_project(directory, name))
    typer.echo(f"Created {directory} ({len(written)} files). Next:\n  cd {directory}\n  flashc check\n  flashc deploy\n  flashc run main.py")


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


@app.command()
def lsp() -> None:
    """Run the language server on stdin/stdout, for editors (see docs/editors.md)."""
    from . import lsp as language_server

    language_server.start()


def _run(action):  # type: ignore[no-untyped-def]
    """Run an api call, turning flashc's own failures into a message and exit code 2.

    Messages and ``--debug`` tracebacks are redacted: deployment tokens, secret-looking
    environment variables and bearer tokens never reach the terminal.
    """
    try:
        return action()
    except FlashcError as error:
        if _debug:
            _print_traceback()
            raise typer.Exit(2) from None
        typer.echo(_redact(f"flashc: error: {error}"), err=True)
        raise typer.Exit(2) from None
    except Exception as error:  # a bug in flashc: say so plainly, keep the traceback for --debug
        if _debug:
            _print_traceback()
            raise typer.Exit(2) from None
        typer.echo(
            _redact(
                f"flashc: internal error: {type(error).__name__}: {error} "
                "(run with --debug for the traceback, and please report it)"
            ),
            err=True,
        )
        raise typer.Exit(2) from None


def _redact(text: str) -> str:
    from .deploy.redaction import redact

    return redact(text)


def _print_traceback() -> None:
    import traceback

    typer.echo(_redact(traceback.format_exc()).rstrip("\n"), err=True)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover - interactive only
        typer.echo("flashc: interrupted", err=True)
        sys.exit(130)
