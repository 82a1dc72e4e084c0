"""Which rules run, where, and at what severity: ``select``/``ignore`` the way ruff resolves them.

A selector is a rule code (``FC101``), a prefix of codes (``FC1``, ``FC``) or
``ALL``. For each code the most specific matching selector decides (``ALL``
is the least specific); when an enabling and an ignoring selector are equally
specific, ignoring wins, so ``ignore = ["FC1"]`` beats ``select = ["FC1"]``.
Rules marked ``always_on`` (a file that does not parse or cannot be read) run
whatever the selection says: without them a broken file would look clean.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

import pathspec
from flashc_runtime.sdk import tables

from ..config import Config, selectors
from ..diagnostics import Diagnostic, Severity
from ..errors import ConfigError
from .registry import RULES


@dataclass(frozen=True)
class Selection:
    """Normalised (upper-case) selectors; build it with :meth:`from_config`, which checks them."""

    select: tuple[str, ...] = ("ALL",)
    extend_select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """(gitignore-style pattern relative to the project root, selectors) pairs."""
    severity: tuple[tuple[str, Severity], ...] = ()

    @classmethod
    def from_config(
        cls,
        config: Config,
        *,
        select: Sequence[str] | None = None,
        extend_select: Sequence[str] | None = None,
        ignore: Sequence[str] | None = None,
    ) -> Selection:
        """The selection of ``config`` combined with command-line values (None: option not given).

        ``select`` replaces the configured ``select``; ``extend_select`` and
        ``ignore`` add to the configured lists. A command-line value may hold
        several selectors separated by commas (``--select FC1,FC3``). Every
        selector must match a known rule, else :class:`ConfigError`.
        """
        for where, values in (
            ("[tool.flashc] select", config.select),
            ("[tool.flashc] extend-select", config.extend_select),
            ("[tool.flashc] ignore", config.ignore),
            *((f"[tool.flashc.per-file-ignores] {pattern!r}", codes) for pattern, codes in config.per_file_ignores),
            ("[tool.flashc.severity]", [code for code, _ in config.severity]),
        ):
            _check_known(values, where)
        return cls(
            select=config.select if select is None else _command_line("--select", select),
            extend_select=config.extend_select + _command_line("--extend-select", extend_select or ()),
            ignore=config.ignore + _command_line("--ignore", ignore or ()),
            per_file_ignores=config.per_file_ignores,
            severity=config.severity,
        )

    def enabled(self, code: str) -> bool:
        """Whether the rule ``code`` runs at all (per-file ignores aside)."""
        if _always_on(code):
            return True
        decisions = [(_specificity(s), False) for s in (*self.select, *self.extend_select) if _matches(s, code)]
        decisions += [(_specificity(s), True) for s in self.ignore if _matches(s, code)]
        # max(): the most specific selector; on a tie, (n, True) > (n, False): ignoring wins.
        return bool(decisions) and not max(decisions)[1]

    def enabled_for(self, code: str, path: str) -> bool:
        """Whether ``code`` is reported in ``path`` (project-relative POSIX)."""
        if not self.enabled(code):
            return False
        if _always_on(code):
            return True
        return not any(
            _spec(pattern).match_file(path) and any(_matches(s, code) for s in codes)
            for pattern, codes in self.per_file_ignores
        )

    def severity_of(self, code: str, default: Severity) -> Severity:
        """The configured severity of ``code`` (the most specific matching entry), else ``default``."""
        matching = [(_specificity(s), level) for s, level in self.severity if _matches(s, code)]
        return max(matching, key=lambda pair: pair[0])[1] if matching else default


def apply(diagnostics: Iterable[Diagnostic], selection: Selection) -> list[Diagnostic]:
    """Drop the diagnostics ``selection`` disables for their file; apply severity overrides."""
    kept = []
    for diagnostic in diagnostics:
        if not selection.enabled_for(diagnostic.code, diagnostic.span.path):
            continue
        severity = selection.severity_of(diagnostic.code, diagnostic.severity)
        kept.append(diagnostic if severity is diagnostic.severity else replace(diagnostic, severity=severity))
    return kept


_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.ERROR: 2}


def fails(diagnostics: Iterable[Diagnostic], fail_on: Severity | None) -> bool:
    """Whether any diagnostic is at least as severe as ``fail_on`` (``[tool.flashc] fail-on``; None: never)."""
    return fail_on is not None and any(_RANK[d.severity] >= _RANK[fail_on] for d in diagnostics)


def _matches(selector: str, code: str) -> bool:
    return selector == "ALL" or code.startswith(selector)


def _specificity(selector: str) -> int:
    return 0 if selector == "ALL" else len(selector)


def _always_on(code: str) -> bool:
    rule = RULES.get(code)
    return rule is not None and rule.always_on


@lru_cache(maxsize=None)
def _spec(pattern: str) -> pathspec.PathSpec:
    return pathspec.GitIgnoreSpec.from_lines([pattern])


def _command_line(option: str, values: Sequence[str]) -> tuple[str, ...]:
    items = [item.strip() for value in values for item in value.split(",") if item.strip()]
    checked = selectors(items, option)
    _check_known(checked, option)
    return checked


def _check_known(values: Iterable[str], where: str) -> None:
    """Every selector must match a rule: a typo would otherwise silently select nothing."""
    codes = sorted(RULES)
    for value in values:
        if value == "ALL" or any(code.startswith(value) for code in codes):
            continue
        if len(value) == 5:
            problem = f"unknown rule code {value!r}{tables.suggest(value, codes)}"
        else:
            problem = f"no rule code starts with {value!r}"
        raise ConfigError(f"{where}: {problem}; known codes: {', '.join(codes)}")
