"""Python's scoping rules as the capture analysis applies them to an endpoint body."""

from __future__ import annotations

import ast
import textwrap

import pytest

from flashc.analysis.capture import Origin, Site, analyse_body, definition_paths, enclosing_definitions


def free_names(source: str, *, annotations: bool = True) -> list[tuple[str, str, str]]:
    """``(name, site, origin)`` of every use the body takes from outside, for the last definition."""
    tree = ast.parse(textwrap.dedent(source))
    target = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and n.name == "endpoint"][0]
    enclosing = enclosing_definitions(tree)[id(target)]
    uses = analyse_body(target, enclosing, [], annotations)
    return [(u.name, u.site.value, u.origin.value) for u in uses.uses]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        # Locals, parameters, in-body imports and nested definitions are the body's own;
        # builtins are module-level names here (the rules know them).
        ("def endpoint(a, *b, c=1, **d):\n    import os\n    def inner(): return os, a, b, c, d\n    return inner, len", [("len", "body", "module")]),
        # A name assigned anywhere in the function is local to all of it.
        ("def endpoint():\n    print(x)\n    x = 1", [("print", "body", "module")]),
        # Class bodies are not visible from their methods...
        ("class endpoint:\n    size = 2\n    def run(self):\n        return size", [("size", "body", "module")]),
        # ...but are to the class body itself, including a comprehension's first iterable.
        ("class endpoint:\n    size = [1]\n    doubled = [v * 2 for v in size]", []),
        # A comprehension's other parts cannot see the class scope.
        ("class endpoint:\n    k = 2\n    table = [v * k for v in range(3)]", [("range", "body", "module"), ("k", "body", "module")]),
        # Walrus in a comprehension binds in the enclosing function.
        ("def endpoint(xs):\n    if any((hit := x) > 1 for x in xs):\n        return hit", [("any", "body", "module")]),
        # except, match captures and with targets bind.
        ("def endpoint(v):\n    try:\n        pass\n    except ValueError as e:\n        return e\n    match v:\n        case [first, *rest]:\n            return first, rest\n        case {'k': 1, **others}:\n            return others\n    with open(v) as f:\n        return f", [("ValueError", "body", "module"), ("open", "body", "module")]),
        # nonlocal between functions of the body stays inside; a global goes to the module.
        ("def endpoint():\n    total = 0\n    def add():\n        nonlocal total\n        total += 1\n    global counter\n    return counter", [("counter", "body", "module")]),
        # Lambda defaults are evaluated outside the lambda, its parameters bind inside.
        ("def endpoint():\n    return lambda a, b=limit: a + b", [("limit", "body", "module")]),
        # The endpoint's own defaults, decorators and annotations run where it is defined.
        ("@trace\ndef endpoint(a: Array = DEFAULT) -> Result:\n    return a", [("trace", "decorator", "module"), ("DEFAULT", "default", "module"), ("Array", "annotation", "module"), ("Result", "annotation", "module")]),
        # Quoted annotations, and local variable annotations, are never evaluated.
        ("def endpoint(a: 'Array'):\n    b: Local = a\n    return b", []),
        # Variables of an enclosing function are closures.
        ("def outer(scale):\n    def endpoint(x):\n        return x * scale\n    return endpoint", [("scale", "body", "closure")]),
        # ``x += 1`` reads x.
        ("def endpoint():\n    global hits\n    hits += 1", [("hits", "body", "module")]),
    ],
)
def test_free_names(source: str, expected: list[tuple[str, str, str]]) -> None:
    assert free_names(source) == expected


def test_annotations_are_not_evaluated_under_postponed_evaluation() -> None:
    assert free_names("def endpoint(a: Array) -> Result:\n    return a", annotations=False) == []


def test_attribute_uses_record_the_attribute() -> None:
    tree = ast.parse("def endpoint():\n    return workers.embed(1)")
    (use,) = analyse_body(tree.body[0], (), [], True).uses
    assert (use.name, use.attribute, use.site, use.origin) == ("workers", "embed", Site.BODY, Origin.MODULE)


def test_definition_paths_count_same_named_definitions_per_parent() -> None:
    tree = ast.parse("def f(): pass\nclass C:\n    def f(self): pass\nif x:\n    def f(): pass\n")
    paths = sorted(definition_paths(tree).values())
    assert paths == [(("C", 0),), (("C", 0), ("f", 0)), (("f", 0),), (("f", 1),)]
