"""What a build is of: a job or a service, in a project."""

from __future__ import annotations

from dataclasses import dataclass

from northflank_build.api.bodies import BuildKind
from northflank_build.api.wire import segment


def project_path(project_id: str, team_id: str | None) -> str:
    """Project routes; organisation tokens need the team-prefixed form."""
    if team_id:
        return f"/v1/teams/{segment(team_id)}/projects/{segment(project_id)}"
    return f"/v1/projects/{segment(project_id)}"


@dataclass(frozen=True)
class BuildTarget:
    kind: BuildKind
    id: str

    @property
    def segment(self) -> str:
        return f"{self.kind}s/{segment(self.id)}"

    @property
    def label(self) -> str:
        return f"{self.kind} {self.id!r}"

    @property
    def area(self) -> str:
        """The permission area: Project > Jobs > ... or Project > Services > ..."""
        return "Jobs" if self.kind == "job" else "Services"
