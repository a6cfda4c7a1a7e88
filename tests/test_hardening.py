"""Hostile conditions: each finding of the adversarial run, through the whole action (in
process, virtual time, the runner's view of what it printed and wrote), the post step or
the CLI. ``FINDINGS`` is the "Under hostile conditions" table of docs/faults.md
(``test_readme_hostile_table_matches_the_suite``)."""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

import states
from conftest import ROOT
from inproc import FakeNorthflank, Step, default_inputs, respond, run_step
from northflank_build.engine import logs as logs_module
from northflank_build.engine.cancel import CancelScope
from testdata import SHA, TOKEN
from virtual_clock import EPOCH, VirtualClock

Hook = Callable[[httpx.Request], httpx.Response | None]
LOOPBACK = "http://127.0.0.1:9"  # nothing listens: the log socket is refused at once


def setup(
    tmp: Path, duration: float = 30.0, outcome: str = "SUCCESS"
) -> tuple[VirtualClock, FakeNorthflank]:
    clock = VirtualClock(CancelScope())
    return clock, FakeNorthflank(clock, duration, outcome)


def inputs(**overrides: str | None) -> dict[str, str]:
    return default_inputs(**{"api_url": LOOPBACK, **overrides})


def clean_end(step: Step) -> None:
    """What every path must leave: every output, no traceback."""
    assert b"Traceback" not in step.raw
    assert {"build-id", "status", "success", "concluded", "build-url"} <= set(step.outputs)


def post_state(step: Step) -> dict[str, str]:
    return step.state


# -- 1. a cancel during the start request ---------------------------------------------------


def test_01_cancel_during_a_slow_start_ends_cleanly_and_the_post_step_aborts_the_build(
    tmp_path: Path,
) -> None:
    clock, nf = setup(tmp_path, duration=600)
    clock.cancel_at = 0.2

    def slow_start(request: httpx.Request) -> httpx.Response | None:
        nf.add_build("late-build")  # made at once, answered 6 s later
        clock.advance(6.0)  # the SIGINT arrives meanwhile (0.2 s in)
        time.sleep(0.3)
        return respond(nf.view(nf.builds[0]))

    nf.hooks["start"] = slow_start
    nf.hooks["list"] = lambda r: httpx.Response(200, json={"data": {"builds": []}})  # lags
    step = run_step(tmp_path, nf, inputs=inputs(), clock=clock)
    assert step.exit_code == 130
    clean_end(step)
    assert "may have started" in step.text
    assert "/jobs/demo-job/builds" in step.text
    assert len(states.unanswered(step.state)) == 1
    assert not step.calls("DELETE")
    # The post step finds what the cut-off request made and aborts it.
    del nf.hooks["list"]
    later = VirtualClock(CancelScope())
    later.now = clock.now + 2.0  # the same runner, moments later
    nf.clock = later
    post = run_step(tmp_path, nf, inputs=inputs(), state=step.state, post=True, clock=later)
    assert post.exit_code == 0
    assert b"Traceback" not in post.raw
    assert [r.method for r in post.requests] == ["GET", "GET", "DELETE"]
    assert nf.aborted == {"late-build"}


def test_01_cancel_while_a_429_on_the_start_is_waited_out_sends_nothing_more(
    tmp_path: Path,
) -> None:
    clock, nf = setup(tmp_path)
    clock.cancel_at = 5.0
    nf.hooks["start"] = lambda r: httpx.Response(
        429, text="slow down", headers={"retry-after": "30"}
    )
    step = run_step(tmp_path, nf, inputs=inputs(), clock=clock)
    assert step.exit_code == 130
    clean_end(step)
    # A 429 made nothing: no search, no abort, nothing left for the post step.
    assert [r.method for r in step.requests] == ["POST"]
    assert states.records(step.state) == []


# -- 2. an ambiguous start is never resent ---------------------------------------------------


def _drop_after_create(nf: FakeNorthflank) -> Callable[[httpx.Request], httpx.Response | None]:
    def start(request: httpx.Request) -> httpx.Response | None:
        nf.add_build(f"build-{len(nf.builds) + 1}")
        raise httpx.RemoteProtocolError("Server disconnected without sending a response.")

    return start


def test_02_a_lost_start_answer_whose_build_cannot_be_identified_is_not_resent(
    tmp_path: Path,
) -> None:
    clock, nf = setup(tmp_path)
    nf.hooks["start"] = _drop_after_create(nf)
    # The list's builds carry no createdAt (optional in the API's types): unplaceable.
    nf.hooks["list"] = lambda r: httpx.Response(
        200,
        json={"data": {"builds": [{"id": b.id, "sha": SHA} for b in nf.builds]}},
    )
    step = run_step(tmp_path, nf, inputs=inputs(), clock=clock)
    assert step.exit_code == 3
    clean_end(step)
    assert len(step.calls("POST")) == 1
    assert len(nf.builds) == 1
    error = step.errors()[0]
    assert "may have" in error.message
    assert "/jobs/demo-job/builds" in error.message
    assert len(states.unanswered(step.state)) == 1


def test_02_a_list_oldest_first_past_500_builds_is_not_a_reason_to_resend(tmp_path: Path) -> None:
    clock, nf = setup(tmp_path)
    for n in range(600):
        nf.add_build(f"old-{n}", createdAt="2020-01-01T00:00:00.000Z")
    nf.hooks["start"] = _drop_after_create(nf)

    def oldest_first(request: httpx.Request) -> httpx.Response:
        offset = int(request.url.params.get("cursor") or 0)
        page = [nf.view(b) for b in nf.builds[offset : offset + 100]]
        more = offset + 100 < len(nf.builds)
        pagination = {"hasNextPage": more, "cursor": f"{offset + 100:024d}" if more else None}
        return httpx.Response(200, json={"data": {"builds": page}, "pagination": pagination})

    nf.hooks["list"] = oldest_first
    step = run_step(tmp_path, nf, inputs=inputs(), clock=clock)
    assert step.exit_code == 3
    assert len(step.calls("POST")) == 1
    clean_end(step)


def test_02_created_at_as_an_epoch_number_is_read_not_refused(tmp_path: Path) -> None:
    clock, nf = setup(tmp_path)

    def epoch_created(request: httpx.Request) -> httpx.Response | None:
        build = nf.add_build("epoch-build", createdAt=EPOCH)
        return respond(nf.view(build))

    nf.hooks["start"] = epoch_created
    step = run_step(tmp_path, nf, inputs=inputs(), clock=clock)
    assert step.exit_code == 0
    assert len(step.calls("POST")) == 1
    assert step.outputs["created-at"].startswith("2026-")


# -- 3. a cancel while the HTTP log fallback retries or hangs ----------------------------------


@pytest.mark.parametrize("logs", ["503", "hang"])
def test_03_cancel_while_the_log_fallback_fails_or_hangs_aborts_first(
    tmp_path: Path, logs: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock, nf = setup(tmp_path, duration=600)
    # 503: the first log page is due at 0.25 s; the cancel comes while it is failing (before
    # this fix, during its retries). hang: the cancel comes while a page is out.
    clock.cancel_at = 0.5 if logs == "503" else 12.0
    release = threading.Event()

    def log_page(request: httpx.Request) -> httpx.Response:
        if logs == "hang":
            clock.advance(13.0)  # the cancel comes while this read is out
            release.wait(5.0)
        return httpx.Response(503, text="unavailable")

    nf.hooks["logs"] = log_page
    began = time.monotonic()
    try:
        step = run_step(tmp_path, nf, inputs=inputs(), clock=clock)
    finally:
        release.set()
    assert step.exit_code == 130
    clean_end(step)
    assert time.monotonic() - began < 3.0, "nothing after the cancel waited on the network"
    deletes = step.calls("DELETE")
    assert len(deletes) == 1, "the abort went last"
    assert step.requests[-1].method == "DELETE", "the abort went last"
    assert states.records(step.state) == []


# -- 4. text that cannot be printed, and an internal error after the start ---------------------


def test_04_a_lone_surrogate_in_log_lines_and_status_is_made_printable(tmp_path: Path) -> None:
    clock, nf = setup(tmp_path, duration=5)
    nf.log_lines = [{"ts": "2026-11-30T00:00:01.000Z", "log": "half an emoji: \ud83d end"}]
    step = run_step(tmp_path, nf, inputs=inputs(), clock=clock)
    assert step.exit_code == 0, step.text
    clean_end(step)
    assert "half an emoji: \ufffd end" in step.text
    assert step.outputs["build-id"] == "build-1"


def test_04_an_internal_error_after_the_start_aborts_and_keeps_the_outputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock, nf = setup(tmp_path, duration=600)

    def broken(self: object, build: object, elapsed: float) -> None:
        if elapsed >= 1:
            raise RuntimeError("a bug of ours")

    monkeypatch.setattr("northflank_build.github.events.OperationLog.status", broken)
    nf.hooks["get"] = lambda r: respond({**nf.view(nf.builds[0]), "status": "UPLOADING"})
    step = run_step(tmp_path, nf, inputs=inputs(), clock=clock)
    assert step.exit_code == 3
    clean_end(step)
    assert "Internal error: RuntimeError: a bug of ours" in step.errors()[0].message
    assert step.outputs["build-id"] == "build-1", "not overwritten with an empty value"
    assert len(step.calls("DELETE")) == 1
    assert nf.aborted == {"build-1"}


def test_04_a_surrogate_in_the_status_does_not_fail_the_post_step(tmp_path: Path) -> None:
    clock, nf = setup(tmp_path, duration=600)
    nf.add_build("build-1")
    nf.hooks["get"] = lambda r: httpx.Response(
        200,
        content=b'{"data": {"id": "build-1", "status": "BUILD\\ud83dING", "concluded": false}}',
        headers={"content-type": "application/json"},
    )
    post = run_step(
        tmp_path,
        nf,
        inputs=inputs(),
        state=states.state(states.build("build-1")),
        post=True,
        clock=clock,
    )
    assert post.exit_code == 0
    assert b"Traceback" not in post.raw
    assert "BUILD\ufffdING" in post.text
    assert nf.aborted == {"build-1"}


# -- 5. the post step in degraded moments ---------------------------------------------------------


def test_05_the_post_step_aborts_even_when_it_cannot_read_the_status(tmp_path: Path) -> None:
    clock, nf = setup(tmp_path, duration=600)
    nf.add_build("build-1")
    nf.hooks["get"] = lambda r: httpx.Response(500, text="oops")
    post = run_step(
        tmp_path,
        nf,
        inputs=inputs(),
        state=states.state(states.build("build-1")),
        post=True,
        clock=clock,
    )
    assert post.exit_code == 0
    assert b"Traceback" not in post.raw
    assert [r.method for r in post.requests][-1] == "DELETE"
    assert nf.aborted == {"build-1"}


@pytest.mark.parametrize("saved", ["build-1\nbuild-2", "x" * 70_000, "../../other"])
def test_05_a_strange_build_id_in_the_state_sends_nothing(tmp_path: Path, saved: str) -> None:
    clock, nf = setup(tmp_path)
    post = run_step(
        tmp_path,
        nf,
        inputs=inputs(),
        state=states.state(states.build(saved)),
        post=True,
        clock=clock,
    )
    assert post.exit_code == 0
    assert b"Traceback" not in post.raw
    assert post.requests == []


# -- 6. 429 storms and the deadline -------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"retry-after": "0"},
        {"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"},
        {"retry-after": "nan"},
        {"retry-after": "-5"},
        {"x-ratelimit-reset": "0"},
        {},
    ],
    ids=["retry-after 0", "past date", "nan", "-5", "reset 0", "no headers"],
)
def test_06_a_429_that_asks_for_no_wait_makes_no_storm_and_keeps_the_deadline(
    tmp_path: Path, headers: dict[str, str]
) -> None:
    clock, nf = setup(tmp_path, duration=600)
    nf.hooks["get"] = lambda r: httpx.Response(429, text="Too Many Requests", headers=headers)
    step = run_step(
        tmp_path, nf, inputs=inputs(timeout_seconds="5", show_logs="false"), clock=clock
    )
    clean_end(step)
    gets = step.calls("GET", "/build/")
    assert len(gets) <= 6, f"{len(gets)} status reads in 5 s"
    assert clock.now <= 8.0, "timeout-seconds bounds the waits"
    assert step.exit_code in (3, 4)
    assert len(step.calls("DELETE")) == 1


def test_06_a_start_answered_429_with_no_wait_is_not_resent_in_a_storm(tmp_path: Path) -> None:
    clock, nf = setup(tmp_path)
    nf.hooks["start"] = lambda r: httpx.Response(429, text="no", headers={"retry-after": "0"})
    step = run_step(tmp_path, nf, inputs=inputs(timeout_seconds="60"), clock=clock)
    clean_end(step)
    assert step.exit_code == 3
    assert len(step.calls("POST")) <= 9
    assert "429" in step.errors()[0].message or "rate limit" in step.errors()[0].message


# -- 7. after a 429, nothing goes out before the time asked ------------------------------------


@pytest.mark.parametrize("route", ["list", "get", "logs"])
def test_07_after_a_429_no_request_of_any_kind_goes_out_early(tmp_path: Path, route: str) -> None:
    # The 429 hits the forecast's list request, a status read or a log page; whichever it
    # is, the next request of any kind waits for the time asked.
    clock, nf = setup(tmp_path, duration=60)
    times: list[tuple[float, str]] = []
    limited: list[float] = []

    def record(name: str) -> Hook:
        def hook(request: httpx.Request) -> httpx.Response | None:
            times.append((clock.now, name))
            if name == route and not limited:
                limited.append(clock.now)
                return httpx.Response(429, text="no", headers={"retry-after": "10"})
            return None

        return hook

    nf.hooks.update({name: record(name) for name in ("get", "logs", "list")})
    step = run_step(tmp_path, nf, inputs=inputs(), clock=clock)
    assert step.exit_code == 0, step.text
    assert limited, "the 429 was served"
    after = [(t, name) for t, name in times if t >= limited[0]][1:]
    assert after, after
    assert all(t >= limited[0] + 10 for t, _ in after), after


def test_06_a_429_hold_past_the_deadline_before_the_wait_is_a_timeout(tmp_path: Path) -> None:
    # The forecast's list is answered 429 asking 100 s; the step has 50: the socket may not
    # open before the hold ends, which is past the deadline: timed out, the build aborted.
    clock, nf = setup(tmp_path, duration=600)
    nf.hooks["list"] = lambda r: httpx.Response(429, text="no", headers={"retry-after": "100"})
    step = run_step(tmp_path, nf, inputs=inputs(timeout_seconds="50"), clock=clock)
    clean_end(step)
    assert step.exit_code == 4
    assert len(step.calls("DELETE")) == 1
    assert clock.now < 50


# -- 8. x-ratelimit-reset as an epoch time ----------------------------------------------------


def rate_limited_reads(nf: FakeNorthflank, left_and_reset: Callable[[], tuple[str, str]]) -> Hook:
    """Status reads answered normally, with x-ratelimit-remaining and -reset as given."""

    def hook(request: httpx.Request) -> httpx.Response | None:
        build_id = request.url.path.rsplit("/", 1)[-1]
        view = nf.view(next(b for b in nf.builds if b.id == build_id))
        remaining, reset = left_and_reset()
        headers = {"x-ratelimit-limit": "1000", "x-ratelimit-remaining": remaining,
                   "x-ratelimit-reset": reset}  # fmt: skip
        return respond(view, headers=headers)

    return hook


def test_08_a_reset_given_as_an_epoch_time_does_not_stop_polling(tmp_path: Path) -> None:
    clock, nf = setup(tmp_path, duration=30)
    nf.hooks["get"] = rate_limited_reads(nf, lambda: ("50", str(int(clock.wall() + 1800))))
    step = run_step(
        tmp_path, nf, inputs=inputs(timeout_seconds="120", show_logs="false"), clock=clock
    )
    assert step.exit_code == 0, step.text
    assert step.outputs["success"] == "true"
    assert not step.calls("DELETE")


def test_08_pacing_never_pushes_the_last_check_past_the_deadline(tmp_path: Path) -> None:
    clock, nf = setup(tmp_path, duration=30)
    # Two requests left for a whole hour: pacing would say 1800 s between checks.
    nf.hooks["get"] = rate_limited_reads(nf, lambda: ("2", "3600"))
    step = run_step(
        tmp_path, nf, inputs=inputs(timeout_seconds="60", show_logs="false"), clock=clock
    )
    assert step.exit_code == 0, "checked before the deadline, and it had succeeded"
    assert not step.calls("DELETE")


# -- 9. slow answers and hanging endpoints -----------------------------------------------------


def test_09_a_hanging_status_read_does_not_hold_the_step_past_its_deadline(tmp_path: Path) -> None:
    clock, nf = setup(tmp_path, duration=600)
    release = threading.Event()

    def hang(request: httpx.Request) -> httpx.Response:
        clock.advance(60.0)  # virtual time goes on while this never answers
        release.wait(30)
        return httpx.Response(503)

    nf.hooks["get"] = hang
    began = time.monotonic()
    try:
        step = run_step(
            tmp_path, nf, inputs=inputs(timeout_seconds="2", show_logs="false"), clock=clock
        )
    finally:
        release.set()
    assert step.exit_code == 4
    assert len(step.calls("DELETE")) == 1
    assert time.monotonic() - began < 5.0


def test_09_a_hanging_log_endpoint_does_not_starve_status_checks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(logs_module, "LOG_READ_S", 0.3)
    clock, nf = setup(tmp_path, duration=40)
    release = threading.Event()

    def hang(request: httpx.Request) -> httpx.Response:
        clock.advance(0.3)  # the read's bound (LOG_READ_S) passes, in virtual time too
        release.wait(30)
        return httpx.Response(503)

    nf.hooks["logs"] = hang
    try:
        step = run_step(tmp_path, nf, inputs=inputs(timeout_seconds="120"), clock=clock)
    finally:
        release.set()
    assert step.exit_code == 0, step.text
    assert len(step.calls("GET", "/build-logs")) <= 2, "hung pages, then logs are given up"
    assert "Build log unavailable" in step.text
    checks = [r for r in step.calls("GET", "/build/")]
    assert len(checks) >= 5, "status checks went on meanwhile"


@contextmanager
def trickling_server(interval: float) -> Iterator[str]:
    """An HTTP server that answers one byte at a time: the slow-loris answer."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            answer = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"data":'
            with conn:
                for byte in answer + b" " * 100000:
                    if stop.is_set():
                        break
                    try:
                        conn.sendall(bytes([byte]))
                    except OSError:
                        break
                    time.sleep(interval)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        server.close()


def test_09_a_slow_loris_answer_is_bounded_in_total_not_per_read() -> None:
    from northflank_build.api.wire import RequestTookTooLong, send_bounded

    with trickling_server(0.05) as url, httpx.Client(trust_env=False) as http:
        began = time.monotonic()
        with pytest.raises(RequestTookTooLong):
            send_bounded(http, http.build_request("GET", url, timeout=5.0), 0.6)
        assert time.monotonic() - began < 1.5


# -- 10. the log socket follows no redirect ----------------------------------------------------


@contextmanager
def tcp_server(
    host: str, respond_with: Callable[[socket.socket], None]
) -> Iterator[tuple[int, list[bytes]]]:
    server = socket.create_server((host, 0))
    received: list[bytes] = []
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(1.0)
                try:
                    received.append(conn.recv(65536))
                    respond_with(conn)
                    received.append(conn.recv(65536))
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1], received
    finally:
        stop.set()
        server.close()


def test_10_the_log_socket_follows_no_redirect_and_the_token_stays_home(tmp_path: Path) -> None:
    def accept_anything(conn: socket.socket) -> None:
        conn.sendall(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
        )

    with tcp_server("127.0.0.2", accept_anything) as (other_port, elsewhere):

        def redirect(conn: socket.socket) -> None:
            location = f"ws://127.0.0.2:{other_port}/collect"
            conn.sendall(
                f"HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n".encode()
            )

        with tcp_server("127.0.0.1", redirect) as (port, home):
            clock, nf = setup(tmp_path, duration=5)
            step = run_step(
                tmp_path, nf, inputs=inputs(api_url=f"http://127.0.0.1:{port}"), clock=clock
            )
    assert step.exit_code == 0
    assert home, "the socket was tried at home"
    assert b"Upgrade: websocket" in home[0], "the socket was tried at home"
    assert elsewhere == [], "nothing reached the other host"
    assert "following the log over HTTP" in step.text


# -- 11. ids from the server never steer a URL -------------------------------------------------


@pytest.mark.parametrize("bad_id", ["../../../../other-project", "x" * 100_000, "a b", "%2e%2e"])
def test_11_a_build_id_that_is_not_an_id_never_reaches_a_url(tmp_path: Path, bad_id: str) -> None:
    clock, nf = setup(tmp_path, duration=600)

    def start(request: httpx.Request) -> httpx.Response:
        build = nf.add_build(bad_id)
        return respond(nf.view(build))

    nf.hooks["start"] = start
    step = run_step(tmp_path, nf, inputs=inputs(timeout_seconds="5"), clock=clock)
    clean_end(step)
    assert step.exit_code == 3
    paths = [r.url.path for r in step.requests]
    assert all(p.startswith("/v1/projects/demo-project/jobs/demo-job/") for p in paths), paths
    assert all(len(p) < 200 and bad_id not in p for p in paths), "the id never went into a URL"
    error = step.errors()[0]
    assert error.properties["title"] == "Northflank may have started a build", error
    assert "mistyped fields" in error.message
    assert "Internal error" not in error.message
    assert not step.calls("DELETE")
    assert step.outputs["build-id"] == ""


# -- 12, 13. timestamps and statuses as they come ------------------------------------------------


@pytest.mark.parametrize("concluded_at", [1e20, -1e15, "NaN", "Infinity", 1.79e12, "soon"])
def test_12_an_out_of_range_conclusion_time_does_not_turn_success_into_failure(
    tmp_path: Path, concluded_at: Any
) -> None:
    clock, nf = setup(tmp_path, duration=5)

    def get(_request: httpx.Request) -> httpx.Response:
        data = nf.view(nf.builds[0])
        if data.get("concluded"):
            data["buildConcludedAt"] = concluded_at
        return respond(data)

    nf.hooks["get"] = get
    step = run_step(tmp_path, nf, inputs=inputs(), clock=clock)
    assert step.exit_code == 0, step.text
    clean_end(step)
    assert step.outputs["success"] == "true"
    in_ms = "2026-09-21T14:13:20.000Z"  # 1.79e12 ms
    assert step.outputs["concluded-at"] == (in_ms if concluded_at == 1.79e12 else "")
    assert "Northflank build succeeded" in step.summary


def test_13_a_status_in_lower_case_is_the_same_status(tmp_path: Path) -> None:
    clock, nf = setup(tmp_path, duration=5)

    def get(_request: httpx.Request) -> httpx.Response:
        data = nf.view(nf.builds[0])
        data["status"] = data["status"].lower()
        data.pop("success", None)
        return respond(data)

    nf.hooks["get"] = get
    step = run_step(tmp_path, nf, inputs=inputs(), clock=clock)
    assert step.exit_code == 0
    assert step.outputs["status"] == "SUCCESS"


# -- 14, 15. secrets in what is printed ----------------------------------------------------------


def test_14_the_cli_never_prints_the_token_or_a_secret_files_base64(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from northflank_build import cli

    secret = b"npm-token-\x00\xff-binary"
    (tmp_path / "npmrc").write_bytes(secret)
    encoded = base64.b64encode(secret).decode()

    def echo_everything(request: httpx.Request) -> httpx.Response:
        said = f"bad request {request.headers['authorization']} {request.content.decode()}"
        return httpx.Response(400, json={"error": {"status": 400, "message": said}})

    monkeypatch.setenv("NORTHFLANK_API_TOKEN", TOKEN)
    monkeypatch.chdir(tmp_path)
    code = cli.main(
        ["build", "--project-id", "p", "--job-id", "j", "--sha", SHA,
         "--build-file", "/app/.npmrc=npmrc", "--api-url", LOOPBACK],
        transport=httpx.MockTransport(echo_everything),
        clock=VirtualClock(CancelScope()),
        cancel=CancelScope(),
    )  # fmt: skip
    out = capsys.readouterr()
    assert code == 3
    assert "bad request" in out.err
    assert TOKEN not in out.err + out.out
    assert encoded not in out.err + out.out


def test_15_the_base64_actually_sent_is_masked_before_anything_is_printed(tmp_path: Path) -> None:
    secret = bytes(range(256))  # binary: its decoded text is not what is sent
    (tmp_path / "blob").write_bytes(secret)
    encoded = base64.b64encode(secret).decode()
    clock, nf = setup(tmp_path, duration=5)
    step = run_step(tmp_path, nf, inputs=inputs(build_files="/app/blob=blob"), clock=clock)
    assert step.exit_code == 0
    lines = step.raw.decode().split("\n")  # the runner splits on line feeds only
    masks = [i for i, line in enumerate(lines) if line == f"::add-mask::{encoded}"]
    assert masks
    assert masks[0] < next(i for i, line in enumerate(lines) if not line.startswith("::add-mask::"))
    body = json.loads(step.calls("POST")[0].content)
    assert body["overrides"]["buildFiles"]["/app/blob"]["data"] == encoded


# -- 16. no proxy for plain-http loopback -------------------------------------------------------


def test_16_a_plain_http_loopback_url_never_goes_through_a_proxy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")

    with tcp_server("127.0.0.1", refuse) as (proxy_port, proxied):
        proxy = f"http://127.0.0.1:{proxy_port}"
        for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "HTTPS_PROXY"):
            monkeypatch.setenv(name, proxy)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        clock, nf = setup(tmp_path, duration=5)
        step = run_step(tmp_path, nf, inputs=inputs(), clock=clock)
    assert step.exit_code == 0, step.text
    assert proxied == [], "the proxy saw a connection"
    assert step.calls("POST"), "the requests went straight to the API"


# -- 17. workflow commands in the standard form; an unwritable runner file -----------------------


def test_17_workflow_commands_are_written_in_the_standard_form(tmp_path: Path) -> None:
    clock, nf = setup(tmp_path, duration=5, outcome="FAILURE")
    nf.log_lines = [{"ts": "2026-11-30T00:00:01.000Z", "log": "compiling"}]
    step = run_step(tmp_path, nf, inputs=inputs(), clock=clock)
    lines = step.raw.decode().splitlines()
    assert lines[0] == f"::add-mask::{TOKEN}"
    assert any(line.startswith("::group::Northflank build build-1: ") for line in lines)
    assert "::endgroup::" in lines
    assert any(
        line.startswith("::error title=Northflank build failed::Build build-1") for line in lines
    )
    assert any(line.startswith("::stop-commands::nf-log-") for line in lines)
    # Never "::add-mask ::value": act, Gitea and Forgejo do not read that form.
    assert not [line for line in lines if re.match(r"^::[a-z-]+ ::", line)]


def test_17_an_unwritable_output_file_is_a_clear_runner_problem(tmp_path: Path) -> None:
    clock, nf = setup(tmp_path, duration=5)
    missing = str(tmp_path / "missing-dir" / "output")
    step = run_step(tmp_path, nf, inputs=inputs(), clock=clock, env={"GITHUB_OUTPUT": missing})
    assert b"Traceback" not in step.raw
    assert step.exit_code == 3
    problems = [a for a in step.errors() if a.properties.get("title") == "Runner problem"]
    assert len(problems) == 1
    assert "GITHUB_OUTPUT" in problems[0].message
    assert "Northflank build succeeded" in step.summary


# -- 18, 19. the job summary ------------------------------------------------------------------


def test_18_long_log_lines_keep_the_summary_under_githubs_limit(tmp_path: Path) -> None:
    clock, nf = setup(tmp_path, duration=5, outcome="FAILURE")
    nf.log_lines = [
        {"ts": f"2026-11-30T00:00:0{n}.000Z", "log": str(n) * 400_000} for n in range(3)
    ]
    step = run_step(tmp_path, nf, inputs=inputs(), clock=clock)
    assert step.exit_code == 1
    size = len(step.summary.encode())
    assert size < 64 * 1024, size
    assert "Northflank build failed" in step.summary
    assert "/builds/build-1" in step.summary


def test_19_nothing_from_northflank_can_add_markdown_through_a_link() -> None:
    from northflank_build.github.summary import url

    hostile = "https://app.example/builds/x)![img](https://evil.example/p.png"
    assert ")" not in url(hostile)
    assert "(" not in url(hostile)
    assert " " not in url("a b")
    assert url("https://app.northflank.com/s/project/p/jobs/j/builds/b-1") == (
        "https://app.northflank.com/s/project/p/jobs/j/builds/b-1"
    )


# -- 20. hostile input documents ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("build-arguments", '{"a":' * 5000 + "1" + "}" * 5000),
        ("service-spec", "[" * 5000 + "]" * 5000),
        (
            "service-spec",
            "a:\n" + "".join("  " * (n + 1) + f"b{n}:\n" for n in range(2000)) + "c: 1",
        ),
        ("api-url", "http://127.0.0.1:8080\n/x"),
        ("api-url", "https://api.exa\tmple.com"),
    ],
    ids=["nested JSON", "nested YAML flow", "nested YAML block", "newline in url", "tab in url"],
)
def test_20_hostile_documents_are_input_errors(tmp_path: Path, name: str, value: str) -> None:
    clock, nf = setup(tmp_path)
    overrides: dict[str, str | None] = {name.replace("-", "_"): value}
    if name == "service-spec":
        overrides.update(job_id=None, branch="main")
    step = run_step(tmp_path, nf, inputs=inputs(**overrides), clock=clock)
    assert step.exit_code == 2
    assert step.requests == []
    assert b"Traceback" not in step.raw
    assert any(a.properties.get("title") == f"Invalid input '{name}'" for a in step.errors())


@dataclass(frozen=True)
class Finding:
    number: str
    fault: str
    behaviour: str


FINDINGS = [
    Finding(
        "1",
        "Cancel while the start request is out, the build not yet listed",
        "exit 130 with every output; the start is recorded in `GITHUB_STATE` before it is sent, and the post step finds the build and aborts it",
    ),
    Finding(
        "2",
        "Start answer lost, and its build cannot be identified (no `createdAt`, more than 500 builds listed oldest first)",
        "never resent: says a build may have started, with the job's builds page; exit 3; the post step looks again",
    ),
    Finding(
        "3",
        "Cancel while the HTTP log fallback fails or hangs",
        "the abort goes out first; nothing after a cancel waits on the network",
    ),
    Finding(
        "4",
        "A lone UTF-16 surrogate in a log line or status; an internal error after the start",
        "made printable where it is read; an internal error still aborts the build and keeps every output",
    ),
    Finding(
        "5",
        "Post step: the status cannot be read; a strange build id in the state",
        "aborts anyway (harmless on a concluded build); a strange id sends nothing",
    ),
    Finding(
        "6",
        "429 with `Retry-After: 0`, a past date, `nan`, `-5`, or no headers",
        "waits at least 1 s, at most 8 times in a row, never past `timeout-seconds`",
    ),
    Finding(
        "7",
        "A request after a 429",
        "nothing but the abort goes out before the time the server asked for (the log socket included)",
    ),
    Finding(
        "8",
        "`x-ratelimit-reset` as an epoch time; pacing longer than the time left",
        "read as a time; the status is always checked before the deadline",
    ),
    Finding(
        "9",
        "An answer trickling in byte by byte; a hanging status or log endpoint",
        "each request is bounded in total by the time left; a hung log page gives up logs, never status checks",
    ),
    Finding(
        "10",
        "The log socket's upgrade answered with a redirect to another host",
        "not followed: the token goes only to the api-url's origin",
    ),
    Finding(
        "11",
        "A build id like `../../other-project` or 100 KB long",
        "refused as a malformed answer: never part of a URL",
    ),
    Finding(
        "12",
        "`buildConcludedAt` out of range (1e20, NaN, Infinity, milliseconds)",
        "read defensively (seconds or milliseconds), else unknown; a success stays a success",
    ),
    Finding("13", "A status in lower case", "normalised: `success` is `SUCCESS`"),
    Finding(
        "14",
        "A server error message that echoes the token or a secret file",
        "the CLI cuts every secret, and its base64, out of what it prints",
    ),
    Finding("15", "A binary secret file", "the exact base64 sent is masked too"),
    Finding(
        "16",
        "A plain-http loopback api-url with `HTTP_PROXY`/`ALL_PROXY` set",
        "no proxy is used for it, HTTP or WebSocket",
    ),
    Finding(
        "17",
        "A runner built on act; an unwritable `GITHUB_OUTPUT`",
        "commands in the standard form (`::add-mask::value`); a clear runner-problem annotation, no traceback",
    ),
    Finding(
        "18",
        "Log lines of 400 KB",
        "each summary line is cut and the summary stays small; status, link and failure kept",
    ),
    Finding(
        "19",
        "A link target built from server text",
        "percent-encoded: no Markdown can be added through it",
    ),
    Finding(
        "20",
        "Deeply nested `build-arguments` JSON or `service-spec` YAML; a newline in `api-url`",
        "input errors naming the input; exit 2; nothing sent",
    ),
    Finding(
        "21",
        "SIGINT while the interpreter starts, or while the log socket opens slowly",
        "handlers go in first; the socket's open is interruptible: exit 130, the abort within a second",
    ),
    # The second adversarial run (issue 18): tests/test_odd_answers.py (22) and
    # tests/test_provably_ours.py, test_causeN for row 21 + N.
    Finding(
        "22",
        "An answer the client cannot use: gzip that is not gzip, an absurd `Date`, a wrong-typed field, an odd log-socket reply",
        "a fact the loops understand (retried, waited out, or the log over HTTP): never an internal error, never an abort of a healthy build",
    ),
    Finding(
        "23",
        "Post step: anything goes wrong (an odd answer, a bug of ours)",
        "a warning per item; what the state says is the main step's is still aborted; exit 0",
    ),
    Finding(
        "24",
        "A build or job-run start cut off after it went out (a cancel, the runner's kill, a bug)",
        "recorded in `GITHUB_STATE` before it is sent; the step (on a cancel) or the post step finds it and aborts it when it is provably ours",
    ),
    Finding(
        "25",
        "After a lost answer, another workflow's build (or run) of the same commit started about then",
        "none is claimed: exit 3 naming every candidate with its link; none is followed, reported as ours or aborted, by the step or the post step",
    ),
    Finding(
        "26",
        "A request that hangs until `timeout-seconds`",
        "a timeout: exit 4 with the timeout's wording; a start cut off so is left to the post step",
    ),
    Finding(
        "27",
        "A stale rollout status after the PATCH (an old `FAILED`, no transition time before it)",
        "only a transition after the PATCH could reach Northflank (by the server's clock) counts",
    ),
    Finding(
        "28",
        "A deploy of what the service already runs (a re-run with `reuse`)",
        "decided from GET service before any PATCH: already running is success with no PATCH and no wait; its failed rollout is a failure",
    ),
    Finding(
        "29",
        "`instances: true`; a sha in upper case",
        "not a count: no PATCH is sent; shas are compared in any case",
    ),
    Finding(
        "30",
        "One odd entry in a build or run list (`sha: 12345`, `id: ../../evil`)",
        "skipped and counted in the debug log; the rest is judged",
    ),
    Finding(
        "31",
        "A bare `https://…`, `www.…` or e-mail address in a build message or branch",
        "shown in a code span: never a link in the job summary",
    ),
    Finding(
        "32",
        "A log page that hangs while `show-logs` is on",
        "each page is bounded by the time until the next status check: the logs pay, never the status checks",
    ),
    Finding(
        "33",
        "A typo in `deploy-services` or `run-job`",
        "found before any build: exit 3 before a single POST, naming the input",
    ),
]


def hostile_table() -> str:
    rows = [f"| {f.number} | {f.fault} | {f.behaviour} |" for f in FINDINGS]
    return "\n".join(["| # | condition | what the action does |", "|---|---|---|", *rows])


def test_readme_hostile_table_matches_the_suite() -> None:
    readme = (ROOT / "docs/faults.md").read_text()
    assert hostile_table() in readme, (
        "regenerate with: python -c 'import test_hardening; print(test_hardening.hostile_table())'"
    )
    # Every finding has a test here or in the runner-contract tests.
    names = {
        name.split("_")[1] for name in globals() if name.startswith("test_") and name[5:7].isdigit()
    }
    import test_odd_answers
    import test_provably_ours

    later = [*vars(test_provably_ours), *vars(test_odd_answers)]
    names |= {
        f"{21 + int(m.group(1)):02d}" for n in later if (m := re.match(r"test_cause(\d+)_", n))
    }
    assert {f"{int(f.number):02d}" for f in FINDINGS} - names <= {"21"}


# -- also: early log lines, and the simulator's dashboard pages ---------------------------------


def test_the_first_log_page_starts_at_the_builds_creation(tmp_path: Path) -> None:
    clock, nf = setup(tmp_path, duration=5)
    starts: list[str | None] = []

    def record(request: httpx.Request) -> httpx.Response | None:
        starts.append(request.url.params.get("startTime"))
        return None

    nf.hooks["logs"] = record
    step = run_step(tmp_path, nf, inputs=inputs(), clock=clock)
    assert step.exit_code == 0
    created = nf.view(nf.builds[0])["createdAt"]
    assert starts, (starts, created)
    assert starts[0] is not None, (starts, created)
    assert starts[0] < created, (starts, created)


def test_the_simulator_applies_a_default_window_and_serves_the_build_page() -> None:
    from nfsim import BuildPlan, Simulator
    from nfsim.server import DEFAULT_LOG_WINDOW_S

    with Simulator(plan=BuildPlan(phases=(("BUILDING", 0.5),))) as sim:
        sim.world.add_history(
            "demo-project", "job", "demo-job", [30.0], gap_s=DEFAULT_LOG_WINDOW_S + 600
        )
        old = sim.world.builds[0]
        headers = {"Authorization": f"Bearer {TOKEN}"}
        base = f"{sim.url}/v1/projects/demo-project/jobs/demo-job/build-logs"
        params = {"queryType": "range", "buildId": old.id, "lineLimit": "500"}
        without = httpx.get(base, params=params, headers=headers).json()["data"]
        since = httpx.get(
            base, params={**params, "startTime": "2000-01-01T00:00:00.000Z"}, headers=headers
        ).json()["data"]
        assert without == [], "older than 30 minutes: only with a startTime"
        assert since, "older than 30 minutes: only with a startTime"
        page = httpx.get(f"{sim.url}/s/project/demo-project/jobs/demo-job/builds/{old.id}")
        assert page.status_code == 200
        assert old.id in page.text


def test_21_a_cancel_while_the_log_socket_opens_slowly_aborts_within_a_second(
    tmp_path: Path,
) -> None:
    def never_upgrade(conn: socket.socket) -> None:
        time.sleep(3.0)  # accepts the connection, never answers the upgrade

    with tcp_server("127.0.0.1", never_upgrade) as (port, _):
        clock, nf = setup(tmp_path, duration=600)
        aborted_at: list[float] = []

        def abort(request: httpx.Request) -> httpx.Response | None:
            aborted_at.append(time.monotonic())
            return None

        nf.hooks["abort"] = abort
        signalled: list[float] = []

        def cancel_soon() -> None:
            time.sleep(0.5)  # by then the socket's open is under way
            signalled.append(time.monotonic())
            os.kill(os.getpid(), signal.SIGINT)

        threading.Thread(target=cancel_soon, daemon=True).start()
        step = run_step(
            tmp_path, nf, inputs=inputs(api_url=f"http://127.0.0.1:{port}"), clock=clock
        )
    assert step.exit_code == 130
    clean_end(step)
    assert aborted_at
    assert aborted_at[0] - signalled[0] < 1.0
