"""Arbitrary input values: each gives a clean list of problems or a valid request, never a
traceback, and a problem never repeats the token."""

from __future__ import annotations

import tempfile
from pathlib import Path

import jsonschema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import SCHEMAS
from northflank_build.config import INPUT_NAMES, parse_inputs
from northflank_build.errors import InvalidInputs

GOOD = {
    "api-token": "tok-valid-0001",
    "project-id": "my-project",
    "job-id": "my-job",
    "sha": "0123456789abcdef0123456789abcdef01234567",
    "build-arguments": "A=1",
    "build-files": "/app/x=env:SECRET",
    "docker-secret-mounts": "m=env:SECRET",
    "dockerfile-path": "/Dockerfile",
    "docker-work-dir": "/",
    "dockerfile-target": "prod",
    "wait": "true",
    "timeout-seconds": "60",
    "poll-interval-seconds": "5",
    "abort-on-cancel": "false",
    "api-url": "https://api.example.com",
}
SNIPPETS = [
    "",
    " ",
    "=",
    "env:",
    "env:SECRET",
    "/",
    "..",
    "::error::x",
    "\n",
    "\r\n",
    "#",
    "{",
    "}",
    '"',
    "\x00",
    "1e3",
    "nan",
    "-1",
    "TRUE",
    "yes",
    "A=",
    "/a=b",
]
values = st.one_of(
    st.text(max_size=60),
    st.lists(st.sampled_from(SNIPPETS), max_size=6).map("".join),
    st.sampled_from(list(GOOD.values())),
)
inputs = st.dictionaries(st.sampled_from(INPUT_NAMES), values, max_size=len(INPUT_NAMES))
workspace = Path(tempfile.mkdtemp(prefix="fuzz-ws-"))
(workspace / "file.txt").write_text("content")


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(overrides=inputs, token=st.text(min_size=10, max_size=30, alphabet="abcdefXYZ0123456789-_"))
def test_any_inputs_give_problems_or_a_valid_request(overrides: dict[str, str], token: str) -> None:
    given_inputs = {**GOOD, "api-token": token, **overrides}
    secrets: list[str] = []
    try:
        config = parse_inputs(
            given_inputs.get, {"SECRET": "s3cret-value"}, workspace, secrets.append
        )
    except InvalidInputs as exc:
        assert exc.problems
        for problem in exc.problems:
            assert problem.name in INPUT_NAMES and problem.message
            others = [v for k, v in given_inputs.items() if k != "api-token"]
            if given_inputs["api-token"].strip() and not any(token in v for v in others):
                assert token not in problem.message
            assert "s3cret-value" not in problem.message
        return
    jsonschema.validate(config.start_request().to_json(), SCHEMAS["start-job-build"])
    assert config.api_token.get_secret_value() in secrets
