"""flashc's own failures, as opposed to findings about the user's code.

User-code problems are :class:`~flashc.diagnostics.Diagnostic` values. These
exceptions are for what stops flashc itself (a bad ``[tool.flashc]`` table, a
path that does not exist); the CLI prints their message and exits with 2.
"""

from __future__ import annotations


class FlashcError(Exception):
    """Base class: the message is complete and meant for the user."""


class ConfigError(FlashcError):
    """``[tool.flashc]`` or a command-line option is invalid; the message names the field."""


class ProjectNotFoundError(FlashcError):
    """The given path does not exist or holds no Python project."""


class BuildError(FlashcError):
    """A build cannot be written out: the artifact is too large, a path must not ship, ..."""


class DependencyError(BuildError):
    """An endpoint's requirements cannot be installed for the worker platform."""
