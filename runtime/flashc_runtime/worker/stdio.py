"""A queue worker that takes its jobs as JSON lines on stdin: what ``flashc deploy``'s local
target runs, one process per worker, with the handler package as the working directory::

    python -m flashc_runtime.worker.stdio

The protocol, one JSON object per line:

- worker -> supervisor, once: ``{"ready": true, "pid": ..., "max_concurrency": ...}`` after
  ``_flashc_handler`` was imported, or ``{"ready": false, "error": {...}}`` (then exit code 1);
- supervisor -> worker: ``{"id": ..., "input": {...}}`` runs a job, ``{"cancel": id}`` cancels
  it when it can (a synchronous function already running in a thread runs on, but the job
  is answered ``CANCELLED`` at once);
- worker -> supervisor, per job: ``{"id", "status": "COMPLETED", "output"}``,
  ``{"id", "status": "FAILED", "error": {"type", "message", "traceback"}}`` (``type`` is the
  exception's ``module.QualName``) or ``{"id", "status": "CANCELLED"}``.

Up to ``endpoint.max_concurrency`` jobs run at once. End of input: the running jobs finish,
then the worker exits with 0.

The protocol keeps the process's real standard output and input to itself: file
descriptor 1 (and ``sys.stdout``) is pointed at stderr so that prints, logging and child
processes cannot corrupt it, and descriptor 0 (and ``sys.stdin``) at ``/dev/null``.

Only the standard library is imported: this module is vendored into every handler package.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import sys
import threading
import traceback
from collections.abc import Awaitable, Callable
from typing import IO, Any

__all__ = ["HANDLER_MODULE", "describe_error", "main"]

HANDLER_MODULE = "_flashc_handler"

READ_SIZE = 64 * 1024
"""Bytes asked of stdin per read: under glibc's mmap threshold, so small jobs cost no mapping."""

Handler = Callable[[dict[str, Any]], Awaitable[Any]]


def describe_error(error: BaseException) -> dict[str, str]:
    """``{"type", "message", "traceback"}`` of an exception, ``type`` as ``module.QualName``."""
    kind = type(error)
    return {
        "type": f"{kind.__module__}.{kind.__qualname__}",
        "message": str(error),
        "traceback": "".join(traceback.format_exception(kind, error, error.__traceback__)),
    }


class _Protocol:
    """The private copy of the original stdout: one JSON object per line, flushed each time."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    @staticmethod
    def encode(message: dict[str, Any]) -> bytes:
        return (json.dumps(message, ensure_ascii=False) + "\n").encode("utf-8")

    def send(self, message: dict[str, Any]) -> None:
        self.write(self.encode(message))

    def write(self, data: bytes) -> None:
        with self._lock:
            try:
                self._stream.write(data)
                self._stream.flush()
            except (BrokenPipeError, ValueError):  # the supervisor is gone; nothing to tell
                pass


def _take_standard_streams() -> tuple[IO[bytes], IO[bytes]]:
    """Move the protocol's stdin/stdout to private descriptors; user code gets stderr and /dev/null."""
    sys.stdout.flush()
    protocol_out = os.fdopen(os.dup(1), "wb")
    protocol_in = os.fdopen(os.dup(0), "rb")
    os.dup2(2, 1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    sys.stdout = sys.stderr
    sys.stdin = open(os.devnull, encoding="utf-8")  # noqa: SIM115 -- lives as long as the process
    return protocol_in, protocol_out


def _load_handler() -> tuple[Handler, int]:
    """Import ``_flashc_handler`` from the working directory: its ``handler`` and concurrency."""
    here = os.getcwd()
    if here not in sys.path and "" not in sys.path:
        sys.path.insert(0, here)
    module = importlib.import_module(HANDLER_MODULE)
    handler = getattr(module, "handler", None)
    if not callable(handler):
        raise TypeError(f"{HANDLER_MODULE}.py defines no callable 'handler'")
    endpoint = getattr(module, "endpoint", None)
    limit = getattr(endpoint, "max_concurrency", 1)
    if not isinstance(limit, int) or limit < 1:
        limit = 1
    return handler, limit


LineCallback = Callable[[bytes | None], None]


def _read_lines(stream: IO[bytes], loop: asyncio.AbstractEventLoop, on_line: LineCallback) -> None:
    """Runs in a thread: every line of ``stream`` to ``on_line`` on the loop, then None at end of input."""
    try:
        for line in stream:
            loop.call_soon_threadsafe(on_line, line)
    except (OSError, ValueError):
        pass
    finally:
        loop.call_soon_threadsafe(on_line, None)


class _Lines(asyncio.Protocol):
    """Lines of a pipe read by the event loop itself, each to ``on_line`` (then None at end of input).

    Cheaper per job than a reading thread and a queue: no wake-up of the loop through its
    self-pipe, no hand-over of the GIL between two threads, and the job's task is created in
    the same pass of the loop that read it.
    """

    def __init__(self, on_line: LineCallback) -> None:
        self._on_line = on_line
        self._pieces: list[bytes] = []  # of an unfinished line (a long one comes in many reads)
        self._ended = False

    def data_received(self, data: bytes) -> None:
        start = 0
        while True:
            end = data.find(b"\n", start)
            if end < 0:
                break
            line = data[start : end + 1]
            if self._pieces:
                self._pieces.append(line)
                line = b"".join(self._pieces)
                self._pieces.clear()
            self._on_line(line)
            start = end + 1
        if start < len(data):
            self._pieces.append(data[start:])

    def eof_received(self) -> bool:
        if self._pieces:
            self._on_line(b"".join(self._pieces))
            self._pieces.clear()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof_received()
        if not self._ended:
            self._ended = True
            self._on_line(None)


async def _start_reading(incoming: IO[bytes], on_line: LineCallback) -> None:
    """Read ``incoming`` on the event loop when it is a pipe; otherwise (a file, a terminal) in a thread."""
    loop = asyncio.get_running_loop()
    try:
        transport, _ = await loop.connect_read_pipe(lambda: _Lines(on_line), incoming)
    except (OSError, ValueError, NotImplementedError):  # not a pipe, socket or character device
        threading.Thread(target=_read_lines, args=(incoming, loop, on_line), name="flashc-stdin", daemon=True).start()
        return
    if hasattr(transport, "max_size"):  # asyncio's reads of 256 KiB are each a fresh mmap (and munmap) of that size
        transport.max_size = READ_SIZE


async def _run_job(handler: Handler, job_id: Any, payload: Any, slots: asyncio.Semaphore, protocol: _Protocol) -> None:
    """Run one job and answer it; a cancellation propagates (the done callback answers it)."""
    try:
        async with slots:
            output = await handler({"id": job_id, "input": payload})
    except asyncio.CancelledError:
        raise
    except BaseException as error:  # noqa: BLE001 -- every failure of user code fails the job, even SystemExit
        protocol.send({"id": job_id, "status": "FAILED", "error": describe_error(error)})
        return
    try:
        answer = _Protocol.encode({"id": job_id, "status": "COMPLETED", "output": output})
    except (TypeError, ValueError, RecursionError) as error:  # UnicodeEncodeError (a lone surrogate) is a ValueError
        failure = describe_error(error)
        failure["message"] = f"the job's output is not JSON-serialisable: {error}"
        protocol.send({"id": job_id, "status": "FAILED", "error": failure})
        return
    protocol.write(answer)


def _finished(task: asyncio.Task[None], job_id: Any, running: dict[Any, asyncio.Task[None]], protocol: _Protocol) -> None:
    running.pop(job_id, None)
    if task.cancelled():  # also when it was cancelled before it started
        protocol.send({"id": job_id, "status": "CANCELLED"})


async def _serve(handler: Handler, limit: int, incoming: IO[bytes], protocol: _Protocol) -> None:
    slots = asyncio.Semaphore(limit)
    running: dict[Any, asyncio.Task[None]] = {}
    ended = asyncio.Event()

    def take(line: bytes | None) -> None:
        """One line of input, handled in the pass of the loop that read it."""
        if line is None:
            ended.set()
            return
        if not line.strip():
            return
        try:
            message = json.loads(line)
        except ValueError:
            print(f"flashc: ignored a line that is not JSON: {line[:200]!r}", file=sys.stderr)
            return
        if not isinstance(message, dict):
            print(f"flashc: ignored a message that is not an object: {line[:200]!r}", file=sys.stderr)
        elif "cancel" in message:
            task = running.get(message["cancel"])
            if task is not None:
                task.cancel()
        elif "id" in message:
            job_id = message["id"]
            if job_id in running:
                print(f"flashc: ignored job {job_id!r}, which is already running", file=sys.stderr)
                return
            task = asyncio.ensure_future(_run_job(handler, job_id, message.get("input"), slots, protocol))
            running[job_id] = task
            task.add_done_callback(lambda done, key=job_id: _finished(done, key, running, protocol))
        else:
            print(f"flashc: ignored a message without 'id' or 'cancel': {line[:200]!r}", file=sys.stderr)

    await _start_reading(incoming, take)
    await ended.wait()
    if running:
        await asyncio.gather(*running.values(), return_exceptions=True)


def main() -> int:
    incoming, outgoing = _take_standard_streams()
    protocol = _Protocol(outgoing)
    try:
        handler, limit = _load_handler()
    except BaseException as error:  # noqa: BLE001 -- a failed import is reported, then the worker exits
        traceback.print_exc()
        protocol.send({"ready": False, "pid": os.getpid(), "error": describe_error(error)})
        return 1
    protocol.send({"ready": True, "pid": os.getpid(), "max_concurrency": limit})
    asyncio.run(_serve(handler, limit, incoming, protocol))
    sys.stderr.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
