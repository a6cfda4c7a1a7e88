"""Preview environments in the simulator (../shared/reference/northflank-api-deploy.md,
sections 5.1 and 10): the blueprint ``demo-preview``. A run (nfsim/templates.py, the same run
object) that succeeds creates or updates the preview its ``name`` names; the preview's
services are tagged with that name: ``<name>-web`` with a public HTTP port whose ``dns``
appears ``Previews.dns_after_s`` after the run concluded (never, with None), and
``<name>-worker`` with none. The run's POST answers ``environmentId`` (the preview's id: its
name), get and list do not. DELETE tears the preview down over ``teardown_s``; until then
it is still listed. The project's service list pages at ``page_cap`` services (a fault:
several pages), with unrelated services around the preview's.

GET service of a preview's service carries basic-auth credentials in its port's
``security``, as the real answer may: a client must never print it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from .clock import iso

if TYPE_CHECKING:
    from .templates import SimTemplateRun

SECRET_PASSWORD = "nfsim-basic-auth-password-7d1f"


@dataclass
class Previews:
    """The blueprints and what their runs made."""

    blueprints: dict[str, set[str]] = field(
        default_factory=lambda: {"demo-project": {"demo-preview"}}
    )
    dns_after_s: float | None = 1.0
    teardown_s: float = 2.0
    page_cap: int = 100
    unrelated: int = 3  # other services of the project, listed around the preview's
    deleted: dict[tuple[str, str, str], float] = field(default_factory=dict)  # -> when (mono)

    def known(self, project: str, blueprint: str) -> str | None:
        if blueprint in self.blueprints.get(project, set()):
            return None
        return f"Preview blueprint {blueprint} not found"

    def made(self, runs: list[SimTemplateRun], project: str, blueprint: str, now: float) -> dict[str, float]:  # fmt: skip
        """Each preview that exists now, by name: when its latest successful run concluded
        (a deletion after it, once its teardown is over, removes it)."""
        found: dict[str, float] = {}
        for run in runs:
            if (run.project, run.flow, run.resource) != (project, "preview-blueprint", blueprint):
                continue
            status, concluded, at = run.status(now)
            name = run.body.get("name")
            if concluded and status == "success" and isinstance(name, str) and at is not None:
                found[name] = max(found.get(name, at), at)
        for name, ended in list(found.items()):
            gone = self.deleted.get((project, blueprint, name))
            if gone is not None and gone >= ended and now >= gone + self.teardown_s:
                del found[name]
        return found

    def listed(self, runs: list[SimTemplateRun], project: str, blueprint: str, now: float, wall: float) -> list[dict[str, Any]]:  # fmt: skip
        return [
            {"id": name, "vcsData": {"repoUrl": "https://github.com/octo/app"}, "paused": False,
             "createdAt": iso(wall - (now - at)), "updatedAt": iso(wall - (now - at))}
            for name, at in sorted(self.made(runs, project, blueprint, now).items())
        ]  # fmt: skip

    def services(self, runs: list[SimTemplateRun], project: str, now: float) -> list[dict[str, Any]]:  # fmt: skip
        """The project's services as the list shows them: the previews' and some others."""
        out = [{"id": f"unrelated-{n}", "name": f"unrelated-{n}", "tags": ["team-a"]}
               for n in range(self.unrelated)]  # fmt: skip
        for blueprint in sorted(self.blueprints.get(project, set())):
            for name in sorted(self.made(runs, project, blueprint, now)):
                for part in ("web", "worker"):
                    out.append({"id": f"{name}-{part}", "name": f"{name}-{part}", "tags": [name]})
        return sorted(out, key=lambda s: s["id"])

    def service(self, runs: list[SimTemplateRun], project: str, service_id: str, now: float) -> dict[str, Any] | None:  # fmt: skip
        """GET service of a preview's service; None when it is not one."""
        for blueprint in sorted(self.blueprints.get(project, set())):
            for name, at in self.made(runs, project, blueprint, now).items():
                if service_id == f"{name}-worker":
                    return {"id": service_id, "name": service_id, "tags": [name], "ports": [
                        {"id": "p-1", "name": "queue", "internalPort": 5672, "protocol": "TCP", "public": False}
                    ]}  # fmt: skip
                if service_id == f"{name}-web":
                    port: dict[str, Any] = {
                        "id": "p-1", "name": "http", "internalPort": 8080, "protocol": "HTTP",
                        "public": True, "domains": [],
                        "security": {"credentials": [
                            {"username": "reviewer", "password": SECRET_PASSWORD, "type": "basic-auth"}
                        ]},
                    }  # fmt: skip
                    ready = self.dns_after_s is not None and now >= at + self.dns_after_s
                    if ready:
                        port["dns"] = f"p01--{service_id}--{project}--sim.code.run"
                    return {"id": service_id, "name": service_id, "tags": [name], "ports": [port]}
        return None

    def page(self, items: list[dict[str, Any]], query: str) -> dict[str, Any]:
        params = parse_qs(query)
        per_page = max(1, min(self.page_cap, int(params.get("per_page", ["50"])[0] or 50)))
        offset = int(params.get("cursor", ["0"])[0] or 0)
        page = items[offset : offset + per_page]
        more = len(items) > offset + per_page
        pagination: dict[str, Any] = {"hasNextPage": more, "count": len(page)}
        if more:
            pagination["cursor"] = f"{offset + per_page:024d}"
        return {"pagination": pagination, "page": page}
