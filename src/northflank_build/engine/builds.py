"""The build as a kind of operation (engine/kind.py): start one of a target, find what a
lost start made, read, abort, forecast its duration from the target's recent builds, open
its log (the live tail, or the HTTP range endpoint); and how the post step reaches one."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from northflank_build.api.adopt import Claim
from northflank_build.api.bodies import StartBuildRequest
from northflank_build.api.client import NorthflankClient
from northflank_build.api.errors import NorthflankError
from northflank_build.api.logs import LogLine
from northflank_build.api.retry import NO_RETRY
from northflank_build.api.routes import BUILD_ID_PATTERN, BuildTarget
from northflank_build.engine.context import StepContext
from northflank_build.engine.follow import ABORT_TIMEOUT_S
from northflank_build.engine.kind import POST_ABORT_S, Kind, Reached, Reaching, Record
from northflank_build.engine.logs import LogFollower, open_follower
from northflank_build.engine.outcome import BuildFailed, Failure
from northflank_build.engine.report import dashboard_base
from northflank_build.engine.schedule import Forecast
from northflank_build.inputs.fields import ID_PATTERN

if TYPE_CHECKING:  # models (pydantic) load after the first response, not at start-up
    from northflank_build.api.models import Build

# Builds listed for the forecast: one page, newest picked by our own sort (order undocumented).
FORECAST_PAGE = 50
FORECAST_TIMEOUT_S = 5.0
_BUILD_ID = re.compile(BUILD_ID_PATTERN)
_OWNER = re.compile(r"^(job|service):(.+)$")
_SHA = re.compile(r"^[0-9a-fA-F]{40}$")


def target_of(owner: str) -> BuildTarget | None:
    """The target a record names ("job:api"), when it is one a step could have saved."""
    match = _OWNER.fullmatch(owner)
    if match is None or not ID_PATTERN.fullmatch(match.group(2)):
        return None
    return BuildTarget(match.group(1), match.group(2))  # type: ignore[arg-type]


class BuildKind(Kind):
    name = "build"
    noun = "build"
    title = "Build"

    def owner_label(self, owner: str) -> str:
        target = target_of(owner)
        return target.label if target is not None else owner

    def reach(self, client: NorthflankClient, record: Record) -> Reached | None:
        target = target_of(record.owner)
        if target is None or not _BUILD_ID.fullmatch(record.id):
            return None
        return Reaching(
            lambda: client.builds.get(target, record.id),
            lambda: client.builds.abort(target, record.id, timeout=POST_ABORT_S),
        )

    def find(self, client: NorthflankClient, record: Record) -> Claim[Any] | None:
        target = target_of(record.owner)
        sha_ok = record.sha == "" or _SHA.fullmatch(record.sha)
        if target is None or record.sent_at is None or not sha_ok:
            return None
        page = client.builds.page(target, 100)
        return client.builds.claim(page.builds, record.sha or None, record.sent_at)


BUILD = BuildKind()


@dataclass
class BuildOperation:
    ctx: StepContext
    target: BuildTarget
    build: Build  # as started (its id and createdAt)
    note: Callable[[str], None]  # its listener's
    kind: Kind = BUILD

    @property
    def label(self) -> str:
        return f"build {self.build.id}"

    @property
    def owner(self) -> str:
        return self.target.label

    def read(self) -> Build:
        return self.ctx.client.builds.get(self.target, self.build.id)

    def abort(self) -> None:
        self.ctx.client.builds.abort(self.target, self.build.id, timeout=ABORT_TIMEOUT_S)

    def forecast(self) -> Forecast | None:
        """One list request for the durations of recent builds; none is fine (no forecast)."""
        try:
            page = self.ctx.client.builds.page(
                self.target, per_page=FORECAST_PAGE, policy=NO_RETRY, timeout=FORECAST_TIMEOUT_S
            )
        except NorthflankError:
            return None
        return Forecast.from_builds(page.builds, exclude=self.build.id)

    def open_logs(self) -> LogFollower | None:
        ctx, target, build = self.ctx, self.target, self.build
        client = ctx.client

        def read_range(start: str | None, limit: int, bound: float) -> tuple[list[LogLine], bool]:
            # One try (engine/logs.py tries again at its next turn), bounded by ``bound``.
            return client.builds.logs(
                target, build.id, start, limit, policy=NO_RETRY, timeout=bound
            )

        url = client.routes.tail_url(ctx.config.connection.api_url, target, build.id)
        return open_follower(
            client,
            ctx.clock,
            ctx.log_access,
            url,
            read_range,
            created=build.created_datetime(),
            note=self.note,
            noun="build",
        )

    def failed(self, last: Build, log_shown: bool) -> Failure:
        return BuildFailed(
            build_id=last.id,
            target=self.target,
            status=last.status or "",
            message=last.message or "",
            log_shown=log_shown,
        )


@dataclass(frozen=True)
class BuildStart:
    """One build of ``target`` with ``body``; ``index`` is the target's place in the step."""

    ctx: StepContext
    target: BuildTarget
    body: StartBuildRequest
    index: int
    several: bool
    kind: Kind = BUILD

    @property
    def key(self) -> str:
        return "build" if self.index == 0 else f"build_{self.index + 1}"

    @property
    def owner(self) -> str:
        return f"{self.target.kind}:{self.target.id}"

    @property
    def owner_label(self) -> str:
        return self.target.label

    @property
    def sha(self) -> str:
        return self.body.sha or ""

    @property
    def run_name(self) -> str:
        return ""

    @property
    def output(self) -> str | None:
        return None if self.several else "build-id"

    @property
    def where(self) -> str:
        routes, config = self.ctx.client.routes, self.ctx.config
        return routes.dashboard_builds(dashboard_base(config.connection.api_url), self.target)

    def link(self, op_id: str) -> str:
        routes, config = self.ctx.client.routes, self.ctx.config
        return routes.dashboard_build(dashboard_base(config.connection.api_url), self.target, op_id)

    @property
    def _prefix(self) -> str:
        return f"[{self.target.id}] " if self.several else ""

    def announce(self) -> tuple[str, ...]:
        body = self.body
        what = body.sha or (
            f"pull request {body.pull_request_id}" if body.pull_request_id else None
        )
        what = what or (
            f"the head of branch {body.branch}"
            if body.branch
            else "the latest commit of its branch"
        )
        lines = [f"{self._prefix}Starting a Northflank build of {self.target.label} at {what}."]
        overrides = body.overrides
        if overrides is not None:
            parts = []
            if overrides.build_arguments:
                parts.append("build arguments " + ", ".join(sorted(overrides.build_arguments)))
            if overrides.build_files:
                parts.append("build files " + ", ".join(sorted(overrides.build_files)))
            if overrides.docker_secret_mounts:
                parts.append("secret mounts " + ", ".join(sorted(overrides.docker_secret_mounts)))
            if overrides.docker is not None:
                docker = overrides.docker.to_json()
                parts.append(", ".join(f"{k}={v}" for k, v in docker.items()))
            lines.append(f"{self._prefix}Overrides: " + "; ".join(parts) + ".")
        return tuple(lines)

    def said_started(self, first: Build, adopted: bool) -> str:
        how = " (found after the start request's answer was lost)" if adopted else ""
        return f"{self._prefix}Build {first.id} started{how}."

    def send(self) -> tuple[Build, bool]:
        started = self.ctx.client.builds.start(self.target, self.body)
        return started.build, started.adopted

    def find_lost(self, sent_at: float) -> Claim[Build]:
        return self.ctx.client.builds.find_started_quickly(self.target, self.body.sha, sent_at)

    def operation(self, first: Build, note: Callable[[str], None]) -> BuildOperation:
        return BuildOperation(self.ctx, self.target, first, note)
