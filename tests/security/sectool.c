/* sectool: what a hostile container process tries, as one static binary (busybox has no capset/seccomp applet).
 *
 * Built by tests/security/conftest.py with `gcc -static` and copied into the attack rootfs. Every sub-command
 * prints `key=value` lines (value: 0 for success, else the errno) and exits 0, so tests read the outcome of each
 * attempt instead of an exit status.
 *
 *   sectool ids                  uid/euid and the capability sets (as a setuid-root or file-capability binary)
 *   sectool regain               try to get capabilities back: capset(all), ambient raise, setresuid(0)
 *   sectool mkdir PATH           mkdir(PATH): the syscall the test seccomp profile denies
 *   sectool seccomp-escape PATH  try to remove/override the seccomp filter, then mkdir(PATH) again
 *   sectool exec PROG ARGS...    execv (to re-check after an exec)
 *   sectool syscall NR...        the raw syscall NR (decimal or 0x..) with six zero arguments, for each NR: prints
 *                                `NR=errno` (0: it succeeded), so the seccomp verdict is not hidden by libc
 *   sectool race-exchange A B SECONDS
 *                                renameat2(A, B, RENAME_EXCHANGE) in a tight loop: the process of another container
 *                                that controls a shared volume (CVE-2021-30465, CVE-2024-45310); run on the host
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE 2
#endif

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_RAISE 2
#endif
#ifndef CAP_SYS_ADMIN
#define CAP_SYS_ADMIN 21
#endif

static int err(long rc) { return rc < 0 ? errno : 0; }

static void caps(const char *tag) {
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    memset(d, 0, sizeof d);
    syscall(SYS_capget, &h, d);
    printf("%scapeff=%08x%08x\n%scapprm=%08x%08x\n%scapinh=%08x%08x\n", tag, d[1].effective, d[0].effective, tag,
           d[1].permitted, d[0].permitted, tag, d[1].inheritable, d[0].inheritable);
}

static int do_ids(void) {
    printf("uid=%d\neuid=%d\n", (int)getuid(), (int)geteuid());
    printf("nnp=%d\n", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
    caps("");
    return 0;
}

static int do_regain(void) {
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    memset(d, 0xff, sizeof d);
    printf("capset_all=%d\n", err(syscall(SYS_capset, &h, d)));
    printf("ambient_raise_sys_admin=%d\n", err(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_SYS_ADMIN, 0, 0)));
    printf("bounding_has_sys_admin=%d\n", prctl(PR_CAPBSET_READ, CAP_SYS_ADMIN, 0, 0, 0));
    printf("setresuid0=%d\n", err(setresuid(0, 0, 0)));
    caps("after_");
    return 0;
}

static int try_mkdir(const char *tag, const char *path) {
    int e = err(mkdir(path, 0755));
    if (e == 0) rmdir(path);
    printf("%s=%d\n", tag, e);
    return e;
}

static int do_seccomp_escape(const char *path) {
    try_mkdir("mkdir_before", path);
    /* There is no way to turn a filter off: SECCOMP_MODE_DISABLED is not accepted by PR_SET_SECCOMP. */
    printf("prctl_disable=%d\n", err(prctl(PR_SET_SECCOMP, SECCOMP_MODE_DISABLED, 0, 0, 0)));
    /* An allow-everything filter stacks on top; the most restrictive verdict still wins. */
    struct sock_filter allow[] = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
    struct sock_fprog prog = {1, allow};
    printf("install_allow_all=%d\n", err(syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog)));
    try_mkdir("mkdir_after_allow_all", path);
    pid_t pid = fork();
    if (pid == 0) {
        try_mkdir("mkdir_in_child", path);
        fflush(stdout);
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "Seccomp", 7) || !strncmp(line, "NoNewPrivs", 10)) fputs(line, stdout);
    if (f) fclose(f);
    return 0;
}

static int do_race(const char *a, const char *b, const char *seconds) {
    time_t end = time(NULL) + atoi(seconds);
    long n = 0;
    while (time(NULL) < end) {
        for (int i = 0; i < 1000; i++, n++)
            if (syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE) < 0) {
                printf("renameat2=%d\n", errno);
                return 1;
            }
    }
    printf("exchanges=%ld\n", n);
    return 0;
}

static int do_syscalls(int n, char **nrs) {
    for (int i = 0; i < n; i++) {
        long nr = strtol(nrs[i], NULL, 0);
        errno = 0;
        long rc = syscall(nr, 0L, 0L, 0L, 0L, 0L, 0L);
        printf("%s=%d\n", nrs[i], rc == -1 ? errno : 0);
    }
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc >= 2 && !strcmp(argv[1], "ids")) return do_ids();
    if (argc >= 2 && !strcmp(argv[1], "regain")) return do_regain();
    if (argc >= 3 && !strcmp(argv[1], "mkdir")) { try_mkdir("mkdir", argv[2]); return 0; }
    if (argc >= 3 && !strcmp(argv[1], "seccomp-escape")) return do_seccomp_escape(argv[2]);
    if (argc >= 3 && !strcmp(argv[1], "exec")) { execv(argv[2], argv + 2); printf("exec=%d\n", errno); return 1; }
    if (argc >= 5 && !strcmp(argv[1], "race-exchange")) return do_race(argv[2], argv[3], argv[4]);
    if (argc >= 3 && !strcmp(argv[1], "syscall")) return do_syscalls(argc - 2, argv + 2);
    fprintf(stderr, "usage: sectool ids|regain|mkdir PATH|seccomp-escape PATH|exec PROG ARGS...|syscall NR...\n");
    return 2;
}
