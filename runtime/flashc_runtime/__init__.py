"""flashc's runtime: what runs inside workers and behind client stubs.

It is vendored into every artifact, so it imports nothing of ``flashc`` and none
of the compiler's dependencies (libcst, jinja2, typer, docker).
"""

__version__ = "0.1.0.dev0"
