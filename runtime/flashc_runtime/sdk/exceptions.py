"""The errors the SDK raises at run time, named and nested as in runpod-flash.

User code written against runpod-flash catches these by name (``except
RemoteExecutionError``), so the names and the subclass relations are kept;
``ManifestError`` is flashc's own parent for the manifest failures.
"""

from __future__ import annotations


class FlashRuntimeError(Exception):
    """Base of every run-time error of a flashc endpoint call."""


class RemoteExecutionError(FlashRuntimeError):
    """The remote function raised; carries the remote exception's type, message and traceback."""

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

    def __str__(self) -> str:
        text = f"{self.error_type}: {self.message}" if self.error_type else self.message
        if self.traceback:
            text = f"{text}\n\nRemote traceback:\n{self.traceback.rstrip()}"
        return text

    def __reduce__(self):  # keyword-only fields would otherwise be lost when pickled
        return (_rebuild_remote_error, (self.message, self.error_type, self.traceback))


def _rebuild_remote_error(
    message: str, error_type: str | None, traceback: str | None
) -> RemoteExecutionError:
    return RemoteExecutionError(message, error_type=error_type, traceback=traceback)


class SerializationError(FlashRuntimeError):
    """Arguments or a result could not be serialised or deserialised."""


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
    """A client stub was called, but where its endpoint is deployed is not known here."""

    def __init__(self, endpoint: str, variable: str) -> None:
        super().__init__(
            f"endpoint '{endpoint}' is not deployed (or its URL is not known here): deploy it "
            f"first with `flashc deploy`, or set {variable} to its base URL"
        )
        self.endpoint = endpoint
        self.variable = variable

    def __reduce__(self):  # the message is derived; rebuild from the fields
        return (EndpointNotDeployedError, (self.endpoint, self.variable))
