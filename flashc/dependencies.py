"""Installing an endpoint's requirements for the worker: Linux x86_64, CPython 3.X, wheels only.

Two steps, so the first can be shown (and tested) without installing anything:

* :func:`plan` turns requirement strings into the set to install: duplicates merged,
  names the user excluded (``--exclude``) and packages the worker image already has
  left out, each with a reason for an information line.
* :func:`install` installs that set into a directory laid out like ``pip install
  --target`` for the worker platform, whatever platform flashc runs on, and caches the
  result: a rebuild with the same requirements reuses it without running an installer.

The installer is ``uv pip install`` when ``uv`` is on ``PATH``, else this interpreter's
``pip``. Both are asked for binary wheels only (the worker cannot build an sdist) with
the manylinux tags of a glibc 2.28 x86_64 system, which also accept manylinux2014 and
manylinux_2_17 wheels. pip's own configuration (``pip.conf``, ``PIP_*`` variables, such
as an index mirror) applies; uv reads its own (``UV_*``).

Known limits: pip evaluates the environment markers of *transitive* requirements against
the machine running flashc, not the worker (uv evaluates them for the worker); the
markers of the requirements given here are evaluated for the worker before either runs.
A cached result never changes by itself, so an unpinned requirement keeps the release
first installed until the cache entry is removed; pin versions for builds that follow
new releases deliberately.
"""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from flashc_runtime.sdk.tables import SUPPORTED_PYTHON_VERSIONS
from packaging.markers import Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from .errors import DependencyError
from .analysis import packages
from .model import Compute

GPU_IMAGE_PACKAGES: Mapping[str, str] = MappingProxyType(
    {name: "provided by the GPU worker image" for name in sorted(packages.GPU_IMAGE)}
)
"""What :func:`plan` leaves out for GPU endpoints by default: what the GPU worker image (a
PyTorch + CUDA base) provides, the same table rule FC401 uses. runpod-flash also leaves out
torchvision and torchaudio for their size, but the image does not have torchvision
(runpod-flash issue #353), so flashc installs them when declared (``--exclude`` leaves them out).
The CPU images provide none of these."""

PLATFORM = "manylinux_2_28_x86_64"
PIP_PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")
UV_PLATFORM = "x86_64-manylinux_2_28"
"""uv's name for the same target (its ``x86_64-unknown-linux-gnu`` means glibc 2.17 only,
which silently picks old releases of packages that publish manylinux_2_28 wheels alone)."""

INSTALL_TIMEOUT = 600
"""Seconds one installer run may take (runpod-flash's pip timeout)."""

_CACHE_FORMAT = 1
_DESCRIPTION = "Linux x86_64 manylinux_2_28, CPython {python}, binary wheels only"


@dataclass(frozen=True, slots=True)
class DependencyPlan:
    install: tuple[str, ...]
    """Requirement strings to install, one per distribution (and marker), sorted by name."""
    skipped: tuple[tuple[str, str], ...] = ()
    """``(requirement, reason)`` for each requirement left out, sorted."""
    left_out: tuple[str, ...] = ()
    """Canonical names never shipped: the user's excludes and the image's packages. They are
    removed from an install even when another requirement pulls them in."""


def plan(requirements: Iterable[str], *, compute: str | Compute, exclude: Collection[str] = ()) -> DependencyPlan:
    """What to install for an endpoint with ``requirements`` (PEP 508 strings).

    ``compute`` is ``"gpu"`` or ``"cpu"``; ``exclude`` holds distribution names the user
    leaves out. Requirements naming the same distribution (with the same marker and URL)
    are merged into one: specifiers intersected, extras united. An invalid requirement is
    a :class:`DependencyError`.
    """
    provided = GPU_IMAGE_PACKAGES if Compute(compute) is Compute.GPU else {}
    excluded = {canonicalize_name(name.strip()) for name in exclude if name.strip()}
    merged: dict[tuple[str, str, str], Requirement] = {}
    skipped: dict[str, str] = {}
    for text in requirements:
        try:
            requirement = Requirement(text)
        except InvalidRequirement as error:
            raise DependencyError(f"invalid requirement {text!r}: {error}") from None
        name = canonicalize_name(requirement.name)
        if name in excluded or name in provided:
            skipped[name] = "excluded (--exclude)" if name in excluded else provided[name]
            continue
        requirement.name = name
        key = (name, str(requirement.marker or ""), requirement.url or "")
        if key in merged:
            first = merged[key]
            first.specifier = SpecifierSet(str(first.specifier)) & requirement.specifier
            first.extras = first.extras | requirement.extras
        else:
            merged[key] = requirement
    install = tuple(sorted((str(requirement) for requirement in merged.values()), key=_sort_key))
    return DependencyPlan(
        install=install,
        skipped=tuple(sorted(skipped.items())),
        left_out=tuple(sorted(excluded | provided.keys())),
    )


def install(
    plan: DependencyPlan,
    *,
    python_version: str,
    cache_dir: Path | None = None,
    offline: bool = False,
    wheelhouse: Path | None = None,
    progress: Callable[[str], None] | None = None,
    installer: str | None = None,
) -> Path | None:
    """Install ``plan`` for the worker and return the directory holding the packages.

    Returns ``None`` when there is nothing to install (an empty plan, or only requirements
    whose markers exclude the worker): no installer is needed then, and the caller ships
    no dependency directory. The result lives in the cache (see :func:`default_cache_dir`)
    and must not be modified; it is keyed by the requirements, the platform, the Python
    version, the installer and the names left out, so the same plan reuses it.

    ``offline`` installs without any index (``--no-index``), from ``wheelhouse`` (a
    directory of wheels, given to the installer as ``--find-links``) or, for uv, its own
    cache. ``installer`` forces ``"pip"`` or ``"uv"``; by default uv is used when on PATH.
    """
    if python_version not in SUPPORTED_PYTHON_VERSIONS:
        raise DependencyError(
            f"worker Python {python_version!r} is not supported; use one of {', '.join(SUPPORTED_PYTHON_VERSIONS)}"
        )
    requirements = _for_worker(plan.install, python_version)
    if not requirements:
        return None
    kind = installer or ("uv" if find_uv() else "pip")
    if kind not in ("pip", "uv"):
        raise ValueError(f"installer must be 'pip' or 'uv', not {kind!r}")
    say = progress or (lambda message: None)
    described = _DESCRIPTION.format(python=python_version)

    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    key = _cache_key(requirements, python_version, kind, plan.left_out)
    entry = cache / key
    if (entry / "site").is_dir():
        say(f"reusing installed requirements ({len(requirements)}) from {entry}")
        return entry / "site"

    command = _command(kind, requirements, python_version, offline, wheelhouse)
    cache.mkdir(parents=True, exist_ok=True)
    _remove_stale(cache)
    staging = Path(tempfile.mkdtemp(prefix=f"{key}.tmp-", dir=cache))
    try:
        site = staging / "site"
        site.mkdir()
        say(f"installing {len(requirements)} requirement(s) for {described} with {kind}")
        started = time.monotonic()
        _run([*command, "--target", str(site), *requirements], kind, requirements, described)
        if kind == "uv":
            (site / ".lock").unlink(missing_ok=True)  # uv's lock on the target directory
        removed = _remove_distributions(site, plan.left_out)
        if removed:
            say(f"left out {', '.join(removed)} (pulled in by another requirement)")
        count = sum(1 for _ in site.glob("*.dist-info"))
        request = {"requirements": list(requirements), "python": python_version, "installer": kind,
                   "platform": PLATFORM, "left_out": list(plan.left_out)}
        (staging / "request.json").write_text(json.dumps(request, indent=2) + "\n", encoding="utf-8")
        try:
            os.rename(staging, entry)
        except OSError:
            if not (entry / "site").is_dir():  # not a concurrent build that finished first
                raise
        say(f"installed {count} distribution(s) in {time.monotonic() - started:.1f} s")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return entry / "site"


def default_cache_dir() -> Path:
    """``$FLASHC_DEPS_CACHE``, else ``$XDG_CACHE_HOME/flashc/deps``, else ``~/.cache/flashc/deps``."""
    if os.environ.get("FLASHC_DEPS_CACHE"):
        return Path(os.environ["FLASHC_DEPS_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "flashc" / "deps"


# --- helpers -------------------------------------------------------------------------------------


def _sort_key(requirement: str) -> tuple[str, str]:
    return canonicalize_name(Requirement(requirement).name), requirement


def _worker_environment(python_version: str) -> dict[str, str]:
    """Marker variables of the worker (PEP 508), for the requirements given to the installer."""
    return {
        "python_version": python_version,
        "python_full_version": f"{python_version}.0",
        "implementation_name": "cpython",
        "implementation_version": f"{python_version}.0",
        "platform_python_implementation": "CPython",
        "os_name": "posix",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "platform_machine": "x86_64",
        "platform_release": "",
        "platform_version": "",
    }


def _for_worker(requirements: Iterable[str], python_version: str) -> tuple[str, ...]:
    """The requirements whose markers hold on the worker, markers removed (pip would evaluate
    them against this machine)."""
    environment = _worker_environment(python_version)
    kept = []
    for text in requirements:
        requirement = Requirement(text)
        if requirement.marker is not None:
            if not Marker(str(requirement.marker)).evaluate(environment):
                continue
            requirement.marker = None
        kept.append(str(requirement))
    return tuple(sorted(set(kept), key=_sort_key))


def _cache_key(requirements: tuple[str, ...], python_version: str, kind: str, left_out: tuple[str, ...]) -> str:
    identity = [_CACHE_FORMAT, sorted(requirements), PLATFORM, python_version, kind, sorted(left_out)]
    return hashlib.sha256(json.dumps(identity).encode()).hexdigest()[:32]


def find_uv() -> str | None:
    """uv on PATH, else the one installed beside this Python (``pip install uv`` in flashc's venv)."""
    found = shutil.which("uv")
    if found:
        return found
    beside = Path(sys.executable).parent / ("uv.exe" if os.name == "nt" else "uv")
    return str(beside) if beside.is_file() else None


def _command(kind: str, requirements: tuple[str, ...], python_version: str, offline: bool,
             wheelhouse: Path | None) -> list[str]:
    """The installer command without ``--target DIR`` and the requirements."""
    sources = ["--no-index"] if offline else []
    if wheelhouse is not None:
        sources += ["--find-links", str(Path(wheelhouse).resolve())]
    if kind == "uv":
        uv = find_uv()
        if uv is None:
            raise DependencyError("uv was asked for as the installer but is neither on PATH nor installed next to flashc")
        return [uv, "pip", "install", "--python", sys.executable, "--python-platform", UV_PLATFORM,
                "--python-version", python_version, "--no-build", *(["--offline"] if offline else []), *sources]
    if importlib.util.find_spec("pip") is None:
        raise DependencyError(
            f"no installer: uv is not on PATH and pip is not installed for {sys.executable}; "
            "install one of them (for example `python -m ensurepip`)"
        )
    platforms = [argument for platform in PIP_PLATFORMS for argument in ("--platform", platform)]
    return [sys.executable, "-m", "pip", "install", "--python-version", python_version, *platforms,
            "--implementation", "cp", "--only-binary=:all:", "--no-compile", "--no-input",
            "--disable-pip-version-check", *sources]


def _run(command: list[str], kind: str, requirements: tuple[str, ...], described: str) -> None:
    environment = {**os.environ, "NO_COLOR": "1", "PYTHONIOENCODING": "utf-8"}
    try:
        result = subprocess.run(command, capture_output=True, text=True, errors="replace", check=False,
                                timeout=INSTALL_TIMEOUT, env=environment, stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise DependencyError(f"the installer {command[0]} could not be started") from None
    except subprocess.TimeoutExpired:
        raise DependencyError(
            f"{kind} did not finish installing {', '.join(requirements)} within {INSTALL_TIMEOUT} s"
        ) from None
    if result.returncode == 0:
        return
    output = f"{result.stdout}\n{result.stderr}"
    lines = _relevant_lines(output, kind)
    names = _failing_names(lines, requirements)
    what = ", ".join(names) if names else "the requirements (" + ", ".join(requirements) + ")"
    detail = "\n".join(f"  {line}" for line in lines)
    raise DependencyError(
        f"could not install {what} for the worker ({described}) with {kind}:\n{detail}\n"
        "The package may not exist, or publish no wheel for this platform and Python: check the "
        "name and version, pin a release with manylinux x86_64 wheels, or leave it out with --exclude."
    )


def _relevant_lines(output: str, kind: str, limit: int = 12) -> list[str]:
    """The installer's error lines, not its whole log."""
    lines = [line.rstrip() for line in output.splitlines() if line.strip()]
    if kind == "pip":
        picked = [line for line in lines if line.startswith("ERROR:")]
    else:
        start = next((i for i, line in enumerate(lines) if line.lstrip().startswith(("error:", "×"))), None)
        picked = lines[start:] if start is not None else []
    return (picked or lines[-limit:])[:limit]


_FAILING_PATTERNS = (
    re.compile(r"No matching distribution found for (\S+)"),
    re.compile(r"satisfies the requirement (\S+)"),
    re.compile(r"Because (\S+?)(?:[=<>!~]\S*)? (?:was not found|has no)"),
    re.compile(r"Wheels are required for `([^`]+)`"),
)


def _failing_names(lines: list[str], requirements: tuple[str, ...]) -> list[str]:
    """Distribution names the installer's error lines blame, canonical and in order."""
    found: list[str] = []
    for line in lines:
        for pattern in _FAILING_PATTERNS:
            for match in pattern.finditer(line):
                try:
                    name = canonicalize_name(Requirement(match.group(1)).name)
                except InvalidRequirement:
                    continue
                if name not in found:
                    found.append(name)
    if not found:
        text = "\n".join(lines).lower()
        found = [name for name in (canonicalize_name(Requirement(r).name) for r in requirements) if name in text]
    return found


def _distribution_name(info: Path) -> str:
    return canonicalize_name(info.name[: -len(".dist-info")].rsplit("-", 1)[0])


def _remove_distributions(site: Path, names: Collection[str]) -> list[str]:
    """Remove the installed distributions called ``names`` (files listed in their RECORD)."""
    removed = []
    for info in sorted(site.glob("*.dist-info")):
        name = _distribution_name(info)
        if name not in names:
            continue
        record = info / "RECORD"
        rows = list(csv.reader(record.read_text(encoding="utf-8").splitlines())) if record.is_file() else []
        for row in rows:
            if not row:
                continue
            path = Path(os.path.normpath(site / row[0]))
            if path.is_relative_to(site) and path != site and not path.is_dir():
                path.unlink(missing_ok=True)
                parent = path.parent
                while parent != site and parent.is_dir() and not any(parent.iterdir()):
                    parent.rmdir()
                    parent = parent.parent
        shutil.rmtree(info, ignore_errors=True)
        removed.append(name)
    return removed


def _remove_stale(cache: Path) -> None:
    """Staging directories of installs that were killed (older than two timeouts)."""
    limit = time.time() - 2 * INSTALL_TIMEOUT
    for path in cache.glob("*.tmp-*"):
        try:
            if path.stat().st_mtime < limit:
                shutil.rmtree(path, ignore_errors=True)
        except OSError:
            pass


def read_requirements(path: Path) -> tuple[str, ...]:
    """The requirements of a ``requirements.txt``: one per line, comments and blank lines skipped.

    pip options (``-r``, ``--index-url`` ...) are refused rather than half-understood.
    """
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise DependencyError(f"cannot read requirements file {path}: {error.strerror or error}") from None
    found = []
    for number, line in enumerate(lines, start=1):
        text = line.split(" #", 1)[0].strip()
        if not text or text.startswith("#"):
            continue
        if text.startswith("-"):
            raise DependencyError(f"{path}:{number}: pip options such as {text.split()[0]!r} are not supported; list requirements only")
        try:
            Requirement(text)
        except InvalidRequirement as error:
            raise DependencyError(f"{path}:{number}: {text!r} is not a valid requirement: {error}") from None
        found.append(text)
    return tuple(found)


CLIENT_TRANSPORT = "httpx>=0.27"
"""What the vendored runtime needs to call other endpoints (it imports it only then)."""


def runtime_requirements(declared: Iterable[str], *, calls_endpoints: bool) -> tuple[str, ...]:
    """Requirements the runtime adds: the HTTP client, for endpoints that call other endpoints."""
    if not calls_endpoints:
        return ()
    names = set()
    for text in declared:
        try:
            names.add(canonicalize_name(Requirement(text).name))
        except InvalidRequirement:
            continue
    return () if "httpx" in names else (CLIENT_TRANSPORT,)
