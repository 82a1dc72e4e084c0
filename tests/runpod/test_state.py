"""The deployment state's RunPod fields: written and read back, and older files still readable."""

from __future__ import annotations

import json

import pytest

from flashc.deploy import state as states
from flashc.deploy.state import DeployedEndpoint, DeployState


def test_a_file_written_before_the_runpod_fields_still_reads(tmp_path):
    path = states.state_path(tmp_path, "dev")
    path.parent.mkdir(parents=True)
    endpoint = {"name": "jobs", "kind": "queue", "digest": "d" * 64, "url": "http://127.0.0.1:9/v2/jobs", "package_dir": "/p", "python": "py"}
    path.write_text(json.dumps({"schema_version": 1, "env": "dev", "target": "local", "url": "http://127.0.0.1:9", "token": "t" * 40, "pid": 0, "endpoints": {"jobs": endpoint}}))
    loaded = states.load(tmp_path, "dev")
    assert loaded.remote == {} and loaded.endpoints["jobs"].endpoint_id == ""


def test_runpod_fields_round_trip_and_are_checked(tmp_path):
    recorded = DeployState(
        env="prod", target="runpod", url="https://api.runpod.io/graphql", token="", pid=0,
        endpoints={"jobs": DeployedEndpoint("jobs", "queue", "d" * 64, "https://api.runpod.ai/v2/abc", "", "3.12", endpoint_id="abc")},
        remote={"app": "shop", "app_id": "app-1", "templates": {"jobs": "tpl-1"}, "complete": True},
    )
    states.save(tmp_path, recorded)
    assert states.load(tmp_path, "prod") == recorded
    path = states.state_path(tmp_path, "prod")
    document = json.loads(path.read_text())
    document["remote"] = ["not", "an", "object"]
    path.write_text(json.dumps(document))
    with pytest.raises(states.StateError, match="'remote' must be an object, not list"):
        states.load(tmp_path, "prod")
