"""Arbitrary input values: each gives a clean list of problems or a valid request, never a
traceback, and a problem never repeats the token."""

from __future__ import annotations

import tempfile
from pathlib import Path

import jsonschema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import SCHEMAS
from northflank_build.inputs.config import INPUT_NAMES, parse_inputs
from northflank_build.inputs.problems import InvalidInputs
from testdata import OTHER_SHA

GOOD = {
    "api-token": "tok-valid-0001",
    "project-id": "my-project",
    "job-id": "my-job",
    "sha": OTHER_SHA,
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
    "\t",
    "\x1b[31m",
    "\x7f",
    "\u2028",
    "\ud83d",
    "\x85",
]
CONTROL = st.characters(codec=None, categories=("Cc", "Cs", "Zl", "Zp"))


def nested(depth: int, kind: str) -> str:
    """A document nested ``depth`` levels deep, in JSON or YAML (flow or block)."""
    if kind == "json-object":
        return '{"a":' * depth + "1" + "}" * depth
    if kind == "json-list":
        return "[" * depth + "]" * depth
    return (
        "root:\n"
        + "".join("  " * (n + 1) + f"k{n}:\n" for n in range(depth))
        + "  " * (depth + 1)
        + "v: 1"
    )


values = st.one_of(
    st.text(max_size=60),
    st.lists(st.sampled_from(SNIPPETS), max_size=6).map("".join),
    st.sampled_from(list(GOOD.values())),
    # A good value with control characters (and lone surrogates) mixed in.
    st.tuples(st.sampled_from(list(GOOD.values())), st.text(CONTROL, min_size=1, max_size=3)).map(
        lambda pair: pair[0][: len(pair[0]) // 2] + pair[1] + pair[0][len(pair[0]) // 2 :]
    ),
    # Deeply nested documents, where JSON or YAML is read.
    # (past the 32 levels a spec may have, and past Python's recursion limit for flow forms)
    st.builds(nested, st.sampled_from([40, 1200]), st.sampled_from(["json-object", "json-list"])),
    st.builds(nested, st.sampled_from([40, 120]), st.just("yaml-block")),
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
            assert problem.name in INPUT_NAMES
            assert problem.message
            others = [v for k, v in given_inputs.items() if k != "api-token"]
            if given_inputs["api-token"].strip() and not any(token in v for v in others):
                assert token not in problem.message
            assert "s3cret-value" not in problem.message
        return
    jsonschema.validate(config.start_request().to_json(), SCHEMAS["start-job-build"])
    assert config.connection.api_token.get_secret_value() in secrets
    assert config.connection.api_url.isprintable()
    assert " " not in config.connection.api_url
