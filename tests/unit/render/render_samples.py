"""Hand-made diagnostics, rules and source lines for the renderer tests.

The real catalogue is still growing, so the tests swap in their own small one: renderers look
rule names up through ``flashc.rules.registry``, and the snapshots must not change when a rule
is added elsewhere.
"""

from __future__ import annotations

from flashc.diagnostics import Applicability, Diagnostic, Edit, Fix, Note, Position, Severity, Span
from flashc.rules.base import Rule

SOURCE = {
    "app.py": [
        "import torch",
        "",
        "@remote(gpu_config)",
        "def infer(x):",
        "    return torch.zeros(x)  # 100% sure: a, b",
        "",
        "def greet():",
        '    message = "he\u0301llo 世界"; print(名前)',
        "",
        "def grouped():",
        "\tvalue = compute(a,\tb)",
    ],
    "we:ird,dir/setup.py": ["x = 1"],
}


def span(path: str, line: int, column: int, end_line: int, end_column: int) -> Span:
    return Span(path, Position(line, column), Position(end_line, end_column))


CAPTURED = Rule(
    code="FC101",
    name="module-import-captured",
    summary="An endpoint body uses a module imported outside it.",
    severity=Severity.ERROR,
    fix=Applicability.SAFE,
    why="""
        Only the body of an endpoint function runs on the worker. A module imported at the top of
        the file is not imported there, so the first call fails with a `NameError` after the
        worker has already started.
    """,
    example="""
        import torch

        @remote(gpu_config)
        def infer(x):
            return torch.zeros(x)
    """,
    instead="""
        @remote(gpu_config)
        def infer(x):
            import torch
            return torch.zeros(x)
    """,
    notes="""
        Imports used only in annotations are not reported.

        - `from __future__` imports are ignored;
        - star imports are reported by FC102.
    """,
)
SHADOWED = Rule(
    code="FC205",
    name="name-shadowed",
    summary="A name in the body is shadowed by a global of the same name.",
    severity=Severity.WARNING,
    fix=Applicability.UNSAFE,
    why="The worker resolves the global, not the local you meant.",
    example="print(名前)",
)
SPREAD = Rule(
    code="FC410",
    name="body-spread",
    summary="A statement spans several lines.",
    severity=Severity.INFO,
    fix=None,
    why="",
    example="x = (\n    1\n)",
    always_on=True,
)
TEST_RULES = (CAPTURED, SHADOWED, SPREAD)


def read_line(path: str, line: int) -> str | None:
    lines = SOURCE.get(path, [])
    return lines[line - 1] if 0 < line <= len(lines) else None


def sample_diagnostics() -> list[Diagnostic]:
    """One of each shape a renderer must handle."""
    return [
        Diagnostic(
            code="FC101",
            message="`infer` uses `torch`, imported at module level (100% sure: a, b)",
            span=span("app.py", 5, 11, 5, 16),
            severity=Severity.ERROR,
            fix=Fix(
                title="Move `import torch` into `infer`",
                edits=(
                    Edit(span("app.py", 1, 0, 2, 0), ""),
                    Edit(span("app.py", 5, 0, 5, 0), "    import torch\n"),
                ),
                applicability=Applicability.SAFE,
            ),
            notes=(
                Note("`torch` is imported here", span("app.py", 1, 7, 1, 12)),
                Note("only the function body ships to the worker;\nmodule-level imports do not"),
            ),
        ),
        Diagnostic(
            code="FC205",
            message="`名前` is shadowed by a global",
            span=span("app.py", 8, 33, 8, 35),
            severity=Severity.WARNING,
            fix=Fix(
                title="Rename to `名前_local`",
                edits=(Edit(span("app.py", 8, 33, 8, 35), "名前_local"),),
                applicability=Applicability.UNSAFE,
            ),
        ),
        Diagnostic(
            code="FC410",
            message="This statement spans lines 10 to 11",
            span=span("app.py", 10, 4, 11, 5),
            severity=Severity.INFO,
        ),
        Diagnostic(
            code="FC999",
            message="`compute` is not defined",
            span=span("app.py", 11, 9, 11, 16),
            severity=Severity.ERROR,
            fix=Fix(
                title="Import `compute` from `helpers`",
                edits=(Edit(span("app.py", 1, 0, 1, 0), "from helpers import compute\n"),),
                applicability=Applicability.DISPLAY_ONLY,
            ),
        ),
        Diagnostic(
            code="FC101",
            message="`setup` uses `x`",
            span=span("we:ird,dir/setup.py", 1, 0, 1, 1),
            severity=Severity.ERROR,
            fix=Fix(
                title="Inline `x`",
                edits=(Edit(span("we:ird,dir/setup.py", 1, 0, 1, 1), "1"),),
                applicability=Applicability.SAFE,
            ),
        ),
    ]
