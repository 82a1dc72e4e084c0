"""Client stubs: endpoint definitions become async functions that call the deployed endpoint.

The client mirror of every module is snapshotted (``__snapshots__/``); the
properties that matter are asserted directly: the output compiles, a second
run changes nothing, signatures are kept, and a stub really sends the request
runpod-flash's wire shape describes and returns (or raises) what comes back.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from flashc.analysis import analyse
from flashc.config import load_config
from flashc.model import EndpointKind, ProjectModel
from flashc.transforms.stubs import (
    IMPORT_LINE,
    StubError,
    StubTarget,
    stub_module,
    stub_source,
    unmapped_sdk_imports,
)
from flashc_runtime import client
from flashc_runtime.sdk.exceptions import EndpointNotDeployedError, FlashRuntimeError, RemoteExecutionError

from support import REPO

QUICKSTART = REPO / "examples" / "quickstart"

FIXTURE = '''\
"""Every kind of endpoint a client stub stands for."""

from __future__ import annotations

import functools

import runpod_flash as rf
from runpod_flash import Endpoint, GpuGroup, LiveServerless, remote

# Values the client and the workers share.
DEFAULT_FACTOR = 2.5
LABELS = ("a", "b")

gpu = LiveServerless(name="fixture-gpu")


@remote(gpu)  # a plain def: its stub is still a coroutine function
def scale(values: list[float], factor: float = DEFAULT_FACTOR) -> list[float]:
    """Multiply on the GPU."""
    return [v * factor for v in values]


@rf.Endpoint(name="fixture-varargs", cpu="cpu3c-1-2")
async def gather(first, *rest: int, label: str = LABELS[0], **options) -> list:
    return [first, *rest, label, options]


@Endpoint(name="fixture-kinds", gpu=GpuGroup.AMPERE_24)
async def kinds(a, b=1, /, c=2, *, d, e=LABELS):
    # This comment is part of the body, which stays on the worker.
    return [a, b, c, d, e]


@Endpoint(name="fixture-model", gpu=GpuGroup.ADA_24)
class Model:
    """Holds a model per worker."""

    def __init__(self):
        self.weights = None

    # Scored on the worker.
    async def predict(self, text: str, top_k: int = 3) -> list[str]:
        """Top labels of ``text``."""
        return [text] * top_k

    def info(self) -> dict:
        return {}

    @staticmethod
    def version() -> str:
        return "1"

    def _private(self):
        return None


api = rf.Endpoint(name="fixture-api", cpu="cpu3c-1-2")


@api.get("/items/{item_id}")
async def get_item(item_id: str, verbose: bool = False) -> dict:
    return {"id": item_id, "verbose": verbose}


@api.post("/items")
def create_item(name: str, tags: list[str] | None = None) -> dict:
    return {"name": name, "tags": tags}


# Runs in the caller's process: kept, only the SDK decorator goes.
@remote(LiveServerless(name="fixture-local"), local=True)  # local: no network
@functools.lru_cache(maxsize=None)
def helper(x: int) -> int:
    return x + 1


def plain(x):  # not an endpoint: unchanged


    return x * 2


if __name__ == "__main__":
    import asyncio

    print(asyncio.run(scale([1.0])))
'''


# --- targets from the analysis ------------------------------------------------------------------


def targets(model: ProjectModel, module: str) -> tuple[dict[str, StubTarget], set[str], set[tuple[int, int]]]:
    """What the build asks of ``module``: its stubs, the kept (local) definitions and their SDK decorators."""
    stubs: dict[str, StubTarget] = {}
    keep: set[str] = set()
    strip: set[tuple[int, int]] = set()
    for endpoint in model.endpoints:
        assert endpoint.name is not None
        for function in endpoint.functions:
            if function.module != module:
                continue
            if function.local:
                keep.add(function.name)
                strip.update((s.start.line, s.start.column) for s in function.sdk_decorator_spans)
            elif function.is_class:
                methods = tuple(m.name for m in function.methods)
                stubs[function.name] = StubTarget(function.name, endpoint.name, "class", methods)
            elif endpoint.kind is EndpointKind.LOAD_BALANCED:
                route = function.routes[0]
                stubs[function.name] = StubTarget(function.name, endpoint.name, "route", http_method=route.method, http_path=route.path)
            else:
                stubs[function.name] = StubTarget(function.name, endpoint.name, "function")
    return stubs, keep, strip


def analysed(root: Path) -> ProjectModel:
    return analyse(root, load_config(root)).model


@pytest.fixture
def fixture_project(make_project) -> tuple[str, ProjectModel]:
    root = make_project({"app.py": FIXTURE})
    return FIXTURE, analysed(root)


def client_mirror(source: str, model: ProjectModel, module: str, *, faithful: bool = True) -> str:
    stubs, keep, strip = targets(model, module)
    return stub_module(source, stubs, keep=keep, strip=strip, faithful=faithful)


# --- snapshots ---------------------------------------------------------------------------------

QUICKSTART_MODULES = sorted(p.stem for p in QUICKSTART.glob("*.py"))


@pytest.mark.parametrize("module", QUICKSTART_MODULES)
def test_quickstart_client_mirror(module: str, text_snapshot) -> None:
    model = analysed(QUICKSTART)
    source = (QUICKSTART / f"{module}.py").read_text(encoding="utf-8")
    output = client_mirror(source, model, module)
    compile(output, f"{module}.py", "exec")
    assert output == text_snapshot


def test_fixture_client_mirror(fixture_project, text_snapshot) -> None:
    source, model = fixture_project
    output = client_mirror(source, model, "app")
    compile(output, "app.py", "exec")
    assert output == text_snapshot


def test_fixture_handler_mirror(fixture_project, text_snapshot) -> None:
    source, model = fixture_project
    output = client_mirror(source, model, "app", faithful=False)
    compile(output, "app.py", "exec")
    assert output == text_snapshot


def test_stub_source(fixture_project, text_snapshot) -> None:
    source, model = fixture_project
    stubs, _, _ = targets(model, "app")
    wanted = {name: stubs[name] for name in ("Model", "scale", "get_item")}
    output = stub_source(source, wanted, faithful=False)
    compile(output, "stubs.py", "exec")
    assert output.startswith(IMPORT_LINE + "\n\n\n")
    defined = [node.name for node in ast.parse(output).body if isinstance(node, (ast.AsyncFunctionDef, ast.ClassDef))]
    assert defined == ["scale", "Model", "get_item"]  # source order, not the order asked for
    assert output == text_snapshot


# --- properties ------------------------------------------------------------------------------------


def test_stubs_keep_the_signature(fixture_project) -> None:
    source, model = fixture_project
    output = ast.parse(client_mirror(source, model, "app"))
    original = ast.parse(source)
    before = {n.name: n for n in original.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    after = {n.name: n for n in output.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    for name in ("scale", "gather", "kinds", "get_item", "create_item"):
        assert isinstance(after[name], ast.AsyncFunctionDef), name
        assert ast.dump(after[name].args) == ast.dump(before[name].args), name
        assert ast.dump(after[name].returns) == ast.dump(before[name].returns) if before[name].returns else True
        assert after[name].decorator_list == []
        assert ast.get_docstring(after[name]) == ast.get_docstring(before[name])
    model_class = next(n for n in output.body if isinstance(n, ast.ClassDef) and n.name == "Model")
    methods = {n.name: n for n in model_class.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    assert list(methods) == ["predict", "info", "version"]  # no __init__, no private methods
    assert all(isinstance(m, ast.AsyncFunctionDef) for m in methods.values())
    assert [ast.unparse(d) for d in methods["version"].decorator_list] == ["staticmethod"]
    assert ast.get_docstring(model_class) == "Holds a model per worker."
    assert ast.get_docstring(methods["predict"]) == "Top labels of ``text``."


def test_kept_definitions_lose_only_their_sdk_decorators(fixture_project) -> None:
    source, model = fixture_project
    output = client_mirror(source, model, "app")
    helper = next(n for n in ast.parse(output).body if isinstance(n, ast.FunctionDef) and n.name == "helper")
    assert [ast.unparse(d) for d in helper.decorator_list] == ["functools.lru_cache(maxsize=None)"]
    assert "# Runs in the caller's process: kept, only the SDK decorator goes.\n# local: no network\n@functools" in output


def test_everything_else_is_kept_verbatim(fixture_project) -> None:
    source, model = fixture_project
    output = client_mirror(source, model, "app")
    for kept in (
        "# Values the client and the workers share.\nDEFAULT_FACTOR = 2.5\n",
        'def plain(x):  # not an endpoint: unchanged\n\n\n    return x * 2\n',
        'if __name__ == "__main__":\n    import asyncio\n\n    print(asyncio.run(scale([1.0])))\n',
        "# a plain def: its stub is still a coroutine function\nasync def scale(",
    ):
        assert kept in output
    assert "import flashc as rf\nfrom flashc import Endpoint, GpuGroup, LiveServerless, remote\n" in output
    assert "runpod_flash" not in output
    assert output.count(IMPORT_LINE) == 1
    assert output.startswith(f'"""Every kind of endpoint a client stub stands for."""\n\nfrom __future__ import annotations\n\n{IMPORT_LINE}\nimport functools\n')


@pytest.mark.parametrize("faithful", [True, False])
def test_idempotent(fixture_project, faithful: bool) -> None:
    source, model = fixture_project
    stubs, keep, strip = targets(model, "app")
    once = stub_module(source, stubs, keep=keep, strip=strip, faithful=faithful)
    assert stub_module(once, stubs, keep=keep, faithful=faithful) == once


@pytest.mark.parametrize("module", QUICKSTART_MODULES)
def test_quickstart_idempotent(module: str) -> None:
    model = analysed(QUICKSTART)
    stubs, keep, _ = targets(model, module)
    once = client_mirror((QUICKSTART / f"{module}.py").read_text(encoding="utf-8"), model, module)
    assert stub_module(once, stubs, keep=keep) == once


def test_unfaithful_stubs_have_no_annotations_and_sentinel_defaults(fixture_project) -> None:
    source, model = fixture_project
    output = client_mirror(source, model, "app", faithful=False)
    tree = ast.parse(output)
    stubbed = {"scale", "gather", "kinds", "get_item", "create_item", "predict", "info", "version"}
    seen = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.AsyncFunctionDef) and node.name in stubbed:
            seen.add(node.name)
            arguments = [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]
            for extra in (node.args.vararg, node.args.kwarg):
                if extra is not None:
                    arguments.append(extra)
            assert all(a.annotation is None for a in arguments), node.name
            assert node.returns is None, node.name
            defaults = [*node.args.defaults, *(d for d in node.args.kw_defaults if d is not None)]
            assert all(ast.unparse(d) == "_flashc_client.DEFAULT" for d in defaults), node.name
    assert seen == stubbed
    assert "async def kinds(a, b=_flashc_client.DEFAULT, /, c=_flashc_client.DEFAULT, *, d, e=_flashc_client.DEFAULT):" in output


def test_stub_bodies_call_the_runtime(fixture_project) -> None:
    source, model = fixture_project
    output = client_mirror(source, model, "app")
    for line in (
        'return await _flashc_client.call("fixture-gpu", "scale", {"values": values, "factor": factor})',
        'return await _flashc_client.call("fixture-varargs", "gather", {"__args": [first, *rest], "label": label, **options})',
        'return await _flashc_client.call("fixture-kinds", "kinds", {"__args": [a, b], "c": c, "d": d, "e": e})',
        'return await _flashc_client.call("fixture-model", "Model", {"text": text, "top_k": top_k}, method="predict")',
        'return await _flashc_client.call("fixture-model", "Model", {}, method="version")',
        'return await _flashc_client.request("fixture-api", "GET", "/items/{item_id}", {"item_id": item_id, "verbose": verbose})',
        'return await _flashc_client.request("fixture-api", "POST", "/items", {"name": name, "tags": tags})',
    ):
        assert line in output


def test_sdk_imports_are_rewritten_to_flashc() -> None:
    source = (
        "import runpod_flash\n"
        "import runpod_flash as rf, os\n"
        "import tetra_rp\n"
        "from runpod_flash import *\n"
        "from tetra_rp import remote as r, LiveServerless\n"
        "from runpod_flash.core.resources import LiveServerless as LS, GpuGroup\n"
        "from runpod_flash import ResourceManager\n"
        "from runpod_flash.core.resources import *\n"
        "import runpod_flash.core.resources\n"
        "from .runpod_flash import thing\n"
        "from runpod_flashy import other\n"
        "def f():\n"
        "    from runpod_flash import Endpoint\n"
        "    return Endpoint\n"
    )
    output = stub_module(source, {})
    assert output.splitlines() == [
        "import flashc as runpod_flash",
        "import flashc as rf, os",
        "import flashc as tetra_rp",
        "from flashc import *",
        "from flashc import remote as r, LiveServerless",
        "from flashc import LiveServerless as LS, GpuGroup",
        "from runpod_flash import ResourceManager",
        "from runpod_flash.core.resources import *",
        "import runpod_flash.core.resources",
        "from .runpod_flash import thing",
        "from runpod_flashy import other",
        "def f():",
        "    from flashc import Endpoint",
        "    return Endpoint",
    ]
    assert IMPORT_LINE not in output  # no stubs, no client import
    left = unmapped_sdk_imports(output)
    assert [(u.line, u.statement) for u in left] == [
        (7, "from runpod_flash import ResourceManager"),
        (8, "from runpod_flash.core.resources import *"),
        (9, "import runpod_flash.core.resources"),
    ]
    assert "ResourceManager" in left[0].reason
    assert unmapped_sdk_imports(source) == left


def test_client_import_goes_after_docstring_and_future_imports() -> None:
    stub = {"f": StubTarget("f", "ep", "function")}
    assert stub_module("def f(x):\n    return x\n", stub) == (
        f'{IMPORT_LINE}\n\n\nasync def f(x):\n    return await _flashc_client.call("ep", "f", {{"x": x}})\n'
    )
    output = stub_module('"""Doc."""\nfrom __future__ import annotations\nX = 1\n\n\ndef f(x): return x\n', stub)
    assert output.startswith(f'"""Doc."""\nfrom __future__ import annotations\n\n{IMPORT_LINE}\n\nX = 1\n')
    compile(output, "m.py", "exec")


def test_one_line_and_odd_definitions() -> None:
    source = 'class K(Base, metaclass=M): "Doc."\ndef f(x, *, y=[1, 2]): "Doc."; return x\n'
    stubs = {
        "K": StubTarget("K", "ep", "class", ("run",)),
        "f": StubTarget("f", "ep", "function"),
    }
    output = stub_module(source, stubs)
    compile(output, "m.py", "exec")
    tree = ast.parse(output)
    k = tree.body[1]
    assert isinstance(k, ast.ClassDef) and k.bases == [] and k.keywords == []
    assert ast.get_docstring(k) == "Doc."
    assert "async def run(self, **kwargs):" in output  # inherited: only the name is known
    assert 'async def f(x, *, y=[1, 2]):\n    "Doc."\n' in output
    assert stub_module(output, stubs) == output


def test_errors() -> None:
    with pytest.raises(StubError, match="not defined at module level: g"):
        stub_module("def f(): pass\n", {"g": StubTarget("g", "ep", "function")})
    with pytest.raises(StubError, match="not defined at module level: inner"):
        stub_module("def f():\n    def inner(): pass\n", {"inner": StubTarget("inner", "ep", "function")})
    with pytest.raises(StubError, match="it is a class"):
        stub_module("class C: pass\n", {"C": StubTarget("C", "ep", "function")})
    with pytest.raises(StubError, match="it is a function"):
        stub_module("def C(): pass\n", {"C": StubTarget("C", "ep", "class")})
    with pytest.raises(StubError, match="needs http_method and http_path"):
        stub_module("def r(): pass\n", {"r": StubTarget("r", "ep", "route")})
    with pytest.raises(StubError, match="unknown stub kind"):
        stub_module("def r(): pass\n", {"r": StubTarget("r", "ep", "lambda")})
    with pytest.raises(StubError, match="not defined at module level: h"):
        stub_module("def f(): pass\n", {}, keep={"h"})
    with pytest.raises(StubError, match="does not parse"):
        stub_module("def f(:\n", {})
    with pytest.raises(StubError, match="both stubbed and kept"):
        stub_module("def f(): pass\n", {"f": StubTarget("f", "ep", "function")}, keep={"f"})


def test_definitions_under_module_level_blocks_are_stubbed() -> None:
    source = "try:\n    import numpy\nexcept ImportError:\n    numpy = None\nif True:\n    def f(x):\n        return numpy.sum(x)\n"
    output = stub_module(source, {"f": StubTarget("f", "ep", "function")})
    assert '    async def f(x):\n        return await _flashc_client.call("ep", "f", {"x": x})\n' in output
    compile(output, "m.py", "exec")


# --- a stub really calls --------------------------------------------------------------------------


class _Server:
    """A local stand-in for RunPod endpoints: records each request, answers with ``reply``."""

    def __init__(self, reply: Callable[[str, str, object], tuple[int, object]]) -> None:
        self.requests: list[tuple[str, str, object]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                server.requests.append((self.command, self.path, body))
                status, answer = reply(self.command, self.path, body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> _Server:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


def _runpod_reply(method: str, path: str, body: object) -> tuple[int, object]:
    """Answers like RunPod: runsync jobs COMPLETED (or FAILED when asked), routes echo."""
    if path.endswith("/runsync"):
        job = body["input"]  # type: ignore[index]
        if job.get("__function") == "kinds":
            error = {"error_type": "ValueError", "error_message": "bad d", "error_traceback": "Traceback ...\nValueError: bad d\n"}
            return 200, {"id": "job-2", "status": "FAILED", "error": json.dumps(error)}
        return 200, {"id": "job-1", "status": "COMPLETED", "delayTime": 1, "executionTime": 2, "output": {"echo": job}}
    if path.startswith("/items"):
        return 200, {"method": method, "path": path, "body": body}
    return 404, {"detail": "Not Found"}


def _load(code: str) -> dict[str, object]:
    namespace: dict[str, object] = {"__name__": "client_app"}
    exec(compile(code, "app.py", "exec"), namespace)
    return namespace


@pytest.fixture
def endpoints_at(monkeypatch) -> Iterator[Callable[[str], None]]:
    def point(url: str) -> None:
        for name in ("fixture-gpu", "fixture-varargs", "fixture-kinds", "fixture-model", "fixture-api"):
            monkeypatch.setenv(client.url_variable(name), url + "/")
        monkeypatch.delenv("RUNPOD_API_KEY", raising=False)

    yield point


def test_stubs_call_the_endpoint(fixture_project, endpoints_at) -> None:
    source, model = fixture_project
    app = _load(client_mirror(source, model, "app"))
    with _Server(_runpod_reply) as server:
        endpoints_at(server.url)
        assert inspect.iscoroutinefunction(app["scale"])
        result = asyncio.run(app["scale"]([1.0, 2.0]))  # type: ignore[operator]
        assert result == {"echo": {"values": [1.0, 2.0], "factor": 2.5, "__function": "scale"}}
        asyncio.run(app["gather"](1, 2, 3, mode="x"))  # type: ignore[operator]
        asyncio.run(app["Model"]().predict("hi"))  # type: ignore[operator]
        asyncio.run(app["Model"]().version())  # type: ignore[operator]
        item = asyncio.run(app["get_item"]("a b", verbose=True))  # type: ignore[operator]
        created = asyncio.run(app["create_item"]("n"))  # type: ignore[operator]
        with pytest.raises(RemoteExecutionError) as failure:
            asyncio.run(app["kinds"](1, d=4))  # type: ignore[operator]
    assert server.requests[:4] == [
        ("POST", "/runsync", {"input": {"values": [1.0, 2.0], "factor": 2.5, "__function": "scale"}}),
        ("POST", "/runsync", {"input": {"__args": [1, 2, 3], "label": "a", "mode": "x", "__function": "gather"}}),
        ("POST", "/runsync", {"input": {"text": "hi", "top_k": 3, "__function": "Model", "method": "predict"}}),
        ("POST", "/runsync", {"input": {"__function": "Model", "method": "version", "__empty": True}}),
    ]
    assert item == {"method": "GET", "path": "/items/a%20b?verbose=true", "body": None}
    assert created == {"method": "POST", "path": "/items", "body": {"name": "n", "tags": None}}
    assert failure.value.error_type == "ValueError"
    assert failure.value.message == "bad d"
    assert "ValueError: bad d" in (failure.value.traceback or "")


def test_unfaithful_stubs_leave_unset_parameters_out(fixture_project, endpoints_at) -> None:
    source, model = fixture_project
    stubs, _, _ = targets(model, "app")
    app = _load(stub_source(source, {"scale": stubs["scale"], "gather": stubs["gather"]}, faithful=False))
    with _Server(_runpod_reply) as server:
        endpoints_at(server.url)
        asyncio.run(app["scale"]([3.0]))  # type: ignore[operator]
        asyncio.run(app["gather"](1))  # type: ignore[operator]
    assert [body for _, _, body in server.requests] == [
        {"input": {"values": [3.0], "__function": "scale"}},
        {"input": {"__args": [1], "__function": "gather"}},
    ]


def test_an_endpoint_without_a_url_is_not_deployed(fixture_project, monkeypatch) -> None:
    source, model = fixture_project
    app = _load(client_mirror(source, model, "app"))
    monkeypatch.delenv("FLASHC_ENDPOINT_URL_FIXTURE_GPU", raising=False)
    with pytest.raises(EndpointNotDeployedError, match=r"'fixture-gpu' is not deployed.*FLASHC_ENDPOINT_URL_FIXTURE_GPU"):
        asyncio.run(app["scale"]([1.0]))  # type: ignore[operator]


def test_route_errors(endpoints_at) -> None:
    def reply(method: str, path: str, body: object) -> tuple[int, object]:
        if path == "/boom":
            return 500, {"error": {"type": "KeyError", "message": "'x'"}}
        return 422, {"detail": "bad body"}

    with _Server(reply) as server:
        endpoints_at(server.url)
        with pytest.raises(RemoteExecutionError) as raised:
            asyncio.run(client.request("fixture-api", "POST", "/boom", {}))
        assert raised.value.error_type == "KeyError"
        with pytest.raises(FlashRuntimeError, match="HTTP 422"):
            asyncio.run(client.request("fixture-api", "POST", "/other", {}))


# --- the runtime's helpers -------------------------------------------------------------------------


def test_default_sentinel() -> None:
    import copy
    import pickle

    assert repr(client.DEFAULT) == "DEFAULT"
    assert copy.deepcopy(client.DEFAULT) is client.DEFAULT
    assert pickle.loads(pickle.dumps(client.DEFAULT)) is client.DEFAULT
    assert type(client.DEFAULT)() is client.DEFAULT


def test_url_variable_and_job_input() -> None:
    assert client.url_variable("quickstart-gpu") == "FLASHC_ENDPOINT_URL_QUICKSTART_GPU"
    assert client.url_variable("01.a b") == "FLASHC_ENDPOINT_URL_01_A_B"
    assert client.job_input("f", {}) == {"__function": "f", "__empty": True}
    assert client.job_input("f", {"x": client.DEFAULT, "__args": [1, client.DEFAULT]}) == {"__args": [1], "__function": "f"}
    assert client.job_input("C", {"__args": []}, method="m") == {"__function": "C", "method": "m", "__empty": True}
