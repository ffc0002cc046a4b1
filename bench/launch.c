/* Tiny launcher for bench/run.py: runs argv[1..] as a child, waits for it, and writes
 * "<wall ns> <ru_maxrss KiB>\n" to fd 3; exits with the child's exit code (128+N if killed by signal N).
 *
 * Why it exists: ru_maxrss survives execve and a forked child starts with its parent's RSS as its
 * high-water mark, so a runtime forked straight from the Python harness would report at least the
 * harness's own RSS. Forked from this small program instead, the figure is the runtime's own peak.
 * bench/run.py compiles it into its temporary directory; nothing built is committed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: launch PROG [ARG...]  (writes 'ns maxrss_kib' to fd 3)\n");
        return 125;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid = fork();
    if (pid < 0) {
        perror("launch: fork");
        return 125;
    }
    if (pid == 0) {
        close(3);
        execvp(argv[1], argv + 1);
        fprintf(stderr, "launch: %s: %s\n", argv[1], strerror(errno));
        _exit(127);
    }
    int status;
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0) {
        if (errno != EINTR) {
            perror("launch: wait4");
            return 125;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long long ns = (long long)(t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec);
    dprintf(3, "%lld %ld\n", ns, ru.ru_maxrss);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}
