"""Endpoint images: the Dockerfile, the build context, content-digest tags, building and pushing.

An endpoint's image is ``FROM`` its base image, with its system packages (apt), its Python
requirements (the ``_deps`` ``flashc build`` installed for the workers' platform: builds need
no network for them) and its handler package, started by ``python3 -m
flashc_runtime.worker.serve`` (see that module: the same HTTP API the local target serves).

The tag is a digest of everything the image is made of (the Dockerfile, the base image's id,
every file of the context), so an unchanged endpoint has an image already and is not rebuilt,
and a changed one gets a new tag. Images are built through the ``docker`` SDK (the engine's
classic builder); its output is reported line by line through ``progress``, and a failing step
is a :class:`~.engine.DockerError` naming the Dockerfile line and the last lines of its output.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tarfile
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ... import __version__, templates
from ...config import Config
from .engine import DockerError, base_image, engine_host, python_version

Progress = Callable[[str], None]

LABEL_PREFIX = "org.flashc."
SKIPPED = ("__pycache__", "_deps")
"""Names not copied with the handler package (``_deps`` goes in its own layer)."""
_REPOSITORY_CHARACTERS = re.compile(r"[^a-z0-9._-]+")
OUTPUT_LINES_IN_ERRORS = 15
_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
"""The builder colours a step's error output."""
_BUILDER_CHATTER = ("---> ", "Removing intermediate container")
"""The classic builder's lines about its own intermediate containers: not shown."""


@dataclass(frozen=True, slots=True)
class EndpointImage:
    """What the image of one endpoint is made of, and its content-digest reference."""

    endpoint: str
    kind: str
    """``queue`` or ``load-balanced``."""
    base: str
    """The base image reference, as configured."""
    base_id: str
    package: Path
    """The built handler package (``.flash/endpoints/<endpoint>``)."""
    dockerfile: str
    repository: str
    tag: str

    @property
    def reference(self) -> str:
        return f"{self.repository}:{self.tag}"

    @property
    def deps(self) -> Path | None:
        deps = self.package / "_deps"
        return deps if deps.is_dir() else None


def default_base_image(resource: Mapping[str, Any], python: str) -> str:
    """runpod-flash's worker image of the endpoint's kind (the manifest's ``imageName``)."""
    image = resource.get("imageName")
    if isinstance(image, str) and image:
        return image
    cpu = "Cpu" in str(resource.get("resource_type", ""))
    name = ("flash-lb" if resource.get("is_load_balanced") else "flash") + ("-cpu" if cpu else "")
    return f"runpod/{name}:py{python}-latest"


def base_image_for(config: Config, endpoint: str, resource: Mapping[str, Any], python: str) -> str:
    """``[tool.flashc.docker.endpoints.<name>] base-image``, else ``[tool.flashc.docker] base-image``,
    else the default of the endpoint's kind."""
    overrides = dict(config.docker_endpoint_base_images)
    return overrides.get(endpoint) or config.docker_base_image or default_base_image(resource, python)


def check_endpoint_overrides(config: Config, endpoints: list[str]) -> None:
    unknown = sorted(set(dict(config.docker_endpoint_base_images)) - set(endpoints))
    if unknown:
        raise DockerError(
            f"[tool.flashc.docker.endpoints.{unknown[0]}] names no endpoint of the project; endpoints: {', '.join(sorted(endpoints))}"
        )


def render_dockerfile(
    endpoint: str, kind: str, base: str, *, system_dependencies: list[str], has_dependencies: bool, labels: Mapping[str, str]
) -> str:
    return templates.render(
        "Dockerfile.j2",
        endpoint=endpoint,
        kind=kind,
        base_image=base,
        system_dependencies=system_dependencies,
        has_dependencies=has_dependencies,
        labels=[f"{key}={json.dumps(value)}" for key, value in sorted(labels.items())],
        flashc_version=__version__,
    )


def repository_name(app: str, endpoint: str) -> str:
    """``flashc/<app>-<endpoint>``, in the characters a repository name may have."""
    name = _REPOSITORY_CHARACTERS.sub("-", f"{app}-{endpoint}".lower()).strip("._-") or "endpoint"
    return f"flashc/{name}"


def describe(
    client: Any,
    *,
    app: str,
    endpoint: str,
    resource: Mapping[str, Any],
    flashc_entry: Mapping[str, Any],
    package: Path,
    base: str,
    python: str,
) -> EndpointImage:
    """The image ``endpoint`` needs: checks its base image (present, same Python as the build)."""
    image = base_image(client, base, endpoint)
    found = python_version(client, image)
    if found != python:
        raise DockerError(
            f"the base image {base!r} of endpoint `{endpoint}` has Python {found}, but the build targets Python {python} "
            f"(its dependencies are installed for it); set [tool.flashc] python-version = \"{found}\" "
            f"or choose a base image with Python {python}"
        )
    kind = "load-balanced" if resource.get("is_load_balanced") else "queue"
    has_dependencies = (package / "_deps").is_dir()
    labels = {f"{LABEL_PREFIX}app": app, f"{LABEL_PREFIX}endpoint": endpoint, f"{LABEL_PREFIX}kind": kind}
    dockerfile = render_dockerfile(
        endpoint, kind, base,
        system_dependencies=[str(s) for s in flashc_entry.get("system_dependencies", [])],
        has_dependencies=has_dependencies,
        labels=labels,
    )
    digest = hashlib.sha256()
    digest.update(dockerfile.encode())
    digest.update(b"\0" + image.id.encode() + b"\0")
    for relative, path in _context_files(package):
        digest.update(relative.encode() + b"\0")
        digest.update(_file_digest(path) + b"\0")
    return EndpointImage(endpoint, kind, base, image.id, package, dockerfile, repository_name(app, endpoint), digest.hexdigest()[:24])


def exists(client: Any, image: EndpointImage) -> bool:
    from docker.errors import ImageNotFound

    try:
        client.images.get(image.reference)
    except ImageNotFound:
        return False
    return True


def build(client: Any, image: EndpointImage, progress: Progress | None = None) -> bool:
    """Build ``image`` unless the engine has it already; True when it was built."""
    say = progress or (lambda message: None)
    if exists(client, image):
        say(f"image of `{image.endpoint}` is up to date: {image.reference}")
        return False
    say(f"building the image of `{image.endpoint}`: {image.reference} (from {image.base})")
    with tempfile.TemporaryFile() as context:
        _write_context(image, context)
        context.seek(0)
        stream = client.api.build(
            fileobj=context, custom_context=True, encoding="identity", tag=image.reference,
            rm=True, forcerm=True, pull=False, decode=True, network_mode="host",
        )
        _follow_build(stream, image, say)
    if not exists(client, image):
        raise DockerError(f"the engine at {engine_host()} built no image {image.reference} for `{image.endpoint}` (no error was reported)")
    return True


def _follow_build(stream: Iterator[dict[str, Any]], image: EndpointImage, say: Progress) -> None:
    step = ""
    recent: list[str] = []
    pending = ""  # the engine splits lines across chunks: only whole lines are shown

    def whole_lines(text: str) -> list[str]:
        nonlocal pending
        pending += text
        *lines, pending = pending.split("\n")
        return lines

    for chunk in stream:
        text = chunk.get("stream")
        error = chunk.get("error") or (chunk.get("errorDetail") or {}).get("message")
        lines = whole_lines(_ANSI_ESCAPE.sub("", text)) if isinstance(text, str) else []
        if error and pending:
            lines, pending = [*lines, pending], ""
        for line in lines:
            line = line.rstrip()
            if not line.strip() or line.lstrip().startswith(_BUILDER_CHATTER):
                continue
            if line.startswith("Step "):
                step = line
                recent = []
            else:
                recent = [*recent[-(OUTPUT_LINES_IN_ERRORS - 1):], line]
            say(f"  [{image.endpoint}] {line}")
        if error:
            where = f" at `{step.split(' : ', 1)[-1]}` ({step.split(' : ', 1)[0]})" if step else ""
            output = "".join(f"\n    {line}" for line in recent)
            raise DockerError(
                f"building the image of `{image.endpoint}` failed{where}: {str(error).strip()}"
                + (f"\n  last output of that step:{output}" if output else "")
            )


def push(client: Any, image: EndpointImage, registry: str, progress: Progress | None = None) -> str:
    """Tag ``image`` into ``registry`` (``host[:port][/namespace]``) and push it; returns the pushed reference."""
    say = progress or (lambda message: None)
    registry = registry.strip().rstrip("/")
    if not registry or "://" in registry:
        raise DockerError(f"--push takes a registry such as `registry.example.com/team` or `127.0.0.1:5000`, not {registry!r}")
    repository = f"{registry}/{image.repository.split('/', 1)[1]}"
    client.images.get(image.reference).tag(repository, image.tag)
    say(f"pushing {repository}:{image.tag}")
    try:
        stream = client.images.push(repository, tag=image.tag, stream=True, decode=True)
        for chunk in stream:
            error = chunk.get("error") or (chunk.get("errorDetail") or {}).get("message")
            if error:
                raise DockerError(f"pushing {repository}:{image.tag} failed: {str(error).strip()}")
    except DockerError:
        raise
    except Exception as error:  # noqa: BLE001 -- the SDK's own failures (unreachable registry, refused)
        raise DockerError(f"pushing {repository}:{image.tag} failed: {str(error).strip().splitlines()[0][:300]}") from None
    return f"{repository}:{image.tag}"


# --- the build context -------------------------------------------------------------------------


def _context_files(package: Path) -> Iterator[tuple[str, Path]]:
    """``(path in the context, file)``, sorted: the package as ``package/``, its ``_deps`` as ``deps/``."""
    for top, prefix, skip in ((package, "package", SKIPPED), (package / "_deps", "deps", ("__pycache__",))):
        if not top.is_dir():
            continue
        for directory, names, files in os.walk(top, followlinks=True):
            names[:] = sorted(n for n in names if not (Path(directory) == top and n in skip) and n != "__pycache__")
            relative = Path(directory).relative_to(top).as_posix()
            for name in sorted(files):
                yield (f"{prefix}/{name}" if relative == "." else f"{prefix}/{relative}/{name}"), Path(directory) / name


def _file_digest(path: Path) -> bytes:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    mode = b"x" if os.access(path, os.X_OK) else b"-"
    return digest.digest() + mode


def _write_context(image: EndpointImage, out: IO[bytes]) -> None:
    with tarfile.open(fileobj=out, mode="w", dereference=True) as tar:
        data = image.dockerfile.encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size, info.mode = len(data), 0o644
        tar.addfile(info, io.BytesIO(data))
        for relative, path in _context_files(image.package):
            entry = tar.gettarinfo(str(path), arcname=relative)
            entry.uid = entry.gid = 0
            entry.uname = entry.gname = "root"
            with path.open("rb") as handle:
                tar.addfile(entry, handle)
