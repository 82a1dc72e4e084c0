"""Re-checks in one process (the editor path) reuse each unchanged module's parse and discovery.

Whatever a sequence of edits is, each re-check must say exactly what a check from scratch says:
including when the edited module changes the outcome of modules that were not edited (a
configuration they import, an endpoint object they add routes to, a module that appears).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from flashc import api
from flashc.analysis import project as front_end
from flashc.rules import dependencies

CONFIG = 'from flashc import CpuInstanceType, CpuLiveServerless\n\ncpu = CpuLiveServerless(name="shared", instanceIds=[CpuInstanceType.CPU3C_1_2], workersMax=2)\n'
WORKER = (
    "from flashc import remote\n\nfrom config import cpu\n\n\n"
    "@remote(resource_config=cpu)\nasync def work(x: int) -> int:\n    from helpers import double\n\n    return double(x)\n"
)
HELPERS = "def double(x: int) -> int:\n    return x * 2\n"
API = 'from flashc import CpuInstanceType, Endpoint\n\napi = Endpoint(name="web", cpu=CpuInstanceType.CPU3C_1_2)\n\n\n@api.get("/a")\nasync def a() -> dict:\n    return {}\n'
ROUTES = 'from app import api\n\n\n@api.post("/b")\nasync def b(x: int) -> dict:\n    from worker import work\n\n    return {"x": await work(x)}\n'
DUPLICATE = (
    '\n\nfrom flashc import CpuLiveServerless, remote\n\n'
    'dup = CpuLiveServerless(name="shared", instanceIds=[CpuInstanceType.CPU3C_1_2], workersMax=2)\n\n\n'
    "@remote(resource_config=dup)\nasync def other(y: int) -> int:\n    return y\n"
)

EDITS: list[tuple[str, dict[str, str]]] = [
    ("as written", {}),
    ("the config becomes a load balancer: the worker's @remote lacks a route", {"config.py": CONFIG.replace("CpuLiveServerless", "CpuLoadBalancerSlsResource")}),
    ("the config is renamed: the worker's import finds nothing", {"config.py": CONFIG.replace("cpu =", "cpu2 =")}),
    ("back as written", {}),
    ("the shared api gains a setting: both modules' routes move with it", {"app.py": API.replace("CPU3C_1_2)", "CPU3C_1_2, workers=(0, 2))")}),
    ("a route module calls the worker wrongly", {"routes.py": ROUTES.replace("await work(x)", "await work(x, 3)")}),
    ("the route module drops its await", {"routes.py": ROUTES.replace('return {"x": await work(x)}', 'work(x)\n    return {"x": x}')}),
    ("a second module declares the same endpoint name", {"app.py": API + DUPLICATE}),
    ("the helper the worker imports loads an undeclared package", {"helpers.py": "import requests\n\n" + HELPERS}),
    ("the helper loses the function the worker imports", {"helpers.py": HELPERS.replace("double", "twice")}),
    ("back as written", {}),
]


def _forget() -> None:
    for cache in (front_end._PARSED, front_end._READ, front_end._SCANNED, front_end._DISCOVERED, front_end._NAMES, front_end._RESOLVED, dependencies._KEPT):
        cache.clear()


def _outcome(root: Path, overrides: dict[str, str]) -> tuple[list[tuple[str, str, int, str]], list[tuple[object, ...]]]:
    options = api.CheckOptions(use_cache=False, jobs=1)
    checked = api.check([root], options, overrides=overrides)
    found = [(d.code, d.span.path, d.span.start.line, d.message) for d in checked.diagnostics]
    model = api.inspect_project(root, overrides)
    endpoints = [
        (e.name, e.path, tuple(f.name for f in e.functions), tuple((r.method, r.path) for f in e.functions for r in f.routes), e.configuration_key())
        for e in model.endpoints
    ]
    return found, endpoints


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "t"\nversion = "0"\n', encoding="utf-8")
    for name, text in {"config.py": CONFIG, "worker.py": WORKER, "app.py": API, "routes.py": ROUTES, "helpers.py": HELPERS}.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def test_every_recheck_says_what_a_check_from_scratch_says(root: Path) -> None:
    _forget()
    outcomes = []
    for what, overrides in EDITS:
        incremental = _outcome(root, overrides)
        _forget()
        scratch = _outcome(root, overrides)
        assert incremental == scratch, what
        outcomes.append(incremental)
        _outcome(root, overrides)  # warm the caches again for the next edit
    codes = [sorted({code for code, *_ in found}) for found, _ in outcomes]
    assert codes[0] == [] and codes[3] == [] and codes[-1] == []
    assert "FC301" in codes[1]
    assert codes[2] != []
    assert "FC202" in codes[5]
    assert "FC201" in codes[6]
    assert "FC310" in codes[7]
    assert "FC401" in codes[8]
    assert "FC404" in codes[9]


def test_routes_added_from_another_module_stay_one_endpoint_after_either_is_edited(root: Path) -> None:
    _forget()
    _outcome(root, {})
    for overrides in ({"routes.py": ROUTES + "\n# edited\n"}, {"app.py": API + "\n# edited\n"}):
        _, endpoints = _outcome(root, overrides)
        web = [e for e in endpoints if e[0] == "web"]
        assert len(web) == 1, endpoints
        assert sorted(web[0][3]) == [("GET", "/a"), ("POST", "/b")]


def test_a_module_that_appears_is_seen_by_the_modules_importing_it(root: Path) -> None:
    _forget()
    (root / "config.py").unlink()
    missing, _ = _outcome(root, {})
    assert missing != []
    (root / "config.py").write_text(CONFIG, encoding="utf-8")
    found, endpoints = _outcome(root, {})
    assert found == []
    assert "shared" in [e[0] for e in endpoints]
