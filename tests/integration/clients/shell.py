"""What the scenarios run inside the busybox container: the same snippets for every client."""

MiB = 1024 * 1024

# Exits 7 on SIGTERM. pid 1 of a pid namespace ignores signals it has no handler for, so `sleep` alone would not stop.
TRAP_TERM = "trap 'exit 7' TERM; sleep 1000 & wait"

# Prints the terminal size once the client has set it: clients resize the pty just after the process starts, and
# busybox `stty size` on a 0x0 terminal prints an error instead of a size (and still exits 0).
TTY_SIZE = ('for i in $(seq 100); do s=$(stty size 2>/dev/null); [ -n "$s" ] && [ "$s" != "0 0" ] && break; '
            'sleep 0.05; done; echo "$s"')
TTY_CHECK = f"{TTY_SIZE}; tty; test -t 0 && echo stdin-tty; exit 4"
TTY_ROWS, TTY_COLS = 33, 101
TTY_EXPECTED = [f"{TTY_ROWS} {TTY_COLS}", "/dev/pts/0", "stdin-tty"]  # and exit status 4

# Needs far more than 32 MiB: `tail` keeps the whole newline-free input in memory. Under a 32 MiB limit the OOM
# killer ends it, and the pipeline's status is 137.
EXCEED_MEMORY = "head -c 200000000 /dev/zero | tail > /dev/null"
MEMORY_LIMIT = 32 * MiB
# The container's own memory limit as seen inside: cgroup v1 (runc binds the container's memory cgroup at
# /sys/fs/cgroup/memory), or v2 (the container's cgroup below /sys/fs/cgroup; "/" with a private cgroup namespace).
READ_MEMORY_LIMIT = ("cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null"
                     ' || cat "/sys/fs/cgroup$(sed -n "s/^0:://p" /proc/self/cgroup)/memory.max"')
