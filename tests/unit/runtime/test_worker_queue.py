"""QueueEndpoint: how a runpod job becomes a call, and how failures surface (raised, never returned)."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest
from flashc_runtime.errors import InvalidInputError
from flashc_runtime.worker.queue import QueueEndpoint


def run(endpoint: QueueEndpoint, payload: object, job_id: str = "job-1") -> object:
    return asyncio.run(endpoint.handler({"id": job_id, "input": payload}))


def add(a: int, b: int = 2) -> int:
    return a + b


async def greet(name: str) -> str:
    await asyncio.sleep(0)
    return f"hello {name}"


def total(*numbers: int, scale: int = 1) -> int:
    return sum(numbers) * scale


def no_arguments() -> str:
    return "nothing needed"


def explode(message: str) -> None:
    raise RuntimeError(message)


class Model:
    created = 0

    def __init__(self) -> None:
        type(self).created += 1
        self.weights = 10

    def predict(self, x: int) -> int:
        return x * self.weights

    async def embed(self, text: str) -> list[int]:
        return [len(text)]

    def _private(self) -> None:  # not a public method: never reachable from a job
        raise AssertionError


class Single:
    def run(self, value: str) -> str:
        return value.upper()


def test_single_function_gets_its_keywords() -> None:
    assert run(QueueEndpoint("w", functions={"add": add}), {"a": 1, "b": 5}) == 6
    assert run(QueueEndpoint("w", functions={"add": add}), {"a": 1}) == 3


def test_async_function_is_awaited() -> None:
    assert (
        run(QueueEndpoint("w", functions={"greet": greet}), {"name": "ada"})
        == "hello ada"
    )


def test_empty_marker_and_missing_input_mean_no_arguments() -> None:
    endpoint = QueueEndpoint("w", functions={"no_arguments": no_arguments})
    assert run(endpoint, {"__empty": True}) == "nothing needed"
    assert run(endpoint, None) == "nothing needed"
    assert asyncio.run(endpoint.handler({"id": "x"})) == "nothing needed"


def test_positional_arguments_travel_in_args() -> None:
    endpoint = QueueEndpoint("w", functions={"total": total})
    assert run(endpoint, {"__args": [1, 2, 3], "scale": 10}) == 60
    with pytest.raises(InvalidInputError, match="__args must be a list"):
        run(endpoint, {"__args": 5})


def test_input_must_be_an_object() -> None:
    with pytest.raises(InvalidInputError, match="must be a JSON object, got list"):
        run(QueueEndpoint("w", functions={"add": add}), [1, 2])


def test_arguments_that_do_not_bind_are_invalid_input_with_pythons_message() -> None:
    endpoint = QueueEndpoint("w", functions={"add": add})
    with pytest.raises(
        InvalidInputError, match="add\\(\\): got an unexpected keyword argument 'c'"
    ):
        run(endpoint, {"a": 1, "c": 2})
    with pytest.raises(InvalidInputError, match="missing a required argument: 'a'"):
        run(endpoint, {"__empty": True})
    assert issubclass(InvalidInputError, ValueError)


def test_user_exceptions_propagate_unchanged() -> None:
    endpoint = QueueEndpoint("w", functions={"explode": explode})
    with pytest.raises(RuntimeError, match="^boom$") as caught:
        run(endpoint, {"message": "boom"})
    assert type(caught.value) is RuntimeError


def test_a_type_error_inside_the_function_is_not_mistaken_for_bad_input() -> None:
    def broken(x: int) -> int:
        return x + "1"  # type: ignore[operator]

    with pytest.raises(TypeError) as caught:
        run(QueueEndpoint("w", functions={"broken": broken}), {"x": 1})
    assert not isinstance(caught.value, InvalidInputError)


def test_several_functions_dispatch_on_function_key() -> None:
    endpoint = QueueEndpoint("w", functions={"add": add, "greet": greet})
    assert run(endpoint, {"__function": "add", "a": 2, "b": 2}) == 4
    assert run(endpoint, {"__function": "greet", "name": "bo"}) == "hello bo"
    with pytest.raises(
        InvalidInputError, match=r"several functions.*available: add, greet"
    ):
        run(endpoint, {"a": 1})
    with pytest.raises(
        InvalidInputError, match=r"unknown function 'nope'.*available: add, greet"
    ):
        run(endpoint, {"__function": "nope"})


def test_single_function_accepts_its_own_name_only() -> None:
    endpoint = QueueEndpoint("w", functions={"add": add})
    assert run(endpoint, {"__function": "add", "a": 1}) == 3
    with pytest.raises(InvalidInputError, match="unknown function 'greet'"):
        run(endpoint, {"__function": "greet", "a": 1})


def test_class_endpoint_is_instantiated_once_and_dispatches_on_method() -> None:
    Model.created = 0
    endpoint = QueueEndpoint("m", cls=Model, methods=("predict", "embed"))
    assert Model.created == 1
    assert run(endpoint, {"method": "predict", "x": 3}) == 30
    assert run(endpoint, {"method": "embed", "text": "abcd"}) == [4]
    assert Model.created == 1
    with pytest.raises(
        InvalidInputError, match=r"unknown method '_private'.*available: embed, predict"
    ):
        run(endpoint, {"method": "_private"})
    with pytest.raises(InvalidInputError, match=r"several methods.*'method'"):
        run(endpoint, {"x": 3})


def test_class_public_methods_are_found_when_not_listed() -> None:
    endpoint = QueueEndpoint("m", cls=Model)
    with pytest.raises(InvalidInputError, match=r"available: embed, predict\)$"):
        run(endpoint, {"method": "other"})


def test_class_endpoint_accepts_its_class_name_in_function_key() -> None:
    """flashc's client stubs send the class name as ``__function`` beside ``method``."""
    endpoint = QueueEndpoint("m", cls=Model, methods=("predict", "embed"))
    assert run(endpoint, {"__function": "Model", "method": "predict", "x": 1}) == 10
    with pytest.raises(InvalidInputError, match="unknown class 'Other'.*serves Model"):
        run(endpoint, {"__function": "Other", "method": "predict", "x": 1})


def test_the_only_method_is_implicit() -> None:
    endpoint = QueueEndpoint("s", cls=Single, methods=("run",))
    assert run(endpoint, {"value": "x"}) == "X"
    assert run(endpoint, {"method": "run", "value": "y"}) == "Y"


def test_functions_or_class_exactly_one() -> None:
    with pytest.raises(ValueError):
        QueueEndpoint("w")
    with pytest.raises(ValueError):
        QueueEndpoint("w", functions={"add": add}, cls=Model)
    with pytest.raises(ValueError):
        QueueEndpoint("w", functions={"add": add}, max_concurrency=0)


def test_sync_functions_run_in_threads_so_concurrent_jobs_overlap() -> None:
    barrier = threading.Barrier(3, timeout=5)

    def wait_for_the_others(i: int) -> int:
        barrier.wait()  # only returns once three calls run at the same time
        return i

    endpoint = QueueEndpoint(
        "w", functions={"wait": wait_for_the_others}, max_concurrency=3
    )

    async def three_jobs() -> list[object]:
        jobs = [endpoint.handler({"id": str(i), "input": {"i": i}}) for i in range(3)]
        return await asyncio.gather(*jobs)

    started = time.perf_counter()
    assert asyncio.run(three_jobs()) == [0, 1, 2]
    assert time.perf_counter() - started < 5


def test_start_config_adds_the_concurrency_modifier_only_above_one() -> None:
    single = QueueEndpoint("w", functions={"add": add}).start_config()
    assert single == {"handler": single["handler"]}
    assert asyncio.run(single["handler"]({"id": "1", "input": {"a": 1}})) == 3
    config = QueueEndpoint(
        "w", functions={"add": add}, max_concurrency=4
    ).start_config()
    assert config["concurrency_modifier"](1) == 4
    assert config["concurrency_modifier"](7) == 4


def test_a_result_with_an_error_key_keeps_it_through_the_sdk() -> None:
    """The runpod SDK pops "error" from dict outputs and fails the job when it is set."""

    def report() -> dict[str, object]:
        return {"error": "not a failure", "value": 1}

    result = run(QueueEndpoint("w", functions={"report": report}), {"__empty": True})
    assert result == {"error": "not a failure", "value": 1}
    assert result.pop("error", None) is None  # what the SDK does
    assert result == {"error": "not a failure", "value": 1}


def test_an_empty_dict_result_is_not_dropped_by_the_sdk() -> None:
    """The SDK drops an output that equals ``{}``; the result must still serialise as ``{}``."""

    result = run(QueueEndpoint("w", functions={"nothing": dict}), {"__empty": True})
    assert isinstance(result, dict) and not result
    assert result != {}  # what the SDK checks
    assert json.dumps(result) == "{}"
    assert run(QueueEndpoint("w", functions={"one": lambda: {"a": 1}}), None) == {
        "a": 1
    }


def test_job_id_and_duration_are_logged(capsys: pytest.CaptureFixture[str]) -> None:
    import logging

    logger = logging.getLogger("flashc_runtime.worker")
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger.addHandler(handler)
    try:
        run(QueueEndpoint("w", functions={"add": add}), {"a": 1}, job_id="job-42")
        with pytest.raises(RuntimeError):
            run(
                QueueEndpoint("w", functions={"explode": explode}),
                {"message": "x"},
                job_id="job-43",
            )
    finally:
        logger.removeHandler(handler)
    messages = [record.getMessage() for record in records]
    assert any("job-42 add done in" in message for message in messages), messages
    assert any(
        "job-43 explode failed after" in message and "RuntimeError" in message
        for message in messages
    )


def test_pickled_arguments_are_decoded_only_where_the_endpoint_allows_them(monkeypatch) -> None:
    import asyncio as _asyncio

    from flashc_runtime.sdk.exceptions import SerializationError
    from flashc_runtime.serialization import pickled

    endpoint = QueueEndpoint("pickles", functions={"kind": lambda value: type(value).__name__})
    job = {"id": "p", "input": {"value": pickled({1, 2})}}
    with pytest.raises(SerializationError):
        _asyncio.run(endpoint.handler(job))
    monkeypatch.setenv("FLASHC_PICKLE_PICKLES", "1")
    assert _asyncio.run(endpoint.handler(job)) == "set"


def test_keyword_calls_are_judged_exactly_as_signature_bind_judges_them() -> None:
    import inspect

    def plain(a: int, b: int = 2, *, c: int, d: int = 4) -> None: ...
    def positional_only(a: int, /, b: int = 2) -> None: ...
    def keywords(a: int, **rest: int) -> None: ...
    def nothing() -> None: ...

    calls = [{}, {"a": 1}, {"a": 1, "c": 3}, {"a": 1, "b": 2, "c": 3, "d": 4}, {"c": 3}, {"a": 1, "c": 3, "e": 5}, {"b": 2}]
    for function in (plain, positional_only, keywords, nothing, total):
        endpoint = QueueEndpoint("w", functions={"f": function})
        for call in calls:
            try:
                inspect.signature(function).bind(**call)
                expected = None
            except TypeError as error:
                expected = f"f(): {error}"
            try:
                endpoint._parse(dict(call))
                got = None
            except InvalidInputError as error:
                got = str(error)
            assert got == expected, (function.__name__, call)


def test_the_log_line_follows_the_answer_in_the_next_pass_of_the_loop() -> None:
    import logging

    logger = logging.getLogger("flashc_runtime.worker")
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger.addHandler(handler)
    endpoint = QueueEndpoint("w", functions={"add": add})

    async def scenario() -> tuple[object, int, int]:
        answer = await endpoint.handler({"id": "job-7", "input": {"a": 1}})
        logged_with_the_answer = len(records)
        await asyncio.sleep(0)
        return answer, logged_with_the_answer, len(records)

    try:
        answer, before, after = asyncio.run(scenario())
    finally:
        logger.removeHandler(handler)
    assert (answer, before, after) == (3, 0, 1)
    assert "job-7 add done in" in records[0].getMessage()
