"""Bad input never crashes the analysis: every failure is a diagnostic or a clear message.

Property-based: hostile modules (generated programs, mutated real modules, random
decorator arguments, random bytes) go through ``check``, ``inspect_project``,
``fix(unsafe=True)`` and every renderer. Each call must return, with every span
inside the file; only flashc's own ``FlashcError`` may be raised, and only for
configuration problems. Budgets are small and derandomized so CI is reproducible;
``docs/robustness.md`` explains how to run a longer campaign.
"""

from __future__ import annotations

import ast
import json
import re
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import hypothesmith
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from typer.testing import CliRunner

import fuzz_strategies as fs
from flashc import __version__, api
from flashc.cli import app
from flashc.config import config_from_table, load_config
from flashc.diagnostics import Diagnostic, Position, Severity, Span
from flashc.errors import ConfigError
from flashc.model import ProjectModel
from flashc.render import diagnostics as diagnostics_render
from flashc.render import github as github_render
from flashc.render import inspect as inspect_render
from flashc.render import sarif as sarif_render
from flashc.rules.registry import RULES
from flashc.rules.selection import Selection

PYPROJECT = '[project]\nname = "fuzz"\nversion = "0"\n'
OPTIONS = api.CheckOptions(use_cache=False, jobs=1)
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


# --- the property ---------------------------------------------------------------------------------


@contextmanager
def project(files: Mapping[str, str | bytes], pyproject: str = PYPROJECT) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="flashc-fuzz-") as directory:
        root = Path(directory)
        (root / "pyproject.toml").write_text(pyproject, encoding="utf-8")
        for relative, content in files.items():
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8", errors="surrogatepass", newline="")
        yield root


def python_lines(text: str) -> list[str]:
    """Lines as Python (and editors) count them: ``\\n``, ``\\r\\n`` and ``\\r`` end a line, nothing else."""
    return _LINE_BREAK.split(text)


class Files:
    """The lines of each checked file (Python's line breaks), to check spans against."""

    def __init__(self, root: Path, texts: Mapping[str, str]) -> None:
        self.root, self.texts = root, texts
        self._lines: dict[str, list[str]] = {}

    def lines(self, path: str) -> list[str]:
        if path not in self._lines:
            if path in self.texts:
                self._lines[path] = python_lines(self.texts[path])
            else:  # an unreadable file (FC902): count its raw lines
                self._lines[path] = python_lines((self.root / path).read_bytes().decode("latin-1"))
        return self._lines[path]


def assert_span(span: Span, files: Files, what: str) -> None:
    lines = files.lines(span.path)
    start, end = span.start, span.end
    assert 1 <= start.line <= end.line <= len(lines), f"{what}: lines {start.line}-{end.line} outside 1-{len(lines)}"
    assert start <= end, f"{what}: starts after it ends"
    for position in (start, end):
        length = len(lines[position.line - 1])
        assert 0 <= position.column <= length, f"{what}: column {position.column} outside line {position.line} (0-{length})"


def assert_diagnostics(diagnostics: tuple[Diagnostic, ...], files: Files) -> None:
    for diagnostic in diagnostics:
        where = f"{diagnostic.code} {diagnostic.message[:200]!r}"
        assert re.fullmatch(r"FC\d{3}", diagnostic.code), where
        assert isinstance(diagnostic.severity, Severity) and diagnostic.message.strip(), where
        assert_span(diagnostic.span, files, where)
        for note in diagnostic.notes:
            if note.span is not None:
                assert_span(note.span, files, f"{where}, note {note.message[:200]!r}")
        for edit in diagnostic.fix.edits if diagnostic.fix else ():
            assert_edit(edit.span, files, f"{where}, fix")


def assert_edit(span: Span, files: Files, what: str) -> None:
    """An edit may also reach just past the last line (a whole-line edit of a file without a final newline)."""
    lines = files.lines(span.path)
    past_end, file_end = Position(len(lines) + 1, 0), Position(len(lines), len(lines[-1]))
    start, end = (file_end if p == past_end else p for p in (span.start, span.end))
    assert_span(Span(span.path, start, end), files, what)


def assert_model(model: ProjectModel, files: Files) -> None:
    assert_diagnostics(model.diagnostics, files)
    for endpoint in model.endpoints:
        assert_span(endpoint.config_span, files, f"endpoint {endpoint.name!r}")
        assert_diagnostics(endpoint.problems, files)
        for setting in endpoint.settings:
            if setting.span is not None:
                assert_span(setting.span, files, f"setting {setting.key}")
        for function in endpoint.functions:
            for span in (function.span, function.decorator_span, *function.sdk_decorator_spans):
                assert_span(span, files, f"function {function.name}")
            for method in function.methods:
                assert_span(method.span, files, f"method {method.name}")
            for item in (*function.body_imports, *function.endpoint_calls):
                assert_span(item.span, files, f"function {function.name}: {item}")


def render_everything(result: api.CheckResult, model: ProjectModel, files: Files) -> None:
    """Every output format, as the CLI and the editor server produce them."""

    def read_line(path: str, line: int) -> str | None:
        found = files.lines(path) if path in result.texts else []
        return found[line - 1] if 0 < line <= len(found) else None

    edited = result.with_edits().diagnostics
    diagnostics_render.render_text(result.diagnostics, read_line, unsafe_fixes=True)
    diagnostics_render.render_concise(result.diagnostics)
    diagnostics_render.summary(result.diagnostics)
    diagnostics_render.render_statistics(result.diagnostics)
    json.loads(diagnostics_render.render_json(edited))
    json.loads(sarif_render.render_sarif(edited, list(RULES.values()), version=__version__))
    github_render.render_github(result.diagnostics)
    json.loads(inspect_render.render_json(model))
    inspect_render.render_text(model)
    assert_diagnostics(edited, files)


def check_everything(root: Path, *, fix: bool = True) -> api.CheckResult:
    """check, inspect, render and (unsafe) fix ``root``; every result must be sound."""
    result = api.check([root], OPTIONS)
    files = Files(root, result.texts)
    assert_diagnostics(result.diagnostics, files)
    model = api.inspect_project(root)
    assert_model(model, files)
    render_everything(result, model, files)
    if fix:
        fixed = api.fix([root], OPTIONS, unsafe=True)
        for path, (before, after) in fixed.changed.items():
            assert before == result.texts[path]
            ast.parse(after, filename=path)  # a fix never leaves a file that does not parse
        assert_diagnostics(fixed.result.diagnostics, Files(root, fixed.result.texts))
    return result


def check_module(text: str | bytes, *, fix: bool = True, extra: Mapping[str, str | bytes] | None = None) -> api.CheckResult:
    with project({"m.py": text, **(extra or {})}) as root:
        return check_everything(root, fix=fix)


# --- generated and mutated modules ------------------------------------------------------------------


@fs.budget(60)
@given(expression=fs.expressions, keyword=st.sampled_from(["name", "gpu", "workers", "dependencies", "env", "volume"]))
def test_endpoint_argument_expressions(expression: str, keyword: str) -> None:
    """``@Endpoint(<keyword>=<random expression>)``, and the same value via a module variable."""
    fs.TRIED["endpoint argument expressions"] += 1
    check_module(
        f"{fs.SDK_HEADER}VALUE = {expression}\n\n"
        f"@Endpoint(name='e', {keyword}={expression})\nasync def direct(x):\n    return x\n\n"
        f"@Endpoint(name='v', {keyword}=VALUE)\nasync def through_variable(x):\n    return x\n",
        fix=False,
    )


@fs.budget(80)
@given(fs.decorated_modules())
def test_decorated_modules(text: str) -> None:
    """Several declarations in every spelling, with random arguments, bodies and nesting."""
    fs.TRIED["decorated modules"] += 1
    check_module(text)


@fs.budget(80)
@given(fs.mutated_modules())
def test_mutated_real_modules(text: str) -> None:
    """Fixtures and examples truncated, with tokens deleted, duplicated or swapped, stray characters."""
    fs.TRIED["mutated real modules"] += 1
    check_module(text)


@fs.budget(30)
@given(program=hypothesmith.from_grammar(), choices=st.lists(st.integers(0, len(fs.DECORATORS) + 1), max_size=4))
def test_grammar_programs(program: str, choices: list[int]) -> None:
    """Programs from Python's grammar (mostly nonsense the parser still accepts), some decorated."""
    fs.TRIED["hypothesmith from_grammar"] += 1
    check_module(fs.with_decorators(program, choices))


@fs.budget(25)
@given(program=hypothesmith.from_node(), choices=st.lists(st.integers(0, len(fs.DECORATORS) + 1), min_size=1, max_size=4))
def test_node_programs(program: str, choices: list[int]) -> None:
    """Programs built from libcst nodes (valid Python), some definitions decorated."""
    fs.TRIED["hypothesmith from_node"] += 1
    check_module(fs.with_decorators(program, choices))


@fs.budget(40)
@given(data=st.one_of(st.binary(max_size=200), st.builds(lambda t, e: t.encode(e, "replace"), fs.mutated_modules(), st.sampled_from(["latin-1", "utf-16", "cp1252", "utf-8-sig"]))),
       cookie=st.sampled_from([b"", b"# -*- coding: latin-1 -*-\n", b"# coding: utf-16\n", b"# coding: nope\n", b"\xef\xbb\xbf", b"\xef\xbb\xbf# coding: latin-1\n"]))
def test_random_bytes(data: bytes, cookie: bytes) -> None:
    """Random bytes, non-UTF-8 encodings, bad coding cookies, BOMs: FC902 or FC900, never a crash."""
    fs.TRIED["random bytes"] += 1
    check_module(cookie + fs.SDK_HEADER.encode() + data, extra={"other.py": data})


# --- extremes -------------------------------------------------------------------------------------

H = fs.SDK_HEADER
CHAINS = (150, 480, 520, 1500, 2500)
"""Nesting within the recursion limit, past it for walks taking several frames a level, past the limit itself."""

EXTREMES = {
    "1 MB line": H + "X = " + "1 + " * 250_000 + "1\n",
    "1 MB string in a decorator": H + f"@Endpoint(name='{'n' * 1_000_000}')\nasync def f(x):\n    return x\n",
    "1 MB comment": H + "#" + "é" * 1_000_000 + "\n@Endpoint(name='e')\nasync def f(x):\n    return os\n",
    "10 MB string literal": H + "BLOB = '" + "x" * 10_000_000 + "'\n@Endpoint(name=BLOB[:3])\nasync def f(x):\n    return BLOB\n",
    "parentheses beyond the parser's limit": H + "X = " + "(" * 1000 + "1" + ")" * 1000 + "\n",
    "brackets beyond the parser's limit": H + "@Endpoint(name='e', env=" + "[" * 300 + "]" * 300 + ")\nasync def f(): pass\n",
    "parentheses at the parser's limit": H + "@Endpoint(name=" + "(" * 190 + "'e'" + ")" * 190 + ")\nasync def f(): pass\n",
    "if blocks beyond the indentation limit": H + "".join(" " * i + "if X:\n" for i in range(120)) + " " * 120 + "pass\n",
    "if blocks at the indentation limit": H + "".join(" " * i + "if os:\n" for i in range(98))
    + "".join(" " * 98 + line + "\n" for line in ("@Endpoint(name='deep')", "async def f(x):", "    return os")),
    "string concatenation chain in a decorator argument": H + "@Endpoint(name='e', dependencies=[" + " + ".join(["'a'"] * 900) + "])\nasync def f(): pass\n",
    "self-referencing variables": H + "A = B\nB = A\nC = C + 1\n@Endpoint(name=A, workers=C)\nasync def f(): pass\n",
    "huge numbers": H + "".join(f"@Endpoint(name='n{i}', workers={n}, gpu={n}, env={{'a': {n}}}, dependencies=[{n}], idle_timeout={n})\nasync def f{i}(): pass\n" for i, n in enumerate(fs.HUGE)),
    "huge numbers through variables": H + "A = 10 ** 64\nB = A ** 64\nC = B ** 64\nD = C * C\nE = D * D * D\n@Endpoint(name=str(E), workers=E, gpu=GpuGroup(E))\nasync def f(): pass\n",
    "huge sequences through variables": H + "A = 'x' * 10000\nB = A + A\nC = B + B\nD = C + C\nE = [D] * 10000\n@Endpoint(name=E, dependencies=E)\nasync def f(): pass\n",
    "many definitions": H + "cfg = LiveServerless(name='shared')\n" + "".join(f"@remote(cfg)\nasync def f{i}(x):\n    return os\n" for i in range(2000)),
    "many endpoints": H + "".join(f"@Endpoint(name='e{i % 50}')\nasync def f{i}(x):\n    return os\n" for i in range(1000)),
    "form feeds and other separators": H + "\x0c\n# \u2028 \x1c \x85 \u2029\n@Endpoint(name='e')\x0c\nasync def f(x):\n    return np  # \x0b\n",
    "carriage returns only": (H + "@Endpoint(name='e')\nasync def f(x):\n    return os\n").replace("\n", "\r"),
    "name after a line continuation": H + "@Endpoint(name='e')\nasync def \\\n    f(x):\n    return os\nclass \\\n C: pass\n",
    "null byte": H + "X = 1\x00\n",
    "lone surrogate": H + "X = '\ud800'\n",
}


def _chains(n: int) -> dict[str, str]:
    """Expressions ``n`` levels deep, in the places flashc evaluates or walks."""
    return {
        "binary chain in a decorator": H + "@Endpoint(name=" + " + ".join(["'a'"] * n) + ")\nasync def f(): pass\n",
        "binary chain through a variable": H + "N = " + " + ".join(["1"] * n) + "\n@Endpoint(name='e', workers=N)\nasync def f(): pass\n",
        "binary chain in a body": H + "@Endpoint(name='e')\nasync def f(x):\n    return " + " + ".join(["os"] * n) + "\n",
        "binary chain in a default": H + "@Endpoint(name='e')\nasync def f(x=" + " + ".join(["os"] * n) + "):\n    return x\n",
        "binary chain in a remote config": H + "@remote(" + " | ".join(["cfg"] * n) + ")\nasync def f(): pass\n",
        "attribute chain": H + "@Endpoint(name=GpuGroup" + ".x" * n + ")\nasync def f(x):\n    return os" + ".path" * n + "\n",
        "call chain": H + "@remote(cfg" + "()" * n + ")\nasync def f(x):\n    return os" + "()" * n + "\n",
        "subscript chain": H + "@Endpoint(name=X" + "[0]" * n + ")\nasync def f(x):\n    return os" + "[0]" * n + "\n",
        "unary chain": H + "@Endpoint(name='e', workers=" + "-" * n + "1)\nasync def f(x):\n    return " + "not " * n + "os\n",
        "conditional chain": H + "@Endpoint(name=" + "'a' if os else " * n + "'b')\nasync def f(x):\n    return " + "x if os else " * n + "x\n",
        "lambda chain": H + "@Endpoint(name='e')\nasync def f(x):\n    return " + "lambda: " * n + "os\n",
    }


for _length in CHAINS:
    EXTREMES.update({f"{name} ({_length})": text for name, text in _chains(_length).items()})


@pytest.mark.parametrize("name", list(EXTREMES))
def test_extreme_modules(name: str) -> None:
    fs.TRIED["extreme modules"] += 1
    check_module(EXTREMES[name], fix=name not in ("many definitions", "many endpoints", "10 MB string literal"))


# --- configuration errors -----------------------------------------------------------------------------


def _assert_config_message(error: ConfigError, table: Mapping[str, object]) -> None:
    message = str(error)
    assert any(repr(key) in message or f"] {key}" in message or f"[tool.flashc.{key}]" in message for key in table), message
    assert any(word in message.lower() for word in ("allowed", "must", "known codes")), message
    assert "Traceback" not in message


@fs.budget(300)
@given(fs.config_tables)
@example({"exclude": ["["]})
@example({"per-file-ignores": {"[": ["FC101"]}})
@example({"severity": {"FC101": "fatal"}})
@example({"select": ["FC999"]})
def test_config_tables(table: dict[str, object]) -> None:
    """A ``[tool.flashc]`` table is a Config or a ConfigError naming the key and what is allowed."""
    fs.TRIED["[tool.flashc] tables"] += 1
    try:
        config = config_from_table(table)
        Selection.from_config(config)
    except ConfigError as error:
        _assert_config_message(error, table)


@fs.budget(40)
@given(fs.config_tables)
@example({"exclude": ["["]})
@example({"per-file-ignores": {"[": ["FC101"]}})
def test_config_tables_in_a_project(table: dict[str, object]) -> None:
    """The same tables written to pyproject.toml: check runs, or fails with a ConfigError."""
    fs.TRIED["[tool.flashc] tables in a project"] += 1
    pyproject = PYPROJECT + "\n[tool.flashc]\n" + "".join(f"{fs._toml_string(k)} = {fs.toml_value(v)}\n" for k, v in table.items())
    with project({"m.py": fs.SDK_HEADER + "@Endpoint(name='e')\nasync def f(x):\n    return os\n"}, pyproject) as root:
        try:
            check_everything(root, fix=False)
        except ConfigError as error:
            _assert_config_message(error, table)


@fs.budget(40)
@given(st.one_of(st.text(max_size=60), st.binary(max_size=60).map(lambda b: b.decode("latin-1")),
                 st.sampled_from(["tool = 3", "[tool]\nflashc = 3", "tool.flashc = []", "[[tool.flashc]]", "[tool.flashc]\n[tool.flashc]",
                                  "tool = {flashc = {select = 1}}", "[tool.flashc]\nselect = ['FC1'", "\x00"])))
def test_pyproject_text(text: str) -> None:
    """Any pyproject.toml text: defaults, a Config, or a ConfigError with a message."""
    fs.TRIED["pyproject.toml texts"] += 1
    with project({}) as root:
        (root / "pyproject.toml").write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            load_config(root)
        except ConfigError as error:
            assert "pyproject.toml" in str(error) and "Traceback" not in str(error)


_RUNNER = CliRunner()


@fs.budget(60)
@given(fs.cli_arguments)
@example(["--select", "FC999"])
@example(["--format", "xml"])
@example(["--fail-on", "fatal"])
@example(["missing_dir"])
def test_check_command_line(arguments: list[str]) -> None:
    """``flashc check`` with random arguments exits 0, 1 or 2, with a message and no traceback."""
    fs.TRIED["flashc check arguments"] += 1
    with project({"m.py": fs.SDK_HEADER + "@Endpoint(name='e')\nasync def f(x):\n    return os\n"}) as root:
        arguments = [str(root / a) if a in ("missing_dir", "m.py", "missing.py", ".") else a for a in arguments]
        result = _RUNNER.invoke(app, ["check", "--no-cache", *arguments, *([] if any(a.startswith(str(root)) for a in arguments) else [str(root)])])
    output = result.output + (result.stderr if result.stderr_bytes is not None else "")
    assert result.exit_code in (0, 1, 2), (arguments, result.exit_code, output)
    assert result.exception is None or isinstance(result.exception, SystemExit), (arguments, result.exception)
    assert "Traceback" not in output and "internal error" not in output, (arguments, output)
    if result.exit_code == 2:
        assert output.strip(), arguments
