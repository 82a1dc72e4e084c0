"""Static analysis: files -> ProjectModel, without importing or running user code."""

from .project import analyse_project, analyse_sources

__all__ = ["analyse_project", "analyse_sources"]
