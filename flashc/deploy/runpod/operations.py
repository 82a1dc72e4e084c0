"""The GraphQL operations the RunPod target uses, one function each, in the shapes runpod-flash sends.

Apps and environments (``flashAppByName``, ``createFlashApp``, ``flashEnvironmentByName``,
``createFlashEnvironment``, ``deleteFlashEnvironment``, ``deleteFlashApp``), builds
(``prepareFlashArtifactUpload``, ``finalizeFlashArtifactUpload``, ``flashBuild``,
``deployBuildToEnvironment``), templates and endpoints (``saveTemplate``, ``deleteTemplate``,
``saveEndpoint``, ``deleteEndpoint``) and what is deployed (``myself { endpoints, podTemplates }``).
"""

from __future__ import annotations

from typing import Any

from .graphql import GraphQLClient, GraphQLQueryError

ENDPOINT_FIELDS = """id name templateId gpuIds gpuCount instanceIds workersMin workersMax idleTimeout
scalerType scalerValue locations networkVolumeId flashEnvironmentId flashBootType type executionTimeoutMs
minCudaVersion"""
TEMPLATE_FIELDS = "id name imageName containerDiskInGb dockerArgs startScript isServerless env { key value }"
ENVIRONMENT_FIELDS = "id name state activeBuildId createdAt endpoints { id name }"


def _not_found(error: GraphQLQueryError) -> bool:
    return any("not found" in message.lower() for message in error.messages)


def app_by_name(client: GraphQLClient, name: str) -> dict[str, Any] | None:
    document = f"""query getFlashAppByName($flashAppName: String!) {{
  flashAppByName(flashAppName: $flashAppName) {{ id name flashEnvironments {{ {ENVIRONMENT_FIELDS} }} flashBuilds {{ id objectKey createdAt }} }}
}}"""
    try:
        return client.query("getFlashAppByName", document, {"flashAppName": name})["flashAppByName"]
    except GraphQLQueryError as error:
        if _not_found(error):
            return None
        raise


def list_apps(client: GraphQLClient) -> list[dict[str, Any]]:
    document = f"query getFlashApps {{ myself {{ flashApps {{ id name flashEnvironments {{ {ENVIRONMENT_FIELDS} }} flashBuilds {{ id createdAt }} }} }} }}"
    return list(client.query("getFlashApps", document)["myself"]["flashApps"] or [])


def create_app(client: GraphQLClient, name: str) -> dict[str, Any]:
    document = "mutation createFlashApp($input: CreateFlashAppInput!) { createFlashApp(input: $input) { id name } }"
    return client.mutate("createFlashApp", document, {"input": {"name": name}})["createFlashApp"]


def delete_app(client: GraphQLClient, app_id: str) -> None:
    document = "mutation deleteFlashApp($flashAppId: String!) { deleteFlashApp(flashAppId: $flashAppId) }"
    client.mutate("deleteFlashApp", document, {"flashAppId": app_id})


def environment_by_name(client: GraphQLClient, app_id: str, name: str) -> dict[str, Any] | None:
    document = f"""query getFlashEnvironmentByName($input: FlashEnvironmentByNameInput!) {{
  flashEnvironmentByName(input: $input) {{ {ENVIRONMENT_FIELDS} }}
}}"""
    try:
        return client.query("getFlashEnvironmentByName", document, {"input": {"flashAppId": app_id, "name": name}})["flashEnvironmentByName"]
    except GraphQLQueryError as error:
        if _not_found(error):
            return None
        raise


def create_environment(client: GraphQLClient, app_id: str, name: str) -> dict[str, Any]:
    document = "mutation createFlashEnvironment($input: CreateFlashEnvironmentInput!) { createFlashEnvironment(input: $input) { id name } }"
    return client.mutate("createFlashEnvironment", document, {"input": {"flashAppId": app_id, "name": name}})["createFlashEnvironment"]


def delete_environment(client: GraphQLClient, environment_id: str) -> None:
    document = "mutation deleteFlashEnvironment($flashEnvironmentId: String!) { deleteFlashEnvironment(flashEnvironmentId: $flashEnvironmentId) }"
    client.mutate("deleteFlashEnvironment", document, {"flashEnvironmentId": environment_id})


def prepare_upload(client: GraphQLClient, app_id: str, size: int) -> dict[str, Any]:
    document = """mutation PrepareArtifactUpload($input: PrepareFlashArtifactUploadInput!) {
  prepareFlashArtifactUpload(input: $input) { uploadUrl objectKey expiresAt }
}"""
    return client.mutate("PrepareArtifactUpload", document, {"input": {"flashAppId": app_id, "tarballSize": size}})["prepareFlashArtifactUpload"]


def finalize_upload(client: GraphQLClient, app_id: str, object_key: str, manifest: dict[str, Any]) -> dict[str, Any]:
    document = """mutation FinalizeArtifactUpload($input: FinalizeFlashArtifactUploadInput!) {
  finalizeFlashArtifactUpload(input: $input) { id manifest }
}"""
    variables = {"input": {"flashAppId": app_id, "objectKey": object_key, "manifest": manifest}}
    return client.mutate("FinalizeArtifactUpload", document, variables)["finalizeFlashArtifactUpload"]


def build(client: GraphQLClient, build_id: str) -> dict[str, Any] | None:
    document = "query getFlashBuild($input: String!) { flashBuild(flashBuildId: $input) { id manifest } }"
    try:
        return client.query("getFlashBuild", document, {"input": build_id})["flashBuild"]
    except GraphQLQueryError as error:
        if _not_found(error):
            return None
        raise


def deploy_build(client: GraphQLClient, environment_id: str, build_id: str) -> dict[str, Any]:
    document = """mutation deployBuildToEnvironment($input: DeployBuildToEnvironmentInput!) {
  deployBuildToEnvironment(input: $input) { id name activeArtifact { objectKey downloadUrl expiresAt } }
}"""
    variables = {"input": {"flashEnvironmentId": environment_id, "flashBuildId": build_id}}
    return client.mutate("deployBuildToEnvironment", document, variables)["deployBuildToEnvironment"]


def deployed(client: GraphQLClient) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every endpoint (with its template) and every pod template of the account."""
    document = f"query getDeployed {{ myself {{ endpoints {{ {ENDPOINT_FIELDS} template {{ {TEMPLATE_FIELDS} }} }} podTemplates {{ {TEMPLATE_FIELDS} }} }} }}"
    myself = client.query("getDeployed", document)["myself"]
    return list(myself.get("endpoints") or []), list(myself.get("podTemplates") or [])


def save_template(client: GraphQLClient, fields: dict[str, Any]) -> dict[str, Any]:
    document = f"mutation saveTemplate($input: SaveTemplateInput!) {{ saveTemplate(input: $input) {{ {TEMPLATE_FIELDS} }} }}"
    return client.mutate("saveTemplate", document, {"input": fields})["saveTemplate"]


def delete_template(client: GraphQLClient, name: str) -> None:
    document = "mutation deleteTemplate($templateName: String!) { deleteTemplate(templateName: $templateName) }"
    client.mutate("deleteTemplate", document, {"templateName": name})


def save_endpoint(client: GraphQLClient, fields: dict[str, Any]) -> dict[str, Any]:
    document = f"mutation saveEndpoint($input: EndpointInput!) {{ saveEndpoint(input: $input) {{ {ENDPOINT_FIELDS} }} }}"
    return client.mutate("saveEndpoint", document, {"input": fields})["saveEndpoint"]


def delete_endpoint(client: GraphQLClient, endpoint_id: str) -> None:
    document = "mutation deleteEndpoint($id: String!) { deleteEndpoint(id: $id) }"
    client.mutate("deleteEndpoint", document, {"id": endpoint_id})
