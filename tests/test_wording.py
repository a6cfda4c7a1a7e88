"""Facts from the API layer in each front end's words: the action names its inputs, the CLI
its flags and $NORTHFLANK_API_TOKEN, and never an action input."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from northflank_build import cli
from northflank_build.api.bodies import StartBuildRequest
from northflank_build.api.client import NorthflankClient
from northflank_build.api.errors import NorthflankError
from northflank_build.api.retry import RetryPolicy
from northflank_build.api.routes import BuildTarget
from northflank_build.engine.cancel import CancelScope
from northflank_build.inputs.config import INPUT_NAMES
from northflank_build.wording import ACTION, CLI, Worded, describe
from testdata import SHA
from virtual_clock import VirtualClock

Handler = Callable[[httpx.Request], httpx.Response]


def envelope(status: int, message: str) -> httpx.Response:
    return httpx.Response(
        status, json={"error": {"status": status, "message": message, "id": "e-7"}}
    )


def fact(handler: Handler, act: Callable[[NorthflankClient], object]) -> NorthflankError:
    client = NorthflankClient(
        api_url="https://api.example.com", token="tok", project_id="proj", team_id=None,
        clock=VirtualClock(), retry=RetryPolicy(attempts=2, total_seconds=5),
        transport=httpx.MockTransport(handler),
    )  # fmt: skip
    with pytest.raises(NorthflankError) as caught:
        act(client)
    return caught.value


def start(target: BuildTarget) -> Callable[[NorthflankClient], object]:
    return lambda client: client.builds.start(target, StartBuildRequest(sha=SHA))


def missing(what: str) -> Handler:
    """404 on everything but the project itself (visible unless ``what`` is the project)."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/projects/proj" and what != "project":
            return httpx.Response(200, json={"data": {"id": "proj"}})
        return envelope(404, "Not found")

    return handler


def create_service(client: NorthflankClient) -> object:
    return client.services.ensure({"name": "web"}, "web", "web", "fail")


JOB, SERVICE = BuildTarget("job", "my-job"), BuildTarget("service", "web")
CASES: dict[str, tuple[Handler, Callable[[NorthflankClient], object]]] = {
    "401": (lambda r: envelope(401, "Unauthenticated"), start(JOB)),
    "403": (lambda r: envelope(403, "Insufficient permissions"), start(JOB)),
    "404 project": (missing("project"), start(JOB)),
    "404 job": (missing("job"), start(JOB)),
    "404 service": (missing("service"), start(SERVICE)),
    "409": (lambda r: envelope(409, "Conflict"), create_service),
    "429 cap": (
        lambda r: httpx.Response(429, text="no", headers={"retry-after": "3000"}),
        lambda client: client.builds.get(JOB, "b-1"),
    ),
}
# The action's words, as they were before the API layer stopped writing them.
ACTION_WORDS = {
    "401": Worded(
        "Northflank rejected the API token",
        "The API token was refused (HTTP 401) when trying to start a build of job "
        "'my-job': it is invalid, expired or revoked. Northflank said: Unauthenticated (error id e-7)",
        "Create a new API token in Northflank (team settings > API > Tokens) and store it in "
        "the secret passed as api-token.",
    ),
    "403": Worded(
        "The API token lacks a permission",
        "The API token may not start a build of job 'my-job' (HTTP 403). Northflank said: "
        "Insufficient permissions (error id e-7)",
        "Give the token's API role the permission Project > Jobs > Deployment > Deploy Build "
        "on project 'proj' (newer Northflank docs name it General > Update).",
    ),
    "404 project": Worded(
        "Not found on Northflank",
        "Project 'proj' was not found, or the API token cannot see it. Northflank said: Not "
        "found (error id e-7)",
        "Check project-id (the project's id as in its dashboard URL) and that the token's API "
        "role covers this project; organisation tokens also need team-id.",
    ),
    "404 job": Worded(
        "Not found on Northflank",
        "The job 'my-job' was not found in project 'proj'. Northflank said: Not found (error id e-7)",
        "Check job-id: the job's id as in its dashboard URL.",
    ),
    "404 service": Worded(
        "Not found on Northflank",
        "The service 'web' was not found in project 'proj'. Northflank said: Not found (error id e-7)",
        "Check service-id: the service's id as in its dashboard URL.",
    ),
    "409": Worded(
        "Build service already exists",
        "A service with the id 'web' (derived from the name 'web') already exists in project "
        "'proj', and if-exists: fail. (error id e-7)",
        "Set if-exists: use to build the existing service, if-exists: update to apply the spec "
        "to it, or give the new service another name.",
    ),
    "429 cap": Worded(
        "Northflank rate limit",
        "Northflank's rate limit was hit while trying to read build 'b-1' of job 'my-job': it "
        "asks to wait 3000 s, past this action's cap of 300 s.",
        "The token's budget (about 1000 requests an hour) is shared by every workflow using "
        "it: raise poll-interval-seconds, use a separate token for CI, or ask Northflank "
        "support for a higher limit.",
    ),
}
CLI_NAMES = {
    "401": "export it as NORTHFLANK_API_TOKEN",
    "403": "Project > Jobs > Deployment > Deploy Build",
    "404 project": "Check --project-id",
    "404 job": "Check --job-id",
    "404 service": "Check --service-id",
    "409": "Set --if-exists use",
    "429 cap": "raise --poll-interval-seconds",
}


def bare_input_names(text: str) -> list[str]:
    """Hyphenated action input names used as such (not as a --flag); the others (sha, wait,
    branch) are also plain words."""
    return [
        name
        for name in INPUT_NAMES
        if "-" in name
        and re.search(rf"(?<![\w$-]){re.escape(name)}(?![\w-])", text.replace(f"--{name}", ""))
    ]


@pytest.mark.parametrize("case", list(CASES))
def test_each_failure_in_the_actions_words_and_the_clis(case: str) -> None:
    handler, act = CASES[case]
    error = fact(handler, act)
    assert describe(error, ACTION) == ACTION_WORDS[case]
    words = describe(error, CLI)
    assert CLI_NAMES[case] in words.explain()
    assert bare_input_names(words.explain()) == [], words.explain()


def run_cli(argv: list[str], handler: Handler, monkeypatch: pytest.MonkeyPatch, tmp: Path) -> None:
    monkeypatch.setenv("NORTHFLANK_API_TOKEN", "nf-bad-token-1234")
    monkeypatch.chdir(tmp)
    cli.main(
        argv, transport=httpx.MockTransport(handler), clock=VirtualClock(), cancel=CancelScope()
    )


def test_the_cli_names_its_token_variable_and_its_flags(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["build", "--project-id", "proj", "--job-id", "my-job", "--sha", SHA, "--no-logs",
            "--api-url", "http://127.0.0.1:9"]  # fmt: skip
    run_cli(argv, lambda r: envelope(401, "Unauthenticated"), monkeypatch, tmp_path)
    bad_token = capsys.readouterr().err
    assert "NORTHFLANK_API_TOKEN" in bad_token
    assert "api-token" not in bad_token
    run_cli(argv, missing("job"), monkeypatch, tmp_path)
    no_job = capsys.readouterr().err
    assert "--job-id" in no_job
    for text in (bad_token, no_job):
        assert bare_input_names(text) == [], text
    # Invalid input: the flag's name, and other inputs named as flags in the message.
    cli.main(["build", "--project-id", "Bad Id", "--job-id", "j", "--branch", "main"])
    invalid = capsys.readouterr().err
    assert "--project-id" in invalid
    assert "--branch" in invalid
    assert bare_input_names(invalid) == [], invalid
