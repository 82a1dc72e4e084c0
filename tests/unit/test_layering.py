"""The architecture is checked, not hoped for: import-linter contracts in pyproject.toml."""

from __future__ import annotations

import shutil
import subprocess
import sys

from support import REPO


def test_import_contracts_hold() -> None:
    lint_imports = shutil.which("lint-imports", path=str(REPO / ".venv" / "bin")) or shutil.which("lint-imports")
    assert lint_imports, "import-linter is a test dependency"
    result = subprocess.run([lint_imports, "--no-cache"], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_runtime_imports_without_the_compiler() -> None:
    """Import the runtime with the compiler packages made unimportable."""
    code = (
        "import sys\n"
        "for name in ('flashc', 'libcst', 'jinja2', 'typer', 'docker', 'pathspec'):\n"
        "    sys.modules[name] = None\n"
        "import flashc_runtime.sdk\n"
        "print(len(flashc_runtime.sdk.__all__))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
