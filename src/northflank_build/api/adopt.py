"""What a create whose answer was lost made, claimed only when it is provably ours; and a
build of a sha to reuse.

After an ambiguous failure (the request went out, no usable answer came back) the action
looks for what it may have made among the recent ones, placed in time by the server's clock.
Neither a build's nor a job run's start can carry a marker the action could find again: the
start bodies have no name or label, and GET returns no build arguments or run environment
(../shared/reference/northflank-api.md section 2.2, northflank-api-deploy.md section 3.2).
So time is the only proof, and the rule is strict:

- The server's clock is known only as bounds (``Skew``): a ``Date`` header has 1 s
  resolution, so each answer says the skew lies between ``date - received`` and
  ``date + 1 - sent``; every answer of the session narrows the bounds.
- A candidate is one of the same sha (compared case-insensitively) stamped from NEAR_S
  before the earliest moment our request can have reached Northflank up to the moment we
  looked (by the server's clock).
- Exactly one candidate, stamped no earlier than that earliest moment: it is ours. More than
  one, or one that provably predates the request: none is claimed (``Claim.candidates`` names
  them for the user), nothing is followed or aborted. Without a ``Date`` header nothing can
  be placed and nothing is claimed.

The list's order is undocumented, so an oldest-first list is followed to its last pages
(https://northflank.com/docs/v1/api/jobs/list-job-builds).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Generic, TypeVar

from northflank_build.api.errors import CreateAmbiguous

if TYPE_CHECKING:  # models (pydantic) load after the first response, not at start-up
    from northflank_build.api.models import Build

T = TypeVar("T")

# A build of the same sha stamped this close before our request could arrive is another
# workflow's start in the same moment: its presence makes the claim ambiguous.
NEAR_S = 2.0
# Without the server's clock, candidates are named (never claimed) from this window of ours.
NO_DATE_WINDOW_S = 60.0
# createdAt has millisecond resolution; a run's startedAt whole seconds (section 3.2's sample).
BUILD_STAMP_S = 0.001
RUN_STAMP_S = 1.0
# 100 a page (the most the API gives), and up to 4 more pages when the list comes oldest
# first.
ADOPT_PAGE = 100
ADOPT_MORE_PAGES = 4


@dataclass(frozen=True)
class Skew:
    """The server's clock minus ours, in seconds, as bounds (unknown: infinite)."""

    low: float = -math.inf
    high: float = math.inf

    @property
    def known(self) -> bool:
        return math.isfinite(self.low) and math.isfinite(self.high)

    def narrowed(self, date: float, sent: float, received: float) -> Skew:
        """With one more answer: its ``Date`` (whole seconds), and when (our wall clock)
        the request went out and the answer came back."""
        low, high = max(self.low, date - received), min(self.high, date + 1.0 - sent)
        if low > high:  # disagrees with what came before (a clock jump, a proxy): start over
            low, high = date - received, date + 1.0 - sent
        return Skew(low, high)


@dataclass(frozen=True)
class Claim(Generic[T]):
    ours: T | None
    candidates: tuple[T, ...] = ()  # what may be it, when none is claimed


@dataclass(frozen=True)
class BuildPage:
    builds: list[Build]
    next_cursor: str | None
    skipped: int = 0  # entries that could not be read (api/client.py: list_builds)


def claim(
    items: list[T],
    moment: Callable[[T], datetime | None],
    *,
    sent_at: float,
    looked_at: float,
    skew: Skew,
    stamp_s: float,
) -> Claim[T]:
    """Of ``items`` (already narrowed to what the request could have made), the one that is
    provably ours (the rule above). ``sent_at`` and ``looked_at`` are our wall clock."""
    placed = [(when.timestamp(), item) for item in items if (when := moment(item)) is not None]
    if not skew.known:
        lo, hi = sent_at - NO_DATE_WINDOW_S, looked_at + NO_DATE_WINDOW_S
        return Claim(None, tuple(item for when, item in placed if lo <= when <= hi))
    earliest = sent_at + skew.low  # our request cannot have reached Northflank before this
    latest = looked_at + skew.high + stamp_s
    near = sorted(
        ((when, item) for when, item in placed if earliest - NEAR_S <= when <= latest),
        key=lambda pair: pair[0],
    )
    if len(near) == 1 and near[0][0] + stamp_s >= earliest:
        return Claim(near[0][1])
    return Claim(None, tuple(item for _when, item in near))


def ambiguous(
    what: str, noun: str, of: str, ids: tuple[str, ...], sent_at: float
) -> CreateAmbiguous:
    """The fact for a lost create whose candidates are several (or one that may predate it):
    ``what`` the request was for ("start a build of job 'api'"), the ``noun`` it makes."""
    listed = ", ".join(ids[:10]) + (f" and {len(ids) - 10} more" if len(ids) > 10 else "")
    count = f"1 {noun}" if len(ids) == 1 else f"{len(ids)} {noun}s"
    return CreateAmbiguous(
        f"The request to {what} got no usable answer, and {count} of {of} ({listed}) started "
        "around that moment; none can be proven to be this step's, so none is followed, "
        "reported as this step's or aborted.",
        sent_at=sent_at,
        candidates=ids,
    )


def same_sha(build: Build, sha: str | None) -> bool:
    """A sha names a commit whatever its case (git prints lower case; users paste either)."""
    return sha is None or (build.sha or "").lower() == sha.lower()


def claim_build(
    builds: list[Build], sha: str | None, sent_at: float, looked_at: float, skew: Skew
) -> Claim[Build]:
    return claim(
        [b for b in builds if same_sha(b, sha)],
        lambda b: b.created_datetime(),
        sent_at=sent_at,
        looked_at=looked_at,
        skew=skew,
        stamp_s=BUILD_STAMP_S,
    )


def find_started(
    page: Callable[[str | None], BuildPage],
    sleep: Callable[[float], None],
    judge: Callable[[list[Build]], Claim[Build]],
) -> Claim[Build]:
    """Look twice, a second apart (a list may lag the create by a moment); stop at a claim."""
    found: Claim[Build] = Claim(None)
    for attempt in range(2):
        if attempt:
            sleep(1.0)
        found = judge(recent_builds(page))
        if found.ours is not None:
            return found
    return found


def recent_builds(page: Callable[[str | None], BuildPage]) -> list[Build]:
    """The first page, and when the list comes oldest first, up to ADOPT_MORE_PAGES more
    (the newest builds are then on the last pages)."""
    current = page(None)
    builds = list(current.builds)
    for _ in range(ADOPT_MORE_PAGES):
        if current.next_cursor is None or not _oldest_first(current.builds):
            break
        current = page(current.next_cursor)
        builds += current.builds
    return builds


def reusable(builds: list[Build], sha: str, running_too: bool) -> Build | None:
    """The newest build of ``sha`` that concluded with success; else, with ``running_too``,
    the newest one that has not concluded. A failed or aborted build is never reused."""
    same = [b for b in builds if same_sha(b, sha)]
    succeeded = [b for b in same if b.finished and b.succeeded]
    running = [b for b in same if not b.finished] if running_too else []
    for candidates in (succeeded, running):
        if candidates:
            return max(candidates, key=_created_order)
    return None


def _created_order(build: Build) -> float:
    created = build.created_datetime()
    return created.timestamp() if created is not None else -math.inf


def _oldest_first(builds: list[Build]) -> bool:
    moments = [b.created_datetime() for b in builds]
    known = [m for m in moments if m is not None]
    return len(known) >= 2 and known[0] < known[-1]
