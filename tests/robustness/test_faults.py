"""Faults: `flashc build`, `deploy` and `undeploy` killed (SIGINT, SIGKILL) at named points, state
files corrupted by hand, two deploys of one environment at once, the supervisor killed.

Each test deploys a small project for real (``--no-isolate``: no package index; loopback only),
pauses a command at a point with ``FLASHC_TEST_PAUSE_AT`` (``flashc/testhooks.py``), kills it
there, then checks that what is recorded matches what runs and that the next command recovers.
Every command has a timeout, and each test ends with nothing of its own left running (/proc).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from deploying import (
    ENV,
    FLASHC,
    Paused,
    answers,
    assert_consistent,
    command_line,
    deploy,
    environment,
    flashc,
    kill_all,
    leftovers,
    make_project,
    processes_under,
    state,
    state_file,
    supervisors,
    wait_for,
    workers,
)

from flashc.deploy import state as states
from flashc.deploy.local import target
from flashc.deploy.state import DeployedEndpoint, DeployState

DEPLOY_POINTS = ("after-env", "before-supervisor", "after-supervisor", "before-state")
SIGNALS = (pytest.param(signal.SIGINT, id="SIGINT"), pytest.param(signal.SIGKILL, id="SIGKILL"))


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    root = make_project(tmp_path / "project")
    yield root
    left = processes_under(tmp_path)
    described = {pid: " ".join(command_line(pid)) for pid in left}
    kill_all(left)
    assert not left, f"processes left running: {described}"


def output_snapshot(root: Path) -> dict[str, str]:
    """Every file of ``.flash/`` but the deployments, by content."""
    output = root / ".flash"
    return {
        path.relative_to(output).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(output.rglob("*"))
        if path.is_file() and path.relative_to(output).parts[0] != "deployments"
    }


def change_source(root: Path) -> None:
    work = root / "work.py"
    work.write_text(work.read_text().replace("return a + b", "return b + a"), encoding="utf-8")


def open_logs(pid: int) -> list[str]:
    """The log files the process ``pid`` writes to (``(deleted)`` when they were removed under it)."""
    found = []
    for descriptor in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(descriptor)
        except OSError:
            continue
        if ".log" in target or ".out" in target:
            found.append(target)
    return found


def undeploy_and_check(root: Path) -> None:
    result = flashc("undeploy", "--env", ENV, cwd=root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert not state_file(root).exists() and not (root / ".flash/deployments" / ENV).exists()
    assert supervisors(root) == [] and wait_for(lambda: workers(root) == [], 10, "the workers to be gone") is True


# --- build ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("sig", SIGNALS)
@pytest.mark.parametrize("point", ["before-swap", "mid-swap"])
def test_an_interrupted_build_leaves_the_previous_output_and_the_running_deployment(project: Path, point: str, sig: int) -> None:
    deploy(project, "--quiet")
    recorded = state(project)
    before = output_snapshot(project)
    change_source(project)

    paused = Paused(project, point, "build", "--no-deps")
    assert paused.kill(sig) != 0

    # The next command repairs what a kill between the renames left (here: status).
    status = flashc("status", "--env", ENV, cwd=project)
    assert status.returncode == 0 and f"{ENV}: running" in status.stdout, status.stdout + status.stderr
    assert output_snapshot(project) == before
    assert leftovers(project) == [] or sig == signal.SIGKILL
    assert state(project) == recorded
    assert_consistent(project)
    unchanged = flashc("deploy", "--no-isolate", "--no-build", "--env", ENV, cwd=project)
    assert "nothing to change" in unchanged.stdout, unchanged.stdout + unchanged.stderr

    rebuilt = flashc("build", "--no-deps", "--quiet", cwd=project)
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    assert leftovers(project) == []
    assert output_snapshot(project) != before
    # The running supervisor kept its workspace: its logs are the files `flashc logs` reads.
    assert state(project) == recorded and supervisors(project) == [recorded["pid"]]
    logs = open_logs(recorded["pid"])
    assert logs and not any("(deleted)" in target for target in logs), logs
    assert all(target.startswith(str(project / ".flash/deployments" / ENV)) for target in logs), logs
    undeploy_and_check(project)


def dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_a_rebuild_moves_the_deployments_and_recovery_finds_stranded_ones(tmp_path: Path) -> None:
    from flashc import api, package

    root = make_project(tmp_path / "project")
    assert api.build(root, api.BuildOptions(install_dependencies=False)).package is not None
    log = root / ".flash" / "deployments" / ENV / "logs" / "supervisor.log"
    log.parent.mkdir(parents=True)
    with log.open("a") as open_log:  # a running supervisor's log
        inode = log.stat().st_ino
        assert api.build(root, api.BuildOptions(install_dependencies=False)).package is not None
        open_log.write("still here\n")
    assert log.stat().st_ino == inode and log.read_text() == "still here\n"
    # Killed after both renames, before the deployments moved: the next command moves them.
    stranded = root / f".flash.old-{dead_pid()}-abc"
    stranded.mkdir()
    os.rename(root / ".flash" / "deployments", stranded / "deployments")
    package.recover_output(root)
    assert log.stat().st_ino == inode and leftovers(root) == []


# --- deploy --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sig", "recovery"),
    [
        pytest.param(signal.SIGINT, "deploy", id="SIGINT-deploy"),
        pytest.param(signal.SIGKILL, "deploy", id="SIGKILL-deploy"),
        pytest.param(signal.SIGKILL, "undeploy", id="SIGKILL-undeploy"),
    ],
)
@pytest.mark.parametrize("point", DEPLOY_POINTS)
def test_an_interrupted_first_deploy_is_recovered(project: Path, point: str, sig: int, recovery: str) -> None:
    paused = Paused(project, point, "deploy", "--no-isolate", "--env", ENV)
    assert paused.kill(sig) != 0
    assert state(project) is None  # nothing was recorded...
    running = supervisors(project)
    if sig == signal.SIGINT or point in ("after-env", "before-supervisor"):
        assert running == [], running  # ... and nothing runs unrecorded: an interrupt stops what it started
    else:
        # SIGKILL after the supervisor started: it runs, unrecorded, and status says so.
        assert len(running) <= 1
        wait_for(lambda: supervisors(project), 20, "the orphaned supervisor")
        status = flashc("status", "--env", ENV, cwd=project)
        assert status.returncode == 2 and "interrupted deploy" in status.stderr and "flashc undeploy --env faults" in status.stderr, status.stderr

    if recovery == "deploy":
        again = flashc("deploy", "--no-isolate", "--env", ENV, cwd=project)
        assert again.returncode == 0, again.stdout + again.stderr
        recorded = state(project)
        assert recorded is not None and supervisors(project) == [recorded["pid"]]
        assert answers(recorded)
        assert_consistent(project)
    undeploy_and_check(project)


@pytest.mark.parametrize(
    ("point", "sig"),
    [*((point, signal.SIGKILL) for point in DEPLOY_POINTS), ("after-supervisor", signal.SIGINT)],
    ids=[*(f"{point}-SIGKILL" for point in DEPLOY_POINTS), "after-supervisor-SIGINT"],
)
def test_an_interrupted_redeploy_keeps_the_recorded_deployment(project: Path, point: str, sig: int) -> None:
    deploy(project, "--quiet")
    recorded = state(project)
    change_source(project)
    paused = Paused(project, point, "deploy", "--no-isolate", "--env", ENV)
    assert paused.kill(sig) != 0
    # The supervisor was asked to reload at most: the recorded one runs, nothing else.
    assert state(project) == recorded
    assert supervisors(project) == [recorded["pid"]]
    assert answers(recorded)

    again = flashc("deploy", "--no-isolate", "--env", ENV, cwd=project)
    assert again.returncode == 0, again.stdout + again.stderr
    redeployed = state(project)
    assert redeployed["pid"] == recorded["pid"] and redeployed["token"] == recorded["token"]
    assert redeployed["endpoints"]["jobs"]["digest"] != recorded["endpoints"]["jobs"]["digest"]
    assert_consistent(project)
    undeploy_and_check(project)


def test_an_orphan_beside_the_state_of_a_crashed_supervisor_is_replaced(project: Path) -> None:
    deploy(project, "--quiet")
    crashed = state(project)
    os.kill(crashed["pid"], signal.SIGKILL)
    wait_for(lambda: supervisors(project) == [] and workers(project) == [], 10, "the supervisor and its workers to be gone")
    paused = Paused(project, "before-state", "deploy", "--no-isolate", "--env", ENV)
    paused.kill(signal.SIGKILL)
    orphan = wait_for(lambda: supervisors(project), 20, "the orphaned supervisor")
    assert state(project)["pid"] == crashed["pid"] and crashed["pid"] not in orphan

    again = flashc("deploy", "--no-isolate", "--env", ENV, cwd=project)
    assert again.returncode == 0, again.stdout + again.stderr
    recorded = state(project)
    assert supervisors(project) == [recorded["pid"]] and recorded["pid"] not in orphan
    assert_consistent(project)
    undeploy_and_check(project)


# --- undeploy ------------------------------------------------------------------------------------


@pytest.mark.parametrize("sig", SIGNALS)
def test_an_interrupted_undeploy_is_finished_by_the_next(project: Path, sig: int) -> None:
    deploy(project, "--quiet")
    paused = Paused(project, "after-stop", "undeploy", "--env", ENV)
    paused.kill(sig)
    assert supervisors(project) == [] and workers(project) == []
    assert_consistent(project)  # the state is still there, and says: not running
    undeploy_and_check(project)


# --- state files ---------------------------------------------------------------------------------


def _edit(change):  # type: ignore[no-untyped-def]
    def edit(text: str) -> str:
        document = json.loads(text)
        change(document)
        return json.dumps(document)

    return edit


CORRUPTIONS = {
    "not-json": (lambda text: text[: len(text) // 2], "unreadable deployment state"),
    "empty": (lambda text: "", "unreadable deployment state"),
    "binary": (lambda text: "\udcff\x00garbage", "unreadable deployment state"),
    "a-list": (lambda text: "[1, 2]", "must be a JSON object"),
    "schema-2": (_edit(lambda d: d.update(schema_version=2)), "schema 2"),
    "no-schema": (_edit(lambda d: d.pop("schema_version")), "schema None"),
    "no-token": (_edit(lambda d: d.pop("token")), "'token' is missing"),
    "pid-as-text": (_edit(lambda d: d.update(pid=str(d["pid"]))), "'pid' must be an integer"),
    "url-as-number": (_edit(lambda d: d.update(url=8080)), "'url' must be a string"),
    "endpoints-as-list": (_edit(lambda d: d.update(endpoints=[])), "'endpoints' must be an object"),
    "endpoint-without-digest": (_edit(lambda d: d["endpoints"]["jobs"].pop("digest")), "endpoint 'jobs': field 'digest' is missing"),
    "other-environment": (_edit(lambda d: d.update(env="prod")), "environment 'prod'"),
}


@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
def test_every_corrupted_state_is_a_state_error_naming_the_file_and_the_way_out(tmp_path: Path, corruption: str) -> None:
    root = make_project(tmp_path / "project")
    path = state_file(root)
    path.parent.mkdir(parents=True)
    good = DeployState(
        env=ENV, target="local", url="http://127.0.0.1:9", token="t" * 43, pid=0,
        endpoints={"jobs": DeployedEndpoint("jobs", "queue", "d" * 64, "http://127.0.0.1:9/v2/jobs", "/nowhere", "python")},
    )
    states.save(root, good)
    assert states.load(root, ENV) == good
    change, message = CORRUPTIONS[corruption]
    path.write_bytes(change(path.read_text()).encode("utf-8", errors="surrogateescape"))
    with pytest.raises(states.StateError) as raised:
        states.load(root, ENV)
    text = str(raised.value)
    assert text.startswith(f"{path}: ") and message in text and text.endswith("`flashc undeploy --env faults` stops what it started and removes it")
    assert "t" * 43 not in text
    assert target.destroy(root, ENV) is True
    assert not path.exists() and states.environments(root) == []


@pytest.mark.parametrize("corruption", ["not-json", "schema-2", "pid-as-text", "endpoints-as-list"])
def test_a_corrupted_state_stops_every_command_but_undeploy_which_cleans_up(project: Path, corruption: str) -> None:
    deploy(project, "--quiet")
    recorded = state(project)
    running = workers(project)
    assert running
    change, message = CORRUPTIONS[corruption]
    path = state_file(project)
    path.write_bytes(change(path.read_text()).encode("utf-8", errors="surrogateescape"))

    for command in (["status"], ["deploy", "--no-isolate"], ["run", "main.py"], ["logs"]):
        result = flashc(*command, "--env", ENV, cwd=project)
        assert result.returncode == 2, (command, result.stdout, result.stderr)
        assert str(path) in result.stderr and message in result.stderr, (command, result.stderr)
        assert "`flashc undeploy --env faults`" in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert supervisors(project) == [recorded["pid"]]  # nothing was touched

    undeployed = flashc("undeploy", "--env", ENV, cwd=project)
    assert undeployed.returncode == 0 and "Undeployed faults." in undeployed.stdout, undeployed.stdout + undeployed.stderr
    assert not path.exists() and not (project / ".flash/deployments" / ENV).exists()
    assert supervisors(project) == []
    wait_for(lambda: not any(Path(f"/proc/{pid}").exists() for pid in running), 10, "the workers to be gone")


def test_unknown_fields_in_a_state_are_ignored(project: Path) -> None:
    deploy(project, "--quiet")
    path = state_file(project)
    path.write_text(_edit(lambda d: d.update(note="deployed for the demo"))(path.read_text()))
    status = flashc("status", "--env", ENV, cwd=project)
    assert status.returncode == 0 and f"{ENV}: running" in status.stdout, status.stderr
    undeploy_and_check(project)


# --- two deploys at once -------------------------------------------------------------------------


def test_a_second_deploy_of_the_environment_waits_for_the_first(project: Path, tmp_path: Path) -> None:
    first = Paused(project, "before-supervisor", "deploy", "--no-isolate", "--env", ENV, name="first")
    second_output = tmp_path / "second.out"
    with second_output.open("wb") as out:
        second = subprocess.Popen(
            [*FLASHC, "deploy", "--no-isolate", "--env", ENV], cwd=project, env=environment(), stdout=out, stderr=subprocess.STDOUT
        )
    try:
        wait_for(lambda: "waiting for another flashc" in second_output.read_text(), 60, "the second deploy to say it waits")
        text = second_output.read_text()
        assert f"(pid {first.process.pid})" in text and f"{ENV}.lock" in text, text
        time.sleep(0.5)
        assert second.poll() is None and state(project) is None and supervisors(project) == []
        first.resume()
        assert first.wait() == 0, first.text()
        assert second.wait(timeout=120) == 0, second_output.read_text()
    finally:
        first.stop()
        if second.poll() is None:
            second.kill()
            second.wait(timeout=30)
    assert "nothing to change" in second_output.read_text()
    recorded = state(project)
    assert supervisors(project) == [recorded["pid"]]
    assert_consistent(project)
    undeploy_and_check(project)


def test_a_deploy_gives_up_after_the_lock_timeout(project: Path) -> None:
    first = Paused(project, "after-env", "deploy", "--no-isolate", "--env", ENV, name="first")
    try:
        started = time.monotonic()
        second = flashc("deploy", "--no-isolate", "--env", ENV, cwd=project, env={"FLASHC_LOCK_TIMEOUT": "1"})
        assert time.monotonic() - started < 60
        assert second.returncode == 2, second.stdout + second.stderr
        assert f"(pid {first.process.pid})" in second.stderr and "FLASHC_LOCK_TIMEOUT" in second.stderr, second.stderr
        undeploy = flashc("undeploy", "--env", ENV, cwd=project, env={"FLASHC_LOCK_TIMEOUT": "0"})
        assert undeploy.returncode == 2 and "still holds" in undeploy.stderr, undeploy.stderr
        first.resume()
        assert first.wait() == 0, first.text()
    finally:
        first.stop()
    assert_consistent(project)
    undeploy_and_check(project)


def test_two_deploys_started_together_leave_one_supervisor(project: Path, tmp_path: Path) -> None:
    outputs = [tmp_path / f"deploy-{n}.out" for n in range(2)]
    processes = []
    for output in outputs:
        with output.open("wb") as out:
            processes.append(
                subprocess.Popen([*FLASHC, "deploy", "--no-isolate", "--env", ENV], cwd=project, env=environment(), stdout=out, stderr=subprocess.STDOUT)
            )
    try:
        codes = [process.wait(timeout=120) for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=30)
    assert codes == [0, 0], [output.read_text() for output in outputs]
    recorded = state(project)
    assert supervisors(project) == [recorded["pid"]]
    assert_consistent(project)
    undeploy_and_check(project)


# --- the supervisor dies -------------------------------------------------------------------------


def test_a_killed_supervisor_takes_its_workers_and_a_redeploy_starts_fresh(project: Path) -> None:
    deploy(project, "--quiet")
    crashed = state(project)
    running = wait_for(lambda: len(workers(project)) >= 2 and workers(project), 20, "two warm workers")

    os.kill(crashed["pid"], signal.SIGKILL)
    wait_for(lambda: not any(Path(f"/proc/{pid}").exists() for pid in running), 10, f"workers {running} to die with their supervisor")
    assert processes_under(project) == []
    status = flashc("status", "--env", ENV, cwd=project)
    assert status.returncode == 0 and "NOT RUNNING" in status.stdout, status.stdout + status.stderr
    ran = flashc("run", "main.py", "--env", ENV, cwd=project)
    assert ran.returncode == 2 and "nothing is running" in ran.stderr

    again = flashc("deploy", "--no-isolate", "--env", ENV, cwd=project)
    assert again.returncode == 0 and "+ create  jobs  (not running)" in again.stdout, again.stdout + again.stderr
    fresh = state(project)
    assert fresh["pid"] != crashed["pid"] and supervisors(project) == [fresh["pid"]]
    assert answers(fresh)

    os.kill(fresh["pid"], signal.SIGKILL)
    wait_for(lambda: workers(project) == [], 10, "the workers to die with their supervisor")
    undeploy_and_check(project)
    assert processes_under(project) == []
