"""A preview blueprint's previews: list them, delete one (its teardown runs)
(../shared/reference/northflank-api-deploy.md, section 5.1; the run that creates or updates
one is a template run: api/templates.py)."""

from __future__ import annotations

import re
from typing import Any

import httpx

from northflank_build.api.decode import envelope, next_cursor, page_query
from northflank_build.api.errors import ApiError, Resource
from northflank_build.api.http import Call
from northflank_build.api.routes import BUILD_ID_PATTERN
from northflank_build.api.scope import Scope

_ID = re.compile(BUILD_ID_PATTERN)
# A blueprint's previews are read this far (a page of 100 each).
MAX_PAGES = 20


class Previews:
    def __init__(self, scope: Scope) -> None:
        self._scope = scope

    def ids(self, blueprint_id: str) -> set[str]:
        """Every preview of the blueprint, by id (ids that are not ids are passed over)."""
        found: set[str] = set()
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            page, cursor = self._page(blueprint_id, cursor)
            found |= page
            if cursor is None:
                break
        return found

    def _page(self, blueprint_id: str, cursor: str | None) -> tuple[set[str], str | None]:
        def parse(resp: httpx.Response) -> tuple[set[str], str | None]:
            body = envelope(resp)
            items = body["data"].get("previewEnvironments")
            ids = {
                item["id"]
                for item in (items if isinstance(items, list) else [])
                if isinstance(item, dict)
                and isinstance(item.get("id"), str)
                and _ID.fullmatch(item["id"])
            }
            return ids, next_cursor(body)

        params = page_query(cursor)
        return self._scope.session.call(
            Call(
                f"list the previews of preview blueprint {blueprint_id!r}",
                "Project > PreviewBlueprints > General > Read",
                "GET",
                self._scope.routes.previews(blueprint_id),
                params=params,
            ),
            parse,
            on_404=self._missing(blueprint_id),
        )

    def delete(self, blueprint_id: str, preview_id: str) -> bool:
        """Delete the preview (its teardown runs); False when it does not exist."""

        try:
            self._scope.session.call(
                Call(
                    f"delete preview {preview_id!r} of preview blueprint {blueprint_id!r}",
                    "Project > PreviewBlueprints > Previews > Delete",
                    "DELETE",
                    self._scope.routes.preview(blueprint_id, preview_id),
                ),
                lambda _resp: None,
            )
        except ApiError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def _missing(self, blueprint_id: str) -> Any:
        def missing(error: ApiError) -> ApiError:
            return self._scope.not_found(error, Resource("preview blueprint", blueprint_id))

        return missing
