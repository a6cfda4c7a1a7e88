"""The runner's parser for GITHUB_OUTPUT / GITHUB_ENV / GITHUB_STATE (contract §4.2)."""

from __future__ import annotations


class FileCommandError(ValueError):
    pass


def parse_file_command(text: str) -> list[tuple[str, str]]:
    """Records in file order. Splits on LF only, so a CR stays in the value, as on Linux."""
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.split("\n")
    ends_with_newline = text.endswith("\n")
    if ends_with_newline:
        lines.pop()
    records: list[tuple[str, str]] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if line == "":
            continue
        eq, hd = line.find("="), line.find("<<")
        if eq >= 0 and (hd < 0 or eq < hd):
            records.append((line[:eq], line[eq + 1 :]))
            continue
        if hd < 0:
            raise FileCommandError(f"Invalid format '{line}'")
        key, delimiter = line[:hd], line[hd + 2 :]
        if not key or not delimiter:
            raise FileCommandError(
                f"Invalid format '{line}'. Name must not be empty and delimiter must not be empty"
            )
        values: list[str] = []
        while True:
            if i >= len(lines):
                if ends_with_newline or not values:
                    raise FileCommandError(
                        f"Invalid value. Matching delimiter not found '{delimiter}'"
                    )
                raise FileCommandError("Invalid value. EOF marker missing new line.")
            candidate = lines[i]
            i += 1
            if candidate == delimiter:
                break
            values.append(candidate)
        records.append((key, "\n".join(values)))
    return records
