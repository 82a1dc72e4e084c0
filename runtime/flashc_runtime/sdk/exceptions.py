"""The errors the SDK raises at run time, named and nested as in runpod-flash.

User code written against runpod-flash catches these by name (``except
RemoteExecutionError``), so the names and the subclass relations are kept;
``ManifestError`` is flashc's own parent for the manifest failures.
"""

from __future__ import annotations

import json


class FlashRuntimeError(Exception):
    """Base of every run-time error of a flashc endpoint call."""


class RemoteExecutionError(FlashRuntimeError):
    """The remote function raised; carries the remote exception's type, message and traceback.

    ``str()`` is ``"<type>: <message>"``; the remote traceback is the ``traceback``
    attribute and is also added as a note, so an uncaught error prints it after
    the local one.
    """

    def __init__(
        self,
        message: str = "",
        *,
        error_type: str | None = None,
        traceback: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.error_type = error_type
        self.traceback = traceback
        if traceback:
            _add_note(self, f"Remote traceback:\n{traceback.rstrip()}")

    def __str__(self) -> str:
        return f"{self.error_type}: {self.message}" if self.error_type else self.message

    def __reduce__(self):  # keyword-only fields would otherwise be lost when pickled
        return (_rebuild_remote_error, (self.message, self.error_type, self.traceback))

    @classmethod
    def from_job_error(cls, error: object) -> RemoteExecutionError:
        """The exception a FAILED job's ``error`` describes.

        The runpod worker SDK reports a raised exception as a JSON string of
        ``error_type``, ``error_message`` and ``error_traceback``; anything else
        (a plain string, a dict of other keys) becomes the message as it is.
        """
        details = error
        if isinstance(error, str):
            try:
                details = json.loads(error, strict=False)
            except ValueError:
                return cls(error)
        if isinstance(details, dict) and ("error_message" in details or "error_type" in details):
            kind = details.get("error_type")
            trace = details.get("error_traceback")
            return cls(
                str(details.get("error_message", "")),
                error_type=None if kind is None else str(kind),
                traceback=None if trace is None else str(trace),
            )
        return cls(error if isinstance(error, str) else json.dumps(error, default=repr))


def _add_note(error: BaseException, note: str) -> None:
    """``error.add_note(note)``, also on Python 3.10 (where notes are kept but not printed)."""
    if hasattr(error, "add_note"):
        error.add_note(note)
    else:  # pragma: no cover - Python 3.10
        error.__notes__ = [*getattr(error, "__notes__", []), note]


def _rebuild_remote_error(
    message: str, error_type: str | None, traceback: str | None
) -> RemoteExecutionError:
    return RemoteExecutionError(message, error_type=error_type, traceback=traceback)


class RemoteTimeoutError(FlashRuntimeError, TimeoutError):
    """A remote call did not finish in time: the client gave up waiting (and cancelled the
    job when it knew its id), or the platform stopped the job at its execution timeout."""

    def __init__(self, message: str = "", *, job_id: str | None = None) -> None:
        super().__init__(message)
        self.job_id = job_id

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""

    def __reduce__(self):
        return (_rebuild_job_error, (type(self), str(self), self.job_id))


class RemoteCancelledError(FlashRuntimeError):
    """The job was cancelled before it finished (by a ``cancel`` call or on the platform)."""

    def __init__(self, message: str = "", *, job_id: str | None = None) -> None:
        super().__init__(message)
        self.job_id = job_id

    def __reduce__(self):
        return (_rebuild_job_error, (type(self), str(self), self.job_id))


def _rebuild_job_error(kind: type, message: str, job_id: str | None) -> FlashRuntimeError:
    return kind(message, job_id=job_id)


class AuthenticationError(FlashRuntimeError):
    """The endpoint refused the call's credentials (HTTP 401 or 403).

    ``variable`` names the environment variable the bearer token came from, or is
    None when no token was sent.
    """

    def __init__(self, message: str, *, status_code: int = 401, variable: str | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.variable = variable

    def __reduce__(self):
        return (_rebuild_authentication_error, (str(self), self.status_code, self.variable))


def _rebuild_authentication_error(message: str, status_code: int, variable: str | None) -> AuthenticationError:
    return AuthenticationError(message, status_code=status_code, variable=variable)


class EndpointHTTPError(FlashRuntimeError):
    """The endpoint answered with an HTTP error that is not the function's own exception."""

    def __init__(self, message: str, *, status_code: int, body: str = "") -> None:
        super().__init__(message)
        self.status_code = status_code
        self.body = body

    def __reduce__(self):
        return (_rebuild_http_error, (str(self), self.status_code, self.body))


def _rebuild_http_error(message: str, status_code: int, body: str) -> EndpointHTTPError:
    return EndpointHTTPError(message, status_code=status_code, body=body)


class EndpointUnavailableError(FlashRuntimeError, ConnectionError):
    """The endpoint could not be reached, or its gateway kept refusing the call, after retries."""


class SerializationError(FlashRuntimeError):
    """Arguments or a result could not be serialised or deserialised."""


class PayloadTooLargeError(SerializationError):
    """One argument is larger, encoded, than a call may carry (10 MiB)."""


class DeserializeTimeoutError(SerializationError):
    """Unpickling an argument took longer than allowed (30 s)."""


class GraphQLError(FlashRuntimeError):
    """Base of the errors returned by the RunPod GraphQL API."""


class GraphQLMutationError(GraphQLError):
    """A GraphQL mutation (create, update, delete) failed."""


class GraphQLQueryError(GraphQLError):
    """A GraphQL query failed."""


class ManifestError(FlashRuntimeError):
    """The deployment manifest is missing, unreadable or inconsistent."""


class ManifestServiceUnavailableError(ManifestError):
    """The service that serves the deployment manifest could not be reached."""


class EndpointNotDeployedError(FlashRuntimeError):
    """A client stub was called, but where its endpoint is deployed is not known here
    (or the endpoint at the known address does not exist)."""

    def __init__(self, endpoint: str, variable: str, detail: str | None = None) -> None:
        reason = f" ({detail})" if detail else " (or its URL is not known here)"
        super().__init__(
            f"endpoint '{endpoint}' is not deployed{reason}: deploy it "
            f"first with `flashc deploy`, or set {variable} to its base URL"
        )
        self.endpoint = endpoint
        self.variable = variable
        self.detail = detail

    def __reduce__(self):  # the message is derived; rebuild from the fields
        return (EndpointNotDeployedError, (self.endpoint, self.variable, self.detail))
