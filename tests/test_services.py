"""Service builds and build services (issue: seed 003), run as the runner runs the action
against the simulator, plus the spec's validation field by field."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from jsonschema import validate

import states
from conftest import ROOT, SCHEMAS, Runner
from nfsim import Simulator
from testdata import TOKEN

EXAMPLE = ROOT / "examples" / "build-service.yaml"
REPO_ENV = {
    "GITHUB_SERVER_URL": "https://github.com",
    "GITHUB_REPOSITORY": "octo-org/octo-repo",
    "NPMRC": "//r/:_authToken=npm-secret-55",
}
DECLARED = set(yaml.safe_load((ROOT / "action.yml").read_text())["outputs"])


def spec(**changes: object) -> str:
    data = yaml.safe_load(EXAMPLE.read_text())
    for path, value in changes.items():
        node = data
        keys = path.split("__")
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        if value is None:
            node.pop(keys[-1], None)
        else:
            node[keys[-1]] = value
    return json.dumps(data)


def test_service_branch_build(run: Runner, sim: Simulator) -> None:
    result = run(job_id="", service_id="demo-service", branch="feature/login")
    assert result.exit_code == 0, result.text
    assert set(result.outputs) == DECLARED
    assert result.outputs["service-id"] == "demo-service"
    assert result.outputs["service-created"] == "false"
    assert result.outputs["branch"] == "feature/login"
    assert result.outputs["success"] == "true"
    start = sim.calls("start")[0]
    assert start.path == "/v1/projects/demo-project/services/demo-service/build"
    validate(start.body, SCHEMAS["start-service-build"])
    assert start.body["branch"] == "feature/login"
    assert len(start.body["sha"]) == 40
    assert "/services/demo-service/builds/" in result.outputs["build-url"]


def test_service_pull_request_build(run: Runner, sim: Simulator) -> None:
    result = run(job_id="", service_id="demo-service", pull_request_id="42", sha="")
    assert result.exit_code == 0
    body = sim.calls("start")[0].body
    assert body == {"pullRequestId": 42}
    validate(body, SCHEMAS["start-service-build"])
    assert all(
        result.outputs[name]
        for name in ("build-id", "status", "created-at", "concluded-at", "registry-uri")
    )


def test_a_build_service_needs_branch_or_pull_request(run: Runner, sim: Simulator) -> None:
    result = run(job_id="", service_id="demo-service")
    assert result.exit_code == 3
    assert "branch or pullRequestId" in result.errors()[0].message


def test_spec_file_creates_the_service(run: Runner, sim: Simulator, tmp_path: Path) -> None:
    (tmp_path / ".northflank").mkdir()
    shutil.copy(EXAMPLE, tmp_path / ".northflank" / "build-service.yaml")
    result = run(job_id="", service_spec=".northflank/build-service.yaml", env=REPO_ENV)
    assert result.exit_code == 0, result.text
    assert set(result.outputs) == DECLARED
    assert (result.outputs["service-id"], result.outputs["service-created"]) == (
        "web-builder",
        "true",
    )
    assert result.outputs["build-id"] == ""
    assert sim.calls("start") == []
    body = sim.calls("service_create")[0].body
    validate(body, SCHEMAS["create-service-build"])
    assert body["vcsData"] == {
        "projectUrl": "https://github.com/octo-org/octo-repo",
        "projectType": "github",
    }
    assert set(body["buildFiles"]) == {"/app/.npmrc"}
    assert any("npm-secret-55" in secret for secret in result.secrets), "masked"
    assert "npm-secret-55" not in result.text + result.summary
    assert "web-builder" in result.summary


@pytest.mark.parametrize(("if_exists", "exit_code"), [("use", 0), ("fail", 3), ("update", 0)])
def test_running_again_follows_if_exists(
    run: Runner, sim: Simulator, if_exists: str, exit_code: int
) -> None:
    assert run(job_id="", service_spec=spec(), env=REPO_ENV).exit_code == 0
    sim.requests.clear()
    result = run(
        job_id="", service_spec=spec(description="Second run"), if_exists=if_exists, env=REPO_ENV
    )
    assert result.exit_code == exit_code
    assert result.outputs["service-created"] == "false"
    assert sim.calls("service_create")[0].status == 409
    puts = sim.calls("service_put")
    if if_exists == "update":
        assert len(puts) == 1
        assert sim.world.services["demo-project"]["web-builder"]["description"] == "Second run"
        validate(puts[0].body, SCHEMAS["put-service-build"])
    else:
        assert puts == []
    if if_exists == "fail":
        assert "already exists" in result.errors()[0].message


def test_spec_then_build_a_branch(run: Runner, sim: Simulator) -> None:
    result = run(job_id="", service_spec=spec(), branch="main", env=REPO_ENV)
    assert result.exit_code == 0, result.text
    assert result.outputs["service-created"] == "true"
    assert result.outputs["success"] == "true"
    assert sim.calls("start")[0].path == "/v1/projects/demo-project/services/web-builder/build"


def test_inline_yaml_spec_and_a_54_character_name(run: Runner, sim: Simulator) -> None:
    name = "A" + "b" * 53  # the seed said 20; the API today allows 54
    inline = f"name: {name}\nbilling:\n  buildPlan: nf-compute-20\nbuildSettings:\n  buildpack:\n    builder: HEROKU_24\n"
    result = run(job_id="", service_spec=inline, env=REPO_ENV)
    assert result.exit_code == 0, result.text
    assert result.outputs["service-id"] == name.lower()


INVALID_SPECS = [
    ({"name": "ab"}, "name: String should have at least 3 characters"),
    ({"name": "a" * 55}, "name: String should have at most 54 characters"),
    ({"name": "9lives"}, "name: String should match pattern"),
    ({"description": "no <html> here"}, "description: String should match pattern"),
    ({"billing__buildPlan": "plan with spaces"}, "billing.buildPlan: String should match pattern"),
    ({"billing": None}, "billing: is required"),
    (
        {"vcsData": {"projectUrl": "not a url", "projectType": "github"}},
        "vcsData.projectUrl: String should match pattern",
    ),
    (
        {"vcsData": {"projectUrl": "https://github.com/octo/repo", "projectType": "svn"}},
        "vcsData.projectType: Input should be 'bitbucket', 'gitlab', 'github', 'self-hosted' or 'azure'",
    ),
    (
        {
            "vcsData": {
                "projectUrl": "https://github.com/octo/repo",
                "projectType": "self-hosted",
                "selfHostedVcsId": "bad id",
            }
        },
        "vcsData.selfHostedVcsId: String should match pattern",
    ),
    (
        {"buildSettings__buildpack": {"builder": "HEROKU_24"}},
        "buildSettings: needs exactly one of dockerfile or buildpack",
    ),
    ({"buildSettings": {}}, "buildSettings: needs exactly one of dockerfile or buildpack"),
    (
        {"buildSettings__dockerfile__buildEngine": "docker"},
        "buildSettings.dockerfile.buildEngine: Input should be 'kaniko' or 'buildkit'",
    ),
    (
        {"buildSettings__dockerfile__dockerFilePath": "Dockerfile"},
        "buildSettings.dockerfile.dockerFilePath: String should match pattern",
    ),
    (
        {"buildSettings__dockerfile__dockerWorkDir": "src"},
        "buildSettings.dockerfile.dockerWorkDir: String should match pattern",
    ),
    (
        {"buildSettings": {"buildpack": {"builder": "HEROKU_99"}}},
        "buildSettings.buildpack.builder: Input should be",
    ),
    (
        {"buildSettings": {"buildpack": {"buildContext": "app"}}},
        "buildSettings.buildpack.buildContext: String should match pattern",
    ),
    (
        {"buildConfiguration__branchRestrictions": ["feature branch"]},
        "branchRestrictions rule 'feature branch'",
    ),
    ({"buildConfiguration__prRestrictions": ["a:b"]}, "prRestrictions rule 'a:b'"),
    (
        {"buildConfiguration__pathIgnoreRules": ["x"] * 201},
        "buildConfiguration.pathIgnoreRules: List should have at most 200 items",
    ),
    ({"buildArguments": {"N": 1}}, "buildArguments.N: Input should be a valid string"),
    (
        {"buildFiles": {"relative/path": "env:NPMRC"}},
        'buildFiles.relative/path: "relative/path" is not an absolute file path',
    ),
    (
        {"buildFiles": {"/app/x": "env:NOT_THERE"}},
        "buildFiles./app/x: environment variable NOT_THERE is not set",
    ),
    ({"color": "blue"}, "color: is not a field of a build service"),
]


@pytest.mark.parametrize(
    ("changes", "message"), INVALID_SPECS, ids=[m.split(":")[0] for _, m in INVALID_SPECS]
)
def test_each_invalid_spec_field_gives_its_message_and_no_request(
    run: Runner, sim: Simulator, changes: dict[str, object], message: str
) -> None:
    result = run(job_id="", service_spec=spec(**changes), env=REPO_ENV)
    assert result.exit_code == 2
    assert sim.requests == []
    messages = [e.message for e in result.errors()]
    assert any(message in m for m in messages), messages
    assert all(e.properties["title"] == "Invalid input 'service-spec'" for e in result.errors())


@pytest.mark.parametrize(
    ("inputs", "name", "fragment"),
    [
        ({"service_id": "demo-service"}, "service-id", "not both"),
        ({"branch": "main"}, "branch", "service builds only"),
        (
            {"job_id": "", "service_id": "demo-service", "branch": "main", "pull_request_id": "4"},
            "pull-request-id",
            "not both",
        ),
        ({"service_spec": "name: web-builder"}, "job-id", "cannot be combined with service-spec"),
        ({"job_id": ""}, "job-id", "one of job-id or service-id"),
        (
            {"job_id": "", "service_id": "demo-service", "branch": "bad..branch"},
            "branch",
            "not a valid Git ref name",
        ),
        (
            {"job_id": "", "service_id": "demo-service", "pull_request_id": "#4"},
            "pull-request-id",
            "pull request number",
        ),
        ({"job_id": "", "service_spec": "missing.yaml"}, "service-spec", "no file"),
        ({"job_id": "", "service_spec": "name: [unclosed\n"}, "service-spec", "not valid YAML"),
        ({"if_exists": "replace"}, "if-exists", "use, fail, update"),
    ],
)
def test_target_rules(
    run: Runner, sim: Simulator, inputs: dict[str, str], name: str, fragment: str
) -> None:
    result = run(**inputs, env=REPO_ENV)
    assert result.exit_code == 2
    assert sim.requests == []
    titles = [e.properties["title"] for e in result.errors()]
    assert f"Invalid input '{name}'" in titles
    assert any(fragment in e.message for e in result.errors())


def test_post_step_aborts_a_service_build(run: Runner, sim: Simulator) -> None:
    from nfsim import BuildPlan

    sim.set_plan(BuildPlan(phases=(("BUILDING", 60.0),)))
    started = run(job_id="", service_id="demo-service", branch="main", wait="false")
    sim.requests.clear()
    post = run(
        job_id="",
        service_id="demo-service",
        branch="main",
        options={
            "stage": "post",
            "state": states.state(
                states.build(started.outputs["build-id"], "service:demo-service")
            ),
        },
    )
    assert post.exit_code == 0
    assert [r.path.split("/projects/demo-project")[1] for r in sim.requests] == [
        f"/services/demo-service/build/{started.outputs['build-id']}"
    ] * 2
    assert sim.world.builds[0].aborted_mono is not None
    assert TOKEN not in post.text


def test_readme_shows_the_tested_spec_file() -> None:
    readme = (ROOT / "docs/service-builds.md").read_text()
    assert "```yaml\n" + EXAMPLE.read_text() + "```" in readme


def test_explicit_secret_contents_in_a_spec_are_masked_too(tmp_path: Path) -> None:
    import base64

    from northflank_build.inputs.config import parse_inputs

    data = base64.b64encode(b"explicit-secret-77").decode()
    text = spec(buildFiles={"/app/x": {"data": data, "encoding": "utf-8"}})
    values = {"api-token": TOKEN, "project-id": "demo-project", "service-spec": text}
    secrets: list[str] = []
    config = parse_inputs(values.get, REPO_ENV, tmp_path, secrets.append)
    assert config.service_spec is not None
    assert config.service_spec.to_json()["buildFiles"]["/app/x"]["data"] == data
    assert "explicit-secret-77" in secrets
    assert data in secrets
