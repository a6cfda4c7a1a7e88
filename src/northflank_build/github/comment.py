"""One comment per pull request and ``comment-header``, updated in place
(../shared/reference/github-rest.md, section 8): found by a hidden marker among all pages
of the pull request's comments, and only among those of the token's own user; when two runs
race and both create one, the oldest is kept and the others deleted. GitHubTrouble on any
trouble (github/surfaces.py turns it into a warning)."""

from __future__ import annotations

import hashlib
from typing import Any

from northflank_build.github.ending import comment_body
from northflank_build.github.rest import GitHubApi, GitHubTrouble

BOT = "github-actions[bot]"


class StickyComment:
    def __init__(self, api: GitHubApi, number: int, header: str) -> None:
        self.api, self.header = api, header
        self.path = api.repo(f"/issues/{number}/comments")
        self.marker = (
            f"<!-- northflank-build: {hashlib.sha256(header.encode()).hexdigest()[:16]} -->"
        )
        self.url = ""  # the comment's html_url, once written or found

    def write(self, text: str) -> None:
        """The comment with ``text``: the one found updated, else one created."""
        body = comment_body(text, self.header, self.marker)
        author = self._author()
        mine = self._ours(author)
        if mine:
            self._update(mine[0], body)
            return
        data, _resp = self.api.call("create the comment", "POST", self.path, {"body": body})
        self.url = _html_url(data)
        mine = self._ours(author)
        # Two runs may both have created one: the oldest is kept, the others deleted.
        for extra in mine[1:]:
            self._delete(extra)
        if mine:
            self._update(mine[0], body)

    def _author(self) -> str:
        """Whose comments are ours: the token's user (a personal token), else the bot that
        GITHUB_TOKEN writes as (GET /user is refused to it)."""
        try:
            data, _resp = self.api.call("read the token's user", "GET", "/user")
        except GitHubTrouble:
            return BOT
        login = data.get("login") if isinstance(data, dict) else None
        return login if isinstance(login, str) else BOT

    def _ours(self, author: str) -> list[dict[str, Any]]:
        comments = self.api.pages("list the pull request's comments", self.path)
        found = [
            c
            for c in comments
            if isinstance(c, dict)
            and isinstance(c.get("id"), int)
            and self.marker in str(c.get("body", ""))
            and isinstance(c.get("user"), dict)
            and c["user"].get("login") == author
        ]
        return sorted(found, key=lambda c: int(c["id"]))

    def _update(self, comment: dict[str, Any], body: str) -> None:
        self.url = _html_url(comment) or self.url
        if comment.get("body") == body:
            return
        data, _resp = self.api.call(
            "update the comment",
            "PATCH",
            self.api.repo(f"/issues/comments/{comment['id']}"),
            {"body": body},
        )
        self.url = _html_url(data) or self.url

    def _delete(self, comment: dict[str, Any]) -> None:
        try:
            self.api.call(
                "delete a duplicate comment",
                "DELETE",
                self.api.repo(f"/issues/comments/{comment['id']}"),
            )
        except GitHubTrouble as exc:
            if exc.status != 404:  # another run deleted it first
                raise


def _html_url(data: Any) -> str:
    url = data.get("html_url") if isinstance(data, dict) else None
    return url if isinstance(url, str) and url.startswith("https://") else ""
