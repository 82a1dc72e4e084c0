"""Hypothesis strategies for the robustness tests: hostile Python modules and configurations.

Everything here produces *source text* (or bytes) for a module of a throw-away project;
``test_fuzz.py`` checks that analysing it never crashes. The strategies lean towards
what flashc evaluates (runpod-flash decorators and their argument expressions) and
towards what breaks naive code (huge numbers, deep nesting, odd line breaks, broken
tokens), while still producing mostly valid Python so the analysis goes deep.
"""

from __future__ import annotations

import ast
import io
import os
import tokenize
from collections import Counter
from functools import lru_cache
from pathlib import Path

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

REPO = Path(__file__).resolve().parents[2]

# --- budget ----------------------------------------------------------------------------------

_EXAMPLES = os.environ.get("FLASHC_FUZZ_EXAMPLES", "").strip()
_RANDOM = os.environ.get("FLASHC_FUZZ_RANDOM", "").strip() not in ("", "0")

FUZZ = settings(
    deadline=None,
    derandomize=not _RANDOM,
    database=None,
    print_blob=True,
    phases=[Phase.explicit, Phase.generate] if os.environ.get("NOSHRINK") else list(Phase),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
"""Reproducible by default (CI); ``FLASHC_FUZZ_RANDOM=1`` explores new inputs on every run."""


def budget(examples: int) -> settings:
    """``examples`` inputs per property, or ``$FLASHC_FUZZ_EXAMPLES`` for a longer campaign."""
    return settings(FUZZ, max_examples=int(_EXAMPLES) if _EXAMPLES else examples)


TRIED: Counter[str] = Counter()
"""Inputs tried per strategy in this run (printed at the end of the session by conftest.py)."""


# --- expressions -----------------------------------------------------------------------------

SDK_HEADER = (
    "import os\n"
    "from runpod_flash import (CpuInstanceType, CpuLiveServerless, DataCenter, Endpoint, GpuGroup,\n"
    "    LiveLoadBalancer, LiveServerless, NetworkVolume, PodTemplate, ServerlessEndpoint, remote)\n"
    "import runpod_flash as rf\n"
)

NAMES = (
    # SDK names and their members
    "Endpoint", "remote", "LiveServerless", "CpuLiveServerless", "ServerlessEndpoint", "LiveLoadBalancer",
    "NetworkVolume", "PodTemplate", "GpuGroup", "CpuInstanceType", "DataCenter", "rf",
    # module variables the generated modules define (some of them in terms of themselves)
    "cfg", "api", "CONST", "NAME", "ITEMS", "OPTIONS", "loop", "later",
    # builtins the evaluator knows and some it does not
    "int", "str", "dict", "list", "tuple", "set", "frozenset", "float", "bool", "len", "print", "open",
    # environment and undefined names
    "os", "environ", "undefined_name", "np", "__name__", "self",
)
ATTRIBUTES = (
    "ADA_24", "AMPERE_80", "ANY", "NOPE", "CPU3C_1_2", "EU_RO_1", "environ", "getenv", "post", "get",
    "put", "delete", "patch", "route", "value", "name", "__class__", "mro", "real", "x",
)
HUGE = (
    "10 ** 5000", "2 ** 64", "(10 ** 64) ** 64", "((10 ** 64) ** 64) ** 2", "0x" + "f" * 5000, "1e999",
    "-1e999", "float('nan')", "float('inf')", "'x' * 10 ** 9", "[0] * 10 ** 8", "(1 << 100000)",
    "9" * 4000, "int('9' * 4000) * int('9' * 4000)", "10 ** -400", "'%s' % (10 ** 5000)",
    "-(2 ** 63)", "True + True", "[[0] * 9999] * 9999", "2 ** 64 ** 2",
)


class _Raw(ast.expr):
    """Source text spliced verbatim into an unparsed tree (huge literals, odd spellings)."""

    _fields = ()

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class _Unparser(ast._Unparser):  # type: ignore[name-defined,misc]
    def visit__Raw(self, node: _Raw) -> None:
        self.write(f"({node.text})")


def unparse(node: ast.AST) -> str:
    return _Unparser().visit(ast.fix_missing_locations(node))


def _name(identifier: str) -> ast.expr:
    return ast.Name(identifier, ast.Load())


_STRINGS = st.one_of(
    st.sampled_from(["", "quickstart", "bad name!", "a" * 200, "/path", "/ping", "/", "numpy", "numpy==1.0", "é"]),
    st.text(max_size=12),
)
_CONSTANTS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 1, -1, 3, 2**31, 2**63]),
    st.floats(allow_nan=False, allow_infinity=False),
    _STRINGS,
    st.binary(max_size=8),
    st.sampled_from([None, True, False, ...]),
)
_LEAVES = st.one_of(
    _CONSTANTS.map(lambda value: ast.Constant(value)),
    st.sampled_from(NAMES).map(_name),
    st.sampled_from(HUGE).map(_Raw),
)
_BINARY_OPERATORS = st.sampled_from(
    [ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow, ast.BitOr, ast.BitAnd, ast.LShift, ast.MatMult]
)


def _extend(inner: st.SearchStrategy[ast.expr]) -> st.SearchStrategy[ast.expr]:
    keywords = st.lists(
        st.tuples(st.one_of(st.sampled_from(["name", "gpu", "workers", "path", "x", "resource_config"]), st.none()), inner),
        max_size=3,
    ).map(lambda pairs: [ast.keyword(arg, value) for arg, value in pairs])
    arguments = st.lists(st.one_of(inner, inner.map(lambda e: ast.Starred(e, ast.Load()))), max_size=3)
    comprehension = st.builds(
        lambda target, iterable, condition: [ast.comprehension(ast.Name(target, ast.Store()), iterable, condition, 0)],
        st.sampled_from(["i", "CONST", "cfg"]),
        inner,
        st.lists(inner, max_size=1),
    )
    formatted = st.builds(
        lambda value, conversion, spec: ast.FormattedValue(
            value, conversion, None if spec is None else ast.JoinedStr([ast.FormattedValue(spec, -1, None)])
        ),
        inner,
        st.sampled_from([-1, ord("r"), ord("s"), ord("a")]),
        st.one_of(st.none(), inner),
    )
    return st.one_of(
        st.builds(lambda e, attribute: ast.Attribute(e, attribute, ast.Load()), inner, st.sampled_from(ATTRIBUTES)),
        st.builds(lambda f, a, k: ast.Call(f, a, k), inner, arguments, keywords),
        st.builds(lambda e, i: ast.Subscript(e, i, ast.Load()), inner, inner),
        st.builds(lambda a, op, b: ast.BinOp(a, op(), b), inner, _BINARY_OPERATORS, inner),
        st.builds(lambda op, e: ast.UnaryOp(op(), e), st.sampled_from([ast.USub, ast.UAdd, ast.Not, ast.Invert]), inner),
        st.builds(lambda a, b: ast.BoolOp(ast.Or(), [a, b]), inner, inner),
        st.builds(lambda a, b: ast.Compare(a, [ast.Lt()], [b]), inner, inner),
        st.builds(lambda a, b, c: ast.IfExp(a, b, c), inner, inner, inner),
        arguments.map(lambda items: ast.List(items, ast.Load())),
        arguments.map(lambda items: ast.Tuple(items, ast.Load())),
        st.lists(inner, min_size=1, max_size=3).map(ast.Set),
        st.lists(st.tuples(st.one_of(st.none(), inner), inner), max_size=3).map(
            lambda pairs: ast.Dict([k for k, _ in pairs], [v for _, v in pairs])
        ),
        st.lists(st.one_of(formatted, _STRINGS.map(ast.Constant)), min_size=1, max_size=3).map(ast.JoinedStr),
        st.builds(
            lambda body: ast.Lambda(ast.arguments([], [ast.arg("x")], None, [], [], None, []), body), inner
        ),
        st.builds(ast.ListComp, inner, comprehension),
        st.builds(ast.DictComp, inner, inner, comprehension),
        st.builds(lambda target, value: ast.NamedExpr(ast.Name(target, ast.Store()), value), st.sampled_from(["w", "CONST"]), inner),
        st.builds(ast.Slice, st.one_of(st.none(), inner), st.one_of(st.none(), inner)),
    )


EXPRESSIONS: st.SearchStrategy[ast.expr] = st.recursive(_LEAVES, _extend, max_leaves=12)


def _source(node: ast.expr) -> str:
    """The text of a generated expression (f-strings that 3.11 cannot spell fall back to a name)."""
    try:
        return unparse(node)
    except (ValueError, RecursionError):
        return "unparsable_fstring"


expressions: st.SearchStrategy[str] = EXPRESSIONS.map(_source)
"""Python expressions as source text."""


# --- decorated modules -----------------------------------------------------------------------

_ENDPOINT_KEYWORDS = ("name", "gpu", "cpu", "workers", "dependencies", "idle_timeout", "env", "volume", "template", "image", "id")
_RESOURCE_KEYWORDS = ("name", "gpus", "instanceIds", "workersMin", "workersMax", "networkVolume", "template", "imageName")


@st.composite
def _call(draw: st.DrawFn, callee: str, keywords: tuple[str, ...]) -> str:
    parts = [draw(expressions) for _ in range(draw(st.integers(0, 1)))]
    for keyword in draw(st.lists(st.sampled_from(keywords), max_size=4, unique=True)):
        parts.append(f"{keyword}={draw(expressions)}")
    if draw(st.integers(0, 5)) == 0:
        parts.append(f"*{draw(expressions)}")
    if draw(st.integers(0, 5)) == 0:
        parts.append(f"**{draw(expressions)}")
    return f"{callee}({', '.join(parts)})"


_BODIES = (
    "    return {expression}\n",
    "    import numpy as np\n    return np.sum(CONST) + len(ITEMS)\n",
    "    global CONST\n    CONST = {expression}\n    return helper(x)\n",
    "    y = [CONST for CONST in ITEMS]\n    return other(y)  # flashc: ignore[FC101]\n",
    "    def inner():\n        nonlocal x\n        return x\n    return inner\n",
    '    """Docstring."""\n    return await other({expression})\n',
)


@st.composite
def decorated_modules(draw: st.DrawFn) -> str:
    """A module of runpod-flash declarations whose arguments are random expressions."""
    lines = [SDK_HEADER]
    for name in draw(st.lists(st.sampled_from(["CONST", "NAME", "ITEMS", "OPTIONS", "cfg", "loop", "np"]), max_size=5, unique=True)):
        value = draw(st.one_of(expressions, _call("LiveServerless", _RESOURCE_KEYWORDS), _call("Endpoint", _ENDPOINT_KEYWORDS)))
        lines.append(f"{name} = {value}\n")
    if draw(st.booleans()):
        lines.append(f"api = {draw(_call('Endpoint', _ENDPOINT_KEYWORDS))}\n")
    for index in range(draw(st.integers(1, 4))):
        decorators = []
        for _ in range(draw(st.integers(1, 2))):
            decorators.append(
                draw(
                    st.one_of(
                        _call("Endpoint", _ENDPOINT_KEYWORDS),
                        _call("remote", ("resource_config", "dependencies", "system_dependencies", "local", "method", "path")),
                        _call(draw(st.sampled_from(["api.post", "api.get", "api.route", "rf.remote", "rf.Endpoint"])), ("path", "method")),
                        st.sampled_from(["Endpoint", "remote", "cfg", "api", "staticmethod"]),
                        expressions,
                    )
                )
            )
        keyword = draw(st.sampled_from(["async def", "def", "class"]))
        body = draw(st.sampled_from(_BODIES)).format(expression=draw(expressions))
        signature = "" if keyword == "class" else "(x, y=CONST, *args, z: NAME = 1, **kwargs)"
        if keyword == "class":
            body = f"    def run(self, x):\n    {body.replace(chr(10) + '    ', chr(10) + '        ')}"
        text = "".join(f"@{d}\n" for d in decorators) + f"{keyword} f{index}{signature}:\n{body}\n"
        if draw(st.integers(0, 4)) == 0:  # nested under a module-level block or inside a function
            wrapper = draw(st.sampled_from(["if CONST:\n", "try:\n", "def outer():\n", "with loop:\n"]))
            text = wrapper + "".join("    " + line if line.strip() else line for line in text.splitlines(True))
            if wrapper == "try:\n":
                text += "except Exception:\n    pass\n"
        lines.append(text)
    if draw(st.booleans()):
        lines.append(f"applied = {draw(_call('remote', ('resource_config',)))}(f0)\n")
    if draw(st.booleans()):
        lines.append(f"later = {draw(expressions)}\n")
    return "\n".join(lines)


# --- mutations of real modules ----------------------------------------------------------------


@lru_cache(maxsize=1)
def corpus() -> tuple[str, ...]:
    """The rule fixtures and examples: real modules, in every spelling flashc understands."""
    files = sorted({*REPO.glob("tests/fixtures/rules/**/*.py"), *REPO.glob("examples/**/*.py")})
    texts = []
    for file in files:
        try:
            texts.append(file.read_text(encoding="utf-8"))
        except UnicodeDecodeError:  # the latin-1 fixture
            continue
    return tuple(texts)


@lru_cache(maxsize=None)
def _tokens(index: int) -> tuple[tuple[int, int], ...]:
    """(start, end) character offsets of the tokens of corpus module ``index``."""
    text = corpus()[index]
    starts = [0]
    for line in text.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    spans = []
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type in (tokenize.ENDMARKER, tokenize.DEDENT):
            continue
        start = starts[token.start[0] - 1] + token.start[1]
        end = starts[token.end[0] - 1] + token.end[1]
        if end > start:
            spans.append((start, end))
    return tuple(spans)


INSERTIONS = ("(", ")", "[", ":", "\\\n", "\x0c", "\u2028", "\r", "\t", "\x00", "é", "𝔘", "@", "def ", " ", "\n    ", "'", '"""', "#")


@st.composite
def mutated_modules(draw: st.DrawFn) -> str:
    """A real module truncated, with tokens deleted or duplicated, or with stray characters inserted."""
    index = draw(st.integers(0, len(corpus()) - 1))
    text = corpus()[index]
    tokens = _tokens(index)
    for _ in range(draw(st.integers(1, 4))):
        action = draw(st.sampled_from(["truncate", "delete", "duplicate", "insert", "swap"]))
        if action == "truncate":
            text = text[: draw(st.integers(0, len(text)))]
            tokens = tuple(t for t in tokens if t[1] <= len(text))
        elif tokens and action in ("delete", "duplicate", "swap"):
            start, end = draw(st.sampled_from(tokens))
            if action == "delete":
                replacement = ""
            elif action == "duplicate":
                replacement = text[start:end] * 2
            else:
                other_start, other_end = draw(st.sampled_from(tokens))
                replacement = text[other_start:other_end]
            text = text[:start] + replacement + text[end:]
            shift = len(replacement) - (end - start)
            tokens = tuple((s, e) if e <= start else (s + shift, e + shift) for s, e in tokens if e <= start or s >= end)
        elif action == "insert":
            position = draw(st.integers(0, len(text)))
            text = text[:position] + draw(st.sampled_from(INSERTIONS)) + text[position:]
            tokens = tuple(t for t in tokens if t[1] <= position)
    return text


# --- hypothesmith programs with decorators --------------------------------------------------------

DECORATORS = (
    "@Endpoint(name='fuzz', gpu=GpuGroup.ADA_24)",
    "@Endpoint(name='fuzz-cpu', cpu=CpuInstanceType.CPU3C_1_2, workers=(0, 2))",
    "@remote(LiveServerless(name='legacy'))",
    "@remote(resource_config=cfg, dependencies=['numpy'])",
    "@api.post('/run')",
    "@Endpoint",
)


def with_decorators(program: str, choices: list[int]) -> str:
    """``program`` with SDK decorators before some of its ``def``/``class`` lines, and the SDK imported."""
    lines = program.splitlines(keepends=True)
    result = []
    definitions = 0
    for line in lines:
        stripped = line.lstrip(" \t")
        if stripped.startswith(("def ", "async def ", "class ")) and choices:
            choice = choices[definitions % len(choices)]
            definitions += 1
            if choice < len(DECORATORS):
                result.append(line[: len(line) - len(stripped)] + DECORATORS[choice] + "\n")
        result.append(line)
    return SDK_HEADER + "cfg = LiveServerless(name='shared')\napi = Endpoint(name='api')\n" + "".join(result)


# --- configuration -----------------------------------------------------------------------------

CONFIG_KEYS = ("app", "exclude", "python-version", "select", "extend-select", "ignore", "per-file-ignores", "severity", "fail-on")
_CONFIG_STRINGS = st.one_of(
    st.sampled_from(
        ["ALL", "all", "FC", "FC1", "fc101", "FC999", "FC1000", "E501", "", " ", "error", "warning", "info", "never",
         "ERROR", "3.11", "3.9", "*.py", "[", "**/", "!x", "\\", "a/**/b", "/", "tests/"]
    ),
    st.text(max_size=8),
)
TOML_VALUES = st.recursive(
    st.one_of(_CONFIG_STRINGS, st.integers(), st.floats(allow_nan=False), st.booleans()),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.one_of(_CONFIG_STRINGS, st.sampled_from(["FC101", "fc1", "tests/*.py"])), inner, max_size=3),
    ),
    max_leaves=6,
)
config_tables = st.dictionaries(
    st.one_of(st.sampled_from(CONFIG_KEYS), st.sampled_from(["selct", "fail_on", "Select", "codes"]), st.text(max_size=6)),
    TOML_VALUES,
    max_size=4,
)
"""Random ``[tool.flashc]`` tables (keys mostly known, values of any TOML shape)."""


def toml_value(value: object) -> str:
    """A TOML spelling of a generated value (inline tables and arrays)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value) if value == value and abs(value) != float("inf") else "nan"
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    assert isinstance(value, dict)
    return "{" + ", ".join(f"{_toml_string(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


def _toml_string(text: str) -> str:
    escaped = "".join(
        {"\\": "\\\\", '"': '\\"'}.get(c, c) if 0x20 <= ord(c) != 0x7F and not 0xD800 <= ord(c) <= 0xDFFF else f"\\u{ord(c):04x}"
        for c in text
    )
    return f'"{escaped}"'


CLI_OPTIONS = ("--select", "--extend-select", "--ignore", "--format", "--fail-on")
_CLI_VALUES = st.one_of(
    st.sampled_from(["FC101", "FC1,FC3", "ALL", "fc9", "FC999", "E501", "", ",", "text", "json", "sarif", "github",
                     "concise", "xml", "error", "warning", "never", "fatal", "-q"]),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=6),
)
cli_arguments = st.lists(
    st.one_of(
        st.tuples(st.sampled_from(CLI_OPTIONS), _CLI_VALUES).map(list),
        st.sampled_from([["--statistics"], ["-q"], ["--quiet"], ["--diff"], ["--unsafe-fixes"], ["--fix"], ["--no-cache"],
                         ["--frobnicate"], ["--select"], ["--format"], ["missing_dir"], ["m.py"], ["."], ["missing.py"]]),
    ),
    max_size=4,
).map(lambda groups: [argument for group in groups for argument in group])
"""Random ``flashc check`` argument lists (``--watch`` is left out: it never returns)."""
