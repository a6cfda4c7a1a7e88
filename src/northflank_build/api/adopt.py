"""Finding builds among a target's recent ones: the build a start request made when its
answer was lost (the same sha, created after the request was sent, by the server's clock:
its Date header gives the skew), and a build of a sha that can be reused instead of
starting one (reuse).

Only a build that can be placed in time is taken; when none can, the start is not resent
(api/http.py: CreateOutcomeUnknown). The list's order is undocumented, so an oldest-first
list is followed to its last pages (https://northflank.com/docs/v1/api/jobs/list-job-builds).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:  # models (pydantic) load after the first response, not at start-up
    from northflank_build.api.models import Build

T = TypeVar("T")

# How far before our send time a build may be stamped and still be ours: the Date header
# has 1 s resolution, so the skew estimate can be up to ~1 s short.
ADOPT_TOLERANCE_S = 1.5
ADOPT_TOLERANCE_NO_DATE_S = 5.0
# 100 a page (the most the API gives), and up to 4 more pages when the list comes oldest
# first.
ADOPT_PAGE = 100
ADOPT_MORE_PAGES = 4


@dataclass(frozen=True)
class BuildPage:
    builds: list[Build]
    skew: float  # the server's clock minus ours, in seconds; NaN without a Date header
    next_cursor: str | None


def find_started(
    page: Callable[[str | None], BuildPage],
    sleep: Callable[[float], None],
    sha: str | None,
    sent_at: float,
) -> Build | None:
    """Look twice, a second apart (a list may lag the create by a moment)."""
    for attempt in range(2):
        if attempt:
            sleep(1.0)
        builds, skew = recent_builds(page)
        found = adoptable(builds, sha, sent_at, skew)
        if found is not None:
            return found
    return None


def recent_builds(page: Callable[[str | None], BuildPage]) -> tuple[list[Build], float]:
    """The first page, and when the list comes oldest first, up to ADOPT_MORE_PAGES more
    (the newest builds are then on the last pages); and the server clock's skew."""
    current = page(None)
    builds, skew = list(current.builds), current.skew
    for _ in range(ADOPT_MORE_PAGES):
        if current.next_cursor is None or not _oldest_first(current.builds):
            break
        current = page(current.next_cursor)
        builds += current.builds
    return builds, skew


def reusable(builds: list[Build], sha: str, running_too: bool) -> Build | None:
    """The newest build of ``sha`` that concluded with success; else, with ``running_too``,
    the newest one that has not concluded. A failed or aborted build is never reused."""
    same = [b for b in builds if b.sha == sha]
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


def adoptable(builds: list[Build], sha: str | None, sent_at: float, skew: float) -> Build | None:
    """The earliest build of ``sha`` created after ``sent_at`` (our clock), or None.

    ``skew`` is the server clock minus ours (NaN when unknown: then a wider window). A build
    without a readable ``createdAt`` cannot be placed in time, so it is never taken.
    """
    same = [build for build in builds if sha is None or build.sha == sha]
    return earliest_after(
        same, lambda b: b.created_datetime(), sent_at, skew, without_date=ADOPT_TOLERANCE_NO_DATE_S
    )


def earliest_after(
    items: list[T],
    moment: Callable[[T], datetime | None],
    sent_at: float,
    skew: float,
    *,
    without_date: float | None,
) -> T | None:
    """The earliest of ``items`` whose ``moment`` (the server's clock) is after ``sent_at``
    (ours), allowing the Date header's 1 s resolution. With ``skew`` unknown (NaN), only
    when ``without_date`` gives a window (seconds before ``sent_at``); else None."""
    if math.isnan(skew):
        if without_date is None:
            return None
        threshold = sent_at - without_date
    else:
        threshold = sent_at + skew - ADOPT_TOLERANCE_S
    placed = [(when, item) for item in items if (when := moment(item)) is not None]
    candidates = [(when, item) for when, item in placed if when.timestamp() >= threshold]
    return min(candidates, key=lambda pair: pair[0])[1] if candidates else None
