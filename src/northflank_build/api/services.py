"""Build services: whether one exists, and creating it once from a create-build-service body
(https://northflank.com/docs/v1/api/services/create-build-service); if it exists, use it,
update it (PUT) or fail, as asked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from northflank_build.api.errors import ApiError, Conflict, NotFound, Resource
from northflank_build.api.http import Call
from northflank_build.api.scope import Scope


@dataclass(frozen=True)
class EnsuredService:
    service_id: str
    created: bool
    updated: bool = False


class BuildServices:
    def __init__(self, scope: Scope) -> None:
        self._scope = scope

    def exists(self, service_id: str) -> bool:
        try:
            return self._scope.session.call(
                Call(
                    f"read service {service_id!r}",
                    "Project > Services > General > Read",
                    "GET",
                    self._scope.routes.service(service_id),
                ),
                lambda _resp: True,
            )
        except NotFound:
            return False

    def ensure(
        self, payload: dict[str, Any], name: str, service_id: str, if_exists: str
    ) -> EnsuredService:
        """Create the build service ``payload`` describes (Northflank derives ``service_id``
        from its ``name``); if it exists, ``use`` it, ``fail`` (Conflict), or ``update`` it.

        After an ambiguous failure the service is looked up before anything is resent.
        """
        operation = f"create the build service {name!r}"
        call = Call(
            operation,
            "Project > Services > General > Create",
            "POST",
            self._scope.routes.build_services,
            payload,
        )

        def find(_sent_at: float) -> EnsuredService | None:
            exists = self.exists(service_id)
            return EnsuredService(service_id, created=True) if exists else None

        def missing(error: ApiError) -> ApiError:
            return self._scope.not_found(error, None)

        try:
            return self._scope.session.call(
                call, lambda _r: EnsuredService(service_id, True), find=find, on_404=missing
            )
        except ApiError as exc:
            if exc.status != 409:
                raise
            conflict = exc
        if if_exists == "use":
            return EnsuredService(service_id, created=False)
        if if_exists == "update":
            update = Call(
                f"update the build service {name!r}", call.permission, "PUT", call.path, payload
            )
            self._scope.session.call(update, lambda _resp: None)
            return EnsuredService(service_id, created=False, updated=True)
        raise Conflict(
            409,
            operation,
            f"A service with the id {service_id!r} (derived from the name {name!r}) already "
            f"exists in project {self._scope.project_id!r}.",
            permission=call.permission,
            resource=Resource("service", service_id),
            said=conflict.said,
            error_id=conflict.error_id,
        )
