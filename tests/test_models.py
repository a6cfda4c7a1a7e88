from __future__ import annotations

import httpx
import pytest

from northflank_build.api.models import Build
from northflank_build.api.ratelimit import RateLimit, retry_after_seconds, server_time
from northflank_build.api.timestamps import format_timestamp, parse_timestamp
from virtual_clock import EPOCH


def test_build_tolerates_unknown_fields_and_statuses() -> None:
    build = Build.model_validate(
        {"id": "b-1", "status": "WARMING_UP", "concluded": False, "newField": {"x": 1}}
    )
    assert build.status == "WARMING_UP"
    assert not build.finished
    assert not build.succeeded


@pytest.mark.parametrize(
    ("data", "finished", "succeeded"),
    [
        ({"status": "SUCCESS", "concluded": True, "success": True}, True, True),
        ({"status": "SUCCESS", "concluded": True}, True, True),
        ({"status": "FAILURE", "concluded": True, "success": False}, True, False),
        ({"status": "CRASHED", "concluded": True}, True, False),
        ({"status": "SUCCESS"}, False, True),  # not concluded: not finished, whatever the status
    ],
)
def test_finished_comes_from_concluded(
    data: dict[str, object], finished: bool, succeeded: bool
) -> None:
    build = Build.model_validate({"id": "b", **data})
    assert (build.finished, build.succeeded) == (finished, succeeded)


def test_timestamps() -> None:
    build = Build.model_validate(
        {"id": "b", "createdAt": "2021-07-28T15:55:38.296Z", "buildConcludedAt": 1627487758.296}
    )
    assert format_timestamp(build.created_datetime()) == "2021-07-28T15:55:38.296Z"
    assert format_timestamp(build.concluded_datetime()) == "2021-07-28T15:55:58.296Z"
    assert parse_timestamp("not a date") is None
    assert parse_timestamp(None) is None


def test_rate_limit_pacing_spreads_the_rest_of_the_budget() -> None:
    plenty = RateLimit.from_headers(
        httpx.Headers(
            {
                "x-ratelimit-limit": "1000",
                "x-ratelimit-remaining": "500",
                "x-ratelimit-reset": "1800",
            }
        ),
        0.0,
        EPOCH,
    )
    assert plenty is not None
    assert plenty.pacing_delay(0.0) == 0.0
    low = RateLimit.from_headers(
        httpx.Headers(
            {
                "x-ratelimit-limit": "1000",
                "x-ratelimit-remaining": "50",
                "x-ratelimit-reset": "1000",
            }
        ),
        0.0,
        EPOCH,
    )
    assert low is not None
    assert low.pacing_delay(0.0) == pytest.approx(20.0)
    assert low.pacing_delay(500.0) == pytest.approx(10.0)  # the window is half over
    assert RateLimit.from_headers(httpx.Headers({}), 0.0, EPOCH) is None


def test_retry_after_forms() -> None:
    assert retry_after_seconds(httpx.Headers({"retry-after": "7"}), 0.0) == 7.0
    dated = httpx.Headers({"retry-after": "Wed, 21 Oct 2015 07:28:30 GMT"})
    assert retry_after_seconds(dated, 1445412500.0) == pytest.approx(10.0)
    assert retry_after_seconds(httpx.Headers({"x-ratelimit-reset": "42"}), 0.0) == 42.0
    assert retry_after_seconds(httpx.Headers({}), 0.0) is None
    # Nonsense asks for nothing usable: the client's floor applies (None), never a storm.
    for junk in ("nan", "-5", "inf", "soon", "1e400"):
        assert retry_after_seconds(httpx.Headers({"retry-after": junk}), 0.0) is None


def test_a_reset_given_as_an_epoch_time_is_read_as_one() -> None:
    # Relative or epoch is undocumented: 30 minutes from now, in both forms, and in ms.
    for reset in ("1800", str(int(EPOCH + 1800)), str(int((EPOCH + 1800) * 1000))):
        headers = httpx.Headers(
            {"x-ratelimit-limit": "1000", "x-ratelimit-remaining": "50", "x-ratelimit-reset": reset}
        )
        rate = RateLimit.from_headers(headers, 0.0, EPOCH)
        assert rate is not None
        assert rate.reset_seconds == pytest.approx(1800, abs=1)
        assert rate.pacing_delay(0.0) == pytest.approx(36, abs=1)
        assert retry_after_seconds(headers, EPOCH) == pytest.approx(1800, abs=1)
    assert server_time(httpx.Headers({"date": "Wed, 21 Oct 2015 07:28:00 GMT"})) == 1445412480.0


@pytest.mark.parametrize(
    ("port", "url"),
    [
        ({"dns": "p01--web--demo--abc.code.run"}, "https://p01--web--demo--abc.code.run"),
        ({"dns": "evil.test/@other.test"}, ""),
        ({"dns": "a.test\n::warning::x"}, ""),
        ({"dns": "a.test", "domains": [{"name": "x.test?y"}]}, "https://a.test"),
        ({"dns": "a.test", "domains": [{"name": "app.example.com"}]}, "https://app.example.com"),
    ],
)
def test_a_port_s_url_is_built_only_from_host_names(port: dict[str, object], url: str) -> None:
    # Northflank's answer is untrusted: only a host name becomes https://<host>.
    from northflank_build.api.models import Port

    parsed = Port.model_validate({"public": True, "protocol": "HTTP", **port})
    assert parsed.url() == url
