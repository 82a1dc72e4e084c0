"""Static analysis: files -> ProjectModel, without importing or running user code."""

from .project import Analysis, analyse, analyse_project, analyse_sources, candidate_modules, read_sources

__all__ = ["Analysis", "analyse", "analyse_project", "analyse_sources", "candidate_modules", "read_sources"]
