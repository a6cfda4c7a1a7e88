"""Answers into values: the ``{"data": ...}`` envelope, response models, and error answers
into facts (api/errors.py). Northflank's envelopes: https://northflank.com/docs/v1/api/introduction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from northflank_build.api.errors import (
    ApiError,
    AuthenticationFailed,
    MalformedResponse,
    NotFound,
    PermissionDenied,
    Resource,
    ServerError,
)
from northflank_build.api.wire import decode_json, printable

if TYPE_CHECKING:  # models (pydantic) load after the first response, not at start-up
    from northflank_build.api.models import Build

T = TypeVar("T")
MESSAGE_CHARS = 300


def _where(resp: httpx.Response) -> str:
    return f"HTTP {resp.status_code} from {resp.request.method} {resp.request.url.path}"


def envelope(resp: httpx.Response) -> dict[str, Any]:
    """The whole answer, checked to be ``{"data": {...}, ...}``; strings made printable."""
    try:
        body = decode_json(resp.content)
    except ValueError:
        raise MalformedResponse(f"{_where(resp)} was not JSON.", not_json=True) from None
    if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
        raise MalformedResponse(f'{_where(resp)} had no "data" object.')
    return body


def model(kind: type[T], resp: httpx.Response, data: dict[str, Any]) -> T:
    # pydantic and the models load here, once a response has arrived: the first request
    # goes out without them (start-up; tests/test_layers.py).
    from pydantic import ValidationError  # noqa: PLC0415

    try:
        return kind.model_validate(data)  # type: ignore[attr-defined,no-any-return]
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) or "(root)" for e in exc.errors()[:5])
        raise MalformedResponse(
            f"{_where(resp)} had missing or mistyped fields: {printable(fields)[:MESSAGE_CHARS]}."
        ) from None


def entries(
    kind: type[T], resp: httpx.Response, data: dict[str, Any], key: str
) -> tuple[list[T], int]:
    """The list ``data[key]``, each entry read as ``kind``; an entry that cannot be (an id
    that is not an id, a sha that is a number) is skipped and counted, never the whole list
    rejected: one odd build must not hide the reusable one beside it."""
    from pydantic import ValidationError  # noqa: PLC0415

    items = data.get(key)
    if not isinstance(items, list):
        raise MalformedResponse(f'{_where(resp)} had no "{key}" list.')
    read: list[T] = []
    for item in items:
        try:
            read.append(kind.model_validate(item))  # type: ignore[attr-defined]
        except ValidationError:
            continue
    return read, len(items) - len(read)


def parse_build(resp: httpx.Response) -> Build:
    from northflank_build.api.models import Build  # noqa: PLC0415

    data: dict[str, Any] = envelope(resp)["data"]
    return model(Build, resp, data)


def page_query(cursor: str | None, per_page: int = 100) -> dict[str, Any]:
    """The query of one page of a cursor-paged list: the next_cursor of the page before."""
    return {"per_page": per_page} if cursor is None else {"per_page": per_page, "cursor": cursor}


def next_cursor(body: dict[str, Any]) -> str | None:
    pagination = body.get("pagination")
    if not isinstance(pagination, dict) or not pagination.get("hasNextPage"):
        return None
    cursor = pagination.get("cursor")
    return cursor if isinstance(cursor, str) and 0 < len(cursor) <= 200 else None


def error_fields(resp: httpx.Response) -> tuple[str, str | None]:
    """Northflank's error envelope: its message (printable, bounded) and error id."""
    try:
        body = decode_json(resp.content)
    except ValueError:
        return printable(resp.text.strip())[:MESSAGE_CHARS], None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return printable(resp.text.strip())[:MESSAGE_CHARS], None
    message = error.get("message")
    error_id = error.get("id")
    return (
        message[:MESSAGE_CHARS] if isinstance(message, str) else "",
        error_id[:100] if isinstance(error_id, str) else None,
    )


def api_error(
    resp: httpx.Response, operation: str, permission: str, scope: Resource | None = None
) -> ApiError:
    """An error answer as a fact: the class by status, the operation and what was said."""
    status = resp.status_code
    said, error_id = error_fields(resp)
    kind: type[ApiError] = ApiError
    if status == 401:
        kind = AuthenticationFailed
        message = (
            f"The API token was refused (HTTP 401) when trying to {operation}: it is invalid, "
            "expired or revoked."
        )
    elif status == 403:
        kind, message = PermissionDenied, f"The API token may not {operation} (HTTP 403)."
    elif status == 404:
        kind, message = NotFound, f"Not found (HTTP 404) when trying to {operation}."
    elif status == 429:
        message = f"Rate limited (HTTP 429) when trying to {operation}."
    elif status >= 500:
        kind = ServerError
        message = f"Northflank answered HTTP {status} when trying to {operation}."
    else:
        message = f"Northflank refused to {operation} (HTTP {status})."
    return kind(
        status,
        operation,
        message,
        permission=permission,
        resource=scope,
        said=said,
        error_id=error_id,
    )
