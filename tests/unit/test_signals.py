"""Signal parsing as runc/moby parse it (`kill ID 9`, `KILL`, `SIGKILL`, `TERM`, RTMIN+n)."""

from __future__ import annotations

import signal

import pytest

from pyrunc.errors import UsageError
from pyrunc.process.signals import NOT_FORWARDED, forwardable, parse_signal, signal_name


@pytest.mark.parametrize(
    ("raw", "num"),
    [
        ("9", 9), ("KILL", 9), ("SIGKILL", 9), ("kill", 9), ("sigkill", 9), ("TERM", 15), ("15", 15),
        ("HUP", 1), ("USR1", 10), ("SIGUSR2", 12), ("WINCH", 28), ("IOT", 6), ("CLD", 17), ("POLL", 29),
        ("RTMIN", int(signal.SIGRTMIN)), ("RTMIN+3", int(signal.SIGRTMIN) + 3),
        ("SIGRTMAX-1", int(signal.SIGRTMAX) - 1), ("RTMAX", int(signal.SIGRTMAX)), ("64", 64), (" 2 ", 2),
    ],
)
def test_parse_valid(raw: str, num: int) -> None:
    assert parse_signal(raw) == num


@pytest.mark.parametrize("raw", ["", "-1", "65", "1000", "FOO", "SIG", "SIGFOO", "9x", "RTMIN+99", "K ILL"])
def test_parse_invalid(raw: str) -> None:
    with pytest.raises(UsageError) as e:
        parse_signal(raw)
    assert str(e.value) == f"invalid signal: {raw}"
    assert "\n" not in str(e.value)


def test_signal_name() -> None:
    assert signal_name(9) == "SIGKILL"
    assert signal_name(int(signal.SIGRTMIN) + 2) == "SIGRTMIN+2"


def test_forwardable_excludes_what_run_handles_itself() -> None:
    fw = set(forwardable())
    assert signal.SIGTERM in fw and signal.SIGINT in fw and signal.SIGHUP in fw and signal.SIGUSR1 in fw
    assert not fw & {int(s) for s in NOT_FORWARDED}
    assert signal.SIGCHLD not in fw and signal.SIGWINCH not in fw and signal.SIGKILL not in fw


def test_signal_zero_is_accepted() -> None:
    """runc's parseSignal takes any number: `kill ID 0` probes whether the container is alive."""
    from pyrunc.process.signals import parse_signal

    assert parse_signal("0") == 0
