"""The GitHub client of the pull request's surfaces, alone on a mock transport: the token
goes to GITHUB_API_URL's origin only, redirects are not followed, waits stay in a small
budget and inside the step's deadline."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from northflank_build.github import rest
from northflank_build.github.rest import GitHubApi, GitHubTrouble
from virtual_clock import VirtualClock


def api(handler: object, url: str = "https://api.github.test", deadline: float = 60) -> GitHubApi:
    transport = httpx.MockTransport(handler)  # type: ignore[arg-type]
    return GitHubApi(url, "ghs-token", "octo/app", VirtualClock(), deadline, transport)


def test_plain_http_is_refused_unless_loopback() -> None:
    with pytest.raises(GitHubTrouble, match="is not https"):
        api(lambda r: httpx.Response(200), "http://github.example/api/v3")
    api(lambda r: httpx.Response(200), "http://127.0.0.1:8080").close()


def test_a_redirect_is_not_followed() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(302, headers={"location": "https://elsewhere.example/x"})

    with pytest.raises(GitHubTrouble) as caught:
        api(handler).call("read", "GET", "/repos/octo/app")
    assert caught.value.status == 302
    assert [r.url.host for r in seen] == ["api.github.test"]


def test_a_page_link_to_another_origin_is_not_followed() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=[{"id": 1}],
                              headers={"link": '<https://elsewhere.example/p2>; rel="next"'})  # fmt: skip

    with pytest.raises(GitHubTrouble, match="leaves GITHUB_API_URL"):
        api(handler).pages("list", "/repos/octo/app/issues/1/comments")


def test_a_long_retry_after_is_not_waited_for() -> None:
    clock = VirtualClock()
    handler = httpx.MockTransport(
        lambda r: httpx.Response(
            403, json={"message": "secondary rate limit"}, headers={"retry-after": "30"}
        )
    )
    client = GitHubApi("https://api.github.test", "ghs-token", "octo/app", clock, 60, handler)  # fmt: skip
    with pytest.raises(GitHubTrouble) as caught:
        client.call("create", "POST", "/repos/octo/app/deployments", {"ref": "x"})
    assert caught.value.status == 403
    assert clock.sleeps == [], "past the budget: no wait, a warning instead"


def test_the_deadline_bounds_every_request() -> None:
    client = api(lambda r: httpx.Response(200, json={}), deadline=0.2)
    with pytest.raises(GitHubTrouble, match="time ran out"):
        client.call("read", "GET", "/repos/octo/app")


def test_the_token_is_sent_as_bearer_with_github_s_headers() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={})

    api(handler).call("read", "GET", "/repos/octo/app")
    headers = seen[0].headers
    assert headers["authorization"] == "Bearer ghs-token"
    assert headers["x-github-api-version"] == "2022-11-28"
    assert headers["accept"] == "application/vnd.github+json"
    assert headers["user-agent"].startswith("northflank-build/")


def test_after_a_rate_limit_not_waited_out_nothing_goes_out_before_its_time() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(429, json={"message": "slow down"}, headers={"retry-after": "30"})

    client = api(handler)
    with pytest.raises(GitHubTrouble):
        client.call("create", "POST", "/repos/octo/app/deployments", {"ref": "x"})
    with pytest.raises(GitHubTrouble, match="rate limit"):
        client.call("list", "GET", "/repos/octo/app/deployments")
    assert len(seen) == 1


def test_after_github_did_not_answer_it_is_not_asked_again() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        raise httpx.ReadTimeout("no answer", request=request)

    client = api(handler)
    with pytest.raises(GitHubTrouble) as first:
        client.call("create the deployment", "POST", "/repos/octo/app/deployments", {"ref": "x"})
    assert first.value.status == 0
    assert len(seen) == 2, "tried again once"
    with pytest.raises(GitHubTrouble, match="did not answer earlier"):
        client.call("create the comment", "POST", "/repos/octo/app/issues/1/comments", {})
    assert len(seen) == 2, "nothing more waits on a GitHub that does not answer"


class _Drip(httpx.SyncByteStream):
    """An answer that never ends: a byte every 50 ms (for 2 s at most)."""

    def __iter__(self) -> Iterator[bytes]:
        for _ in range(40):
            time.sleep(0.05)
            yield b" "


def test_an_answer_that_drips_is_cut_at_the_request_s_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(rest, "REQUEST_S", 0.2)
    client = api(lambda r: httpx.Response(200, stream=_Drip()))
    began = time.monotonic()
    with pytest.raises(GitHubTrouble) as caught:
        client.call("read", "GET", "/repos/octo/app")
    assert caught.value.status == 0
    assert "RequestTookTooLong" in caught.value.message
    assert time.monotonic() - began < 1.5, "two tries of 0.2 s, not the drip's 2 s each"


def test_an_answer_too_large_is_not_read_to_its_end() -> None:
    big = b"[" + b'"x",' * (3 * 1024 * 1024) + b'"x"]'
    client = api(lambda r: httpx.Response(200, content=big))
    with pytest.raises(GitHubTrouble) as caught:
        client.call("list", "GET", "/repos/octo/app/issues/1/comments")
    assert "BodyTooLarge" in caught.value.message


@pytest.mark.parametrize(
    "copy",
    [
        "devtools/schemas/github-rest-schemas.json",
        "devtools/nfsim/schemas/northflank-request-schemas.json",
        "devtools/nfsim/schemas/northflank-deploy-schemas.json",
    ],
)
def test_the_simulators_schemas_are_the_references(copy: str) -> None:
    """The simulators validate against copies (a clone alone runs the tests); beside
    ../shared, each copy must be the reference it was taken from."""
    root = Path(__file__).resolve().parent.parent
    reference = root.parent / "shared" / "reference" / Path(copy).name
    if not reference.exists():
        pytest.skip(f"{reference} is not beside this clone")
    assert (root / copy).read_bytes() == reference.read_bytes()
