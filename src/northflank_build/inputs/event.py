"""What the workflow's event says that the inputs need, as facts the edge reads
(github/event.py: the event file is opened there, never in inputs/)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EventFacts:
    """What the workflow's event says that inputs need (read at the edge: github/event.py):
    the event's name and action, and for a pull request its number, head branch and whether
    it comes from a fork."""

    name: str = ""
    action: str = ""
    pull_request: int | None = None
    head_branch: str = ""
    from_fork: bool = False

    @property
    def closes_pull_request(self) -> bool:
        return self.name in ("pull_request", "pull_request_target") and self.action == "closed"


NO_EVENT = EventFacts()  # outside GitHub Actions (the CLI), or an event with nothing of these
