"""The RunPod target against the emulator: plan, apply, drift, resume, delete."""

from __future__ import annotations

import json

import pytest

from flashc import api
from flashc.deploy import state as states
from flashc.deploy.plan import Change
from flashc.deploy.runpod.target import PartialDeployError

ENDPOINTS = ("cpu-worker-redact", "cpu-worker-stats")


def deploy(project, *, plan=False, yes=False, confirm=None, env="production"):
    options = api.DeployOptions(target="runpod", env=env, dry_run=plan, yes=yes, confirm=confirm)
    return api.deploy(project, options)


def changes(result):
    return {a.endpoint: a.change for a in result.plan.actions}


def test_first_deploy_creates_app_environment_build_and_endpoints(runpod, project):
    preview = deploy(project, plan=True)
    assert changes(preview) == {name: Change.CREATE for name in ENDPOINTS}
    assert preview.plan.notes[:2] == ("create app `cpu-worker`", "create environment `production`")
    assert runpod.mutations() == []  # a plan changes nothing

    result = deploy(project)

    assert runpod.mutations() == [
        "createFlashApp", "createFlashEnvironment", "prepareFlashArtifactUpload", "finalizeFlashArtifactUpload",
        "deployBuildToEnvironment", "saveTemplate", "saveEndpoint", "saveTemplate", "saveEndpoint",
    ]
    store = runpod.store
    (app,) = store.apps.values()
    (environment,) = store.environments.values()
    assert app["name"] == "cpu-worker" and environment["name"] == "production" and environment["activeBuildId"]
    by_name = {e["name"]: e for e in store.endpoints.values()}
    assert sorted(by_name) == list(ENDPOINTS)
    stats = by_name["cpu-worker-stats"]
    assert (stats["workersMin"], stats["workersMax"], stats["idleTimeout"], stats["instanceIds"], stats["type"]) == (0, 2, 30, ["cpu3c-1-2"], "QB")
    assert stats["flashEnvironmentId"] == environment["id"]
    template = store.templates[stats["templateId"]]
    assert template["imageName"] == "runpod/flash-cpu:py3.12-latest"
    env = {p["key"]: p["value"] for p in template["env"]}
    assert env["FLASH_RESOURCE_NAME"] == "cpu-worker-stats" and env["FLASH_APP"] == "cpu-worker" and env["FLASH_ENV"] == "production"
    recorded = states.load(project, "production")
    assert recorded.target == "runpod" and recorded.remote["app_id"] == app["id"] and recorded.remote["complete"] is True
    assert {n: e.endpoint_id for n, e in recorded.endpoints.items()} == {n: e["id"] for n, e in by_name.items()}
    assert recorded.endpoints["cpu-worker-stats"].url == f"{runpod.url}/v2/{stats['id']}"


def test_redeploy_without_changes_has_an_empty_plan_and_mutates_nothing(runpod, project):
    deploy(project)
    before = len(runpod.mutations())
    preview = deploy(project, plan=True)
    assert preview.plan.changes == () and preview.plan.notes == ()
    assert preview.plan.render().endswith("runpod/production: nothing to change\n")
    deploy(project)
    assert len(runpod.mutations()) == before


def test_config_drift_updates_the_drifted_fields(runpod, project):
    deploy(project)
    worker = project / "text_worker.py"
    worker.write_text(worker.read_text().replace("workers=(0, 2), idle_timeout=30", "workers=(1, 4), idle_timeout=45"))
    preview = deploy(project, plan=True)
    (action,) = preview.plan.changes
    assert action.change is Change.UPDATE and action.endpoint == "cpu-worker-stats"
    assert [(f.field, f.old, f.new) for f in action.fields] == [("workersMin", 0, 1), ("workersMax", 2, 4), ("idleTimeout", 30, 45)]
    assert "      workersMax: 2 -> 4\n" in preview.plan.render()
    as_json = preview.plan.to_dict()
    assert as_json["actions"][1]["fields"][1] == {"field": "workersMax", "old": 2, "new": 4}
    ids = {e["name"]: e["id"] for e in runpod.store.endpoints.values()}
    runpod.calls.clear()

    deploy(project)

    # The build changed (its manifest holds the settings); the template did not.
    assert runpod.mutations() == ["prepareFlashArtifactUpload", "finalizeFlashArtifactUpload", "deployBuildToEnvironment", "saveEndpoint"]
    (saved,) = [v["input"] for name, v in runpod.calls if name == "saveEndpoint"]
    assert saved["id"] == ids["cpu-worker-stats"] and (saved["workersMin"], saved["workersMax"], saved["idleTimeout"]) == (1, 4, 45)
    assert {e["name"]: e["id"] for e in runpod.store.endpoints.values()} == ids


def test_code_only_change_rolls_only_the_endpoint_running_that_code(runpod, project):
    deploy(project)
    worker = project / "text_worker.py"
    worker.write_text(worker.read_text().replace('"sentences": len(sentences),', '"sentences": len(sentences),\n        "version": 2,'))
    preview = deploy(project, plan=True)
    (action,) = preview.plan.changes
    assert action.endpoint == "cpu-worker-stats" and [f.field for f in action.fields] == ["code"]
    assert "code changed" in action.reason
    assert any(note.startswith("upload the artifact") for note in preview.plan.notes)
    runpod.calls.clear()

    deploy(project)

    assert runpod.mutations() == ["prepareFlashArtifactUpload", "finalizeFlashArtifactUpload", "deployBuildToEnvironment", "saveTemplate"]
    assert deploy(project, plan=True).plan.changes == ()


def test_removed_endpoint_is_deleted_only_after_confirmation(runpod, project):
    deploy(project)
    worker = project / "text_worker.py"
    source = worker.read_text()
    start = source.index('@Endpoint(name="cpu-worker-redact"')
    worker.write_text(source[:start])
    (project / "main.py").write_text("import asyncio\nfrom text_worker import text_stats\nprint(asyncio.run(text_stats('a b')))\n")
    preview = deploy(project, plan=True)
    assert changes(preview)["cpu-worker-redact"] is Change.REMOVE

    with pytest.raises(api.FlashcError, match="confirm with --yes"):
        deploy(project)  # not interactive: refuses
    asked = []
    with pytest.raises(api.FlashcError, match="cancelled"):
        deploy(project, confirm=lambda question: asked.append(question) or False)
    assert "cpu-worker-redact" in asked[0]
    assert len(runpod.store.endpoints) == 2

    deploy(project, confirm=lambda question: True)

    assert [e["name"] for e in runpod.store.endpoints.values()] == ["cpu-worker-stats"]
    assert [t["name"] for t in runpod.store.templates.values()] == ["flashc-cpu-worker-production-cpu-worker-stats"]
    assert sorted(states.load(project, "production").endpoints) == ["cpu-worker-stats"]


def test_failure_in_the_middle_is_recorded_and_the_next_deploy_resumes(runpod, project):
    runpod.fail("saveEndpoint", after=1, message="Something went wrong. Please try again later or contact support.")
    with pytest.raises(PartialDeployError) as failed:
        deploy(project)
    assert failed.value.step == 5 and failed.value.steps == 5
    assert "Something went wrong" in str(failed.value) and "saveEndpoint" in str(failed.value)
    recorded = states.load(project, "production")
    existing = {e["name"]: e["id"] for e in runpod.store.endpoints.values()}
    assert {n: e.endpoint_id for n, e in recorded.endpoints.items()} == existing  # exactly what exists
    assert recorded.remote["complete"] is False
    orphan_templates = set(recorded.remote["templates"].values())
    assert orphan_templates == set(runpod.store.templates)  # the template made before the failure is tracked

    resumed = deploy(project)

    assert sorted(e["name"] for e in runpod.store.endpoints.values()) == list(ENDPOINTS)
    assert len(runpod.store.templates) == 2 and len(runpod.store.builds) == 1  # nothing made twice
    assert {a.endpoint: a.change for a in resumed.plan.changes} == {"cpu-worker-stats": Change.CREATE}
    assert states.load(project, "production").remote["complete"] is True


def test_queries_are_retried_on_server_errors_but_mutations_are_not(runpod, project):
    runpod.fail("myself", status=502, times=2)
    deploy(project, plan=True)  # succeeds on the third attempt
    runpod.fail("createFlashApp", status=500)
    with pytest.raises(PartialDeployError, match="step 1 of"):
        deploy(project)
    assert [name for name, _ in runpod.calls].count("createFlashApp") == 1


def test_undeploy_deletes_the_endpoints_and_the_record(runpod, project):
    deploy(project)
    assert api.undeploy(project, "production") == ["production"]
    assert runpod.store.endpoints == {} and runpod.store.templates == {}
    assert states.load(project, "production") is None
    assert len(runpod.store.environments) == 1  # the environment stays; `flashc env delete` removes it


def test_plan_json_is_data(runpod, project):
    deploy(project)
    data = json.loads(json.dumps(deploy(project, plan=True).plan.to_dict()))
    assert data == {
        "env": "production",
        "target": "runpod",
        "notes": [],
        "empty": True,
        "actions": [
            {"change": "keep", "endpoint": name, "reason": f"unchanged; endpoint {e.endpoint_id}", "fields": []}
            for name, e in sorted(states.load(project, "production").endpoints.items())
        ],
    }


def test_an_environment_deployed_to_one_target_is_not_taken_over_by_another(runpod, project):
    deploy(project, env="shared")
    with pytest.raises(api.FlashcError, match="`shared` is deployed to the runpod target"):
        api.deploy(project, api.DeployOptions(target="local", env="shared", dry_run=True))


def test_the_artifact_upload_is_retried_and_reports_progress(runpod, project, api_key):
    runpod.proxy_uploads = True
    runpod.fail("upload", status=503, times=2)
    said = []
    api.deploy(project, api.DeployOptions(target="runpod", env="production", progress=said.append))
    assert [name for name, _ in runpod.calls].count("upload") == 3
    assert said.count("artifact upload failed (HTTP 503); retrying (1/3)") == 1
    assert any(line.startswith("uploading the artifact: 100% of") for line in said)
    assert all("Authorization" not in headers and api_key not in str(headers) for headers in runpod.upload_headers)
    assert all(h["Content-Type"] == "application/gzip" for h in runpod.upload_headers)


def test_an_expired_upload_url_is_not_retried(runpod, project):
    runpod.proxy_uploads = True
    runpod.fail("upload", status=403, times=5)
    with pytest.raises(PartialDeployError, match=r"step 3 of 5 \(artifact upload .*refused \(HTTP 403\)"):
        deploy(project)
    assert [name for name, _ in runpod.calls].count("upload") == 1
    recorded = states.load(project, "production")
    assert recorded.endpoints == {} and recorded.remote["environment_id"] in runpod.store.environments


def test_a_query_timing_out_is_retried(runpod, project, monkeypatch):
    monkeypatch.setenv("FLASHC_RUNPOD_TIMEOUT", "1")
    runpod.fail("flashAppByName", delay=3)
    assert len(deploy(project, plan=True).plan.actions) == 2
    assert [name for name, _ in runpod.calls].count("flashAppByName") == 2


def test_a_mutation_whose_answer_was_lost_is_not_repeated_and_leaves_nothing_untracked(runpod, project, monkeypatch):
    monkeypatch.setenv("FLASHC_RUNPOD_TIMEOUT", "1")
    runpod.fail("saveTemplate", applied=True, delay=3)  # RunPod made the template; flashc never heard back
    with pytest.raises(PartialDeployError, match="may or may not have taken effect"):
        deploy(project)
    assert [name for name, _ in runpod.calls].count("saveTemplate") == 1
    (made,) = runpod.store.templates
    # The template flashc never heard about is not lost: the record lists it (from RunPod) at the next deploy.
    monkeypatch.setenv("FLASHC_RUNPOD_TIMEOUT", "30")

    deploy(project)

    # The next deploy found the template by its name on RunPod and used it: no second one.
    assert len(runpod.store.templates) == 2 and len(runpod.store.endpoints) == 2
    used = {e["templateId"] for e in runpod.store.endpoints.values()}
    assert used == set(runpod.store.templates)


def test_plain_python_calls_the_runpod_deployment_recorded_in_the_project(runpod, project):
    import os
    import subprocess
    import sys

    deploy(project, env="prod")
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    environment["FLASHC_ENV"] = "prod"
    completed = subprocess.run([sys.executable, "main.py"], cwd=project, env=environment, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr
    assert "'words': 32" in completed.stdout
    assert sum(1 for name, _ in runpod.calls if name == "runsync") == 2


def test_an_endpoint_deleted_outside_flashc_is_planned_again_and_not_recorded_meanwhile(runpod, project):
    deploy(project)
    gone = next(e for e in runpod.store.endpoints.values() if e["name"] == "cpu-worker-stats")
    del runpod.store.endpoints[gone["id"]]  # someone deleted it in the console
    assert changes(deploy(project, plan=True))["cpu-worker-stats"] is Change.CREATE
    runpod.fail("saveEndpoint", message="no capacity")
    with pytest.raises(PartialDeployError, match="no capacity"):
        deploy(project)
    assert sorted(states.load(project, "production").endpoints) == ["cpu-worker-redact"]
    deploy(project)
    assert sorted(states.load(project, "production").endpoints) == list(ENDPOINTS)
    assert len(runpod.store.templates) == 2
