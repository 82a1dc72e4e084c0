"""Errors the worker glue raises on its own behalf (user exceptions are never wrapped)."""

from __future__ import annotations


class InvalidInputError(ValueError):
    """A job's input does not fit the endpoint: not an object, an unknown function or
    method, or arguments that do not bind to the target's signature.

    It is raised, not returned, so the runpod worker SDK reports the job as FAILED
    with this type and message instead of a COMPLETED job carrying an error dict.
    """
