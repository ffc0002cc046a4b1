"""The program a container process executes: `process.args[0]` looked up in the container, and its environment.

Shared by the container's init (`pyrunc.process.init`) and by `exec` (`pyrunc.process.execproc`). Both call these
after pivot_root / after joining the container's mount namespace, so this module imports nothing lazily.
"""

import errno
import os
import stat

from pyrunc.linux import fs
from pyrunc.process.sync import StepError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NoReturn

# Go's strings for the errnos a lookup can meet (runc's messages are Go's; clients match them).
_GO_ERR = {errno.ENOENT: "no such file or directory", errno.EACCES: "permission denied",
           errno.ENOTDIR: "not a directory", errno.EISDIR: "is a directory", errno.ELOOP:
           "too many levels of symbolic links", errno.ENAMETOOLONG: "file name too long"}


def go_strerror(err: int) -> str:
    return _GO_ERR.get(err, os.strerror(err).lower())


def env_get(env: list[str], key: str) -> str | None:
    """The value of `key` in a KEY=VALUE list (the last one wins, as for execve's reader)."""
    value = None
    for entry in env:
        k, sep, v = entry.partition("=")
        if sep and k == key:
            value = v
    return value


def env_dict(env: list[str]) -> dict[str, str]:
    """`process.env` as execve wants it; a repeated key keeps its last value."""
    out: dict[str, str] = {}
    for entry in env:
        k, sep, v = entry.partition("=")
        if sep and k:
            out[k] = v
    return out


def _executable(path: str) -> int:
    """0 if `path` is a regular file we may execute, else an errno (Go's findExecutable, which runc uses).

    Asked of the kernel with our effective ids and capabilities (faccessat AT_EACCESS), as execve will decide:
    a process with CAP_DAC_OVERRIDE may run a file that only its owner may execute, and a noexec mount refuses
    everyone. When faccessat itself is refused (ENOSYS, or EPERM from a seccomp profile already loaded), any x
    bit will do, as in Go; execve then has the last word (`execve` below).
    """
    try:
        st = os.stat(path)
    except OSError as e:
        return e.errno or errno.ENOENT
    if stat.S_ISDIR(st.st_mode):
        return errno.EISDIR
    if not stat.S_ISREG(st.st_mode):
        return errno.EACCES
    err = fs.eaccess(path, os.X_OK)
    if err in (errno.ENOSYS, errno.EPERM):
        return 0 if st.st_mode & 0o111 else errno.EACCES
    return err


def lookup(arg0: str, env: list[str], ptr: str = "/process/args/0") -> str:
    """Implements `process.args[0]`: a name without '/' is searched in the container's PATH (process.env).

    Errors use runc's wording (`exec: "sh": executable file not found in $PATH`): podman and containerd match it.
    """
    if "/" in arg0:
        err = _executable(arg0)
        if err == errno.ENOENT:
            raise StepError("exec", f'"{arg0}": stat {arg0}: {go_strerror(err)}', err, ptr)
        if err:
            raise StepError("exec", f'"{arg0}": {go_strerror(err)}', err, ptr)
        path = arg0
    else:
        path = ""
        search = env_get(env, "PATH") or ""
        for d in search.split(":") if search else ():  # Go: an empty PATH searches nothing
            candidate = os.path.join(d or ".", arg0)
            if _executable(candidate) == 0:
                path = candidate
                break
        if not path:
            raise StepError("exec", f'"{arg0}": executable file not found in $PATH', errno.ENOENT, ptr)
    refuse_own_interpreter(path, arg0, ptr)
    return path


def execve(path: str, args: list[str], env: list[str], ptr: str = "/process/args/0") -> None:
    """execve(2) the container's program; on failure a StepError worded as runc's (`exec /run.sh: no such file or
    directory`, e.g. for a missing `#!` interpreter), which the step's name carries so the whole line reads as
    runc's once the parent prefixes "unable to start container process: "."""
    try:
        os.execve(path, args, env_dict(env))
    except OSError as e:
        err = e.errno or errno.EIO
        raise StepError(f"exec {path}", go_strerror(err), err, ptr) from None


def execve_or_exit(path: str, args: list[str], env: list[str]) -> "NoReturn":
    """The container init's last step: execve(2), and if execve itself fails (a missing `#!` interpreter, a binary
    for another architecture), what runc's init does once `start` has released it: the error on the container's
    stderr in runc's words (`exec /run.sh: no such file or directory`) and exit status 255. `start` has succeeded
    by then, as with runc (bats run.bats "[execve error]"): clients see a container that exited 255 with that line
    in its log, as Docker users know it."""
    try:
        execve(path, args, env)
    except StepError as e:
        try:
            os.write(2, f"{e.step}: {e.message}\n".encode(errors="surrogateescape"))
        except OSError:
            pass
    os._exit(255)


def refuse_own_interpreter(path: str, arg0: str, ptr: str) -> None:
    """Refuse a program (or `#!` interpreter, up to the kernel's 4 levels) that is this runtime's own executable.

    CVE-2019-5736 variant: an entrypoint `#!/proc/self/exe` (or a symlink to /proc/self/exe, or /proc/1/exe)
    would make execve run the host's python *as the container process*, and the container could then reach the
    host binary. Compare the file's identity with /proc/self/exe: any path that reaches it is refused.
    """
    try:
        me = os.stat("/proc/self/exe")
    except OSError:
        return  # /proc is not mounted in the container: /proc/self/exe cannot be reached either
    current = path
    for _ in range(5):
        try:
            st = os.stat(current)
        except OSError:
            return
        if (st.st_dev, st.st_ino) == (me.st_dev, me.st_ino):
            raise StepError("exec", f'"{arg0}": refusing to execute the runtime\'s own binary (CVE-2019-5736)',
                            errno.EPERM, ptr)
        if not stat.S_ISREG(st.st_mode):
            return  # execve will refuse it; never open a fifo or device here (it could block)
        try:
            fd = os.open(current, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
        except OSError:
            return
        try:
            head = os.read(fd, 256)
        except OSError:
            return
        finally:
            os.close(fd)
        if not head.startswith(b"#!"):
            return
        words = head[2:].split(b"\n", 1)[0].split()
        if not words:
            return
        current = os.fsdecode(words[0])
