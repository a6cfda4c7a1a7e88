"""Failures in the words of a front end: a title, what happened, and what to do about it.

The API layer and the engine state facts (api/errors.py, engine/report.py); ``describe``
turns one into words with a ``Vocabulary``: the action names its inputs (``project-id``,
the secret passed as ``api-token``), the CLI its flags (``--project-id``,
``$NORTHFLANK_API_TOKEN``). The one place to change what a failure says.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import assert_never

from northflank_build.api.errors import (
    ApiError,
    AuthenticationFailed,
    Conflict,
    CreateOutcomeUnknown,
    DeadlineReached,
    MalformedResponse,
    NorthflankError,
    NotFound,
    PermissionDenied,
    RateLimited,
    ServerError,
    TransportFailure,
)
from northflank_build.engine.outcome import (
    BuildFailed,
    Failure,
    InternalError,
    OperationFailed,
    RolloutFailed,
    StartUnknown,
    TimedOut,
    Unusable,
)
from northflank_build.inputs.declared import BY_NAME, INPUT_NAMES, INPUTS
from northflank_build.inputs.problems import InputProblem


@dataclass(frozen=True)
class Vocabulary:
    """How a front end names what the user can change."""

    name: Callable[[str], str]  # an input's name: "project-id" or "--project-id"
    setting: Callable[[str, str], str]  # an input set to a value: "if-exists: use"
    token: str  # where the token comes from
    post_step: bool  # a post step looks again for what a cut-off run left behind
    log: str  # where the build log was shown
    again: str  # how to try once more
    me: str  # the program, in a sentence
    provide: Callable[[str, str], str]  # how to supply a secret: (input, variable) -> advice
    build_link: str  # where the build's dashboard link is
    report_bug: str  # how to report a bug of ours

    def rename(self, text: str) -> str:
        """``text`` with every input name said this front end's way, and a setting written
        ``name: value`` (``wait: false``) as this front end sets it (``--no-wait``)."""
        text = _SETTING.sub(lambda m: self.setting(m.group(1), m.group(2)), text)
        return _INPUT_NAME.sub(lambda m: self.name(m.group(0)), text)

    def problem(self, problem: InputProblem) -> str:
        """An invalid input's message in this front end's words, with how to fix it."""
        said = self.rename(problem.message)
        if problem.name in _LINE_PER_FLAG and self.name is not _same:
            # A line of a multi-line input is one use of a repeated flag in the CLI.
            flag = self.name(problem.name)
            said = _LINE.sub(lambda m: f"the {_ordinal(int(m.group(1)))} {flag}", said)
        return f"{said} {self.provide(problem.name, problem.secret)}" if problem.secret else said


_INPUT_NAME = re.compile(
    r"(?<![\w-])("
    + "|".join(sorted(map(re.escape, INPUT_NAMES), key=len, reverse=True))
    + r")(?![\w-])"
)


# The settings a message may name with their value ("wait: false", "reuse: never").
_SETTING = re.compile(
    r"(?<![\w-])(wait|abort-on-cancel|show-logs|dry-run|if-exists|reuse): "
    r"(true|false|never|succeeded|any|use|fail|update)(?![\w-])"
)


# Multi-line inputs whose lines are a repeated flag's uses in the CLI ("line 2" of
# build-arguments is the 2nd --build-arg).
_LINE_PER_FLAG = {d.name for d in INPUTS if d.how == "repeat" and d.whole}
_LINE = re.compile(r"(?<!its )\bline (\d+)\b")  # not "its line 3" of a JSON value


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _same(name: str) -> str:
    return name


def _flag(name: str) -> str:
    """How the CLI gives an input (inputs/declared.py): "--build-arg", "$NORTHFLANK_API_TOKEN"."""
    declared = BY_NAME.get(name)
    return declared.cli if declared is not None and declared.cli else "--" + name


def _cli_setting(name: str, value: str) -> str:
    declared = BY_NAME.get(name)
    if declared is not None and declared.how == "off" and value == "false":
        return declared.cli  # --no-wait
    return f"{_flag(name)} {value}"


ACTION = Vocabulary(
    name=_same,
    setting=lambda name, value: f"{name}: {value}",
    token="store it in the secret passed as api-token",  # noqa: S106 - words, not a token
    post_step=True,
    log="in the job summary and in its log group above",
    again="re-run the job",
    me="this action",
    build_link="the build's link is in the job summary",
    report_bug="Please report this with the step log (re-run with debug logging for details).",
    provide=lambda name, var: (
        f"Pass it from a secret: {name}: ${{{{ secrets.{var} }}}}"
        if name == "api-token"
        else f"Add it to the step's env: (e.g. {var}: ${{{{ secrets.{var} }}}})."
    ),
)
CLI = Vocabulary(
    name=_flag,
    setting=_cli_setting,
    token="export it as NORTHFLANK_API_TOKEN",  # noqa: S106 - words, not a token
    post_step=False,
    log="above",
    again="run it again",
    me="northflank-build",
    build_link="its URL is build-url in --json",
    report_bug="Please report this with the command's output.",
    provide=lambda _name, var: f"Export {var} (from your CI's secret store) before running it.",
)


@dataclass(frozen=True)
class Worded:
    title: str
    message: str
    fix: str = ""

    def explain(self) -> str:
        """The message and the fix, each a sentence of its own."""
        message = self.message.rstrip()
        if message and self.fix and message[-1] not in ".!?":
            message += "."
        return f"{message} {self.fix}".strip()


def describe(failure: Failure, words: Vocabulary) -> Worded:
    """A failure in a front end's words. Exhaustive: a new kind of failure that is not
    worded here fails type checking (assert_never), not a run."""
    match failure:
        case NorthflankError():
            return _api(failure, words)
        case BuildFailed():
            return _build_failed(failure, words)
        case RolloutFailed():
            return Worded(
                "Northflank rollout failed",
                f"The rollout of the build ({failure.sha[:12] or 'its commit'}) to service "
                f"{failure.service_id!r} ended with status {failure.status or 'unknown'}.",
                "Open the service on Northflank to see its deployment and its containers' logs.",
            )
        case OperationFailed():
            cause = f" Northflank said: {failure.cause}" if failure.cause else ""
            return Worded(
                f"Northflank {failure.noun} failed",
                f"{failure.subject} concluded with status {failure.status or 'unknown'}.{cause}",
                f"Its last log lines are {words.log}." if failure.log_shown else failure.look,
            )
        case TimedOut():
            return _timed_out(failure, words)
        case Unusable():
            return _unusable(failure, words)
        case StartUnknown():
            return _unclaimed(failure) if failure.candidates else _start_unknown(failure, words)
        case InternalError():
            return Worded(
                f"Internal error in {words.me}",
                f"Internal error: {failure.kind}: {failure.text}",
                words.report_bug,
            )
        case _:
            assert_never(failure)


def _build_failed(failure: BuildFailed, words: Vocabulary) -> Worded:
    said = f" Northflank said: {failure.message}" if failure.message else ""
    return Worded(
        "Northflank build failed",
        f"Build {failure.build_id} of {failure.target.label} concluded with status "
        f"{failure.status or 'unknown'}.{said}",
        f"Its last log lines are {words.log}; the whole log is on Northflank ({words.build_link})."
        if failure.log_shown
        else f"Open the build on Northflank ({words.build_link}) to read its log.",
    )


def _timed_out(failure: TimedOut, words: Vocabulary) -> Worded:
    noun = failure.noun
    if not failure.ours:
        then = " It was left running: this step did not start it."
    elif not failure.abortable:
        then = f" A {noun} cannot be aborted: it goes on at Northflank."
    elif not failure.abort_on_cancel:
        then = f" The {noun} was left running ({words.setting('abort-on-cancel', 'false')})."
    elif failure.aborted:
        then = f" The {noun} was aborted."
    else:
        then = " Aborting it failed: it may still be running."
    return Worded(
        f"Timed out waiting for the Northflank {noun}",
        f"{failure.subject} had not concluded after {failure.timeout_s} s "
        f"({words.name('timeout-seconds')}); its last status was "
        f"{failure.status or 'unknown'}.",
        f"Raise {words.name('timeout-seconds')} if it takes longer.{then}",
    )


def _start_unknown(failure: StartUnknown, words: Vocabulary) -> Worded:
    again = (
        f"; the post step looks for it again and aborts it ({words.name('abort-on-cancel')})"
        if words.post_step
        else ""
    )
    noun = failure.noun
    return Worded(
        f"Northflank may have started a {noun}",
        f"{failure.cause.message} A {noun} of {failure.owner} may be running.",
        f"Look at its {noun}s on Northflank ({failure.where}){again}.",
    )


def _api(error: NorthflankError, words: Vocabulary) -> Worded:
    if isinstance(error, TransportFailure):
        return Worded("Cannot reach the Northflank API", error.message)
    if isinstance(error, MalformedResponse):
        fix = (
            f"If {words.name('api-url')} points at a proxy or the wrong host, correct it."
            if error.not_json
            else ""
        )
        return Worded("Unexpected response from Northflank", error.message, fix)
    if isinstance(error, DeadlineReached):
        return Worded("Timed out", f"{words.name('timeout-seconds')} ran out: {error.message}")
    if isinstance(error, CreateOutcomeUnknown):
        return Worded(
            "Northflank may have done what was asked",
            error.message,
            "Look on Northflank (the job's runs, the project's services) before trying again.",
        )
    assert isinstance(error, ApiError)
    return _answered(error, words)


def _answered(error: ApiError, words: Vocabulary) -> Worded:
    """An error answer of Northflank's, by its kind: what it said, and the fix."""
    said = f" Northflank said: {error.said}" if error.said else ""
    ref = f" (error id {error.error_id})" if error.error_id else ""
    if isinstance(error, RateLimited):
        why = (
            f"it was answered 429 {error.limited} times in a row, past {words.me}'s cap of "
            f"{error.max_times}"
            if error.limited > error.max_times
            else f"it asks to wait {error.asked_s:.0f} s, past {words.me}'s cap of "
            f"{error.max_wait_s:.0f} s"
        )
        return Worded(
            "Northflank rate limit",
            f"Northflank's rate limit was hit while trying to {error.operation}: {why}.",
            "The token's budget (about 1000 requests an hour) is shared by every workflow "
            f"using it: raise {words.name('poll-interval-seconds')}, use a separate token for "
            "CI, or ask Northflank support for a higher limit.",
        )
    text = f"{error.message}{said}{ref}" if error.status != 429 else f"{error.message}{said}"
    if isinstance(error, AuthenticationFailed):
        return Worded(
            "Northflank rejected the API token",
            text,
            "Create a new API token in Northflank (team settings > API > Tokens) and "
            f"{words.token}.",
        )
    if isinstance(error, PermissionDenied):
        newer = "Deploy Build" in error.permission
        project = f"project {error.resource.id!r}" if error.resource else "the project"
        return Worded(
            "The API token lacks a permission",
            text,
            f"Give the token's API role the permission {error.permission} on {project}"
            + (" (newer Northflank docs name it General > Update)." if newer else "."),
        )
    if isinstance(error, NotFound):
        return Worded("Not found on Northflank", text, _not_found_fix(error, words))
    if isinstance(error, Conflict):
        return Worded(
            "Build service already exists",
            f"{error.message[:-1]}, and {words.setting('if-exists', 'fail')}.{ref}",
            f"Set {words.setting('if-exists', 'use')} to build the existing service, "
            f"{words.setting('if-exists', 'update')} to apply the spec to it, or give the new "
            "service another name.",
        )
    if isinstance(error, ServerError):
        return Worded(
            "Northflank server error",
            text,
            f"This is usually temporary; {words.again}. If it persists, check Northflank's "
            "status page.",
        )
    return Worded("Northflank API error", text)


def _unusable(failure: Unusable, words: Vocabulary) -> Worded:
    """What an input names could not be read before anything started: the input is named."""
    api = _api(failure.error, words)
    setting = words.name(failure.setting)
    fix = (
        f"Check {setting}: each id as in its dashboard URL."
        if isinstance(failure.error, NotFound)
        else api.fix
    )
    return Worded(
        f"{api.title} ({setting})",
        f"{api.message.rstrip('.')}. {setting} names it; nothing was started.",
        fix,
    )


def _unclaimed(failure: StartUnknown) -> Worded:
    """A lost start with several candidates (api/adopt.py): none is ours, all are named."""
    return Worded(
        f"Northflank may have started a {failure.noun}: none claimed",
        f"{failure.cause.message} Candidates: {', '.join(failure.candidates)}.",
        f"Look at them on Northflank ({failure.where}) and abort the one this step "
        "may have started if it is not wanted; the action touched none of them.",
    )


def _not_found_fix(error: NotFound, words: Vocabulary) -> str:
    resource = error.resource
    if resource is None:
        return ""
    if resource.kind == "build":
        return "Check the build id (it is in the build's dashboard URL)."
    if resource.kind == "project":
        teams = (
            f" and {words.name('team-id')}."
            if resource.team_id
            else f"; organisation tokens also need {words.name('team-id')}."
        )
        return (
            f"Check {words.name('project-id')} (the project's id as in its dashboard URL) and "
            f"that the token's API role covers this project{teams}"
        )
    name = words.name(f"{resource.kind}-id")
    return f"Check {name}: the {resource.kind}'s id as in its dashboard URL."
