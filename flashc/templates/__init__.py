"""jinja2 templates of generated files. They only interpolate: decisions are made in :mod:`flashc.emit`."""

from __future__ import annotations

import functools
from typing import Any


@functools.cache
def _environment():  # type: ignore[no-untyped-def]
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("flashc", "templates"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )


def render(name: str, /, **context: Any) -> str:
    """Render template ``name`` (e.g. ``queue_handler.py.j2``); a missing variable is an error.

    ``name`` is positional-only, so a template may have a variable called ``name`` too.
    """
    return _environment().get_template(name).render(**context)
