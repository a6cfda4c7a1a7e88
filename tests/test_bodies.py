"""Request bodies: plain dataclasses whose JSON validates against the official schemas."""

from __future__ import annotations

import jsonschema

from conftest import SCHEMAS
from northflank_build.api.bodies import (
    BuildOverrides,
    DockerOverrides,
    Secret,
    SecretContent,
    StartBuildRequest,
)
from testdata import SHA


def test_only_what_was_given_is_sent() -> None:
    assert StartBuildRequest(sha=SHA).to_json() == {"sha": SHA}
    assert StartBuildRequest().to_json() == {}


def test_every_override_in_camel_case_validates_against_the_job_schema() -> None:
    body = StartBuildRequest(
        sha=SHA,
        overrides=BuildOverrides(
            build_arguments={"A": "1"},
            build_files={"/app/.npmrc": SecretContent(data="eA==")},
            docker_secret_mounts={"npm": SecretContent(data="eQ==", encoding="utf-8")},
            docker=DockerOverrides(
                docker_file_path="/Dockerfile", docker_work_dir="/", dockerfile_target="prod"
            ),
        ),
    ).to_json()
    assert body["overrides"] == {
        "buildArguments": {"A": "1"},
        "buildFiles": {"/app/.npmrc": {"data": "eA==", "encoding": "utf-8"}},
        "dockerSecretMounts": {"npm": {"data": "eQ==", "encoding": "utf-8"}},
        "docker": {
            "dockerFilePath": "/Dockerfile",
            "dockerWorkDir": "/",
            "dockerfileTarget": "prod",
        },
    }
    jsonschema.validate(body, SCHEMAS["start-job-build"])


def test_service_build_fields_validate_against_the_service_schema() -> None:
    body = StartBuildRequest(sha=SHA, branch="main").to_json()
    assert body == {"sha": SHA, "branch": "main"}
    jsonschema.validate(body, SCHEMAS["start-service-build"])
    jsonschema.validate(
        StartBuildRequest(pull_request_id=7).to_json(), SCHEMAS["start-service-build"]
    )


def test_a_secret_never_shows_itself() -> None:
    token = Secret("nf-very-secret")
    assert token.get_secret_value() == "nf-very-secret"
    for shown in (repr(token), str(token), f"{token}", repr([token])):
        assert "nf-very-secret" not in shown
    assert token == Secret("nf-very-secret")
    assert token != Secret("other")
