"""Invalid inputs: each problem names the input, what is wrong and what is allowed, and
never repeats a secret value. All are reported together; nothing has been sent."""

from __future__ import annotations


class InputProblem:
    """One invalid input: its name and what is wrong and allowed (never the secret value).

    ``message`` is worded for any front end; where the fix is to supply a secret from the
    environment, ``secret`` names the variable, and each front end says how in its own words
    (wording.py: Vocabulary.provide): a workflow's ``secrets``, or an ``export``."""

    __slots__ = ("message", "name", "secret")

    def __init__(self, name: str, message: str, *, secret: str = "") -> None:
        self.name = name
        self.message = message
        self.secret = secret

    def __str__(self) -> str:
        return f"{self.name}: {self.message}"

    def __repr__(self) -> str:
        return f"InputProblem({self.name!r}, {self.message!r})"


class InvalidInputs(Exception):
    """One or more inputs are invalid; nothing has been sent."""

    def __init__(self, problems: list[InputProblem]) -> None:
        self.problems = problems
        names = ", ".join(dict.fromkeys(p.name for p in problems))
        self.message = f"{len(problems)} invalid input(s): {names}. Nothing was sent."
        super().__init__(self.message)
