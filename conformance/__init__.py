"""OCI runtime-spec conformance cases that run against any runtime binary.

Each case builds a bundle (busybox rootfs + config.json), drives the runtime CLI
(`create`/`start`/`run`/`state`/`kill`/`delete`/...) with a private `--root`, and
checks the effect inside the container (its own view of /proc, mounts, ids) or
from the host (/proc/<pid>/ns/*, cgroup files, state JSON).

Entry points: `conformance/run` or `python3 -m conformance` (see README.md).
"""
