"""Issue 20: the CLI speaks its own words. Every input error it can give is run through it
(in process; nothing is sent, an input error stops before the network), and none of them
holds GitHub Actions advice or a flag that ``--help`` does not list."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from nfsim import Simulator
from nfsim.inprocess import SimTransport
from northflank_build import cli
from testdata import SHA, TOKEN
from virtual_clock import VirtualClock

JOB = ["--project-id", "p", "--job-id", "j"]
SERVICE = ["--project-id", "p", "--service-id", "web", "--branch", "main"]
BAD = {
    "no token": (JOB, None),
    "a secret file from an unset variable": ([*JOB, "--build-file", "/s=env:NOT_SET_HERE"], "t"),
    "no wait with a deploy": ([*SERVICE, "--no-wait", "--deploy-service", "web-prod"], "t"),
    "a job build deployed": ([*JOB, "--deploy-service", "web-prod"], "t"),
    "two builds and a run": ([*JOB, "--job-id", "k", "--run-job", "m"], "t"),
    "a short sha": ([*JOB, "--sha", "abc"], "t"),
    "a timeout in words": ([*JOB, "--timeout-seconds", "soon"], "t"),
    "a zero poll": ([*JOB, "--poll-interval-seconds", "0"], "t"),
    "a build arg without =": ([*JOB, "--build-arg", "NOEQUALS"], "t"),
    "a relative dockerfile": ([*JOB, "--dockerfile-path", "Dockerfile"], "t"),
    "a branch for a job": ([*JOB, "--branch", "main"], "t"),
    "a pull request in words": ([*SERVICE, "--pull-request-id", "seven"], "t"),
    "reuse without a sha": ([*JOB, "--reuse", "succeeded"], "t"),
    "a build id and a sha": ([*JOB, "--build-id", "b-1", "--sha", SHA], "t"),
    "run env without a run": ([*JOB, "--run-env", "A=1"], "t"),
    "a bad run env key": ([*SERVICE, "--run-job", "m", "--run-env", "BAD KEY=1"], "t"),
    "an ftp api url": ([*JOB, "--api-url", "ftp://example.com"], "t"),
    "a team id with a slash": ([*JOB, "--team-id", "../x"], "t"),
    "a project id with a space": (["--project-id", "Bad Id", "--job-id", "j"], "t"),
    "a job id with a slash": (["--project-id", "p", "--job-id", "a/b"], "t"),
    "a bad secret mount": ([*JOB, "--secret-mount", "no-equals"], "t"),
    "the run job is not the job built": ([*JOB, "--run-job", "other"], "t"),
}


def _help() -> str:
    parser = cli.parser()
    subcommands = [a for a in parser._actions if a.dest == "command"]
    build = subcommands[0].choices["build"]  # type: ignore[index]
    return str(build.format_help()) + parser.format_help()


@pytest.mark.parametrize("case", list(BAD))
def test_every_input_error_speaks_the_clis_words(
    case: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    argv, token = BAD[case]
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NORTHFLANK_API_TOKEN", raising=False)
    if token is not None:
        monkeypatch.setenv("NORTHFLANK_API_TOKEN", token)
    code = cli.main(["build", *argv])
    err = capsys.readouterr().err
    assert code == 2, err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert errors, err
    for words in ("${{", "with:", "secrets.", "step's env", "workflow"):
        assert words not in err, (words, err)
    listed = set(re.findall(r"--[a-z][a-z-]+", _help()))
    named = set(re.findall(r"--[a-z][a-z-]+", err))
    assert named <= listed, f"flags --help does not list: {named - listed}\n{err}"


@pytest.mark.parametrize(
    ("argv", "says", "fix"),
    [
        (["--job-id", "demo-job", "no-such-build"], "Build 'no-such-build' of job 'demo-job'",
         "Check the build id"),
        (["--job-id", "nope", "b-1"], "The job 'nope' was not found", "Check --job-id"),
        (["--service-id", "nope", "b-1"], "The service 'nope' was not found", "Check --service-id"),
    ],
)  # fmt: skip
def test_abort_names_what_is_missing(
    argv: list[str],
    says: str,
    fix: str,
    sim: Simulator,
    clock: VirtualClock,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NORTHFLANK_API_TOKEN", TOKEN)
    args = ["abort", "--api-url", "http://127.0.0.1:9", "--project-id", "demo-project", *argv]
    code = cli.main(args, transport=SimTransport(sim), clock=clock, cancel=clock.cancel)
    err = capsys.readouterr().err
    assert code == 3, err
    assert says in err, err
    assert fix in err, err
    assert "--project-id" not in err, err
    assert "API role" not in err, err


@pytest.mark.parametrize(
    ("origin", "url"),
    [
        ("git@github.com:octo-org/octo-repo.git", "https://github.com/octo-org/octo-repo"),
        ("https://x-access-token:ghs_secret@github.com/o/r.git", "https://github.com/o/r"),
        ("ssh://git@gitlab.example.com:2222/g/p.git", "https://gitlab.example.com/g/p"),
        (None, ""),
    ],
)
def test_a_spec_outside_actions_takes_the_repository_from_git(
    origin: str | None, url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Issue 20, item 10: vcsData.projectUrl outside GitHub Actions, never with credentials.
    import subprocess

    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)  # noqa: S607
    if origin is not None:
        git = ["git", "-C", str(tmp_path), "remote", "add", "origin", origin]
        subprocess.run(git, check=True)
    monkeypatch.chdir(tmp_path)
    assert cli.repository_url() == url


def test_no_failure_worded_for_the_cli_points_at_github() -> None:
    # Issue 19, item 2: phrases that depend on the front end live in its vocabulary.
    from northflank_build.api.errors import CreateOutcomeUnknown, NotFound, Resource
    from northflank_build.api.routes import BuildTarget
    from northflank_build.engine.outcome import (
        BuildFailed,
        Failure,
        InternalError,
        OperationFailed,
        RolloutFailed,
        StartUnknown,
        TimedOut,
        Unusable,
    )
    from northflank_build.wording import CLI, describe

    job = BuildTarget("job", "j")
    lost = CreateOutcomeUnknown("lost", sent_at=1.0)
    missing = NotFound(404, "read", "gone", resource=Resource("service", "s"))
    failures: list[Failure] = [
        BuildFailed(build_id="b-1", target=job, status="FAILURE", message="said", log_shown=True),
        BuildFailed(build_id="b-1", target=job, status="FAILURE", message="", log_shown=False),
        OperationFailed(
            noun="job run",
            subject="Run r-1 of job 'j'",
            status="FAILED",
            log_shown=True,
            look="Open its runs.",
        ),
        OperationFailed(
            noun="job run",
            subject="Run r-1 of job 'j'",
            status="FAILED",
            log_shown=False,
            look="Open its runs.",
        ),
        RolloutFailed(service_id="s", status="FAILED", sha=SHA),
        TimedOut(
            noun="build",
            subject="Build b-1 of job 'j'",
            timeout_s=60,
            status="BUILDING",
            aborted=True,
            abort_on_cancel=True,
        ),
        TimedOut(
            noun="job run",
            subject="Run r-1",
            timeout_s=60,
            status="RUNNING",
            aborted=None,
            abort_on_cancel=True,
        ),
        TimedOut(
            noun="rollout",
            subject="The rollout of service 's'",
            timeout_s=60,
            status="PENDING",
            aborted=None,
            abort_on_cancel=True,
            abortable=False,
        ),
        StartUnknown(noun="build", owner="job 'j'", where="https://app/builds", cause=lost),
        StartUnknown(
            noun="build",
            owner="job 'j'",
            where="https://app/builds",
            cause=lost,
            candidates=("https://app/builds/b-1",),
        ),
        Unusable("deploy-services", missing),
        InternalError("RuntimeError", "bug"),
    ]
    for failure in failures:
        worded = describe(failure, CLI)
        text = f"{worded.title} {worded.explain()}"
        for github in ("job summary", "step log", "post step", "log group", "re-run the job"):
            assert github not in text, (github, text)
