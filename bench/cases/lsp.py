"""Case 3: the editor path. ``flashc lsp`` runs over stdio with a raw JSON-RPC client; one
endpoint module of the 1,000-module synthetic project is open, and each edit (a full-text
``didChange``) is timed until the server publishes that version's diagnostics. Edits alternate
between the original text and one with a module-level import used in the endpoint body, so
every answer must flip between no finding and FC101: a wrong answer fails the case.

The server's debounce (it waits for the next keystroke) is set to 0 through
``FLASHC_LSP_DEBOUNCE``, so what is measured is the re-check itself.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from .. import corpus
from ..measure import BenchError
from ..report import Row, failed
from . import FLASHC, Context
from .check import FULL, QUICK


class LspClient:
    """Just enough of an LSP client: framed JSON-RPC over the server's stdin/stdout."""

    def __init__(self, command: list[str], cwd: Path, env: dict[str, str], log: Path) -> None:
        self._log = log.open("wb")
        self.process = subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log)
        self.inbox: queue.Queue[tuple[float, dict[str, Any]]] = queue.Queue()
        self._next_id = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        stream = self.process.stdout
        assert stream is not None
        while True:
            length = 0
            while True:
                line = stream.readline()
                if not line:
                    return
                if line in (b"\r\n", b"\n"):
                    break
                name, _, value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            message = json.loads(stream.read(length))
            self.inbox.put((time.perf_counter(), message))

    def send(self, message: dict[str, Any]) -> float:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        stream = self.process.stdin
        assert stream is not None
        sent = time.perf_counter()
        stream.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        stream.flush()
        return sent

    def notify(self, method: str, params: dict[str, Any]) -> float:
        return self.send({"method": method, "params": params})

    def request(self, method: str, params: dict[str, Any], timeout: float = 60) -> Any:
        self._next_id += 1
        wanted = self._next_id
        self.send({"id": wanted, "method": method, "params": params})
        message = self.wait(lambda m: m.get("id") == wanted and "method" not in m, timeout, method)[1]
        if "error" in message:
            raise BenchError(f"{method}: {message['error']}")
        return message.get("result")

    def wait(self, wanted: Any, timeout: float, what: str) -> tuple[float, dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BenchError(f"flashc lsp: no {what} within {timeout:g} s")
            try:
                at, message = self.inbox.get(timeout=remaining)
            except queue.Empty:
                continue
            if "method" in message and "id" in message:  # a request of the server: say yes to it
                self.send({"id": message["id"], "result": None})
                continue
            if wanted(message):
                return at, message

    def close(self) -> None:
        try:
            self.request("shutdown", {}, timeout=10)
            self.notify("exit", {})
            self.process.wait(10)
        except (BenchError, OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()
        self._log.close()


def _diagnostics(client: LspClient, uri: str, version: int, timeout: float) -> tuple[float, list[dict[str, Any]]]:
    def match(message: dict[str, Any]) -> bool:
        params = message.get("params") or {}
        return message.get("method") == "textDocument/publishDiagnostics" and params.get("uri") == uri and params.get("version") == version

    at, message = client.wait(match, timeout, f"diagnostics for version {version}")
    return at, message["params"]["diagnostics"]


def _server_usage(pid: int) -> tuple[float, float]:
    try:
        import psutil

        process = psutil.Process(pid)
        times = process.cpu_times()
        return times.user + times.system, process.memory_info().rss / 2**20
    except (ImportError, Exception):  # noqa: BLE001 -- psutil missing or the process gone: no numbers
        return 0.0, 0.0


def run(context: Context) -> tuple[str, list[Row]]:
    shape = QUICK if context.quick else FULL
    root = context.work / f"corpus-{shape['modules']}"
    info = corpus.generate(root, **shape)
    module, function = info.queue_functions[len(info.queue_functions) // 2].split(":")
    path = root / f"{module}.py"
    uri = path.resolve().as_uri()
    original = path.read_text(encoding="utf-8")
    marker = f"async def {function}("
    docstring = original.index('    """', original.index(marker))
    at = original.index("\n", docstring) + 1  # the line after the body's one-line docstring
    edited = original[:at] + "    encoded = json.dumps(values)\n" + original[at:]
    edits = 10 if context.quick else 60
    about = (
        f"{info.modules} modules, {info.lines:,} lines; `{module}.py` open, {edits} edits alternating between its text and one "
        "with an FC101 finding (each answer is checked). Time from sending `didChange` to receiving that version's "
        "`publishDiagnostics`, debounce off. First check: from `didOpen` of the first document to its diagnostics "
        "(the whole project read cold)."
    )
    env = {**os.environ, "FLASHC_LSP_DEBOUNCE": "0"}
    context.progress(f"lsp: {edits} edits of {module}.py")
    client = LspClient([*FLASHC, "lsp"], root, env, context.work / "lsp-server.log")
    try:
        client.request("initialize", {"processId": os.getpid(), "rootUri": root.resolve().as_uri(), "capabilities": {}})
        client.notify("initialized", {})
        opened = client.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": original}})
        first_at, first = _diagnostics(client, uri, 1, timeout=300)
        if first:
            raise BenchError(f"{module}.py should check clean at first, got {first}")
        cpu_before, _ = _server_usage(client.process.pid)
        latencies = []
        for number in range(edits):
            version = number + 2
            text, expected = (edited, "FC101") if number % 2 == 0 else (original, None)
            sent = client.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": text}]})
            received, found = _diagnostics(client, uri, version, timeout=120)
            codes = sorted({d.get("code") for d in found})
            if codes != ([expected] if expected else []):
                raise BenchError(f"edit {number}: expected {expected or 'no finding'}, got {codes}")
            latencies.append((received - sent) * 1000)
        cpu_after, rss = _server_usage(client.process.pid)
    except BenchError as error:
        return about, [failed("lsp", "didChange → publishDiagnostics", str(error))]
    finally:
        client.close()
    first_row = Row("lsp", "first check after didOpen (cold project)", unit="ms", values=[(first_at - opened) * 1000])
    row = Row(
        "lsp", "didChange → publishDiagnostics", unit="ms", values=latencies,
        cpu=(cpu_after - cpu_before) / edits if cpu_after else None, rss_mb=rss or None,
        target="p50 < 50 ms, p99 < 150 ms", note="CPU s: server CPU per edit; peak RSS: the server's RSS at the end",
    )
    from ..stats import summarize

    stats = summarize(latencies)
    row.met = stats.median < 50 and stats.p99 < 150
    return about, [first_row, row]
