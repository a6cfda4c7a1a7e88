"""Input validation: every problem named, all at once, nothing secret echoed."""

from __future__ import annotations

import base64
from pathlib import Path

import jsonschema
import pytest

from conftest import SCHEMAS
from northflank_build.inputs.config import ActionConfig, parse_inputs
from northflank_build.inputs.problems import InvalidInputs
from testdata import SHA

BASE = {"api-token": "secret-token", "project-id": "my-project", "job-id": "my-job"}


def parse(
    tmp_path: Path, env: dict[str, str] | None = None, **inputs: str
) -> tuple[ActionConfig, list[str]]:
    values = {**BASE, **{k.replace("_", "-"): v for k, v in inputs.items()}}
    secrets: list[str] = []
    config = parse_inputs(values.get, env or {}, tmp_path, secrets.append)
    return config, secrets


def problems(tmp_path: Path, env: dict[str, str] | None = None, **inputs: str) -> dict[str, str]:
    with pytest.raises(InvalidInputs) as caught:
        parse(tmp_path, env, **inputs)
    return {p.name: p.message for p in caught.value.problems}


def body(config: ActionConfig) -> dict[str, object]:
    data = config.start_request().to_json()
    jsonschema.validate(data, SCHEMAS["start-job-build"])
    return data


def test_defaults(tmp_path: Path) -> None:
    config, secrets = parse(tmp_path)
    assert config.connection.api_url == "https://api.northflank.com"
    assert (config.waiting.wait, config.waiting.abort_on_cancel) == (True, True)
    assert (config.waiting.timeout_seconds, config.waiting.poll_interval_seconds) == (3600, 30.0)
    assert config.sha is None
    assert config.connection.team_id is None
    assert secrets == ["secret-token"]
    assert body(config) == {}


def test_sha_and_every_override_make_a_schema_valid_body(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "npmrc").write_bytes(b"//registry/:_authToken=abc\n")
    config, secrets = parse(
        tmp_path,
        env={"TOKEN_FILE": "s3cr3t"},
        sha=SHA.upper(),
        build_arguments="# comment\n\nNODE_ENV=production\nURL=a=b=c\n",
        build_files="/app/.npmrc=conf/npmrc\n/app/token.txt=env:TOKEN_FILE",
        docker_secret_mounts="npm_token=env:TOKEN_FILE",
        dockerfile_path="/docker/Dockerfile.prod",
        docker_work_dir="/",
        dockerfile_target="runtime",
    )
    data = body(config)
    assert data["sha"] == SHA  # normalised to lower case
    overrides = data["overrides"]
    assert isinstance(overrides, dict)
    assert overrides["buildArguments"] == {"NODE_ENV": "production", "URL": "a=b=c"}
    files = overrides["buildFiles"]
    assert base64.b64decode(files["/app/.npmrc"]["data"]) == b"//registry/:_authToken=abc\n"
    assert files["/app/token.txt"] == {
        "data": base64.b64encode(b"s3cr3t").decode(),
        "encoding": "utf-8",
    }
    assert set(overrides["dockerSecretMounts"]) == {"npm_token"}
    assert overrides["docker"] == {
        "dockerFilePath": "/docker/Dockerfile.prod",
        "dockerWorkDir": "/",
        "dockerfileTarget": "runtime",
    }
    assert "s3cr3t" in secrets
    assert "//registry/:_authToken=abc\n" in secrets


def test_build_arguments_as_json(tmp_path: Path) -> None:
    config, _ = parse(tmp_path, build_arguments='{"A": "1", "B": "x y"}')
    assert config.overrides.build_arguments == {"A": "1", "B": "x y"}


@pytest.mark.parametrize(
    ("name", "value", "expect"),
    [
        ("sha", "abc123", "40 hexadecimal"),
        ("sha", "g" * 40, "40 hexadecimal"),
        ("project-id", "My Project", "not a Northflank id"),
        ("job-id", "../x", "not a Northflank id"),
        ("team-id", "team/evil", "not a Northflank id"),
        ("api-url", "http://api.northflank.com", "plain http"),
        ("api-url", "ftp://x.example", "https://"),
        ("api-url", "https://user:pw@api.example.com", "credentials"),
        ("api-url", "https://api.example.com:99999", "not a URL"),
        ("wait", "yes", "YAML 1.2"),
        ("abort-on-cancel", "1", "YAML 1.2"),
        ("timeout-seconds", "0", "out of range"),
        ("timeout-seconds", "1.5", "whole number"),
        ("poll-interval-seconds", "0.5", "out of range"),
        ("poll-interval-seconds", "nan", "out of range"),
        ("poll-interval-seconds", "soon", "number of seconds"),
        ("dockerfile-path", "Dockerfile", "does not match"),
        ("dockerfile-path", "/a/../Dockerfile", ". or .."),
        ("docker-work-dir", "relative", "does not match"),
        ("dockerfile-target", "my target", "does not match"),
        ("build-arguments", "NO_EQUALS_SIGN", "line 1 is not KEY=VALUE"),
        ("build-arguments", "1BAD=x", "build argument name"),
        ("build-arguments", "A=1\nA=2", "repeats 'A'"),
        ("build-arguments", '{"A": 1}', "object of strings"),
        ("build-arguments", "{broken", "does not parse"),
        ("build-files", "relative/path=env:X", "absolute file path"),
        ("build-files", "/app/x=env:MISSING", "is not set"),
        ("build-files", "/app/x=missing-file", "no file"),
        ("build-files", "/app/x=../../etc/passwd", "outside the workspace"),
        ("build-files", "/app/x=/etc/passwd", "relative to the workspace"),
        ("docker-secret-mounts", "bad id=env:X", "secret mount id"),
    ],
)
def test_each_invalid_input_is_named_with_what_is_allowed(
    tmp_path: Path, name: str, value: str, expect: str
) -> None:
    found = problems(tmp_path, env={"X": "x"}, **{name.replace("-", "_"): value})
    assert list(found) == [name]
    assert expect in found[name]


def test_missing_required_inputs(tmp_path: Path) -> None:
    found = problems(tmp_path, api_token="", project_id="", job_id="")
    assert set(found) == {"api-token", "project-id", "job-id"}
    assert all("required" in message for message in found.values())


def test_all_problems_reported_together(tmp_path: Path) -> None:
    found = problems(
        tmp_path, sha="nope", wait="maybe", timeout_seconds="-1", dockerfile_target="a b"
    )
    assert set(found) == {"sha", "wait", "timeout-seconds", "dockerfile-target"}


def test_empty_secret_env_var_explains_forks(tmp_path: Path) -> None:
    found = problems(tmp_path, env={"NPMRC": ""}, build_files="/app/.npmrc=env:NPMRC")
    assert "forks" in found["build-files"]


def test_secret_values_are_never_echoed(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputs) as caught:
        parse(
            tmp_path,
            env={"SECRET": "hunter2-secret"},
            api_token="tok en-value",
            build_files="/app/x=env:SECRET\nnot-absolute=env:SECRET",
            build_arguments="PASSWORD hunter2-secret",
        )
    text = " ".join(str(p) for p in caught.value.problems)
    assert "hunter2-secret" not in text
    assert "en-value" not in text
    assert {p.name for p in caught.value.problems} == {
        "api-token",
        "build-files",
        "build-arguments",
    }


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8080", "http://localhost:1", "http://[::1]:9", "https://api.example.com/"],
)
def test_allowed_api_urls(tmp_path: Path, url: str) -> None:
    config, _ = parse(tmp_path, api_url=url)
    assert config.connection.api_url == url.rstrip("/")


@pytest.mark.parametrize(
    ("word", "value"),
    [
        ("true", True),
        ("True", True),
        ("TRUE", True),
        ("false", False),
        ("False", False),
        ("FALSE", False),
    ],
)
def test_yaml_12_booleans(tmp_path: Path, word: str, value: bool) -> None:
    config, _ = parse(tmp_path, wait=word)
    assert config.waiting.wait is value


@pytest.mark.parametrize(
    "url",
    [
        "https://api.northflank.com/v1",
        "https://api.northflank.com/v1/",
        "https://API.example.com/V1",
    ],
)
def test_an_api_url_pasted_with_v1_is_the_same_api(url: str) -> None:
    # Issue 20, item 4: POST /v1/v1/projects/... would be reported as a missing project.
    from northflank_build.inputs.fields import read_api_url
    from northflank_build.inputs.problems import InputProblem

    problems: list[InputProblem] = []
    read = read_api_url(url, problems)
    assert problems == []
    assert not read.lower().endswith("/v1"), read


def test_every_input_is_declared_once_with_action_yml_s_default() -> None:
    # Issue 19, item 3: inputs/declared.py is the one declaration; action.yml must agree.
    import yaml

    from northflank_build.inputs.declared import INPUTS

    action = yaml.safe_load((Path(__file__).resolve().parent.parent / "action.yml").read_text())
    declared = {i.name: i.default for i in INPUTS}
    written = {name: str(spec.get("default", "")) for name, spec in action["inputs"].items()}
    assert list(declared) == list(written), "the same inputs, in the same order"
    assert declared == written


def test_every_cli_flag_comes_from_the_declaration() -> None:
    from northflank_build.cli import parser
    from northflank_build.inputs.declared import INPUTS

    flags = {
        a
        for p in parser()._subparsers._group_actions[0].choices.values()  # type: ignore[union-attr]
        for action in p._actions
        for a in action.option_strings
    }
    declared = {i.cli for i in INPUTS if i.how not in ("env", "action")}
    assert declared <= flags, declared - flags
    own = {"-h", "--help", "--json", "--quiet"}
    assert flags - own == declared, "a flag the declaration does not know"
