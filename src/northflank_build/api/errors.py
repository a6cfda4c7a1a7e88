"""The error vocabulary: every failure carries a title, a cause and, where known, a fix."""

from __future__ import annotations

from typing import Any


class ActionFailure(Exception):
    """A failure the user can act on. ``str()`` is the cause; ``fix`` says what to do."""

    title = "Northflank build failed"

    def __init__(self, message: str, *, fix: str = "", title: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix
        if title is not None:
            self.title = title

    def explain(self) -> str:
        return f"{self.message} {self.fix}".strip()


class InvalidInputs(ActionFailure):
    """One or more inputs are invalid; nothing has been sent."""

    title = "Invalid input"

    def __init__(self, problems: list[InputProblem]) -> None:
        self.problems = problems
        names = ", ".join(dict.fromkeys(p.name for p in problems))
        super().__init__(f"{len(problems)} invalid input(s): {names}. Nothing was sent.")


class InputProblem:
    """One invalid input: its name and what is wrong and allowed (never the secret value)."""

    __slots__ = ("message", "name")

    def __init__(self, name: str, message: str) -> None:
        self.name = name
        self.message = message

    def __str__(self) -> str:
        return f"{self.name}: {self.message}"

    def __repr__(self) -> str:
        return f"InputProblem({self.name!r}, {self.message!r})"


class TransportFailure(ActionFailure):
    """The request did not complete (connection refused, reset, timed out)."""

    title = "Cannot reach the Northflank API"


class MalformedResponse(ActionFailure):
    """Northflank answered, but not with the JSON this action understands."""

    title = "Unexpected response from Northflank"


class ApiError(ActionFailure):
    """An HTTP error answer, read from Northflank's ``{"error": {...}}`` envelope."""

    title = "Northflank API error"

    def __init__(
        self,
        status: int,
        message: str,
        *,
        error_id: str | None = None,
        details: Any = None,
        fix: str = "",
        title: str | None = None,
    ) -> None:
        super().__init__(message, fix=fix, title=title)
        self.status = status
        self.error_id = error_id
        self.details = details


class AuthenticationFailed(ApiError):
    title = "Northflank rejected the API token"


class PermissionDenied(ApiError):
    title = "The API token lacks a permission"


class NotFound(ApiError):
    title = "Not found on Northflank"


class RateLimited(ApiError):
    title = "Northflank rate limit"


class ServerError(ApiError):
    title = "Northflank server error"


class DeadlineReached(ActionFailure):
    """timeout-seconds ran out before a request or a wait could complete."""

    title = "Timed out"


class CreateOutcomeUnknown(ActionFailure):
    """A create request may have worked, and what it made cannot be identified.

    It is never resent (that could make a second one); ``sent_at`` is when it went out
    (epoch seconds), so a later look (the post step) can still find it.
    """

    title = "Northflank may have started a build"

    def __init__(self, message: str, *, sent_at: float, fix: str = "") -> None:
        super().__init__(message, fix=fix)
        self.sent_at = sent_at


class Cancelled(BaseException):
    """Raised from the signal handler to interrupt a blocking wait or request.

    A BaseException so that no ``except Exception`` on the way swallows it. ``sent_at`` is
    set when a create request was out (or its outcome was being looked for) at the moment
    of the cancel: something may have been created then.
    """

    def __init__(self, reason: str = "", *, sent_at: float | None = None) -> None:
        super().__init__(reason)
        self.sent_at = sent_at
