"""What went wrong talking to Northflank, as facts: which operation, which status, which
resource and permission, and what Northflank said. No remedy is written here: each front end
words these in its own vocabulary (src/northflank_build/wording.py), the action naming its
inputs and the CLI its flags."""

from __future__ import annotations

from dataclasses import dataclass

# Answers worth trying again (or outliving, while waiting): a timeout, "too early", the rate
# limit, and the server errors that say "not now" rather than "never" (501 Not Implemented
# and 505 will not change). The one rule: the session's retry loop (api/http.py) and the
# waiting loop (engine/waiting.py) both read ``NorthflankError.transient``.
TRANSIENT_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


class NorthflankError(Exception):
    """A request to Northflank did not give what was asked. ``message`` states the fact;
    ``transient`` whether it may well go away (retry a read, keep waiting)."""

    transient = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TransportFailure(NorthflankError):
    """The request did not complete (connection refused, reset, timed out)."""

    transient = True

    def __init__(self, message: str, *, connect: bool = False) -> None:
        super().__init__(message)
        self.connect = connect  # it never reached the server


class MalformedResponse(NorthflankError):
    """Northflank answered, but not with the JSON this client understands."""

    transient = True

    def __init__(self, message: str, *, not_json: bool = False) -> None:
        super().__init__(message)
        self.not_json = not_json


class DeadlineReached(NorthflankError):
    """The run's one deadline came before a request or a wait could complete. ``sent_at``
    is set when it cut a create short after it went out: something may have been made."""

    def __init__(self, message: str, *, sent_at: float | None = None) -> None:
        super().__init__(message)
        self.sent_at = sent_at


class CreateOutcomeUnknown(NorthflankError):
    """A create request may have worked, and what it made cannot be identified.

    It is never resent (that could make a second one); ``sent_at`` is when it went out
    (epoch seconds), so a later look (the post step) can still find it.
    """

    def __init__(self, message: str, *, sent_at: float) -> None:
        super().__init__(message)
        self.sent_at = sent_at


class CreateAmbiguous(CreateOutcomeUnknown):
    """A create may have worked, and more than one thing it may have made was found (or
    one that may predate it): none is claimed (api/adopt.py). ``candidates`` are their ids."""

    def __init__(self, message: str, *, sent_at: float, candidates: tuple[str, ...]) -> None:
        super().__init__(message, sent_at=sent_at)
        self.candidates = candidates


@dataclass(frozen=True)
class Resource:
    """What an answer was about: ``kind`` is project, team, job, service or build."""

    kind: str
    id: str
    team_id: str | None = None  # the team a project was looked up in


class ApiError(NorthflankError):
    """An HTTP error answer, read from Northflank's ``{"error": {...}}`` envelope."""

    def __init__(
        self,
        status: int,
        operation: str,
        message: str,
        *,
        permission: str = "",
        resource: Resource | None = None,
        said: str = "",
        error_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.operation = operation  # e.g. "start a build of job 'my-job'"
        self.permission = permission  # e.g. "Project > Jobs > Deployment > Deploy Build"
        self.resource = resource
        self.said = said  # Northflank's own message, printable and bounded
        self.error_id = error_id
        self.transient = status in TRANSIENT_STATUS


class AuthenticationFailed(ApiError):
    """401: the token is invalid, expired or revoked."""


class PermissionDenied(ApiError):
    """403: the token's API role lacks ``permission``."""


class NotFound(ApiError):
    """404: ``resource`` does not exist, or the token cannot see it (None: not known which)."""


class Conflict(ApiError):
    """409: ``resource`` exists already (a build service of the same derived id)."""


class RateLimited(ApiError):
    """429 past the client's cap: ``limited`` answers in a row, asking ``asked_s`` in all."""

    def __init__(
        self,
        operation: str,
        message: str,
        *,
        limited: int,
        asked_s: float,
        max_times: int,
        max_wait_s: float,
    ) -> None:
        super().__init__(429, operation, message)
        self.transient = False  # raised past the client's cap: waiting on would not help
        self.limited, self.asked_s = limited, asked_s
        self.max_times, self.max_wait_s = max_times, max_wait_s


class ServerError(ApiError):
    """5xx: usually temporary."""


class Cancelled(BaseException):
    """Raised from the signal handler to interrupt a blocking wait or request.

    A BaseException so that no ``except Exception`` on the way swallows it. ``sent_at`` is
    set when a create request was out (or its outcome was being looked for) at the moment
    of the cancel: something may have been created then.
    """

    def __init__(self, reason: str = "", *, sent_at: float | None = None) -> None:
        super().__init__(reason)
        self.sent_at = sent_at
