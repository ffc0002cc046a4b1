"""`process.apparmorProfile` and `process.selinuxLabel`: the LSM label the container's process gets at execve.

Each is written to this thread's "exec" attribute under the container's /proc, which the kernel applies at
the next execve (runc: apparmor.ApplyProfile, label.SetProcessLabel): AppArmor's `exec <profile>` to
attr/apparmor/exec (attr/exec before Linux 5.8), the SELinux context to attr/exec. The write goes through a
verified procfs (pyrunc.rootfs.procfs): CVE-2019-16884, a volume mounted over /proc made runc write the label
into a plain file, and the container ran without its profile.

A host without the LSM cannot apply the label: the config is refused before anything is created (`host_problems`,
from validation's check_lsm and exec), as runc and crun refuse it, rather than running the container unconfined.
`linux.mountLabel`, the SELinux context of the container's mounts, is a mount option (pyrunc.rootfs.mounts,
`context_option`), applied only where SELinux is enabled.
"""

import errno
import os

from pyrunc.errors import SyscallError
from pyrunc.rootfs.procfs import open_root, write_file

APPARMOR_POINTER = "/process/apparmorProfile"
SELINUX_POINTER = "/process/selinuxLabel"


def apparmor_enabled() -> bool:
    """runc's test: securityfs has AppArmor's directory and the module parameter says Y."""
    if not os.path.isdir("/sys/kernel/security/apparmor"):
        return False
    try:
        with open("/sys/module/apparmor/parameters/enabled", "rb") as f:
            return f.read(1) == b"Y"
    except OSError:
        return False


def selinux_enabled() -> bool:
    """selinuxfs is mounted where the kernel mounts it (go-selinux looks for the selinuxfs mount)."""
    return os.path.exists("/sys/fs/selinux/enforce")


def host_problems(apparmor_profile: str | None, selinux_label: str | None) -> list[tuple[str, str]]:
    """(JSON pointer, message) for each label this host cannot apply."""
    out = []
    if apparmor_profile and not apparmor_enabled():
        out.append((APPARMOR_POINTER, f'AppArmor is not enabled on this host, the profile "{apparmor_profile}" '
                                      "cannot be applied"))
    if selinux_label and not selinux_enabled():
        out.append((SELINUX_POINTER, "selinux label is specified in config, but selinux is disabled or not "
                                     "supported"))  # runc's wording
    return out


def apply(apparmor_profile: str | None, selinux_label: str | None) -> None:
    """Set the labels of the next execve of this thread. Call after pivot_root (the container's /proc)."""
    if not apparmor_profile and not selinux_label:
        return
    proc = open_root("LSM labels")
    try:
        # This thread's directory as this procfs names it: thread-self is a symlink, which the verified open
        # refuses to follow, so it is read here and its target opened beneath /proc.
        try:
            tid_dir = os.readlink("thread-self", dir_fd=proc)
        except OSError as e:
            raise SyscallError("readlink", e.errno or errno.EIO, path="/proc/thread-self") from None
        if apparmor_profile:
            try:
                _write(proc, f"{tid_dir}/attr/apparmor/exec", f"exec {apparmor_profile}", APPARMOR_POINTER)
            except SyscallError as e:
                if e.errno != errno.ENOENT:
                    raise
                _write(proc, f"{tid_dir}/attr/exec", f"exec {apparmor_profile}", APPARMOR_POINTER)
        if selinux_label:
            _write(proc, f"{tid_dir}/attr/exec", selinux_label, SELINUX_POINTER)
    finally:
        os.close(proc)


def _write(proc: int, rel: str, value: str, pointer: str) -> None:
    try:
        write_file(proc, rel, value)
    except SyscallError as e:
        e.spec_path = pointer
        raise
