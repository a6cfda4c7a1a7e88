"""``northflank-build``: the action's core as a command for any CI system or a laptop.

The flags mirror the action's inputs; the token comes from the NORTHFLANK_API_TOKEN
environment variable (never a flag, which would end up in shell history and process lists).
Progress goes to stderr; ``--json`` prints the outputs as one JSON object on stdout. Exit codes
are the action's: 0 success, 1 build failed, 2 invalid input, 3 API error, 4 timed out,
130 cancelled.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from northflank_build import __version__
from northflank_build.api.bodies import InternalDeployment
from northflank_build.api.clock import Clock, SystemClock
from northflank_build.api.errors import NorthflankError
from northflank_build.api.logs import LogLine
from northflank_build.api.routes import BuildTarget
from northflank_build.api.services import EnsuredService
from northflank_build.engine.cancel import CancelScope
from northflank_build.engine.dry_run import dry_run
from northflank_build.engine.kind import Kind
from northflank_build.engine.operation import Start
from northflank_build.engine.outcome import Outcome
from northflank_build.engine.outputs import build_values, outputs, story, typed_outputs
from northflank_build.engine.report import StepReport, elapsed_label
from northflank_build.engine.run import connect, run_step
from northflank_build.engine.waiting import Snapshot
from northflank_build.inputs.config import parse_inputs
from northflank_build.inputs.problems import InvalidInputs
from northflank_build.wording import CLI, describe

if TYPE_CHECKING:  # models (pydantic) load after the first response, not at start-up
    from northflank_build.api.models import Build

TOKEN_VARIABLE = "NORTHFLANK_API_TOKEN"  # noqa: S105 - the variable name, not a secret
# Text from Northflank must not drive the terminal (escape sequences, carriage returns).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")

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


class Redactor:
    """Every secret this run knows (the token, secret file contents and the base64 sent)
    is cut out of everything the CLI prints, server messages included."""

    def __init__(self) -> None:
        self._secrets: list[str] = []

    def add(self, secret: str) -> None:
        for part in (secret, *secret.splitlines()):
            value = part.strip()
            if len(value) >= 4 and value not in self._secrets:
                self._secrets.append(value)
        self._secrets.sort(key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return _CONTROL.sub("?", text)


redact = Redactor()


def emit(text: str, *, err: bool = True) -> None:
    """One line for the terminal: secrets cut out, controls neutralised, encodable."""
    stream = sys.stderr if err else sys.stdout
    data = redact(text).encode(stream.encoding or "utf-8", errors="replace")
    print(data.decode(stream.encoding or "utf-8", errors="replace"), file=stream, flush=True)


class CliEvents:
    def __init__(self, quiet: bool, several: bool = False) -> None:
        self.quiet = quiet
        self.several = several  # several targets: each line names its target

    def _say(self, text: str) -> None:
        if not self.quiet:
            emit(text)

    def _prefix(self, target: BuildTarget) -> str:
        return f"[{target.id}] " if self.several else ""

    def service(self, service: EnsuredService) -> None:
        self._say(
            f"Build service {service.service_id}: {'created' if service.created else 'exists'}."
        )

    def starting(self, start: Start[Any], at: float) -> None:
        for line in start.announce():
            self._say(line)

    def started(self, start: Start[Any], first: Snapshot, adopted: bool) -> None:
        self._say(start.said_started(first, adopted))

    def reused(self, index: int, target: BuildTarget, build: Build, given: bool) -> None:
        how = "using it" if build.finished else "waiting on it (never aborted: not started here)"
        self._say(f"{self._prefix(target)}Build {build.id} exists ({build.status}): {how}.")

    def note(self, message: str) -> None:
        self._say(message)

    def planned(self, method: str, url: str, body: dict[str, Any]) -> None:
        self._say(f"Dry run: would send {method} {url}\n{json.dumps(body, indent=2)}")

    def watch(self, kind: Kind, name: str, label: str, *, several: bool) -> CliTargetLog:
        return CliTargetLog(self, f"[{name}] " if several else "")

    def deploying(self, service_id: str, internal: InternalDeployment, instances: int) -> None:
        self._say(f"[{service_id}] Deploying build {internal.build_id} to service {service_id}.")


class CliTargetLog:
    """One build's progress on stderr; among several, each line names its target."""

    def __init__(self, events: CliEvents, prefix: str) -> None:
        self._events, self._prefix = events, prefix

    def note(self, message: str) -> None:
        self._events._say(self._prefix + message)

    def status(self, snapshot: Snapshot, elapsed: float) -> None:
        self._events._say(
            f"{self._prefix}[{elapsed_label(elapsed)}] {snapshot.status or 'UNKNOWN'}"
        )

    def trouble(self, problem: Exception, elapsed: float) -> None:
        self._events._say(
            f"{self._prefix}[{elapsed_label(elapsed)}] cannot read the status right now "
            f"({problem}); still waiting"
        )

    def log_group(self, snapshot: Snapshot, source: str) -> None:
        pass

    def log_lines(self, lines: list[LogLine]) -> None:
        for line in lines:
            self._events._say(f"{self._prefix}  | {line.text}")

    def log_group_end(self) -> None:
        pass


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--project-id", required=True, help="Northflank project id")
    parser.add_argument(
        "--team-id", default="", help="use the /v1/teams/{teamId} routes (organisation tokens)"
    )
    parser.add_argument(
        "--api-url", default="", help="API base URL (default https://api.northflank.com)"
    )
    parser.add_argument("--json", action="store_true", help="print the outputs as JSON on stdout")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")


def _build_flags(parser: argparse.ArgumentParser, *, spec: bool) -> None:
    """The flags of a build: what to build (a spec, or targets and what follows the build),
    then how (the commit, the overrides) and how to wait (_wait_flags)."""
    if spec:
        parser.add_argument(
            "--spec", required=True, help="build service spec: a YAML/JSON file or inline YAML"
        )
        parser.add_argument("--if-exists", choices=["use", "fail", "update"], default="use")
    else:
        _target_flags(parser)
    parser.add_argument("--branch", default="", help="service builds: the branch to build")
    parser.add_argument(
        "--pull-request-id", default="", help="service builds: the pull request to build"
    )
    parser.add_argument(
        "--sha", default="", help="commit to build (40 hex); default: the latest on the branch"
    )
    parser.add_argument(
        "--build-arg", action="append", default=[], metavar="KEY=VALUE", help="repeatable"
    )
    parser.add_argument(
        "--build-file",
        action="append",
        default=[],
        metavar="/PATH=SOURCE",
        help="SOURCE: env:NAME or a file; repeatable",
    )
    parser.add_argument(
        "--secret-mount", action="append", default=[], metavar="ID=SOURCE", help="repeatable"
    )
    parser.add_argument("--dockerfile-path", default="")
    parser.add_argument("--docker-work-dir", default="")
    parser.add_argument("--dockerfile-target", default="")
    _wait_flags(parser)


def _wait_flags(parser: argparse.ArgumentParser) -> None:
    """Whether and how long to wait, what a cancel does, logs, and the dry run."""
    parser.add_argument("--no-wait", action="store_true", help="start the build and return")
    parser.add_argument("--timeout-seconds", default="3600")
    parser.add_argument("--poll-interval-seconds", default="30")
    parser.add_argument(
        "--no-abort-on-cancel",
        action="store_true",
        help="leave the build running on Ctrl-C or timeout",
    )
    parser.add_argument("--no-logs", action="store_true", help="do not stream the build log")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="show the requests; send none that changes anything (with a token and --reuse or "
        "--build-id, read the builds to say which would be reused)",
    )


def _target_flags(parser: argparse.ArgumentParser) -> None:
    """What to build, or which build to use, and what follows it (deploys, a job run)."""
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--job-id", action="append", default=[], help="a job to build; repeatable")
    what.add_argument(
        "--service-id", action="append", default=[], help="a service to build; repeatable"
    )
    parser.add_argument(
        "--build-id", default="", help="wait on this existing build instead of starting one"
    )
    parser.add_argument(
        "--deploy-service",
        action="append",
        default=[],
        metavar="ID",
        help="deployment service to point at the built service; repeatable",
    )
    parser.add_argument("--run-job", default="", help="a job to run once the build succeeded")
    parser.add_argument(
        "--run-env", action="append", default=[], metavar="KEY=VALUE", help="for --run-job"
    )
    parser.add_argument(
        "--reuse",
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
    values = {
        "api-token": token,
        "api-url": args.api_url,
        "project-id": args.project_id,
        "team-id": args.team_id,
        "job-id": _ids(getattr(args, "job_id", "")),
        "service-id": _ids(getattr(args, "service_id", "")),
    }
    if args.command == "abort":
        return values
    values.update(
        {
            "service-spec": getattr(args, "spec", ""),
            "if-exists": getattr(args, "if_exists", "use"),
            "branch": args.branch,
            "pull-request-id": args.pull_request_id,
            "sha": args.sha,
            "build-arguments": "\n".join(args.build_arg),
            "build-files": "\n".join(args.build_file),
            "docker-secret-mounts": "\n".join(args.secret_mount),
            "dockerfile-path": args.dockerfile_path,
            "docker-work-dir": args.docker_work_dir,
            "dockerfile-target": args.dockerfile_target,
            "wait": "false" if args.no_wait else "true",
            "timeout-seconds": args.timeout_seconds,
            "poll-interval-seconds": args.poll_interval_seconds,
            "abort-on-cancel": "false" if args.no_abort_on_cancel else "true",
            "show-logs": "false" if args.no_logs else "true",
            "dry-run": "true" if args.dry_run else "false",
            "build-id": getattr(args, "build_id", ""),
            "reuse": getattr(args, "reuse", "never"),
            "deploy-services": _ids(getattr(args, "deploy_service", [])),
            "run-job": getattr(args, "run_job", ""),
            "run-job-environment": "\n".join(getattr(args, "run_env", [])),
        }
    )
    return values


def repository_url() -> str:
    """The checkout's origin as an https URL (a spec's default vcsData.projectUrl outside
    GitHub Actions), without credentials; "" when there is none."""
    try:
        found = subprocess.run(
            ["git", "remote", "get-url", "origin"],  # noqa: S607 - git from PATH, as a user runs it
            capture_output=True, text=True, timeout=5, check=False,
        )  # fmt: skip
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


def _ids(value: str | list[str]) -> str:
    return "\n".join(value) if isinstance(value, list) else value


def _finish(step: StepReport, args: argparse.Namespace, errors: list[str] | None = None) -> int:
    """The end of a run: each failure worded, then the outputs as typed JSON on stdout
    (``--json``, also for invalid input: ``errors`` then says why), or one last line."""
    for failure in step.failures:
        worded = describe(failure, CLI)
        emit(f"error: {worded.title}: {worded.explain()}")
    if args.json:
        extra = {"errors": errors} if errors is not None else {}
        typed = {"outcome": step.outcome.value, **typed_outputs(step), **extra}
        emit(json.dumps(typed, indent=2), err=False)
    elif not args.quiet:
        for build in step.builds if len(step.builds) > 1 else ():
            entry = build_values(build, build.outcome is Outcome.SUCCEEDED)
            label = build.target.label if build.target else ""
            emit(
                f"  {build.outcome.value}: {label} build {entry['build-id'] or '-'} "
                f"{entry['status']} {entry['registry-uri']}".rstrip()
            )
        image = outputs(step)["registry-uri"]
        emit(f"{step.outcome.value}: {story(step)}{f' ({image})' if image else ''}")
    return step.outcome.exit_code


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
        config = parse_inputs(values.get, env, Path.cwd(), redact.add)
    except InvalidInputs as exc:
        errors = [f"{CLI.name(problem.name)}: {CLI.problem(problem)}" for problem in exc.problems]
        for line in errors:
            emit(f"error: {line}")
        if args.json:
            return _finish(StepReport(Outcome.INVALID), args, errors)
        return Outcome.INVALID.exit_code
    events = CliEvents(args.quiet, several=len(config.targets) > 1)
    clock = clock or SystemClock(cancel.event)
    deadline = clock.monotonic() + config.waiting.timeout_seconds
    with connect(config, clock, transport=transport, deadline=deadline) as client:
        if args.command == "abort":
            target = config.target
            assert target is not None  # argparse requires --job-id or --service-id
            try:
                client.abort_build(target, args.build_id, timeout=10.0, explain_404=True)
            except NorthflankError as exc:
                worded = describe(exc, CLI)
                emit(f"error: {worded.title}: {worded.explain()}")
                return Outcome.ERROR.exit_code
            events.note(f"Aborted build {args.build_id}.")
            return 0
        if config.dry_run:
            with_reads = client if config.connection.api_token.get_secret_value() else None
            return _finish(dry_run(config, events, with_reads), args)
        return _finish(run_step(config, client, clock, cancel, events), args)


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
