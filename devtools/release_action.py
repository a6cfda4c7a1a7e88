"""Point action.yml at a prebuilt image: ``make release-action IMAGE=<ref>``.

Rewrites the one line ``  image: "Dockerfile"`` under ``runs:`` to ``  image:
"docker://<ref>"`` and leaves every other byte of action.yml as it is: inputs, defaults,
descriptions, outputs and ``post-entrypoint`` stay (GitHub runs ``pre-``/``post-entrypoint``
with ``docker://`` images too; super-linter's action.yml is released the same way). The
release workflow (.github/workflows/release.yml) runs it with the pushed image's digest on a
release commit; main keeps building from the Dockerfile.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

# registry/name[/more]@sha256:<64 hex>  or  registry/name[/more]:<tag>
_REGISTRY = (
    r"(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*(?::[0-9]{1,5})?"
)
_PATH = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
REF = re.compile(
    rf"^{_REGISTRY}/{_PATH}(?:@sha256:[0-9a-f]{{64}}|:[A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}})$"
)
# The image line directly under runs: as action.yml writes it (two spaces, a quoted value).
_IMAGE_LINE = re.compile(r'^(  image: )"[^"\n]*"[ \t]*$', re.MULTILINE)


class RefusedRef(ValueError):
    pass


def check_ref(ref: str) -> str:
    if not REF.fullmatch(ref):
        raise RefusedRef(
            f"{ref!r} is not an image reference this can pin: give registry/name@sha256:<64 hex> "
            "(preferred: a digest cannot move) or registry/name:<tag>, e.g. "
            "ghcr.io/octo-org/northflank-build@sha256:" + "0" * 64 + "."
        )
    return ref


def rewrite(text: str, ref: str) -> str:
    """action.yml's text with runs.image pointing at ``docker://<ref>``; nothing else changes."""
    check_ref(ref)
    runs = text.find("\nruns:\n")
    if runs < 0:
        raise ValueError("action.yml has no top-level runs: section")
    head, body = text[: runs + 7], text[runs + 7 :]
    end = re.search(r"^\S", body, re.MULTILINE)  # the next top-level key, if any
    section, rest = (body[: end.start()], body[end.start() :]) if end else (body, "")
    new, count = _IMAGE_LINE.subn(lambda m: f'{m.group(1)}"docker://{ref}"', section)
    if count != 1:
        raise ValueError(f'expected one `  image: "..."` line under runs:, found {count}')
    return head + new + rest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="release-action", description=__doc__.splitlines()[0])
    parser.add_argument("image", help="registry/name@sha256:<digest> or registry/name:<tag>")
    parser.add_argument("--file", default="action.yml", type=Path)
    args = parser.parse_args(argv)
    try:
        text = args.file.read_text(encoding="utf-8")
        args.file.write_text(rewrite(text, args.image), encoding="utf-8")
    except (RefusedRef, ValueError, OSError) as exc:
        print(f"release-action: {exc}", file=sys.stderr)
        return 2
    print(f"{args.file}: runs.image is now docker://{args.image}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
