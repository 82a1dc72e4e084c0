"""Shared fixtures: fixture projects on disk and JSON/text snapshot extensions."""

from __future__ import annotations

from pathlib import Path

import pytest
from syrupy.extensions.json import JSONSnapshotExtension
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

class TextSnapshot(SingleFileSnapshotExtension):
    """Plain-text snapshots stored as reviewable ``.txt`` files."""

    _write_mode = WriteMode.TEXT
    file_extension = "txt"


@pytest.fixture(autouse=True, scope="session")
def _cache_outside_the_repository(tmp_path_factory):
    """Checks run by tests keep their cache in a temporary directory, not next to the fixtures."""
    patch = pytest.MonkeyPatch()
    patch.setenv("FLASHC_CACHE_DIR", str(tmp_path_factory.mktemp("flashc-cache")))
    yield
    patch.undo()


@pytest.fixture
def json_snapshot(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.fixture
def text_snapshot(snapshot):
    return snapshot.use_extension(TextSnapshot)


@pytest.fixture
def make_project(tmp_path: Path):
    """Write ``{relative path: text}`` files (plus a pyproject.toml) and return the root."""

    def make(files: dict[str, str], pyproject: str = '[project]\nname = "t"\nversion = "0"\n') -> Path:
        (tmp_path / "pyproject.toml").write_text(pyproject, encoding="utf-8")
        for relative, text in files.items():
            path = tmp_path / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        return tmp_path

    return make
