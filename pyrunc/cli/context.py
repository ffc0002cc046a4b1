"""What the global flags decided, handed to every command.

On containerd's hot path: see "Import discipline" in pyrunc.cli.main (no __future__ import).
"""


class Context:
    """Global options (runc's app.Flags). Plain class, no dataclasses: this is on the hot path."""

    __slots__ = ("command", "debug", "log_format", "log_path", "root", "root_explicit", "rootless", "systemd_cgroup")

    def __init__(
        self,
        root: str,
        log_path: str | None = None,
        log_format: str = "text",
        debug: bool = False,
        systemd_cgroup: bool = False,
        rootless: str = "auto",
        command: str = "",
        root_explicit: bool = False,
    ) -> None:
        self.root = root
        self.root_explicit = root_explicit  # --root given (not the default): `list` reports a missing one
        self.log_path = log_path
        self.log_format = log_format
        self.debug = debug
        self.systemd_cgroup = systemd_cgroup
        self.rootless = rootless
        self.command = command
