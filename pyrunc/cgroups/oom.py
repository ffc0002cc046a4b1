"""OOM notifications for `events`: v1 through an eventfd, v2 through poll on cgroup files.

Both give one pollable fd (`fileno()`) and `read() -> (new OOM events, cgroup gone or empty)`.
"""

from __future__ import annotations

import os

from pyrunc.cgroups import files
from pyrunc.errors import CgroupError


class EventfdOomWatcher:
    """v1 OOM notifications: an eventfd registered with `cgroup.event_control` for `memory.oom_control`.

    The kernel also signals the eventfd when the cgroup is removed; that is told apart by the control file being
    gone (runc registerMemoryEvent)."""

    def __init__(self, memdir: str) -> None:
        self._dir = memdir
        self._efd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
        try:
            self._ofd = os.open(os.path.join(memdir, "memory.oom_control"), os.O_RDONLY | os.O_CLOEXEC)
        except OSError as e:
            os.close(self._efd)
            raise CgroupError("cannot open", path=os.path.join(memdir, "memory.oom_control"), err=e.errno) from None
        try:
            files.write(memdir, "cgroup.event_control", f"{self._efd} {self._ofd}")
        except CgroupError:
            self.close()
            raise

    def fileno(self) -> int:
        return self._efd

    def read(self) -> tuple[int, bool]:
        try:
            n = os.eventfd_read(self._efd)
        except BlockingIOError:
            n = 0
        if not os.path.exists(os.path.join(self._dir, "cgroup.event_control")):
            return 0, True
        return n, False

    def close(self) -> None:
        for fd in (self._efd, getattr(self, "_ofd", -1)):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._efd = self._ofd = -1


class PollOomWatcher:
    """v2 OOM notifications: cgroup files signal a change by waking pollers with POLLPRI (kernfs_notify); an epoll
    set over memory.events (oom_kill count) and cgroup.events (populated 0 = everything exited) is one fd."""

    def __init__(self, dir: str) -> None:
        import select

        self._dir = dir
        self._ep = select.epoll()
        self._fds: dict[int, str] = {}
        for name in ("memory.events", "cgroup.events"):
            try:
                fd = os.open(os.path.join(dir, name), os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                continue  # no memory controller here: only "gone" is reported
            self._fds[fd] = name
            self._ep.register(fd, select.EPOLLPRI | select.EPOLLERR)
        self._ooms = self._read_oom_kills()
        self._read_populated()  # reading re-arms the notification

    def _read(self, name: str) -> dict[str, int]:
        for fd, n in self._fds.items():
            if n == name:
                try:
                    return files.parse_keyed(os.pread(fd, 4096, 0).decode())
                except OSError:
                    return {}
        return {}

    def _read_oom_kills(self) -> int:
        return self._read("memory.events").get("oom_kill", 0)

    def _read_populated(self) -> int:
        return self._read("cgroup.events").get("populated", 1)

    def fileno(self) -> int:
        return self._ep.fileno()

    def read(self) -> tuple[int, bool]:
        self._ep.poll(0)
        count = self._read_oom_kills()
        new, self._ooms = max(0, count - self._ooms), count
        gone = not os.path.isdir(self._dir) or self._read_populated() == 0
        return new, gone

    def close(self) -> None:
        for fd in self._fds:
            try:
                os.close(fd)
            except OSError:
                pass
        self._fds = {}
        self._ep.close()
