"""The first thing the action's process does: note SIGINT/SIGTERM until the real handlers
(cancel.CancelScope.install) take over. Only ``signal`` is imported here, so the window in
which CPython's default handler could raise KeyboardInterrupt ends as early as it can."""

import signal

PENDING: list[str] = []


def _note(signum: int, _frame: object) -> None:
    PENDING.append(signal.Signals(signum).name)


def install() -> None:
    signal.signal(signal.SIGINT, _note)
    signal.signal(signal.SIGTERM, _note)
    # A cancel that arrived while whoever started us held signals back is taken now.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
