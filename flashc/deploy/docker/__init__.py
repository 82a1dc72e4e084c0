"""The Docker target: one image per endpoint, one container per endpoint, on a Docker engine.

- :mod:`.engine`: reaching the engine (``DOCKER_HOST``) through the ``docker`` SDK, base images;
- :mod:`.images`: the Dockerfile (``templates/Dockerfile.j2``), the build context, images tagged
  by content digest (an unchanged endpoint is never rebuilt), build output as progress, push;
- :mod:`.ports`: host ports, deterministic per project, environment and endpoint;
- :mod:`.containers`: labels saying which project, environment and endpoint own a container,
  running one (host network) and waiting until it answers;
- :mod:`.target`: plan, apply, destroy and status, as the local target has them.

Importing this package imports neither the ``docker`` SDK nor httpx; the SDK loads when an
engine is first needed.
"""
