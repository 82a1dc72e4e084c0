"""The pre-commit hooks of ``.pre-commit-hooks.yaml``, run by real pre-commit.

pre-commit installs a hook repository by cloning it at a commit and ``pip install .`` into a
fresh virtualenv, so the tests make a temporary git repository holding this working tree as it
is (uncommitted and untracked changes included, ignored files left out) with one commit, and
point pre-commit at it: once through ``pre-commit try-repo`` (which builds its environment
anew on every call), then through a ``.pre-commit-config.yaml`` made from the snippet in
docs/pre-commit.md with a ``PRE_COMMIT_HOME`` shared by the session, so the hook's environment
is built once. pip takes flashc's dependencies from the package index: ``network``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from support import REPO

pytestmark = pytest.mark.network

TIMEOUT = 600

PYPROJECT = '[project]\nname = "shop"\nversion = "0"\n\n[tool.flashc]\nexclude = ["generated/"]\n'

CAPTURED = """\
import numpy as np
from flashc import Endpoint


@Endpoint(name="summarize", dependencies=["numpy"])
async def summarize(numbers: list[float]) -> dict:
    return {"mean": float(np.mean(numbers))}
"""

IMPORTED_INSIDE = """\
from flashc import Endpoint


@Endpoint(name="summarize", dependencies=["numpy"])
async def summarize(numbers: list[float]) -> dict:
    import numpy as np

    return {"mean": float(np.mean(numbers))}
"""

UNUSED_SUPPRESSION = """\
from flashc import Endpoint


@Endpoint(name="helper")
async def helper(x: int) -> int:
    y = x + 1  # flashc: ignore[FC101]
    return y
"""


def _environment(home: Path) -> dict[str, str]:
    """No git settings of the caller's (hooks, a GIT_DIR of an outer hook), a fixed identity."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "PRE_COMMIT"))}
    env.update(
        PRE_COMMIT_HOME=str(home),
        PRE_COMMIT_COLOR="never",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_CONFIG_NOSYSTEM="1",
        GIT_AUTHOR_NAME="flashc tests",
        GIT_AUTHOR_EMAIL="tests@flashc.invalid",
        GIT_COMMITTER_NAME="flashc tests",
        GIT_COMMITTER_EMAIL="tests@flashc.invalid",
        GIT_AUTHOR_DATE="2026-01-01T00:00:00Z",
        GIT_COMMITTER_DATE="2026-01-01T00:00:00Z",
    )
    return env


def _git(cwd: Path, env: dict[str, str], *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


@dataclass(frozen=True)
class HookRepo:
    path: Path
    rev: str
    env: dict[str, str]


@pytest.fixture(scope="session")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> HookRepo:
    """This working tree as a one-commit repository (the commit pre-commit clones)."""
    env = _environment(tmp_path_factory.mktemp("pre-commit-home"))
    clone = tmp_path_factory.mktemp("flashc-hook-repo")
    listed = _git(REPO, env, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    for relative in filter(None, listed.split("\0")):
        source = REPO / relative
        if source.is_file() and not source.is_symlink():  # a tracked file may be deleted in the tree
            (clone / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, clone / relative)
    assert (clone / ".pre-commit-hooks.yaml").is_file()
    _git(clone, env, "init", "-q")
    _git(clone, env, "add", "-A")
    _git(clone, env, "-c", "commit.gpgsign=false", "commit", "-q", "-m", "flashc as tested")
    return HookRepo(clone, _git(clone, env, "rev-parse", "HEAD").strip(), env)


@pytest.fixture
def project(tmp_path: Path, hook_repo: HookRepo) -> Iterator[Path]:
    """A git repository holding a small flashc project with a broken module, committed."""
    root = tmp_path / "shop"
    files = {
        "pyproject.toml": PYPROJECT,
        "worker.py": CAPTURED,
        "helper.py": "VALUE = 1\n",
        "generated/client.py": CAPTURED,  # excluded by [tool.flashc]: never reported
        ".gitignore": "legacy.py\n",
        "legacy.py": CAPTURED,  # ignored by git, yet tracked (so pre-commit passes it): never reported
    }
    for relative, text in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text, encoding="utf-8")
    _git(root, hook_repo.env, "init", "-q")
    _git(root, hook_repo.env, "add", "-f", "legacy.py")
    _commit(root, hook_repo.env)
    yield root


def _commit(root: Path, env: dict[str, str]) -> None:
    _git(root, env, "add", "-A")
    _git(root, env, "-c", "commit.gpgsign=false", "commit", "-q", "--no-verify", "-m", "change")


def _pre_commit(root: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", *args, "--color", "never"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        stdin=subprocess.DEVNULL,
    )


def _output(completed: subprocess.CompletedProcess[str]) -> str:
    return completed.stdout + completed.stderr


def _use_documented_config(root: Path, hook_repo: HookRepo, hook: str) -> None:
    """docs/pre-commit.md's snippet, pointed at the local commit instead of the published tag."""
    text = (REPO / "docs" / "pre-commit.md").read_text(encoding="utf-8")
    snippet = next(block for block in re.findall(r"```yaml\n(.*?)```", text, re.S) if block.startswith("repos:"))
    config = yaml.safe_load(snippet)
    entry = config["repos"][0]
    assert (entry["repo"], entry["rev"], entry["hooks"]) == ("https://github.com/flashc/flashc", "v0.1.0", [{"id": "flashc-check"}])
    assert "# - id: flashc-fix" in snippet
    entry.update(repo=str(hook_repo.path), rev=hook_repo.rev, hooks=[{"id": hook}])
    (root / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    _commit(root, hook_repo.env)


def test_manifest_declares_both_hooks() -> None:
    hooks = {hook["id"]: hook for hook in yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))}
    assert sorted(hooks) == ["flashc-check", "flashc-fix"]
    assert hooks["flashc-check"]["entry"] == "flashc check"
    assert hooks["flashc-fix"]["entry"] == "flashc check --fix"
    for hook in hooks.values():
        assert hook["language"] == "python"
        assert hook["types_or"] == ["python", "pyi"]
        assert hook["require_serial"] is True
        assert hook["pass_filenames"] is True


def test_try_repo_check_fails_on_a_captured_import(project: Path, hook_repo: HookRepo) -> None:
    completed = _pre_commit(project, hook_repo.env, "try-repo", str(hook_repo.path), "flashc-check", "--all-files")
    output = _output(completed)
    assert completed.returncode == 1, output
    assert re.search(r"^flashc check\.+Failed$", output, re.M), output
    assert "worker.py:7:27: FC101 [error] `np` is imported at module level" in output
    assert "generated/client.py" not in output and "legacy.py" not in output  # passed by pre-commit, excluded by the project
    assert "Found 1 error" in output


def test_check_hook_passes_once_fixed_and_reports_only_the_files_given(project: Path, hook_repo: HookRepo) -> None:
    _use_documented_config(project, hook_repo, "flashc-check")

    failed = _pre_commit(project, hook_repo.env, "run", "--all-files")
    assert failed.returncode == 1, _output(failed)
    assert "worker.py:7:27: FC101" in _output(failed)

    # A commit of other files is not blocked by worker.py, though worker.py is analysed.
    other = _pre_commit(project, hook_repo.env, "run", "--files", "helper.py", "generated/client.py", "legacy.py")
    assert other.returncode == 0, _output(other)
    assert re.search(r"^flashc check\.+Passed$", _output(other), re.M)

    (project / "worker.py").write_text(IMPORTED_INSIDE, encoding="utf-8")
    passed = _pre_commit(project, hook_repo.env, "run", "--all-files")
    assert passed.returncode == 0, _output(passed)
    assert re.search(r"^flashc check\.+Passed$", _output(passed), re.M)


def test_fix_hook_removes_an_unused_suppression(project: Path, hook_repo: HookRepo) -> None:
    (project / "worker.py").write_text(IMPORTED_INSIDE, encoding="utf-8")
    (project / "helper.py").write_text(UNUSED_SUPPRESSION, encoding="utf-8")
    _commit(project, hook_repo.env)
    _use_documented_config(project, hook_repo, "flashc-fix")

    fixed = _pre_commit(project, hook_repo.env, "run", "--all-files")
    output = _output(fixed)
    assert fixed.returncode == 1, output  # pre-commit fails a run that changed files
    assert "files were modified by this hook" in output
    assert "Fixed 1 finding in 1 file." in output
    assert (project / "helper.py").read_text(encoding="utf-8") == UNUSED_SUPPRESSION.replace("  # flashc: ignore[FC101]", "")
    assert (project / "worker.py").read_text(encoding="utf-8") == IMPORTED_INSIDE

    again = _pre_commit(project, hook_repo.env, "run", "--all-files")
    assert again.returncode == 0, _output(again)
    assert re.search(r"^flashc check --fix\.+Passed$", _output(again), re.M)
