"""Security: nothing secret ships or is shown, artifacts unpack safely, the local target listens on
loopback and wants its token.

- A build run with secret-looking variables in its environment, in a project holding ``.env``
  files, ``.git/`` and credential files: no file of the artifact or of ``.flash/`` holds their
  names or values (after a deploy and a call too: logs, spec, workspace).
- :func:`flashc.package.extract_artifact` against hand-made malicious tarballs (tar-slip:
  absolute names, ``..``, links out, writes through links, devices, FIFOs, bombs).
- The deployment token and a ``RUNPOD_API_KEY`` never appear in the output of ``deploy``,
  ``status`` or ``logs``, in the supervisor's or workers' logs, or in error messages and
  ``--debug`` tracebacks.
- ``flashc deploy`` records a loopback URL, and the API refuses requests without the token.
"""

from __future__ import annotations

import io
import json
import os
import secrets
import stat
import tarfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from deploying import ENV, command_line, deploy, flashc, kill_all, make_project, processes_under, state, state_file
from typer.testing import CliRunner

from flashc import api, cli
from flashc.deploy import redaction
from flashc.deploy import state as states
from flashc.errors import FlashcError
from flashc.package import UnsafeArchiveError, extract_artifact


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "project"
    yield root
    left = processes_under(tmp_path)
    described = {pid: " ".join(command_line(pid)) for pid in left}
    kill_all(left)
    assert not left, f"processes left running: {described}"


def secret() -> str:
    return "s3cr3t-" + secrets.token_hex(16)


def every_file(directory: Path) -> Iterator[Path]:
    for path in sorted(directory.rglob("*")):
        if path.is_file() and not path.is_symlink():
            yield path


def holders(directory: Path, needles: dict[str, str]) -> list[tuple[str, str]]:
    """``(file, which secret)`` for every file below ``directory`` holding one of ``needles``."""
    found = []
    for path in every_file(directory):
        data = path.read_bytes()
        found += [(str(path.relative_to(directory)), name) for name, value in needles.items() if value.encode() in data]
    return found


# --- nothing secret ships ------------------------------------------------------------------------

LEAKY = '''\
from flashc import CpuInstanceType, Endpoint

MODE = "fast"

jobs = Endpoint(name="jobs", cpu=CpuInstanceType.CPU3C_1_2, env={"MODEL_SIZE": "declared-value-123"})


@jobs
def add(a: int, b: int = 2) -> int:
    print("computing", a, b)
    return a + b


@jobs
def credentials() -> bool:
    import os

    return bool(os.environ.get("AWS_SECRET_ACCESS_KEY"))
'''


def test_artifacts_and_the_output_hold_no_secrets(project: Path, tmp_path: Path) -> None:
    values = {name: secret() for name in ("AWS_SECRET_ACCESS_KEY", "RUNPOD_API_KEY", "GITHUB_TOKEN", "DATABASE_PASSWORD")}
    in_files = {name: secret() for name in ("dotenv", "dotenv_production", "git_config", "credentials", "netrc")}
    make_project(project, LEAKY)
    (project / ".env").write_text(f"API_KEY={in_files['dotenv']}\n")
    (project / ".env.production").write_text(f"API_KEY={in_files['dotenv_production']}\n")
    (project / ".git").mkdir()
    (project / ".git" / "config").write_text(f"[credential]\n\thelper = {in_files['git_config']}\n")
    (project / "credentials.json").write_text(json.dumps({"secret": in_files["credentials"]}))
    (project / ".netrc").write_text(f"machine example.com password {in_files['netrc']}\n")
    (project / "config").mkdir()
    (project / "config" / ".env").write_text(f"TOKEN={in_files['dotenv']}\n")

    built = flashc("build", "--no-deps", cwd=project, env=values)
    assert built.returncode == 0, built.stdout + built.stderr
    deploy(project, "--quiet", env=values)
    recorded = state(project)
    answer = httpx.post(
        f"{recorded['endpoints']['jobs']['url']}/runsync",
        json={"input": {"__function": "credentials"}},
        headers={"Authorization": f"Bearer {recorded['token']}"},
        timeout=60,
    ).json()
    assert answer["output"] is True  # the worker has the variable; nothing written has its value
    try:
        unpacked = tmp_path / "unpacked"
        files = extract_artifact(project / ".flash" / "artifact.tar.gz", unpacked)
        assert files > 0
        needles = {**values, **in_files}
        assert holders(unpacked, needles) == []
        assert holders(project / ".flash", needles) == []
        with tarfile.open(project / ".flash" / "artifact.tar.gz") as archive:
            names = archive.getnames()
        for name in names:
            parts = name.split("/")
            assert not any(part in (".git", ".env", ".netrc", "credentials.json") or part.startswith(".env.") for part in parts), name
        # The scan does find what was declared: the endpoint's own env ships.
        assert holders(unpacked, {"declared": "declared-value-123"})
    finally:
        flashc("undeploy", "--env", ENV, cwd=project)


# --- unpacking artifacts safely ------------------------------------------------------------------


def member(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"", link: str = "", mode: int = 0o644, size: int | None = None) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode = kind, link, mode
    info.size = len(data) if size is None else size
    if kind in (tarfile.CHRTYPE, tarfile.BLKTYPE):
        info.devmajor, info.devminor = 1, 3
    return info, data


def craft(path: Path, members: list[tuple[tarfile.TarInfo, bytes]], compressed: bool = True) -> Path:
    with tarfile.open(path, "w:gz" if compressed else "w", format=tarfile.GNU_FORMAT) as archive:
        for info, data in members:
            archive.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return path


MALICIOUS = {
    "absolute": ([member("/tmp/flashc-evil", data=b"x")], "absolute path"),
    "dot-dot": ([member("../evil", data=b"x")], "'..'"),
    "dot-dot-inside": ([member("a/b/../../../evil", data=b"x")], "'..'"),
    "dot-slash-dot-dot": ([member("./../evil", data=b"x")], "'..'"),
    "backslash": ([member("a\\..\\..\\evil", data=b"x")], "backslash"),
    "symlink-absolute": ([member("link", tarfile.SYMTYPE, link="/etc/passwd")], "leads outside"),
    "symlink-up": ([member("link", tarfile.SYMTYPE, link="../../outside")], "leads outside"),
    "symlink-up-nested": ([member("a/link", tarfile.SYMTYPE, link="../../x")], "leads outside"),
    "write-through-symlink": ([member("d", tarfile.SYMTYPE, link="."), member("d/file", data=b"x")], "not a directory"),
    "write-through-file": ([member("f", data=b"x"), member("f/file", data=b"x")], "not a directory"),
    "hardlink-absolute": ([member("h", tarfile.LNKTYPE, link="/etc/passwd")], "hard link"),
    "hardlink-up": ([member("h", tarfile.LNKTYPE, link="../outside")], "hard link"),
    "hardlink-forward": ([member("h", tarfile.LNKTYPE, link="later"), member("later", data=b"x")], "hard link"),
    "hardlink-to-symlink": ([member("s", tarfile.SYMTYPE, link="x"), member("h", tarfile.LNKTYPE, link="s")], "hard link"),
    "character-device": ([member("null", tarfile.CHRTYPE)], "device file"),
    "block-device": ([member("disk", tarfile.BLKTYPE)], "device file"),
    "fifo": ([member("pipe", tarfile.FIFOTYPE)], "FIFO"),
    "duplicate": ([member("a", data=b"1"), member("a", data=b"2")], "twice"),
    "file-then-symlink": ([member("a", data=b"1"), member("a", tarfile.SYMTYPE, link="/etc/passwd")], "twice"),
    "root-as-file": ([member("./", data=b"x")], "root"),
}


@pytest.mark.parametrize("case", sorted(MALICIOUS))
def test_a_malicious_archive_is_refused_and_leaves_nothing(tmp_path: Path, case: str) -> None:
    members, message = MALICIOUS[case]
    archive = craft(tmp_path / "evil.tar.gz", members)
    target = tmp_path / "out" / "unpacked"
    with pytest.raises(UnsafeArchiveError) as raised:
        extract_artifact(archive, target)
    assert message in str(raised.value) and str(archive) in str(raised.value)
    assert not target.exists() and sorted(p.name for p in (tmp_path / "out").iterdir()) == []
    assert not Path("/tmp/flashc-evil").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evil.tar.gz", "out"]


def test_size_and_entry_limits(tmp_path: Path) -> None:
    big = craft(tmp_path / "big.tar.gz", [member("a", data=b"x" * 600_000), member("b", data=b"y" * 600_000)])
    with pytest.raises(UnsafeArchiveError, match="more than 1000000 bytes"):
        extract_artifact(big, tmp_path / "big", max_bytes=1_000_000)
    assert extract_artifact(big, tmp_path / "fits", max_bytes=2_000_000) == 2
    # A header that claims more than the archive holds (a bomb's header) is refused before reading.
    claimed = craft(tmp_path / "claimed.tar", [member("small", data=b"x")], compressed=False)
    raw = bytearray(claimed.read_bytes())
    header = tarfile.TarInfo("huge")
    header.size = 10 * 1024**3
    raw[:512] = header.tobuf(format=tarfile.GNU_FORMAT)[:512]
    claimed.write_bytes(bytes(raw))
    with pytest.raises(UnsafeArchiveError, match="more than"):
        extract_artifact(claimed, tmp_path / "claimed")
    many = craft(tmp_path / "many.tar.gz", [member(f"f{n}", data=b"") for n in range(50)])
    with pytest.raises(UnsafeArchiveError, match="more than 20 entries"):
        extract_artifact(many, tmp_path / "many", max_members=20)
    assert not (tmp_path / "big").exists() and not (tmp_path / "claimed").exists() and not (tmp_path / "many").exists()


def test_not_an_archive_and_truncated_archives_are_refused(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.tar.gz"
    garbage.write_bytes(b"\x1f\x8b" + os.urandom(200))
    with pytest.raises(UnsafeArchiveError):
        extract_artifact(garbage, tmp_path / "garbage")
    good = craft(tmp_path / "good.tar.gz", [member("a", data=os.urandom(100_000))])
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(UnsafeArchiveError):
        extract_artifact(truncated, tmp_path / "truncated")
    assert not (tmp_path / "garbage").exists() and not (tmp_path / "truncated").exists()


def test_safe_entries_unpack_with_plain_modes(tmp_path: Path) -> None:
    archive = craft(
        tmp_path / "ok.tar.gz",
        [
            member("./", tarfile.DIRTYPE, mode=0o777),
            member("./bin/", tarfile.DIRTYPE, mode=0o777),
            member("./bin/tool", data=b"#!/bin/sh\n", mode=0o4755),  # setuid: dropped
            member("./data/deep/file.txt", data=b"hello", mode=0o666),
            member("./data/link", tarfile.SYMTYPE, link="deep/file.txt"),
            member("./data/deep/up", tarfile.SYMTYPE, link="../link"),
            member("./data/copy", tarfile.LNKTYPE, link="data/deep/file.txt"),
        ],
    )
    target = tmp_path / "existing-empty"
    target.mkdir()
    assert extract_artifact(archive, target) == 3
    assert (target / "bin" / "tool").stat().st_mode & 0o7777 == 0o755
    assert (target / "data" / "deep" / "file.txt").stat().st_mode & 0o7777 == 0o644
    assert (target / "data" / "link").read_text() == "hello" and (target / "data" / "copy").read_text() == "hello"
    assert os.readlink(target / "data" / "deep" / "up") == "../link"
    assert stat.S_IMODE(target.stat().st_mode) == 0o755
    with pytest.raises(FlashcError, match="not an empty directory"):
        extract_artifact(archive, target)


def test_a_built_artifact_unpacks_to_the_files_of_the_build(tmp_path: Path) -> None:
    root = make_project(tmp_path / "project", LEAKY)
    result = api.build(root, api.BuildOptions(install_dependencies=False))
    assert result.package is not None
    unpacked = tmp_path / "unpacked"
    assert extract_artifact(result.package.artifact, unpacked) == result.package.files
    for path in every_file(unpacked):
        relative = path.relative_to(unpacked)
        assert path.read_bytes() == (root / ".flash" / relative).read_bytes(), relative


# --- redaction -----------------------------------------------------------------------------------

CHATTY = '''\
from flashc import CpuInstanceType, Endpoint

jobs = Endpoint(name="jobs", cpu=CpuInstanceType.CPU3C_1_2)


@jobs
def chatty(a: int) -> int:
    import os

    print("token:", os.environ["FLASHC_API_KEY"], "key:", os.environ["RUNPOD_API_KEY"])
    print("header: Authorization: Bearer " + os.environ["FLASHC_API_KEY"])
    return a


@jobs
def leaky(a: int) -> int:
    import os

    raise RuntimeError("the key is " + os.environ["RUNPOD_API_KEY"])
'''


def test_tokens_and_api_keys_are_redacted_from_outputs_and_logs(project: Path) -> None:
    runpod_key = "rpa_" + secrets.token_hex(20)
    make_project(project, CHATTY)
    variables = {"RUNPOD_API_KEY": runpod_key}
    outputs = [deploy(project, env=variables)]
    recorded = state(project)
    token = recorded["token"]
    try:
        url = recorded["endpoints"]["jobs"]["url"]
        auth = {"Authorization": f"Bearer {token}"}
        assert httpx.post(f"{url}/runsync", json={"input": {"__function": "chatty", "a": 1}}, headers=auth, timeout=60).json()["output"] == 1
        failed = httpx.post(f"{url}/runsync", json={"input": {"__function": "leaky", "a": 1}}, headers=auth, timeout=60).json()
        assert failed["status"] == "FAILED"
        outputs.append(deploy(project, env=variables))  # a redeploy: "nothing to change"
        outputs += [flashc("status", "--env", ENV, *extra, cwd=project, env=variables) for extra in ((), ("--format", "json"))]
        outputs += [flashc("logs", *which, "--env", ENV, cwd=project, env=variables) for which in ((), ("jobs",))]
        for result in outputs:
            assert result.returncode == 0, result.stderr
            assert token not in result.stdout + result.stderr and runpod_key not in result.stdout + result.stderr
        logs = project / ".flash" / "deployments" / ENV / "logs"
        jobs_log = (logs / "jobs.log").read_text()
        assert "token: *** key: ***" in jobs_log and "Bearer ***" in jobs_log, jobs_log
        for path in every_file(logs):
            text = path.read_text(errors="replace")
            assert token not in text and runpod_key not in text, path
        # Only the files meant to hold it do: the state and the supervisor's spec, owner-only.
        assert sorted(name for name, _ in holders(project / ".flash", {"token": token})) == [f"deployments/{ENV}.json", f"deployments/{ENV}/spec.json"]
        assert holders(project / ".flash", {"key": runpod_key}) == []
    finally:
        flashc("undeploy", "--env", ENV, cwd=project)


def _failing(message_of):  # type: ignore[no-untyped-def]
    def status(path: Path, env: str = "default") -> dict:
        deployed = states.load(path, env)  # reading a state registers its token
        raise message_of(deployed.token)

    return status


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("kind", ["flashc-error", "internal-error"])
def test_error_messages_and_debug_tracebacks_are_redacted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, debug: bool, kind: str) -> None:
    runpod_key = "rpa_" + secrets.token_hex(20)
    token = secrets.token_urlsafe(32)
    monkeypatch.setenv("RUNPOD_API_KEY", runpod_key)
    root = make_project(tmp_path / "project")
    states.save(root, states.DeployState(env=ENV, target="local", url="http://127.0.0.1:9", token=token, pid=0))
    error = FlashcError if kind == "flashc-error" else RuntimeError
    monkeypatch.setattr(
        api, "deployment_status", _failing(lambda t: error(f"could not reach it with {t}; Authorization: Bearer {t}; key {runpod_key}"))
    )
    arguments = [*(["--debug"] if debug else []), "status", str(root), "--env", ENV]
    result = CliRunner().invoke(cli.app, arguments)
    output = result.output + (result.stderr if result.stderr_bytes is not None else "")
    assert result.exit_code == 2, output
    assert token not in output and runpod_key not in output, output
    assert "could not reach it with ***; Authorization: Bearer ***; key ***" in output
    assert ("Traceback (most recent call last)" in output) is debug


def test_the_redactor() -> None:
    redaction.register("short")  # too short to redact safely
    redaction.register("registered-secret-value")
    environ = {"HF_TOKEN": "hf_abcdefghijkl", "PATH": "/usr/bin:/bin/not-a-secret", "DEBUG_TOKEN": "1", "DB_PASSWORD": "hunter2hunter2"}
    assert redaction.environment_secrets(environ) == {"hf_abcdefghijkl", "hunter2hunter2"}
    text = "registered-secret-value short hf_abcdefghijkl hunter2hunter2 /usr/bin Bearer abc.DEF-123_x"
    assert redaction.redact(text, redaction.environment_secrets(environ)) == "*** short *** *** /usr/bin Bearer ***"
    assert redaction.Redactor(["abcdefgh", "abcdefghij"])("abcdefghij") == "***"
    repr_of_state = repr(states.DeployState(env="e", target="local", url="u", token="registered-secret-value", pid=1))
    assert "registered-secret-value" not in repr_of_state


# --- loopback and the token ----------------------------------------------------------------------


def listening_addresses(port: int) -> set[str]:
    """The local addresses of sockets listening on ``port`` (from /proc/net/tcp{,6})."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            address, hex_port = fields[1].rsplit(":", 1)
            if int(hex_port, 16) == port and fields[3] == "0A":  # LISTEN
                found.add(address)
    return found


def test_the_local_target_listens_on_loopback_and_wants_its_token(project: Path) -> None:
    make_project(project)
    deployed = deploy(project)
    recorded = state(project)
    try:
        assert recorded["url"].startswith("http://127.0.0.1:")
        port = int(recorded["url"].rsplit(":", 1)[1])
        assert listening_addresses(port) == {"0100007F"}  # 127.0.0.1, nothing else
        spec = project / ".flash" / "deployments" / ENV / "spec.json"
        assert json.loads(spec.read_text())["host"] == "127.0.0.1"
        for path in (state_file(project), spec):
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        assert recorded["token"] not in deployed.stdout + deployed.stderr
        health = f"{recorded['endpoints']['jobs']['url']}/health"
        assert httpx.get(health, timeout=30).status_code == 401
        assert httpx.get(health, headers={"Authorization": "Bearer not-the-token"}, timeout=30).status_code == 401
        assert httpx.get(f"{recorded['url']}/admin/status", timeout=30).status_code == 401
        assert httpx.get(health, headers={"Authorization": f"Bearer {recorded['token']}"}, timeout=30).status_code == 200
    finally:
        flashc("undeploy", "--env", ENV, cwd=project)
