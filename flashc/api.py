"""The library surface every shell (CLI, pre-commit hook, LSP server) calls.

Shells parse arguments and render results; every decision is made here or
below. Nothing in this module prints.
"""

from __future__ import annotations

import ast
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from flashc_runtime.sdk import tables

from . import cache
from .analysis import analyse, analyse_sources, candidate_modules, read_sources
from .config import Config, load_config
from .diagnostics import Applicability, Diagnostic, Severity, Span
from .errors import FlashcError
from .discovery import find_nested_projects, find_project_root

from .model import ProjectModel
from .rules import selection as rule_selection
from .rules.engine import run_rules
from .rules.selection import Selection
from .rules.suppressions import apply_suppressions
from .transforms.fixes import apply_fixes, materialize

if TYPE_CHECKING:
    from .package import PackageResult

MAX_FIX_ROUNDS = 10
"""Fixes are applied in rounds (a fix overlapping another waits for the next); this bounds them."""


def inspect_project(path: Path, overrides: Mapping[str, str] | None = None) -> ProjectModel:
    """Discover the project containing ``path`` and model it statically.

    ``overrides`` replaces file contents (project-relative path -> text), e.g. unsaved buffers.
    """
    root = find_project_root(path)
    return analyse(root, load_config(root), overrides).model


@dataclass(frozen=True, slots=True)
class CheckOptions:
    """Command-line choices; None means "as configured in ``[tool.flashc]``"."""

    select: Sequence[str] | None = None
    extend_select: Sequence[str] | None = None
    ignore: Sequence[str] | None = None
    fail_on: Severity | None | str = "config"
    """A severity, None for never, or ``"config"`` for ``[tool.flashc] fail-on``."""
    use_cache: bool = True
    cache_dir: Path | None = None
    jobs: int | None = None
    """Processes for the rules (None: one per available core; 1 in servers that must not fork)."""


def _available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@dataclass(frozen=True, slots=True)
class CheckResult:
    root: Path
    diagnostics: tuple[Diagnostic, ...]
    """Sorted by path, position and code; only those under the requested paths."""
    texts: Mapping[str, str] = field(repr=False)
    """Project-relative path -> the text that was checked (for excerpts and fixes)."""
    fail_on: Severity | None = Severity.ERROR

    @property
    def has_errors(self) -> bool:
        return any(d.severity is Severity.ERROR for d in self.diagnostics)

    @property
    def failed(self) -> bool:
        """Findings at or above the ``fail-on`` severity (exit status 1)."""
        return rule_selection.fails(self.diagnostics, self.fail_on)

    def with_edits(self) -> CheckResult:
        """The same result with every fix made into text edits (needed by JSON, SARIF, diffs)."""
        return replace(self, diagnostics=tuple(materialize(self.diagnostics, self.texts)))


def check(
    paths: Sequence[Path],
    options: CheckOptions | None = None,
    *,
    overrides: Mapping[str, str] | None = None,
    use_cache: bool | None = None,
) -> CheckResult:
    """Check the projects of ``paths``, reporting findings under ``paths`` only.

    Each project is analysed whole, because configurations and endpoints cross module
    boundaries; the paths only filter what is reported. Paths may belong to several
    projects (a pre-commit run over a repository of examples), and a directory holding
    other projects (``examples/a``, ``examples/b``) checks each of them. Paths in the
    result are relative to the first path's project. ``overrides`` replaces file
    contents (paths relative to that same project).
    """
    options = options or CheckOptions()
    if use_cache is not None:
        options = replace(options, use_cache=use_cache)
    targets = [p.resolve() for p in paths] or [Path.cwd().resolve()]
    root = find_project_root(targets[0])
    roots = [root]
    for target in targets:
        for other in (find_project_root(target), *(find_nested_projects(target) if target.is_dir() else ())):
            if other not in roots:
                roots.append(other)
    found: list[Diagnostic] = []
    texts: dict[str, str] = {}
    for project in roots:
        prefix = "" if project == root else Path(os.path.relpath(project, root)).as_posix() + "/"
        project_overrides = {p[len(prefix) :]: t for p, t in (overrides or {}).items() if p.startswith(prefix)}
        project_found, project_texts = _check_project(project, load_config(project), options, project_overrides or None)
        found.extend(_rebased(d, prefix) if prefix else d for d in project_found)
        texts.update({prefix + path: text for path, text in project_texts.items()})
    wanted = ["" if t == root else Path(os.path.relpath(t, root)).as_posix() for t in targets]
    selected = [d for d in found if _under(d.span.path, wanted)]
    config = load_config(root)
    fail_on = config.fail_on if options.fail_on == "config" else options.fail_on
    return CheckResult(root, tuple(sorted(set(selected), key=Diagnostic.sort_key)), texts, fail_on)  # type: ignore[arg-type]


def _check_project(
    root: Path, config: Config, options: CheckOptions, overrides: Mapping[str, str] | None
) -> tuple[list[Diagnostic], dict[str, str]]:
    """Findings of one project after selection and suppressions, and the texts checked."""
    selection = Selection.from_config(config, select=options.select, extend_select=options.extend_select, ignore=options.ignore)
    sources, unreadable = read_sources(root, config, overrides)
    candidates = candidate_modules(sources)
    texts = {source.path: source.text for source in sources.values()}
    raw = None
    if options.use_cache:  # the key hashes every candidate file: not worth it for an editor's re-check
        key = cache.cache_key(config, ((sources[m].path, sources[m].text) for m in candidates))
        directory = cache.cache_directory(root, options.cache_dir)
        raw = cache.load(directory, root, key)
    if raw is None:
        raw = run_rules(analyse_sources(root, config, sources, [], candidates), options.jobs or _available_cores())
        if options.use_cache:
            cache.store(directory, root, key, raw)
    kept = rule_selection.apply([*unreadable, *raw], selection)
    return apply_suppressions(kept, texts, selection), texts


@dataclass(frozen=True, slots=True)
class FixResult:
    changed: dict[str, tuple[str, str]]
    """Project-relative path -> (text before, text after), for files the fixes change."""
    fixed: int
    """How many findings the fixes removed."""
    result: CheckResult
    """The check of the fixed text (what remains)."""


def fix(paths: Sequence[Path], options: CheckOptions | None = None, *, unsafe: bool = False) -> FixResult:
    """Apply fixes in memory until none applies; nothing is written (see :func:`write_fixes`).

    Safe fixes only, unless ``unsafe``. Each round re-checks the changed text,
    so a fix is always computed against the code it edits.
    """
    options = replace(options or CheckOptions(), use_cache=False)
    overrides: dict[str, str] = {}
    result = check(paths, options)
    original = dict(result.texts)
    before = len(result.diagnostics)
    for _ in range(MAX_FIX_ROUNDS):
        round_changed = False
        by_path: dict[str, list[Diagnostic]] = {}
        for diagnostic in materialize(_fixable(result.diagnostics, unsafe), result.texts):
            if diagnostic.fix is not None:
                by_path.setdefault(diagnostic.span.path, []).append(diagnostic)
        for path, diagnostics in by_path.items():
            text = result.texts[path]
            new_text, applied = apply_fixes(text, [d.fix for d in diagnostics if d.fix is not None])
            if applied and new_text != text and _parses(new_text, path):
                overrides[path] = new_text
                round_changed = True
        if not round_changed:
            break
        result = check(paths, options, overrides=overrides)
    changed = {path: (original[path], text) for path, text in overrides.items() if original.get(path) != text}
    return FixResult(changed, max(before - len(result.diagnostics), 0), result)


def _parses(text: str, path: str) -> bool:
    """A last guard: a fix that would leave a file unparsable is not applied."""
    try:
        ast.parse(text, filename=path)
    except (SyntaxError, ValueError):
        return False
    return True


def _fixable(diagnostics: Sequence[Diagnostic], unsafe: bool) -> list[Diagnostic]:
    allowed = {Applicability.SAFE, Applicability.UNSAFE} if unsafe else {Applicability.SAFE}
    return [d for d in diagnostics if d.fix is not None and d.fix.applicability in allowed]


def write_fixes(root: Path, changed: Mapping[str, tuple[str, str]]) -> None:
    """Write fixed files, each atomically (an interrupted run leaves every file whole)."""
    for path, (_, text) in changed.items():
        target = root / path
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=target.parent, delete=False, suffix=".flashc-tmp", newline="") as handle:
            handle.write(text)
        os.chmod(handle.name, target.stat().st_mode & 0o7777)
        os.replace(handle.name, target)


def _rebased(diagnostic: Diagnostic, prefix: str) -> Diagnostic:
    """``diagnostic`` with paths made relative to an outer root by ``prefix``."""

    def moved(span: Span) -> Span:
        return Span(prefix + span.path, span.start, span.end)

    fix = diagnostic.fix
    if fix is not None:
        fix = replace(fix, edits=tuple(replace(e, span=moved(e.span)) for e in fix.edits))
    return replace(
        diagnostic,
        span=moved(diagnostic.span),
        notes=tuple(replace(n, span=moved(n.span)) if n.span else n for n in diagnostic.notes),
        fix=fix,
    )


def _under(path: str, prefixes: list[str]) -> bool:
    return any(not p or path == p or path.startswith(p.rstrip("/") + "/") for p in prefixes)


# --- build ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BuildOptions:
    ship_module: bool = False
    """``--ship module``: ship whole source modules (runpod-flash's way); scoping findings become warnings."""
    install_dependencies: bool = True
    exclude: tuple[str, ...] = ()
    """Packages not to install (on top of those the worker image provides)."""
    offline: bool = False
    wheelhouse: Path | None = None
    requirement_files: tuple[Path, ...] = ()
    """Requirement files (``requirements.txt``) every endpoint installs too, as runpod-flash does."""
    size_limit_mb: int = 1500
    check: CheckOptions = field(default_factory=CheckOptions)
    progress: Callable[[str], None] | None = None


@dataclass(frozen=True, slots=True)
class BuildResult:
    gate: CheckResult
    """The check the build ran first; the build stops on any error in it."""
    package: PackageResult | None = None
    """None when the gate stopped the build."""
    endpoints: tuple[str, ...] = ()
    skipped: tuple[tuple[str, str, str], ...] = ()
    """``(endpoint, package, reason)`` for requirements not installed (provided by the image, excluded)."""

    @property
    def failed(self) -> bool:
        return self.package is None


def build(path: Path, options: BuildOptions | None = None) -> BuildResult:
    """Check, then compile the project containing ``path`` into ``.flash/``.

    Nothing is written when the gate finds errors; a failure while writing
    leaves the previous ``.flash/`` as it was.
    """
    from . import package
    from .fingerprint import build_fingerprint

    options = options or BuildOptions()
    root = find_project_root(path.resolve())
    package.recover_output(root)  # what a killed build left must not count as up to date
    gate = check([root], replace(options.check, fail_on=Severity.ERROR))
    if options.ship_module:
        # Shipping whole modules brings module-level names along: scoping findings are advice.
        gate = replace(gate, diagnostics=tuple(
            replace(d, severity=Severity.WARNING) if d.code.startswith("FC1") and d.severity is Severity.ERROR else d
            for d in gate.diagnostics
        ))
    if gate.failed:
        return BuildResult(gate)
    config = load_config(root)
    shaping = (options.ship_module, options.install_dependencies, options.exclude, options.offline, options.wheelhouse, options.size_limit_mb)
    fingerprint = build_fingerprint(root, config, shaping, options.requirement_files)
    unchanged = package.unchanged_output(root, fingerprint)
    if unchanged is not None:
        built, details = unchanged
        if options.progress:
            options.progress(f"nothing changed since the last build: {package.OUTPUT}/ is up to date")
        return BuildResult(gate, built, tuple(details["endpoints"]), tuple(tuple(s) for s in details["skipped"]))  # type: ignore[misc]

    # The compiler's heavier parts (libcst, jinja2) load only when something is to be built.
    from . import dependencies, emit

    analysis = analyse(root, config)
    python_version = config.python_version or tables.DEFAULT_PYTHON_VERSION
    shared = tuple(r for file in options.requirement_files for r in dependencies.read_requirements(file))
    requirements: dict[str, tuple[str, ...]] = {}
    installed: dict[str, Path] = {}
    skipped: list[tuple[str, str, str]] = []
    for endpoint in sorted(analysis.model.endpoints, key=lambda e: e.name or ""):
        name = endpoint.name or ""
        plan = dependencies.plan(
            (*endpoint.dependencies, *shared, *dependencies.runtime_requirements(endpoint.dependencies, calls_endpoints=endpoint.makes_remote_calls)),
            compute=endpoint.compute.value,
            exclude=options.exclude,
        )
        requirements[name] = plan.install
        skipped.extend((name, package, reason) for package, reason in plan.skipped)
        if options.install_dependencies and plan.install:
            directory = dependencies.install(
                plan, python_version=python_version, offline=options.offline, wheelhouse=options.wheelhouse, progress=options.progress
            )
            if directory is not None:
                installed[f"{emit.package_directory(endpoint)}/_deps"] = directory
    tree = emit.emit(analysis, emit.EmitOptions(ship_module=options.ship_module, requirements=requirements))
    result = package.write_output(root, tree, installed=installed, size_limit_mb=options.size_limit_mb, progress=options.progress)
    endpoints = tuple(sorted(e.name or "" for e in analysis.model.endpoints))
    package.record_inputs(root, fingerprint, result, {"endpoints": endpoints, "skipped": skipped})
    return BuildResult(gate, result, endpoints, tuple(skipped))


# --- deploy: the local target (default), docker and runpod ---------------------------------------

TARGETS = ("local", "docker", "runpod")


@dataclass(frozen=True, slots=True)
class DeployOptions:
    env: str = "default"
    target: str = "local"
    build: bool = True
    """Rebuild first (cheap when nothing changed: the build is reproducible and its dependencies cached)."""
    dry_run: bool = False
    """``--plan``: compute and return the plan; change nothing."""
    host: str = "127.0.0.1"
    port: int = 0
    isolate: bool = True
    push: str | None = None
    """Docker target: push every endpoint's image to this registry."""
    build_options: BuildOptions = field(default_factory=BuildOptions)
    progress: Callable[[str], None] | None = None
    app: str | None = None
    """RunPod: the app (default: the recorded one, else the project's name)."""
    yes: bool = False
    """RunPod: delete endpoints removed from the code without asking."""
    confirm: Callable[[str], bool] | None = None
    """RunPod: asked before deleting; None (not interactive) means deletes need ``yes``."""


@dataclass(frozen=True, slots=True)
class DeployResult:
    plan: object
    """A :class:`flashc.deploy.plan.Plan`."""
    state: object | None = None
    """The recorded :class:`flashc.deploy.state.DeployState` (None for a dry run or a failed build)."""
    build: BuildResult | None = None


def _target(name: str):  # type: ignore[no-untyped-def]
    """The module of a deploy target (imported on demand: docker and runpod bring their own dependencies)."""
    if name not in TARGETS:
        raise FlashcError(f"unknown deploy target {name!r}; available: {', '.join(TARGETS)}")
    if name == "docker":
        from .deploy.docker import target as docker_target

        return docker_target
    if name == "runpod":
        from .deploy.runpod import target as runpod_target

        return runpod_target
    from .deploy.local import target as local_target

    return local_target


def _target_options(name: str, options: DeployOptions):  # type: ignore[no-untyped-def]
    """The target's own options, taken from the deploy's."""
    target = _target(name)
    if name == "docker":
        return target.DockerOptions(push=options.push, progress=options.progress)
    if name == "runpod":
        return target.RunPodOptions(app=options.app, yes=options.yes, confirm=options.confirm, progress=options.progress)
    return target.LocalOptions(host=options.host, port=options.port, isolate=options.isolate, progress=options.progress)


def _same_target(root: Path, env: str, target: str) -> None:
    """One environment name is one deployment: deploying it to a second target would lose the first."""
    recorded = _recorded_target(root, env)
    if recorded != target and (root / ".flash" / "deployments" / f"{env}.json").is_file():
        raise FlashcError(
            f"`{env}` is deployed to the {recorded} target; `flashc undeploy --env {env}` it first, or deploy to another --env"
        )


def _recorded_target(root: Path, env: str) -> str:
    """The target a recorded deployment of ``env`` went to (``local`` when none is recorded)."""
    from .deploy import state as states

    try:
        recorded = states.load(root, env)
    except states.StateError:
        return "local"
    return recorded.target if recorded is not None and recorded.target in TARGETS else "local"


def deploy(path: Path, options: DeployOptions | None = None) -> DeployResult:
    """Build (unless told not to), then bring the environment in line with the build.

    The environment's lock is held throughout (the build too): a second deploy or undeploy
    of it waits for this one (see :func:`flashc.deploy.state.locked`).
    """
    from .deploy import state as states

    options = options or DeployOptions()
    target = _target(options.target)
    target_options = _target_options(options.target, options)
    root = find_project_root(path.resolve())
    with states.locked(root, options.env, progress=options.progress):
        _same_target(root, options.env, options.target)
        if options.target == "docker":
            target.connect()  # no engine: say so before building
        built = None
        if options.build:
            # A dry run builds too: the plan compares what the sources compile to now.
            built = build(root, replace(options.build_options, progress=options.progress))
            if built.failed:
                return DeployResult(plan=None, build=built)
        if options.dry_run:
            # RunPod's plan needs its options (the app); the others plan from the build and the record.
            plan = target.plan(root, options.env, target_options) if options.target == "runpod" else target.plan(root, options.env)
            return DeployResult(plan=plan, build=built)
        plan, recorded = target.apply(root, options.env, target_options)
    return DeployResult(plan=plan, state=recorded, build=built)


def build_images(path: Path, options: BuildOptions | None = None, *, push: str | None = None) -> tuple[BuildResult, list[tuple[str, str, bool]]]:
    """``flashc build --image``: build, then one Docker image per endpoint (pushed to ``push``);
    returns the build and ``(endpoint, image reference, newly built)`` per endpoint."""
    from .deploy.docker import target as docker_target

    options = options or BuildOptions()
    built = build(path, options)
    if built.failed:
        return built, []
    root = find_project_root(path.resolve())
    return built, docker_target.build_images(root, docker_target.DockerOptions(push=push, progress=options.progress))


def undeploy(
    path: Path, env: str = "default", *, all_envs: bool = False, target: str | None = None, app: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[str]:
    """Stop what deployments started and forget them; returns the environments removed.

    ``target`` None: the target each environment's record names (local when none). The local
    target works when a recorded state is unreadable, and stops the supervisor of a deploy
    that was interrupted before it recorded one; docker removes the containers labelled as
    the environment's; RunPod deletes the environment's endpoints found on RunPod.
    """
    from . import package
    from .deploy import state as states

    root = find_project_root(path.resolve())
    package.recover_output(root)  # a build killed mid-swap may hold the deployments
    envs = states.environments(root) if all_envs else [env]
    removed = []
    for name in envs:
        chosen = target or _recorded_target(root, name)
        module = _target(chosen)
        if chosen == "runpod":
            done = module.destroy(root, name, module.RunPodOptions(app=app, progress=progress))
        else:
            done = module.destroy(root, name)
        if done:
            removed.append(name)
    return removed


def deployment_status(path: Path, env: str = "default") -> dict:
    root = find_project_root(path.resolve())
    return _target(_recorded_target(root, env)).status(root, env)


def log_path(path: Path, endpoint: str | None, env: str = "default") -> Path:
    root = find_project_root(path.resolve())
    chosen = _recorded_target(root, env)
    if chosen == "runpod":
        raise FlashcError(f"`{env}` runs on RunPod: its worker logs are in the RunPod console (`flashc logs` reads local and docker deployments)")
    return _target(chosen).log_file(root, env, endpoint)


def client_environment(path: Path, env: str = "default") -> dict[str, str]:
    """What ``flashc run`` puts in a script's environment: the compiled client first on the
    import path, each endpoint's URL and the deployment's token (RunPod: its API key)."""
    from .deploy import state as states

    root = find_project_root(path.resolve())
    deployed = states.load(root, env)
    client = root / ".flash" / "client"
    pythonpath = os.pathsep.join([str(client), str(root), *filter(None, [os.environ.get("PYTHONPATH")])])
    if deployed is not None and deployed.target == "runpod":
        return {"PYTHONPATH": pythonpath, "FLASHC_ENV": env, **_target("runpod").client_environment(root, env)}
    if deployed is None or not _target(_recorded_target(root, env)).is_running(deployed):
        raise FlashcError(f"nothing is running in `{env}`; `flashc deploy --env {env}` deploys the project first")
    variables = {
        "PYTHONPATH": pythonpath,
        "FLASHC_API_KEY": deployed.token,
        "FLASHC_ENV": env,
    }
    for name, url in deployed.endpoint_urls().items():
        variables["FLASHC_ENDPOINT_URL_" + "".join(c if c.isalnum() else "_" for c in name.upper())] = url
    return variables


# --- RunPod apps, environments, credentials --------------------------------------------------------


def runpod_login(api_key: str) -> Path:
    """Store the RunPod API key in ``~/.runpod/config.toml`` (mode 0600); returns the path."""
    from .deploy.runpod import credentials

    return credentials.login(api_key)


def runpod_project_root(path: Path | None) -> Path | None:
    """The project of ``path`` (its ``.env`` may hold the key), or None outside any project."""
    try:
        return find_project_root((path or Path.cwd()).resolve())
    except FlashcError:
        return None


def runpod_default_app(root: Path | None) -> str:
    """The app a project deploys to by default: its name (the manifest's ``project_name``)."""
    if root is None:
        raise FlashcError("name the app with --app (no project here to take its name from)")
    return load_config(root).app or root.name


def runpod_apps(path: Path | None = None) -> list[dict]:
    from .deploy.runpod import apps

    return apps.list_apps(runpod_project_root(path))


def runpod_app(name: str, path: Path | None = None) -> dict:
    from .deploy.runpod import apps

    return apps.get_app(runpod_project_root(path), name)


def runpod_delete_app(name: str, path: Path | None = None, progress: Callable[[str], None] | None = None) -> list[str]:
    from .deploy.runpod import apps

    return apps.delete_app(runpod_project_root(path), name, progress=progress)


def runpod_environments(app: str | None, path: Path | None = None) -> list[dict]:
    from .deploy.runpod import apps

    root = runpod_project_root(path)
    return apps.list_environments(root, app or runpod_default_app(root))


def runpod_create_environment(name: str, app: str | None, path: Path | None = None) -> dict:
    from .deploy.runpod import apps

    root = runpod_project_root(path)
    return apps.create_environment(root, app or runpod_default_app(root), name)


def runpod_environment(name: str, app: str | None, path: Path | None = None) -> dict:
    from .deploy.runpod import apps

    root = runpod_project_root(path)
    return apps.environment_info(root, app or runpod_default_app(root), name)


def runpod_delete_environment(
    name: str, app: str | None, path: Path | None = None, progress: Callable[[str], None] | None = None
) -> list[str]:
    from .deploy.runpod import apps

    root = runpod_project_root(path)
    return apps.delete_environment(root, app or runpod_default_app(root), name, progress=progress)
