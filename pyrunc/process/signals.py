"""Signal names <-> numbers the way runc parses them, and the set `run` forwards to the container.

`kill` accepts `9`, `KILL`, `SIGKILL`, `kill`, `RTMIN+3` (containerd and podman send numbers, runtime-tools sends
`TERM`/`KILL` without the prefix). Unknown names and numbers outside 1..SIGRTMAX are refused with runc's wording
(`invalid signal: X`, moby/sys/signal's ParseSignal which runc >= 1.2 uses).

This module is on `run`'s path: it imports only `_signal` (the C module behind `signal`, which builds enums:
~4 ms); the names come from `signal` when a name is asked for.
"""

import _signal

# Linux names that Python's `signal` module does not spell (aliases kept by the kernel headers and by runc's table).
_ALIASES = {"IOT": _signal.SIGABRT, "POLL": _signal.SIGIO, "CLD": _signal.SIGCHLD}
# Signals `run` handles itself instead of forwarding: SIGCHLD (reaping), SIGWINCH (terminal resize), the two that
# cannot be caught, and the synchronous fault signals (a Python handler for a real SIGSEGV would loop on the fault).
# runc also skips SIGURG, which the Go runtime uses internally; we forward it.
NOT_FORWARDED = frozenset({_signal.SIGCHLD, _signal.SIGWINCH, _signal.SIGKILL, _signal.SIGSTOP,
                           _signal.SIGSEGV, _signal.SIGBUS, _signal.SIGILL, _signal.SIGFPE})


def _table() -> dict[str, int]:
    import signal

    names: dict[str, int] = {}
    for s in signal.Signals:
        if s.name.startswith("SIG") and not s.name.startswith("SIG_"):
            names[s.name[3:]] = int(s)
    names.update({k: int(v) for k, v in _ALIASES.items()})
    lo, hi = int(signal.SIGRTMIN), int(signal.SIGRTMAX)
    names["RTMIN"], names["RTMAX"] = lo, hi
    for i in range(1, hi - lo):
        names[f"RTMIN+{i}"] = lo + i
        names[f"RTMAX-{i}"] = hi - i
    return names


def _invalid(raw: str) -> Exception:
    from pyrunc.errors import UsageError

    return UsageError(f"invalid signal: {raw}")


def parse_signal(raw: str) -> int:
    """`KILL` | `SIGKILL` | `kill` | `9` | `RTMIN+1` -> signal number; anything else -> UsageError."""
    text = raw.strip()
    if text.lstrip("-").isdigit():
        n = int(text)
        if not 0 <= n <= _signal.SIGRTMAX:  # 0 probes liveness (runc accepts any number)
            raise _invalid(raw)
        return n
    name = text.upper()
    if name.startswith("SIG"):
        name = name[3:]
    num = _table().get(name)
    if num is None:
        raise _invalid(raw)
    return num


def signal_name(num: int) -> str:
    """`9` -> `SIGKILL`; real-time signals as `SIGRTMIN+n`; unknown numbers as `SIG<n>`."""
    import signal

    try:
        return signal.Signals(num).name
    except ValueError:
        pass
    lo = _signal.SIGRTMIN
    if lo < num < _signal.SIGRTMAX:
        return f"SIGRTMIN+{num - lo}"
    return f"SIG{num}"


def forwardable() -> list[int]:
    """Every catchable signal `run` relays to the container's init (runc's signal.Notify of everything)."""
    out = [int(s) for s in _signal.valid_signals() if int(s) not in NOT_FORWARDED]
    return sorted(out)
