"""Every kind of operation the package declares, by name: the post step finds a recorded
operation's kind here, and the outputs list the outputs of each (engine/outputs.py)."""

from __future__ import annotations

from northflank_build.engine.builds import BUILD
from northflank_build.engine.jobrun import JOB_RUN
from northflank_build.engine.kind import Kind
from northflank_build.engine.preview import PREVIEW_RUN
from northflank_build.engine.rollout import ROLLOUT
from northflank_build.engine.templaterun import RELEASE_FLOW_RUN, WORKFLOW_RUN

# Kinds reported as operations of their own (builds and rollouts have their own reports).
REPORTED: tuple[Kind, ...] = (JOB_RUN, RELEASE_FLOW_RUN, WORKFLOW_RUN, PREVIEW_RUN)
BY_NAME: dict[str, Kind] = {kind.name: kind for kind in (BUILD, ROLLOUT, *REPORTED)}
