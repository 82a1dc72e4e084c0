"""Arguments on the wire: JSON by default, cloudpickle only when allowed, 10 MiB per argument,
all checked before sending; and the worker's ``decode_arguments``."""

from __future__ import annotations

import asyncio
import base64
import datetime
import json
import threading
import time
from fractions import Fraction

import cloudpickle
import pytest

from flashc_runtime import client, serialization, transport
from flashc_runtime.sdk import (
    DeserializeTimeoutError,
    FlashRuntimeError,
    PayloadTooLargeError,
    SerializationError,
)

from unit.runtime.test_client_fake_runpod import FakeRunPod

ENDPOINT = "gpu-worker"
PICKLE_VARIABLE = "FLASHC_PICKLE_GPU_WORKER"
MIB = 1024 * 1024


@pytest.fixture(autouse=True)
def clean(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transport, "RETRY_BACKOFF_SECONDS", 0.01)
    for variable in (*transport.API_KEY_VARIABLES, PICKLE_VARIABLE, "FLASHC_TIMEOUT_GPU_WORKER"):
        monkeypatch.delenv(variable, raising=False)


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch):
    with FakeRunPod() as fake:
        monkeypatch.setenv(client.url_variable(ENDPOINT), fake.url)
        yield fake


def echo(arguments: dict, **options):
    return asyncio.run(client.call(ENDPOINT, "echo", arguments, **options))


def unpickle(value: dict):
    assert set(value) == {"__cloudpickle__"}
    return cloudpickle.loads(base64.b64decode(value["__cloudpickle__"]))


# --- the client side ------------------------------------------------------------------------------


def test_json_values_go_as_json(server: FakeRunPod) -> None:
    arguments = {"text": "héllo", "n": 3, "x": 1.5, "flag": True, "none": None, "items": [1, {"a": [2]}]}
    assert echo(arguments) == {"echo": {**arguments, "__function": "echo"}}
    assert "__cloudpickle__" not in server.sent()[0].raw.decode()


@pytest.mark.parametrize(
    ("value", "type_name"),
    [
        (datetime.date(2024, 1, 2), "datetime.date"),
        ({1, 2}, "set"),
        (b"bytes", "bytes"),
        (float("nan"), "float"),  # not JSON
        (Fraction(1, 3), "fractions.Fraction"),
    ],
)
def test_what_json_cannot_carry_is_refused_before_sending(server: FakeRunPod, value, type_name) -> None:
    with pytest.raises(SerializationError) as raised:
        echo({"ok": 1, "when": value})
    message = str(raised.value)
    assert f"argument 'when' of type {type_name} cannot be sent as JSON" in message
    assert f"set {PICKLE_VARIABLE}=1 (or pass pickle=True) to send it with cloudpickle" in message
    assert server.sent() == []


def test_positional_arguments_are_named_by_position(server: FakeRunPod) -> None:
    with pytest.raises(SerializationError, match=r"argument '__args\[1\]' of type set"):
        echo({"__args": [1, {2}]})
    assert server.sent() == []


def test_pickle_when_the_endpoint_allows_it(server: FakeRunPod, monkeypatch) -> None:
    when = datetime.date(2024, 1, 2)
    monkeypatch.setenv(PICKLE_VARIABLE, "1")
    echo({"when": when, "n": 1, "__args": [{3}, "plain"]})
    sent = server.sent()[0].body["input"]
    assert unpickle(sent["when"]) == when
    assert sent["n"] == 1  # JSON values stay JSON
    assert unpickle(sent["__args"][0]) == {3} and sent["__args"][1] == "plain"
    decoded = serialization.decode_arguments(sent, allow_pickle=True)
    assert decoded == {"when": when, "n": 1, "__args": [{3}, "plain"], "__function": "echo"}


def test_the_pickle_option_of_a_call_wins_over_the_variable(server: FakeRunPod, monkeypatch) -> None:
    echo({"s": {1}}, pickle=True)
    assert unpickle(server.sent()[0].body["input"]["s"]) == {1}
    monkeypatch.setenv(PICKLE_VARIABLE, "true")
    with pytest.raises(SerializationError):
        echo({"s": {1}}, pickle=False)
    monkeypatch.setenv(PICKLE_VARIABLE, "perhaps")
    with pytest.raises(FlashRuntimeError, match="FLASHC_PICKLE_GPU_WORKER must be 1 or 0"):
        echo({"s": 1})
    assert len(server.sent()) == 1


def test_unpicklable_values_are_reported(server: FakeRunPod) -> None:
    with pytest.raises(SerializationError, match="argument 'lock' of type _thread.lock cannot be pickled"):
        echo({"lock": threading.Lock()}, pickle=True)
    assert server.sent() == []


def test_an_argument_over_10_mib_is_refused_before_sending(server: FakeRunPod) -> None:
    with pytest.raises(PayloadTooLargeError) as raised:
        echo({"small": 1, "blob": "x" * (10 * MIB)})  # 10 MiB of text is 10 MiB + 2 quotes as JSON
    assert str(raised.value).startswith("argument 'blob' is 10485762 bytes (10.0 MiB) encoded, more than the 10485760 bytes")
    assert isinstance(raised.value, SerializationError)
    with pytest.raises(PayloadTooLargeError, match=r"argument '__args\[0\]' is \d+ bytes"):
        echo({"__args": [b"\0" * (8 * MIB)]}, pickle=True)  # 8 MiB pickled is ~10.7 MiB of base64
    assert server.sent() == []
    assert echo({"blob": "x" * (10 * MIB - 2)})["echo"]["blob"] == "x" * (10 * MIB - 2)  # exactly the limit goes
    assert len(server.sent()) == 1


def test_a_pickled_output_is_decoded_when_pickle_is_allowed(monkeypatch) -> None:
    pickled = serialization.pickled({1, 2})
    assert unpickle(pickled) == {1, 2}
    with FakeRunPod() as fake:
        monkeypatch.setenv(client.url_variable(ENDPOINT), fake.url)
        monkeypatch.setattr("unit.runtime.test_client_fake_runpod._output", lambda name, payload: pickled)
        assert asyncio.run(client.call(ENDPOINT, "f", {}, pickle=True)) == {1, 2}
        assert asyncio.run(client.call(ENDPOINT, "f", {})) == pickled  # not allowed: left as sent


# --- the worker side ---------------------------------------------------------------------------


_RELEASE = threading.Event()


def _block() -> str:
    _RELEASE.wait(10)
    return "released"


class _SlowToLoad:
    def __reduce__(self):
        return (_block, ())


def _pickled(value: object) -> dict:
    return {"__cloudpickle__": base64.b64encode(cloudpickle.dumps(value)).decode()}


def test_decode_arguments_leaves_json_alone() -> None:
    job = {"a": 1, "__args": [1, [2]], "__function": "f", "method": "m", "__empty": True}
    assert serialization.decode_arguments(job, allow_pickle=False) == job
    assert serialization.decode_arguments(job, allow_pickle=True) == job


def test_decode_arguments_refuses_pickle_unless_allowed() -> None:
    with pytest.raises(SerializationError, match="argument 'x' was sent pickled, but this endpoint does not accept cloudpickle"):
        serialization.decode_arguments({"x": _pickled({1})}, allow_pickle=False)
    with pytest.raises(SerializationError, match=r"argument '__args\[0\]' was sent pickled"):
        serialization.decode_arguments({"__args": [_pickled({1})]}, allow_pickle=False)


def test_decode_arguments_checks_the_size_before_decoding(monkeypatch) -> None:
    def never(data: bytes) -> object:
        raise AssertionError("decoded a payload over the limit")

    monkeypatch.setattr(cloudpickle, "loads", never)
    oversized = {"__cloudpickle__": "A" * (10 * MIB + 4)}
    with pytest.raises(PayloadTooLargeError, match="argument 'x' is 10485764 bytes"):
        serialization.decode_arguments({"x": oversized}, allow_pickle=True)


def test_decode_arguments_reports_bad_payloads() -> None:
    with pytest.raises(SerializationError, match="argument 'x' is not valid base64"):
        serialization.decode_arguments({"x": {"__cloudpickle__": "not base64!"}}, allow_pickle=True)
    garbage = {"__cloudpickle__": base64.b64encode(b"not a pickle").decode()}
    with pytest.raises(SerializationError, match="argument 'x' cannot be unpickled: UnpicklingError"):
        serialization.decode_arguments({"x": garbage}, allow_pickle=True)


def test_decode_arguments_gives_up_on_a_slow_unpickle() -> None:
    _RELEASE.clear()
    payload = {"__cloudpickle__": base64.b64encode(cloudpickle.dumps(_SlowToLoad())).decode()}
    started = time.monotonic()
    try:
        with pytest.raises(DeserializeTimeoutError, match="argument 'x' did not unpickle within 0.2 s"):
            serialization.decode_arguments({"x": payload}, allow_pickle=True, timeout=0.2)
        assert time.monotonic() - started < 5
    finally:
        _RELEASE.set()  # let the abandoned thread finish
    assert serialization.decode_arguments({"x": payload}, allow_pickle=True, timeout=5) == {"x": "released"}
    assert DeserializeTimeoutError.__mro__[1] is SerializationError


def test_encoding_helpers() -> None:
    assert serialization.encode_value([1, "a"], "x", allow_pickle=False) == '[1, "a"]'
    assert serialization.is_pickled(_pickled(1)) and not serialization.is_pickled({"__cloudpickle__": 1})
    text = serialization.encode_input({"__args": [1, {2}], "k": "v"}, allow_pickle=True)
    decoded = serialization.decode_arguments(json.loads(text), allow_pickle=True)
    assert decoded == {"__args": [1, {2}], "k": "v"}
    assert serialization.MAX_ARGUMENT_BYTES == 10 * MIB and serialization.DESERIALIZE_TIMEOUT_SECONDS == 30
