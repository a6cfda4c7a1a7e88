"""Run a ``using: docker`` action the way GitHub's runner does, without Docker.

Follows ../shared/reference/runner-contract.md §8: inputs become ``INPUT_<NAME>`` with
hyphens kept and action.yml defaults filled in (``required`` is not enforced); the file
command files are created empty and parsed afterwards with the runner's rules; stdout and
stderr go through one workflow-command processor (masks, annotations, groups,
stop-commands); cancellation follows SIGINT, 7.5 s, SIGTERM, 2.5 s, kill, delivering a
signal only if the process handles it (PID 1 semantics). The image is stood in for by this
Python: the Dockerfile's ``python`` entrypoint maps to ``sys.executable``.
"""

from .commands import CommandProcessor
from .filecommands import FileCommandError, parse_file_command
from .runner import StepResult, run_action

__all__ = ["CommandProcessor", "FileCommandError", "StepResult", "parse_file_command", "run_action"]
