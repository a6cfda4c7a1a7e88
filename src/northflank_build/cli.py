"""``northflank-build``: the action's core as a command for any CI system or a laptop.

The flags mirror the action's inputs; the token comes from the NORTHFLANK_API_TOKEN
environment variable (never a flag, which would end up in shell history and process lists).
Progress goes to stderr; ``--json`` prints the outputs as one JSON object on stdout. Exit codes
are the action's: 0 success, 1 build failed, 2 invalid input, 3 API error, 4 timed out,
130 cancelled.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from northflank_build import __version__
from northflank_build.api.clock import Clock, SystemClock
from northflank_build.api.errors import NorthflankError
from northflank_build.engine.cancel import CancelScope
from northflank_build.engine.dry_run import dry_run
from northflank_build.engine.outcome import Outcome
from northflank_build.engine.report import StepReport
from northflank_build.engine.run import connect, run_step
from northflank_build.inputs import declared as i
from northflank_build.inputs.config import parse_inputs
from northflank_build.inputs.declared import Input
from northflank_build.inputs.problems import InvalidInputs
from northflank_build.terminal import CliEvents, emit, finish, redact
from northflank_build.wording import CLI, describe

TOKEN_VARIABLE = "NORTHFLANK_API_TOKEN"  # noqa: S105 - the variable name, not a secret

EXAMPLES = """examples:
  export NORTHFLANK_API_TOKEN=...        # from your CI's secret store
  northflank-build build --project-id my-project --job-id my-job --sha "$CI_COMMIT_SHA"
  northflank-build build --project-id my-project --service-id web --branch main --json
  northflank-build build --project-id my-project --job-id api --job-id worker --sha "$SHA" --reuse succeeded
  northflank-build build --project-id my-project --service-id web --branch main \\
      --deploy-service web-prod --run-job migrate --run-env MODE=up
  northflank-build create-service --project-id my-project --spec .northflank/build-service.yaml
  northflank-build abort --project-id my-project --job-id my-job joyous-view-6290

exit codes: 0 succeeded, 1 build failed, 2 invalid input, 3 Northflank API error,
            4 timed out, 130 cancelled
"""


def _flag(parser: Any, declared: Input[Any], **extra: Any) -> None:
    """The flag of an input, as inputs/declared.py declares it (its name, repeatable or a
    switch); ``extra`` holds the CLI's own words (help, metavar, choices)."""
    kind: dict[str, Any] = {"default": ""}
    if declared.how == "repeat":
        kind = {"action": "append", "default": []}
    elif declared.how in ("off", "on"):
        kind = {"action": "store_true"}
    parser.add_argument(declared.cli, **{**kind, **extra})


def _common(parser: argparse.ArgumentParser) -> None:
    _flag(parser, i.PROJECT_ID, required=True, help="Northflank project id")
    _flag(parser, i.TEAM_ID, help="use the /v1/teams/{teamId} routes (organisation tokens)")
    _flag(parser, i.API_URL, help="API base URL (default https://api.northflank.com)")
    parser.add_argument("--json", action="store_true", help="print the outputs as JSON on stdout")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")


def _build_flags(parser: argparse.ArgumentParser, *, spec: bool) -> None:
    """The flags of a build: what to build (a spec, or targets and what follows the build),
    then how (the commit, the overrides) and how to wait (_wait_flags)."""
    if spec:
        _flag(
            parser,
            i.SERVICE_SPEC,
            required=True,
            help="build service spec: a YAML/JSON file or inline YAML",
        )
        _flag(parser, i.IF_EXISTS, choices=["use", "fail", "update"], default="use")
    else:
        _target_flags(parser)
    _flag(parser, i.BRANCH, help="service builds: the branch to build")
    _flag(parser, i.PULL_REQUEST_ID, help="service builds: the pull request to build")
    _flag(parser, i.SHA, help="commit to build (40 hex); default: the latest on the branch")
    _flag(parser, i.BUILD_ARGUMENTS, metavar="KEY=VALUE", help="repeatable")
    _flag(
        parser, i.BUILD_FILES, metavar="/PATH=SOURCE", help="SOURCE: env:NAME or a file; repeatable"
    )
    _flag(parser, i.DOCKER_SECRET_MOUNTS, metavar="ID=SOURCE", help="repeatable")
    for declared in (i.DOCKERFILE_PATH, i.DOCKER_WORK_DIR, i.DOCKERFILE_TARGET):
        _flag(parser, declared)
    _wait_flags(parser)


def _wait_flags(parser: argparse.ArgumentParser) -> None:
    """Whether and how long to wait, what a cancel does, logs, and the dry run."""
    _flag(parser, i.WAIT, help="start the build and return")
    _flag(parser, i.TIMEOUT_SECONDS, default=i.TIMEOUT_SECONDS.default)
    _flag(parser, i.POLL_INTERVAL_SECONDS, default=i.POLL_INTERVAL_SECONDS.default)
    _flag(parser, i.ABORT_ON_CANCEL, help="leave the build running on Ctrl-C or timeout")
    _flag(parser, i.SHOW_LOGS, help="do not stream the build log")
    _flag(
        parser,
        i.DRY_RUN,
        help="show the requests; send none that changes anything (with a token and --reuse "
        "or --build-id, read the builds to say which would be reused)",
    )


def _target_flags(parser: argparse.ArgumentParser) -> None:
    """What to build, or which build to use, and what follows it (deploys, a job run)."""
    what = parser.add_mutually_exclusive_group()  # neither: a release flow or workflow alone
    _flag(what, i.JOB_ID, help="a job to build; repeatable")
    _flag(what, i.SERVICE_ID, help="a service to build; repeatable")
    _flag(parser, i.BUILD_ID, help="wait on this existing build instead of starting one")
    _flag(
        parser,
        i.DEPLOY_SERVICES,
        metavar="ID",
        help="deployment service to point at the built service; repeatable",
    )
    _flag(parser, i.RUN_JOB, help="a job to run once the build succeeded")
    _flag(parser, i.RUN_JOB_ENVIRONMENT, metavar="KEY=VALUE", help="for --run-job")
    _flag(
        parser,
        i.RELEASE_FLOW,
        metavar="PIPELINE/STAGE",
        help="run this pipeline stage's release flow after the build (or alone), and wait",
    )
    _flag(parser, i.WORKFLOW, metavar="ID", help="run this workflow after the build (or alone)")
    _flag(parser, i.TEMPLATE_ARGUMENTS, metavar="KEY=VALUE", help="the run's arguments; repeatable")
    _flag(parser, i.TEMPLATE_OVERRIDES, metavar="JSON", help="the run's overrides, by node ref")
    _preview_flags(parser)


def _preview_flags(parser: argparse.ArgumentParser) -> None:
    """A preview environment of a preview blueprint: deployed, or deleted."""
    _flag(parser, i.PREVIEW_BLUEPRINT, metavar="ID", help="deploy (or delete) a preview of it")
    _flag(parser, i.PREVIEW_NAME, metavar="NAME", help="the preview's name, e.g. pr-42")
    _flag(
        parser,
        i.PREVIEW_ACTION,
        choices=["deploy", "delete"],
        help="deploy the preview (the default outside a pull request event) or delete it",
    )
    _flag(parser, i.PREVIEW_GIT_TRIGGER, metavar="REF", help="the blueprint's Git trigger ref")
    _flag(parser, i.PREVIEW_ARGUMENTS, metavar="KEY=VALUE", help="the run's arguments")
    _flag(parser, i.PREVIEW_SERVICE, metavar="ID", help="the service whose URL is preview-url")
    _flag(
        parser,
        i.REUSE,
        choices=["never", "succeeded", "any"],
        default="never",
        help="use a build of --sha that exists (succeeded; any: also one still running)",
    )


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="northflank-build",
        description="Start a Northflank build, wait until it concludes and report it "
        f"(the GitHub Action's core, for any CI). The API token is read from ${TOKEN_VARIABLE}.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    root.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")
    build = commands.add_parser("build", help="start a job or service build and wait for it")
    _common(build)
    _build_flags(build, spec=False)
    create = commands.add_parser(
        "create-service",
        help="create (or update) a build service from a spec; build it with --branch/--pull-request-id",
    )
    _common(create)
    _build_flags(create, spec=True)
    abort = commands.add_parser("abort", help="abort a running build")
    _common(abort)
    what = abort.add_mutually_exclusive_group(required=True)
    what.add_argument("--job-id", default="")
    what.add_argument("--service-id", default="")
    abort.add_argument("build_id", metavar="BUILD_ID")
    return root


def _inputs(args: argparse.Namespace, token: str) -> dict[str, str]:
    """The inputs the flags give, as the action would get them (inputs/declared.py)."""
    values = {i.API_TOKEN.name: token}
    for declared in i.INPUTS:
        dest = declared.cli.lstrip("-").replace("-", "_")
        if declared.how == "env" or not hasattr(args, dest):
            continue
        if args.command == "abort" and declared is i.BUILD_ID:
            continue  # abort's BUILD_ID is the build to abort, not one to wait on
        given = getattr(args, dest)
        if declared.how == "off":
            values[declared.name] = "false" if given else "true"
        elif declared.how == "on":
            values[declared.name] = "true" if given else "false"
        else:
            values[declared.name] = "\n".join(given) if isinstance(given, list) else given
    return values


def repository_url() -> str:
    """The checkout's origin as an https URL (a spec's default vcsData.projectUrl outside
    GitHub Actions), without credentials; "" when there is none."""
    try:
        found = subprocess.run(
            ["git", "remote", "get-url", "origin"],  # noqa: S607 - git from PATH, as a user runs it
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    url = found.stdout.strip() if found.returncode == 0 else ""
    scp = re.fullmatch(r"[\w.-]+@([\w.-]+):(.+)", url)  # git@github.com:org/repo.git
    if scp:
        url = f"https://{scp.group(1)}/{scp.group(2)}"
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http", "ssh") or not parts.hostname:
        return ""
    path = parts.path.removesuffix(".git").rstrip("/")
    return f"https://{parts.hostname}{path}"  # no user, token or port


def main(
    argv: list[str] | None = None,
    *,
    transport: httpx.BaseTransport | None = None,
    clock: Clock | None = None,
    cancel: CancelScope | None = None,
) -> int:
    """``transport``, ``clock`` and ``cancel`` are for tests (in-process, virtual time)."""
    args = parser().parse_args(argv)
    if cancel is None:
        cancel = CancelScope()
        cancel.install()
    token = os.environ.get(TOKEN_VARIABLE, "")
    if token.strip():
        redact.add(token.strip())
    values = _inputs(args, token)
    env = dict(os.environ)
    if getattr(args, "spec", ""):  # a spec loads its model anyway: no start-up cost
        from northflank_build.inputs.service_spec import REPOSITORY_URL  # noqa: PLC0415

        env[REPOSITORY_URL] = env.get(REPOSITORY_URL) or repository_url()
    try:
        identity = (f"nfb-{secrets.token_hex(4)}", "northflank-build run")
        config = parse_inputs(values.get, env, Path.cwd(), redact.add, run_identity=identity)
    except InvalidInputs as exc:
        errors = [f"{CLI.name(problem.name)}: {CLI.problem(problem)}" for problem in exc.problems]
        for line in errors:
            emit(f"error: {line}")
        if args.json:
            return finish(StepReport(Outcome.INVALID), args, errors)
        return Outcome.INVALID.exit_code
    events = CliEvents(args.quiet, several=len(config.targets) > 1)
    clock = clock or SystemClock(cancel.event)
    deadline = clock.monotonic() + config.waiting.timeout_seconds
    with connect(config, clock, transport=transport, deadline=deadline) as client:
        if args.command == "abort":
            target = config.target
            assert target is not None  # argparse requires --job-id or --service-id
            try:
                client.builds.abort(target, args.build_id, timeout=10.0, explain_404=True)
            except NorthflankError as exc:
                worded = describe(exc, CLI)
                emit(f"error: {worded.title}: {worded.explain()}")
                return Outcome.ERROR.exit_code
            events.note(f"Aborted build {args.build_id}.")
            return 0
        if config.dry_run:
            with_reads = client if config.connection.api_token.get_secret_value() else None
            return finish(dry_run(config, events, with_reads), args)
        return finish(run_step(config, client, clock, cancel, events), args)


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
