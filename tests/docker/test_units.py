"""The docker target's pure parts, no engine needed: the Dockerfile, ports, labels, settings, state."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from flashc.config import config_from_table
from flashc.deploy import state as states
from flashc.deploy.docker import containers, images, ports
from flashc.errors import ConfigError


def test_dockerfile_of_a_queue_endpoint_with_requirements_and_system_packages(text_snapshot) -> None:
    text = images.render_dockerfile(
        "gpu-worker", "queue", "runpod/flash:py3.11-latest",
        system_dependencies=["ffmpeg", "libgl1"], has_dependencies=True,
        labels={"org.flashc.app": "demo", "org.flashc.endpoint": "gpu-worker", "org.flashc.kind": "queue"},
    )
    assert text == text_snapshot


def test_dockerfile_of_a_load_balanced_endpoint_without_dependencies(text_snapshot) -> None:
    text = images.render_dockerfile(
        "api", "load-balanced", "flashc/debian-python:bookworm",
        system_dependencies=[], has_dependencies=False,
        labels={"org.flashc.app": "demo", "org.flashc.endpoint": "api", "org.flashc.kind": "load-balanced"},
    )
    assert text == text_snapshot
    assert "apt-get" not in text and "COPY deps" not in text


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        ({"resource_type": "LiveServerless"}, "runpod/flash:py3.11-latest"),
        ({"resource_type": "CpuLiveServerless"}, "runpod/flash-cpu:py3.11-latest"),
        ({"resource_type": "LiveLoadBalancer", "is_load_balanced": True}, "runpod/flash-lb:py3.11-latest"),
        ({"resource_type": "CpuLiveLoadBalancer", "is_load_balanced": True}, "runpod/flash-lb-cpu:py3.11-latest"),
        ({"resource_type": "CpuLiveServerless", "imageName": "me/custom:1"}, "me/custom:1"),
    ],
)
def test_default_base_image_per_endpoint_kind(resource: dict, expected: str) -> None:
    assert images.default_base_image(resource, "3.11") == expected


def test_base_image_settings_endpoint_over_project_over_default() -> None:
    config = config_from_table({"docker": {"base-image": "team/base:1", "endpoints": {"gpu": {"base-image": "team/cuda:2"}}}})
    resource = {"resource_type": "CpuLiveServerless"}
    assert images.base_image_for(config, "gpu", resource, "3.11") == "team/cuda:2"
    assert images.base_image_for(config, "cpu", resource, "3.11") == "team/base:1"
    assert images.base_image_for(config_from_table({}), "cpu", resource, "3.12") == "runpod/flash-cpu:py3.12-latest"
    with pytest.raises(images.DockerError, match=r"\[tool.flashc.docker.endpoints.gpu\] names no endpoint of the project; endpoints: api, cpu"):
        images.check_endpoint_overrides(config, ["cpu", "api"])


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"base-image": ""}, r"\[tool.flashc.docker\] base-image must be a non-empty image reference, got ''"),
        ({"base_image": "x"}, r"unknown key 'base_image'; allowed: base-image \(string\), endpoints"),
        ({"endpoints": {"w": {"image": "x"}}}, r"\[tool.flashc.docker.endpoints.w\] must have exactly one key, base-image \(string\)"),
        ({"endpoints": ["w"]}, r"endpoints must be a table of endpoint name"),
    ],
)
def test_docker_settings_errors_name_the_key(table: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config_from_table({"docker": table})


def test_repository_names_use_allowed_characters_only() -> None:
    assert images.repository_name("My App", "Gpu_Worker.v2") == "flashc/my-app-gpu_worker.v2"


# --- ports -------------------------------------------------------------------------------------


def test_preferred_port_is_a_stable_hash_inside_the_range() -> None:
    # sha256, not Python's per-process hash(): the same on every run and machine.
    assert ports.preferred_port("p1", "dev", "worker") == ports.preferred_port("p1", "dev", "worker")
    assert ports.preferred_port("p1", "dev", "worker") == 20000 + int.from_bytes(
        __import__("hashlib").sha256(b"p1\0dev\0worker").digest()[:8], "big"
    ) % 10000
    assert ports.preferred_port("p1", "dev", "worker") != ports.preferred_port("p1", "prod", "worker")


def test_allocation_probes_past_claimed_and_busy_ports_deterministically() -> None:
    small = (30000, 30003)
    first = ports.preferred_port("p", "e", "a", small)
    taken = {first}
    busy = {30000 + (first - 30000 + 1) % 4}
    result = ports.allocate("p", "e", ["a"], recorded={}, taken=taken, busy=busy.__contains__, port_range=small)
    assert result == {"a": 30000 + (first - 30000 + 2) % 4}


def test_two_endpoints_with_the_same_preferred_port_get_different_ports() -> None:
    one_port = (31000, 31001)
    result = ports.allocate("p", "e", ["b", "a"], recorded={}, busy=lambda port: False, port_range=one_port)
    assert sorted(result.values()) == [31000, 31001]
    assert result == ports.allocate("p", "e", ["a", "b"], recorded={}, busy=lambda port: False, port_range=one_port)


def test_recorded_ports_are_kept_unless_another_deployment_claims_them() -> None:
    kept = ports.allocate("p", "e", ["a", "b"], recorded={"a": 25000, "b": 25001}, busy=lambda port: True)
    assert kept == {"a": 25000, "b": 25001}  # held by its own containers: not probed
    moved = ports.allocate("p", "e", ["a"], recorded={"a": 25000}, taken={25000}, busy=lambda port: False)
    assert moved["a"] != 25000


def test_a_listening_socket_makes_a_port_busy() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        assert ports.listening(port)
    assert not ports.listening(port)


def test_no_free_port_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="no free port in 32000-32000 for endpoint 'a'"):
        ports.allocate("p", "e", ["a"], recorded={}, busy=lambda port: True, port_range=(32000, 32000))


# --- labels and names --------------------------------------------------------------------------


def test_labels_say_which_project_environment_and_endpoint_own_a_container(tmp_path: Path) -> None:
    project = containers.project_id(tmp_path)
    assert containers.labels(tmp_path, "dev", "worker", port=21000, digest="abc", config="cfg") == {
        "org.flashc.project": project,
        "org.flashc.project-path": str(tmp_path.resolve()),
        "org.flashc.env": "dev",
        "org.flashc.endpoint": "worker",
        "org.flashc.port": "21000",
        "org.flashc.digest": "abc",
        "org.flashc.config": "cfg",
    }
    assert len(project) == 16 and project == containers.project_id(tmp_path / "." )
    assert containers.container_name("my app", "dev", "worker", project) == f"flashc-my-app-dev-worker-{project[:8]}"


def test_config_digest_follows_image_variables_and_port() -> None:
    base = containers.config_digest("img:1", {"A": "1", "B": "2"}, 20000)
    assert base == containers.config_digest("img:1", {"B": "2", "A": "1"}, 20000)
    assert base != containers.config_digest("img:2", {"A": "1", "B": "2"}, 20000)
    assert base != containers.config_digest("img:1", {"A": "1"}, 20000)
    assert base != containers.config_digest("img:1", {"A": "1", "B": "2"}, 20001)


# --- state -------------------------------------------------------------------------------------


def test_state_records_ports_images_and_containers_and_reads_older_files(tmp_path: Path) -> None:
    endpoint = states.DeployedEndpoint(
        name="w", kind="queue", digest="d", url="http://127.0.0.1:21000", package_dir="/p", python="python3",
        port=21000, image="flashc/a-w:0123", container="c0ffee",
    )
    states.save(tmp_path, states.DeployState(env="dev", target="docker", url="unix:///x.sock", token="t", pid=0, endpoints={"w": endpoint}))
    assert states.load(tmp_path, "dev").endpoints["w"] == endpoint
    document = json.loads(states.state_path(tmp_path, "dev").read_text())
    for key in ("port", "image", "container"):
        del document["endpoints"]["w"][key]  # a state written before the docker target
    states.state_path(tmp_path, "dev").write_text(json.dumps(document))
    assert states.load(tmp_path, "dev").endpoints["w"].port == 0
    document["endpoints"]["w"]["port"] = "21000"
    states.state_path(tmp_path, "dev").write_text(json.dumps(document))
    with pytest.raises(states.StateError, match="endpoint 'w': field 'port' must be an integer, not str"):
        states.load(tmp_path, "dev")


def test_an_environment_deployed_to_one_target_is_not_redeployed_to_another(tmp_path: Path) -> None:
    from flashc import api
    from flashc.errors import FlashcError

    (tmp_path / "pyproject.toml").write_text('[project]\nname = "t"\nversion = "0"\n')
    states.save(tmp_path, states.DeployState(env="dev", target="docker", url="unix:///x.sock", token="t", pid=0))
    with pytest.raises(FlashcError, match=r"^`dev` is deployed to the docker target; `flashc undeploy --env dev` it first, or deploy to another --env$"):
        api.deploy(tmp_path, api.DeployOptions(env="dev", target="local"))
    with pytest.raises(FlashcError, match=r"^unknown deploy target 'k8s'; available: local, docker, runpod$"):
        api.deploy(tmp_path, api.DeployOptions(env="dev", target="k8s"))
