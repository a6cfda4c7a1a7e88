"""A deployment service's rollout as a kind of operation (engine/kind.py): read after the
PATCH that points the service at the build, judged against what was seen before it.

A rollout's end is not documented (../shared/reference/northflank-api-deploy.md, section
2.4); it is read from documented fields: before the PATCH, ``status.deployment.
lastTransitionTime`` is noted; after it, the rollout of this deploy has succeeded when GET
service shows ``COMPLETED`` with a later transition and ``deployment.internal.deployedSHA``
equal to the build's sha, and has failed when it shows ``FAILED`` with a later transition.
The noted transition (the server's own clock), not ours, is the line: no clock skew enters.
A rollout cannot be aborted (no endpoint): its kind says so, once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING

from northflank_build.api.client import NorthflankClient
from northflank_build.engine.kind import Kind
from northflank_build.engine.logs import LogFollower
from northflank_build.engine.outcome import Failure, RolloutFailed
from northflank_build.engine.schedule import Forecast

if TYPE_CHECKING:  # models (pydantic) load after the first response, not at start-up
    from northflank_build.api.models import Service


class RolloutKind(Kind):
    name = "rollout"
    noun = "rollout"
    title = "Rollout"
    abortable = False


ROLLOUT = RolloutKind()

# Shown while GET service still shows the state from before the PATCH.
REQUESTED = "REQUESTED"
# lastTransitionTime has millisecond resolution.
STAMP_S = 0.001
# Without a Date header the server's clock is unknown: a transition this long before our
# PATCH is still taken as possibly its own (clocks rarely disagree by more).
UNKNOWN_SKEW_S = 300.0


@dataclass(frozen=True)
class Rollout:
    """A deployment service as read after the PATCH, judged against what was seen before it
    (a Snapshot for engine/waiting.py).

    A transition is this deploy's only when it is later than the one noted before the PATCH
    and no earlier than the moment the PATCH can have reached Northflank (``not_before``, the
    server's clock): when GET showed no transition before, or lags after, an old rollout's
    FAILED stamped an hour earlier is not this one's.
    """

    service: Service
    before: datetime | None  # status.deployment.lastTransitionTime before the PATCH
    sha: str
    not_before: float | None = None  # epoch, server clock; None: no PATCH (one under way)

    @property
    def id(self) -> str:
        """The service's: a rollout has no id of its own."""
        return self.service.id

    @property
    def message(self) -> str | None:
        return None

    @property
    def fresh(self) -> bool:
        """Whether the deployment status has moved since the PATCH."""
        moved = self.service.rollout.transition_datetime()
        if moved is None or (self.before is not None and moved <= self.before):
            return False
        return self.not_before is None or moved.timestamp() + STAMP_S >= self.not_before

    @property
    def reported(self) -> str:
        """Northflank's status.deployment.status, as it is."""
        return self.service.rollout.status or ""

    @property
    def status(self) -> str:
        return self.reported if self.fresh else REQUESTED

    @property
    def finished(self) -> bool:
        return self.fresh and (self.reported == "FAILED" or self.succeeded)

    @property
    def succeeded(self) -> bool:
        done = self.fresh and self.reported == "COMPLETED"
        return done and (self.service.deployed_sha or "").lower() == self.sha.lower()


class Already(Enum):
    """What GET service says, before any PATCH, of a service whose source is already this
    build service at this commit: a PATCH would change nothing, so no rollout would come."""

    RUNS = "runs"  # COMPLETED with deployedSHA the commit: done, no PATCH
    FAILED = "failed"  # its rollout of this commit failed: a PATCH would not retry it
    ROLLING = "rolling"  # PENDING or IN_PROGRESS: that rollout is waited on, no PATCH


def already(service: Service, build_service: str, sha: str) -> Already | None:
    """The documented rule (README, "Build, deploy, migrate"): the same source is the same
    build service (deployment.internal.nfObjectId, when GET service gives it) and the same
    commit (buildSHA, any case; not "latest"); GET service names no build id, so a rebuild of
    one commit counts as it."""
    source = service.internal
    # An answer without nfObjectId cannot tell build services apart: the commit decides.
    same = source.nf_object_id in (None, build_service) and bool(sha)
    if not same or (source.build_sha or "").lower() != sha.lower():
        return None
    status = service.rollout.status
    if status == "COMPLETED":
        return Already.RUNS if (source.deployed_sha or "").lower() == sha.lower() else None
    if status == "FAILED":
        return Already.FAILED
    return Already.ROLLING if status in ("PENDING", "IN_PROGRESS") else None


@dataclass
class RolloutOperation:
    client: NorthflankClient
    service_id: str
    before: datetime | None
    sha: str
    not_before: float | None
    kind: Kind = ROLLOUT

    @property
    def label(self) -> str:
        return f"the rollout of service {self.service_id!r}"

    @property
    def owner(self) -> str:
        return f"service {self.service_id!r}"

    def read(self) -> Rollout:
        service = self.client.deployments.get(self.service_id)
        return Rollout(service, self.before, self.sha, self.not_before)

    def abort(self) -> None:
        """Never called: the kind is not abortable."""

    def forecast(self) -> Forecast | None:
        return None

    def open_logs(self) -> LogFollower | None:
        return None

    def failed(self, last: Rollout, log_shown: bool) -> Failure:
        return RolloutFailed(service_id=self.service_id, status=last.reported, sha=last.sha)
