"""The GitHub-facing edge: inputs, masks, log lines, outputs, state, annotations, summary.

Workflow commands are written here, in the form GitHub's own toolkit writes them
(``::add-mask::value``, ``::error title=T::message``; @actions/core's command.ts):
github-action-utils 2.0.0 writes ``::add-mask ::value``, with a space that GitHub's runner
accepts but act, Gitea and Forgejo runners do not, so they print the secret instead.
File commands go through github-action-utils, which writes them with a random heredoc
delimiter (no value can inject another output). Plain log lines pass through ``say``, so
text from Northflank cannot act as a command. Nothing written here may raise: a runner file
that cannot be written is reported as a runner problem, once.
"""

from __future__ import annotations

import os
import re
import sys
import uuid
from pathlib import Path

import github_action_utils as gha

LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029\x0b\x0c\x85]+")


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def write_line(line: str) -> None:
    """One line to the step log as UTF-8, whatever stdout's encoding; never raises."""
    data = (line + "\n").encode("utf-8", errors="replace")
    try:
        sys.stdout.flush()
        buffer = getattr(sys.stdout, "buffer", None)
        if buffer is not None:
            buffer.write(data)
        else:
            sys.stdout.write(data.decode("utf-8"))
        sys.stdout.flush()
    except (OSError, ValueError):
        pass  # a closed stdout: nothing else can be told


def command(name: str, message: str = "", **properties: str | None) -> None:
    """A workflow command in the standard form: ``::name k=v,k=v::message``."""
    props = ",".join(
        f"{key}={_escape_property(value)}" for key, value in properties.items() if value
    )
    write_line(
        f"::{name} {props}::{_escape_data(message)}"
        if props
        else f"::{name}::{_escape_data(message)}"
    )


def error(message: str, title: str | None = None) -> None:
    command("error", message, title=title)


def warning(message: str, title: str | None = None) -> None:
    command("warning", message, title=title)


class RunnerFiles:
    """The runner's file commands; the first one that cannot be written is remembered."""

    problem: str | None = None

    @classmethod
    def write(cls, variable: str, name: str, value: str) -> None:
        if not os.environ.get(variable):
            return
        value = value.encode("utf-8", errors="replace").decode("utf-8")
        try:
            if variable == "GITHUB_OUTPUT":
                gha.set_output(name, value)
            elif variable == "GITHUB_STATE":
                gha.save_state(name, value)
            else:
                gha.append_job_summary(value)
        except OSError as exc:
            if cls.problem is None:
                cls.problem = (
                    f"The runner's {variable} file ({os.environ.get(variable)}) cannot be "
                    f"written: {exc.strerror or exc}. This is a problem of the runner or the "
                    "job's container, not of Northflank or the inputs."
                )
                error(cls.problem, title="Runner problem")


def set_output(name: str, value: str) -> None:
    RunnerFiles.write("GITHUB_OUTPUT", name, value)


def save_state(name: str, value: str) -> None:
    RunnerFiles.write("GITHUB_STATE", name, value)


def inert(text: str) -> str:
    """One log line that the runner will not read as a workflow command.

    The runner splits on CR and LF and runs a line that starts with ``::`` (after
    whitespace) or contains ``##[`` anywhere.
    """
    line = LINE_BREAKS.sub(" ", text).replace("##[", "## [")
    return "> " + line if line.lstrip().startswith("::") else line


def say(text: str) -> None:
    write_line(inert(text))


def get_input(name: str) -> str | None:
    return gha.get_user_input(name)


def mask(value: str) -> None:
    if value.strip():
        command("add-mask", value)


def workspace() -> Path:
    return Path(os.environ.get("GITHUB_WORKSPACE") or os.getcwd())


def debug_enabled() -> bool:
    return os.environ.get("RUNNER_DEBUG") == "1"


class StopCommands:
    """While build-log text is being shown, the runner runs no workflow commands at all.

    The token is random, so no log line can end the pause; our own commands resume first.
    """

    token: str | None = None

    @classmethod
    def pause(cls) -> None:
        if cls.token is None:
            cls.token = f"nf-log-{uuid.uuid4().hex}"
            command("stop-commands", cls.token)

    @classmethod
    def resume(cls) -> None:
        if cls.token is not None:
            write_line(f"::{cls.token}::")
            cls.token = None


def debug(message: str) -> None:
    if debug_enabled():
        StopCommands.resume()
        command("debug", inert(message))
