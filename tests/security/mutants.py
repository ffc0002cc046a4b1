"""Deliberately weakened pyrunc builds: each removes one defence, and the attack test for that class must FAIL.

    python3 tests/security/mutants.py            # every mutant
    python3 tests/security/mutants.py M-45310    # some of them

For each mutant the pyrunc tree (pyrunc/ and schemas/) is copied to a temporary directory, the listed text
replacements are applied there (never in the checkout), and the named tests run against the copy
(PYRUNC_SECURITY_SRC). A mutant is "caught" when at least one of its tests fails, "SURVIVED" when all pass (the
tests would not notice a runtime with that bug), and "STALE" when its text is no longer in the source (the code
moved on: update the table). Exit status 0 only if every mutant is caught. Not part of CI (it takes minutes).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SEC = "tests/security"
FAULT = "tests/fault"


@dataclass(frozen=True)
class Mutant:
    name: str
    what: str
    edits: tuple[tuple[str, str, str], ...]  # (file, old text, new text); old must occur exactly once
    tests: tuple[str, ...]                   # pytest node ids (or file::test) relative to the repo


MUTANTS = (
    Mutant("M-5736", "run the runtime's own binary as the entrypoint",
           (("pyrunc/process/program.py", "    refuse_own_interpreter(path, arg0, ptr)\n", "    pass\n"),),
           (f"{SEC}/test_runtime_binary.py::test_cve_2019_5736_entrypoint_cannot_overwrite_runtime_binary",)),
    Mutant("M-9962", "init stays dumpable while parked in the container",
           (("pyrunc/process/init.py", "    prctl.set_dumpable(False)\n    prctl.set_name",
             "    prctl.set_dumpable(True)\n    prctl.set_name"),
            ("pyrunc/process/init.py",
             "    # non-dumpable until execve (CVE-2016-9962).\n    prctl.set_dumpable(False)\n",
             "    # non-dumpable until execve (CVE-2016-9962).\n    prctl.set_dumpable(True)\n")),
           (f"{SEC}/test_runtime_binary.py::test_cve_2016_9962_parked_init_is_not_reachable_from_a_sibling",)),
    Mutant("M-30465", "mount onto the destination's path string, not the resolved fd",
           (("pyrunc/rootfs/mounts.py",
             'lm.mount(source, f"/proc/self/fd/{fd}", fstype, flags, data or None, path=rel)',
             'lm.mount(source, ctx.path + rel, fstype, flags, data or None, path=rel)'),
            ("pyrunc/rootfs/mounts.py", "    return reopen_mount(ctx, rel)\n", "    return os.dup(fd)\n")),
           (f"{SEC}/test_mount_targets.py::test_cve_2021_30465_raced_destination_never_lands_on_the_host",)),
    Mutant("M-45310", "create missing mountpoints with makedirs on the path string",
           (("pyrunc/rootfs/mounts.py",
             "        fd = securejoin.mkdir_all(ctx.fd, where) if directory else "
             "securejoin.create_file(ctx.fd, where, 0o644)",
             "        os.makedirs(ctx.path + securejoin.clean(dest), exist_ok=True)\n"
             "        fd = securejoin.open_in_root(ctx.fd, dest, os.O_PATH)"),),
           (f"{SEC}/test_mount_targets.py::test_cve_2024_45310_raced_mkdir_creates_nothing_on_the_host",)),
    Mutant("M-28642", "mount procfs/sysfs through symlinks",
           (("pyrunc/rootfs/mounts.py", "    dst_fd, rel = open_mountpoint_strict(ctx, mnt.destination, kind)",
             "    dst_fd, _, rel = open_mountpoint(ctx, mnt.destination)"),),
           (f"{SEC}/test_mount_targets.py::test_cve_2023_28642_proc_symlink_is_refused",)),
    Mutant("M-52881", "allow mount destinations that resolve inside /proc",
           (("pyrunc/rootfs/mounts.py", '    if rel.startswith("/proc/"):', "    if False:"),),
           (f"{SEC}/test_mount_targets.py::test_cve_2025_52881_bind_over_proc_self_attr_is_refused",)),
    Mutant("M-52881-sysctl", "...and write sysctls by path (O_CREAT|O_TRUNC), like os.WriteFile",
           (("pyrunc/rootfs/mounts.py", '    if rel.startswith("/proc/"):', "    if False:"),
            ("pyrunc/rootfs/procfs.py", "    fd = open_beneath(proc, rel)\n",
             '    fd = os.open("/proc/" + rel, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)\n'),
            ("pyrunc/rootfs/procfs.py", "linuxfs.fstatfs_type(fd) != linuxfs.PROC_SUPER_MAGIC", "False")),
           (f"{SEC}/test_mount_targets.py::test_cve_2025_52881_destination_symlink_into_proc_is_refused",)),
    Mutant("M-29162", "inheritable set = bounding set",
           (("pyrunc/security/capabilities.py", "caps.to_mask(_known(c.inheritable))",
             "caps.to_mask(_known(c.bounding))"),),
           (f"{SEC}/test_privileges.py::test_cve_2022_29162_no_inheritable_capabilities_unless_configured",)),
    Mutant("M-21626", "caller's fds are not closed / made close-on-exec",
           (("pyrunc/process/intermediate.py", "    proc.close_fds_except(cfg.keep_fds(sock))\n", "    pass\n"),
            ("pyrunc/process/init.py", "    proc.set_cloexec_from(3 + cfg.extra_fds)\n", "    pass\n"),
            ("pyrunc/runtime/container.py", "    proc.set_cloexec_from(3 + extra)\n", "    pass\n")),
           (f"{SEC}/test_leaked_fds.py::test_cve_2024_21626_fds_leaked_by_the_caller",)),
    Mutant("M-copyup", "tmpcopyup opens a copied file by name, blocking (the bug this suite found)",
           (("pyrunc/rootfs/copyup.py", "        sfd = open_same(src, name, os.O_RDONLY, st, where)",
             "        sfd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=src)"),),
           (f"{SEC}/test_mount_targets.py::test_tmpcopyup_entry_changed_after_stat_is_refused",
            f"{SEC}/test_mount_targets.py::test_tmpcopyup_of_a_raced_volume_never_hangs_the_runtime")),
    Mutant("M-31133", "mask with whatever /dev/null resolves to",
           (("pyrunc/rootfs/paths.py", "            if not linuxfs.is_char_device(fd, 1, 3):",
             "            if False:"),),
           (f"{SEC}/test_dev_and_masks.py::test_cve_2025_31133_dev_null_symlink_is_not_used_to_mask",)),
    Mutant("M-52565", "create /dev/console with O_CREAT|O_TRUNC following symlinks",
           (("pyrunc/rootfs/prepare.py", '            target = securejoin.create_file(root, "/dev/console", 0o600)',
             '            os.close(os.open("/dev/console", os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600))\n'
             '            target = securejoin.open_in_root(root, "/dev/console", os.O_PATH)'),),
           (f"{SEC}/test_dev_and_masks.py::test_cve_2025_52565_dev_console_symlink_is_not_followed",)),
    Mutant("M-41579", "remove /dev/ptmx by path string",
           (("pyrunc/rootfs/devices.py", '    securejoin.unlink(ctx.fd, "/dev/ptmx")',
             '    os.path.lexists(ctx.path + "/dev/ptmx") and os.unlink(ctx.path + "/dev/ptmx")'),),
           (f"{SEC}/test_dev_and_masks.py::test_cve_2026_41579_dev_symlink_to_host_dir_is_not_populated",)),
    Mutant("M-mask", "masked paths not masked",
           (("pyrunc/rootfs/prepare.py", "    paths.mask_paths(spec.linux.masked_paths)\n", "    pass\n"),),
           (f"{SEC}/test_dev_and_masks.py::test_cve_2025_31133_masked_paths_stay_masked_after_remount_attempts",)),
    Mutant("M-bounding", "bounding set not dropped",
           (("pyrunc/security/capabilities.py", "            prctl.capbset_drop(num, detail=name)",
             "            pass"),),
           (f"{SEC}/test_privileges.py::test_dropped_capabilities_cannot_be_regained",)),
    Mutant("M-nnp", "no_new_privs not set",
           (("pyrunc/process/init.py", "        prctl.set_no_new_privs()\n", "        pass\n"),),
           (f"{SEC}/test_privileges.py::test_no_new_privs_holds_across_setuid_and_file_caps",)),
    Mutant("M-save-order", "create makes the cgroup before the state names it",
           (("pyrunc/runtime/container.py",
             "        statestore.save(root, st)  # names the cgroup before it exists: `delete --force` can always "
             "clean up\n", "        pass\n"),
            ("pyrunc/runtime/container.py", "        cg.create()\n        cg_created = True\n",
             "        cg.create()\n        cg_created = True\n        statestore.save(root, st)\n")),
           (f"{FAULT}/test_sigkill.py::test_sigkill_during_create",)),
    Mutant("M-reserve", "the state dir is not reserved exclusively",
           (("pyrunc/runtime/state.py", "    except FileExistsError:\n        raise ContainerExists(cid) from None\n",
             "    except FileExistsError:\n        pass\n"),),
           (f"{FAULT}/test_concurrency.py::test_20_concurrent_creates_of_one_id_yield_one_container",)),
    Mutant("M-pid-reuse", "liveness by pid only (start time ignored)",
           (("pyrunc/runtime/state.py", "    if st.pid_start and start != st.pid_start:",
             "    if False:"),),
           (f"{FAULT}/test_state_damage.py::test_state_naming_another_process_is_never_signalled",)),
    Mutant("M-leak-cgroup", "delete leaves the cgroup",
           (("pyrunc/runtime/teardown.py", "    if st.cgroup:\n        _destroy_cgroup(st)\n", "    pass\n"),),
           (f"{FAULT}/test_leaks.py",)),
    Mutant("M-seccomp", "seccomp filter not loaded",
           (("pyrunc/process/init.py", "    fd = seccomp.load_filter(cfg.seccomp)", "    fd = None"),),
           (f"{SEC}/test_privileges.py::test_seccomp_filter_cannot_be_removed",)),
)


def build(m: Mutant, dest: Path) -> str | None:
    """Copy the tree and apply the edits; an error message if an edit no longer applies."""
    for d in ("pyrunc", "schemas"):
        shutil.copytree(REPO / d, dest / d, ignore=shutil.ignore_patterns("__pycache__"))
    for rel, old, new in m.edits:
        path = dest / rel
        text = path.read_text()
        if text.count(old) != 1:
            return f"{rel}: expected text found {text.count(old)} times: {old.strip()[:60]!r}"
        path.write_text(text.replace(old, new))
    return None


def run(m: Mutant) -> tuple[str, str]:
    with tempfile.TemporaryDirectory(prefix=f"pyrunc-{m.name}-") as tmp:
        stale = build(m, Path(tmp))
        if stale:
            return "STALE", stale
        env = dict(os.environ, PYRUNC_SECURITY_SRC=tmp, PYRUNC_SECURITY_RUNTIMES="pyrunc",
                   PYRUNC_RACE_SECONDS=os.environ.get("PYRUNC_RACE_SECONDS", "20"))
        p = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *m.tests],
                           cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
        summary = (p.stdout.strip().splitlines() or [""])[-1]
        if p.returncode == 1:
            return "caught", summary
        if p.returncode == 0:
            return "SURVIVED", summary
        return "ERROR", summary + "\n" + p.stdout[-2000:] + p.stderr[-2000:]


def main(argv: list[str]) -> int:
    chosen = [m for m in MUTANTS if not argv or m.name in argv]
    bad = 0
    for m in chosen:
        t0 = time.monotonic()
        verdict, detail = run(m)
        bad += verdict != "caught"
        print(f"{m.name:<16} {verdict:<9} {time.monotonic() - t0:5.1f}s  {m.what}  [{detail}]", flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
