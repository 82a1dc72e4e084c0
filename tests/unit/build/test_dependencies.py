"""flashc.dependencies: what an endpoint installs, and installing it for Linux x86_64 workers.

The ``network`` tests install real wheels from the package index (PyPI).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from flashc import dependencies
from flashc.dependencies import DependencyPlan, default_cache_dir, find_uv, install, plan
from flashc.errors import BuildError, DependencyError

INSTALLERS = [
    "pip",
    pytest.param("uv", marks=pytest.mark.skipif(find_uv() is None, reason="uv is not installed")),
]


def forbid_installer(monkeypatch) -> None:
    def run(*args, **kwargs):
        raise AssertionError(f"the installer ran: {args}")

    monkeypatch.setattr(subprocess, "run", run)


def fake_installer(monkeypatch, calls: list[list[str]]) -> None:
    """A ``subprocess.run`` that "installs" one module per requirement into ``--target``."""

    def run(command, **kwargs):
        calls.append(command)
        target = Path(command[command.index("--target") + 1])
        for requirement in command[command.index("--target") + 2 :]:
            name = requirement.split("=")[0].split("[")[0].replace("-", "_")
            (target / f"{name}.py").write_text("", encoding="utf-8")
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(subprocess, "run", run)


# --- plan ----------------------------------------------------------------------------------------


def test_gpu_endpoints_leave_out_what_the_image_provides():
    result = plan(["torch==2.3", "torchvision", "TorchAudio", "triton", "numpy"], compute="gpu")
    # The image has torch and triton (FC401's table too); torchvision is not in it (runpod-flash #353).
    assert result.install == ("numpy", "torchaudio", "torchvision")
    assert result.skipped == (("torch", "provided by the GPU worker image"), ("triton", "provided by the GPU worker image"))
    assert result.left_out == ("torch", "triton")


def test_cpu_endpoints_install_everything():
    result = plan(["torch==2.3", "numpy"], compute="cpu")
    assert result.install == ("numpy", "torch==2.3")
    assert result.skipped == () and result.left_out == ()


def test_user_excludes_match_by_canonical_name():
    result = plan(["Pillow>=10", "zope.interface", "six"], compute="cpu", exclude=["pillow", "Zope_Interface"])
    assert result.install == ("six",)
    assert result.skipped == (("pillow", "excluded (--exclude)"), ("zope-interface", "excluded (--exclude)"))
    assert result.left_out == ("pillow", "zope-interface")


def test_duplicates_are_merged_and_extras_and_markers_kept():
    result = plan(
        [
            "numpy>=1.20",
            "NumPy<2",
            "numpy>=1.20",
            "requests[socks]",
            "requests[security]",
            'pywin32; sys_platform == "win32"',
            'tomli; python_version < "3.11"',
            'tomli>=2; python_version < "3.11"',
        ],
        compute="cpu",
    )
    assert result.install == (
        "numpy<2,>=1.20",
        'pywin32; sys_platform == "win32"',
        "requests[security,socks]",
        'tomli>=2; python_version < "3.11"',
    )


def test_the_plan_does_not_depend_on_the_order_of_requirements():
    requirements = ["b>1", "a", "c[x]", "a<3", "B<4"]
    assert plan(requirements, compute="cpu") == plan(list(reversed(requirements)), compute="cpu")


def test_an_invalid_requirement_is_a_dependency_error():
    with pytest.raises(DependencyError, match="numpy=1.26"):
        plan(["numpy=1.26"], compute="cpu")


def test_the_compute_must_be_gpu_or_cpu():
    with pytest.raises(ValueError):
        plan(["six"], compute="tpu")


# --- install without an index --------------------------------------------------------------------


def test_nothing_to_install_needs_no_installer(tmp_path, monkeypatch):
    forbid_installer(monkeypatch)
    assert install(DependencyPlan(install=()), python_version="3.12", cache_dir=tmp_path) is None
    windows_only = plan(['pywin32; sys_platform == "win32"'], compute="cpu")
    assert install(windows_only, python_version="3.12", cache_dir=tmp_path) is None
    assert not any(tmp_path.iterdir())


def test_markers_are_evaluated_for_the_worker_not_this_machine(tmp_path, monkeypatch):
    calls: list[list[str]] = []
    fake_installer(monkeypatch, calls)
    requirements = plan(['tomli; python_version < "3.11"', 'exceptiongroup; python_version < "3.11"', "six"], compute="cpu")
    install(requirements, python_version="3.10", cache_dir=tmp_path, installer="pip")
    install(requirements, python_version="3.12", cache_dir=tmp_path, installer="pip")
    assert [call[call.index("--target") + 2 :] for call in calls] == [["exceptiongroup", "six", "tomli"], ["six"]]


def test_the_pip_command_selects_worker_wheels(tmp_path, monkeypatch):
    calls: list[list[str]] = []
    fake_installer(monkeypatch, calls)
    wheelhouse = tmp_path / "wheels"
    install(plan(["six"], compute="cpu"), python_version="3.11", cache_dir=tmp_path / "c", installer="pip")
    install(plan(["six"], compute="cpu"), python_version="3.13", cache_dir=tmp_path / "c", installer="pip",
            offline=True, wheelhouse=wheelhouse)
    online, offline = calls
    assert online[:4] == [sys.executable, "-m", "pip", "install"]
    text = " ".join(online)
    assert "--python-version 3.11" in text
    assert ("--platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 "
            "--platform manylinux2014_x86_64") in text
    assert "--implementation cp" in text and "--only-binary=:all:" in text
    assert "--no-index" not in online and "--find-links" not in online
    assert "--no-index" in offline
    assert offline[offline.index("--find-links") + 1] == str(wheelhouse.resolve())


def test_the_uv_command_selects_worker_wheels(tmp_path, monkeypatch):
    calls: list[list[str]] = []
    fake_installer(monkeypatch, calls)
    monkeypatch.setattr(shutil, "which", lambda name: f"/opt/bin/{name}")
    install(plan(["six"], compute="cpu"), python_version="3.12", cache_dir=tmp_path, offline=True)
    (command,) = calls
    assert command[:3] == ["/opt/bin/uv", "pip", "install"]
    text = " ".join(command)
    assert "--python-platform x86_64-manylinux_2_28 --python-version 3.12 --no-build" in text
    assert "--offline" in command and "--no-index" in command


def test_the_result_is_cached_by_requirements_python_installer_and_left_out_names(tmp_path, monkeypatch):
    calls: list[list[str]] = []
    fake_installer(monkeypatch, calls)
    six = plan(["six", "idna"], compute="cpu")
    first = install(six, python_version="3.12", cache_dir=tmp_path, installer="pip")
    assert install(plan(["idna", "six", "six"], compute="cpu"), python_version="3.12", cache_dir=tmp_path,
                   installer="pip") == first
    assert len(calls) == 1
    others = {
        install(six, python_version="3.11", cache_dir=tmp_path, installer="pip"),
        install(plan(["six", "idna"], compute="cpu", exclude=["certifi"]), python_version="3.12",
                cache_dir=tmp_path, installer="pip"),
        install(plan(["six"], compute="cpu"), python_version="3.12", cache_dir=tmp_path, installer="pip"),
    }
    assert len(others) == 3 and first not in others
    assert len(calls) == 4
    assert sorted(path.name for path in first.iterdir()) == ["idna.py", "six.py"]
    assert not list(tmp_path.glob("*.tmp-*"))


def test_default_cache_directory(monkeypatch, tmp_path):
    monkeypatch.setenv("FLASHC_DEPS_CACHE", str(tmp_path / "explicit"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "explicit"
    monkeypatch.delenv("FLASHC_DEPS_CACHE")
    assert default_cache_dir() == tmp_path / "xdg" / "flashc" / "deps"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "flashc" / "deps"


def test_an_installer_timeout_is_a_dependency_error(tmp_path, monkeypatch):
    def run(command, **kwargs):
        raise subprocess.TimeoutExpired(command, kwargs["timeout"])

    monkeypatch.setattr(subprocess, "run", run)
    with pytest.raises(DependencyError, match="within 600 s"):
        install(plan(["six"], compute="cpu"), python_version="3.12", cache_dir=tmp_path, installer="pip")
    assert not any(tmp_path.iterdir())


def test_a_missing_installer_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(dependencies, "find_uv", lambda: None)
    with pytest.raises(DependencyError, match="uv was asked for"):
        install(plan(["six"], compute="cpu"), python_version="3.12", cache_dir=tmp_path, installer="uv")
    real_find_spec = dependencies.importlib.util.find_spec
    monkeypatch.setattr(dependencies.importlib.util, "find_spec",
                        lambda name, *rest: None if name == "pip" else real_find_spec(name, *rest))
    with pytest.raises(DependencyError, match="no installer"):
        install(plan(["six"], compute="cpu"), python_version="3.12", cache_dir=tmp_path)


def test_an_unsupported_python_is_refused(tmp_path):
    with pytest.raises(DependencyError, match="3.9"):
        install(plan(["six"], compute="cpu"), python_version="3.9", cache_dir=tmp_path)


def test_dependency_errors_are_build_errors():
    assert issubclass(DependencyError, BuildError)


# --- real installs -------------------------------------------------------------------------------


def imports_from(directory: Path, module: str) -> str:
    code = f"import sys; sys.path.insert(0, {str(directory)!r}); import {module}; print({module}.__version__)"
    result = subprocess.run([sys.executable, "-I", "-B", "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.fixture
def pip_without_local_configuration(monkeypatch):
    """pip talks to the index only: no pip.conf, find-links or extra index of this machine."""
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    for name in list(os.environ):
        if name.startswith("PIP_") and name not in ("PIP_CONFIG_FILE", "PIP_CERT", "PIP_DEFAULT_TIMEOUT"):
            monkeypatch.delenv(name)


@pytest.mark.network
@pytest.mark.parametrize("installer", INSTALLERS)
def test_a_real_install_is_importable_and_reused(tmp_path, monkeypatch, installer):
    messages: list[str] = []
    requirements = plan(["six==1.16.0"], compute="gpu")
    site = install(requirements, python_version="3.12", cache_dir=tmp_path, installer=installer,
                   progress=messages.append)
    assert site is not None and site.is_dir()
    assert not list(site.rglob("*.pyc"))
    assert imports_from(site, "six") == "1.16.0"
    assert any(message.startswith("installing 1 requirement") for message in messages)

    forbid_installer(monkeypatch)
    assert install(requirements, python_version="3.12", cache_dir=tmp_path, installer=installer) == site


@pytest.mark.network
@pytest.mark.parametrize("installer", INSTALLERS)
def test_a_missing_package_names_itself_the_platform_and_python(tmp_path, installer):
    with pytest.raises(DependencyError) as raised:
        install(plan(["nonexistent-package-flashc-test==1.0", "six==1.16.0"], compute="cpu"),
                python_version="3.12", cache_dir=tmp_path, installer=installer)
    message = str(raised.value)
    assert message.startswith("could not install nonexistent-package-flashc-test for the worker")
    assert "x86_64" in message and "CPython 3.12" in message
    assert len(message.splitlines()) < 15
    assert not list(tmp_path.glob("*.tmp-*")) and not list(tmp_path.glob("*/site"))


@pytest.mark.network
def test_a_package_without_a_wheel_for_the_worker_python_is_an_error(tmp_path):
    # PyYAML 5.4.1 published no CPython 3.12 wheels (only an sdist, which workers cannot build).
    with pytest.raises(DependencyError, match="could not install pyyaml .*CPython 3.12"):
        install(plan(["PyYAML==5.4.1"], compute="cpu"), python_version="3.12", cache_dir=tmp_path, installer="pip")


@pytest.mark.network
def test_left_out_packages_pulled_in_by_others_are_removed(tmp_path):
    messages: list[str] = []
    site = install(plan(["requests==2.32.3"], compute="cpu", exclude=["idna"]), python_version="3.12",
                   cache_dir=tmp_path, installer="pip", progress=messages.append)
    names = {path.name for path in site.iterdir()}
    assert "requests" in names and "urllib3" in names
    assert not any(name == "idna" or name.startswith("idna-") for name in names)
    assert "left out idna (pulled in by another requirement)" in messages


@pytest.mark.network
def test_offline_installs_from_a_wheelhouse_without_the_index(tmp_path, pip_without_local_configuration):
    wheelhouse = tmp_path / "wheels"
    download = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--dest", str(wheelhouse),
         "idna==3.7"],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert download.returncode == 0, download.stderr
    requirements = plan(["idna==3.7"], compute="cpu")
    with pytest.raises(DependencyError, match="idna"):  # offline with nothing local: no index is asked
        install(requirements, python_version="3.12", cache_dir=tmp_path / "a", installer="pip", offline=True)
    site = install(requirements, python_version="3.12", cache_dir=tmp_path / "b", installer="pip", offline=True,
                   wheelhouse=wheelhouse)
    assert imports_from(site, "idna") == "3.7"
