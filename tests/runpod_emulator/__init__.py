"""A RunPod API emulator for the tests of the RunPod target (the real service cannot be reached here).

:class:`~.server.Emulator` serves, on loopback, the GraphQL operations the target sends
(apps, environments, builds, templates, endpoints), the serverless REST calls stubs make
(``/v2/{id}/run|runsync|status|health``), and hands out presigned upload URLs of a real
S3-compatible server (moto in server mode). It checks what it receives (operation
arguments, required input fields and their types, the bearer key, the fields selected)
and can inject failures.
"""

from .server import Emulator, Failure

__all__ = ["Emulator", "Failure"]
