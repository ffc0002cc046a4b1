"""runtime-linux.md#file-descriptors: stdio passthrough and no leaked descriptors."""

from __future__ import annotations

import os
import select
import subprocess
import time

from conformance.harness import MUST, RUNC, Ctx, Fail, Proc, case


def _read_until_eof(fd: int, deadline: float) -> bytes:
    chunks = []
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        data = os.read(fd, 65536)
        if not data:
            return b"".join(chunks)
        chunks.append(data)
    raise Fail(
        "no EOF on the container's stdout pipe (a runtime process still holds it?): got "
        + repr(b"".join(chunks)[-300:])
    )


@case("stdio.pipes", RUNC, "CLIENTS.md 2.4/4.3 (shim and conmon hand pipes to create)")
def pipes(t: Ctx) -> None:
    """create with pipes as stdio: stdin reaches the process, its stdout/stderr reach our pipes, EOF at exit."""
    b = t.bundle('read line; echo "out:$line"; echo "err:$line" >&2')
    b.write()
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    argv = [*t.runtime.argv, "--root", str(t.root), "create", "--bundle", str(b.path), b.cid]
    t0 = time.monotonic()
    try:
        p = subprocess.Popen(argv, stdin=in_r, stdout=out_w, stderr=err_w, start_new_session=True)
        for fd in (in_r, out_w, err_w):
            os.close(fd)
        in_r = out_w = err_w = -1
        try:
            rc = p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            raise Fail("create with pipes did not return within 15s (waiting for EOF on a pipe?)") from None
        t.log.append(Proc(argv, rc, "", "", time.monotonic() - t0))
        if rc != 0:
            os.set_blocking(err_r, False)
            try:
                err = os.read(err_r, 4000).decode(errors="replace")
            except BlockingIOError:
                err = ""
            raise Fail(f"create exited {rc}", t.log[-1], detail=err)
        t.start(b.cid)
        os.write(in_w, b"hello-pipe\n")
        os.close(in_w)
        in_w = -1
        deadline = time.monotonic() + 10
        out = _read_until_eof(out_r, deadline).decode()
        err = _read_until_eof(err_r, deadline).decode()
    finally:
        for fd in (in_r, in_w, out_r, out_w, err_r, err_w):
            if fd >= 0:
                os.close(fd)
    t.expect_eq(out, "out:hello-pipe\n", "container stdout")
    t.expect_eq(err, "err:hello-pipe\n", "container stderr")


def _fds_from_ls(out: str) -> dict[int, str]:
    fds = {}
    for line in out.splitlines():
        parts = line.split()
        if "->" in parts:
            i = parts.index("->")
            fds[int(parts[i - 1])] = parts[i + 1]
    return fds


@case("stdio.no_leaked_fds", MUST, "runtime-linux.md#file-descriptors")
def no_leaked_fds(t: Ctx) -> None:
    """Only fds 0, 1, 2 are open in the container process (run and create+start), even with extra caller fds."""
    r, w = os.pipe()
    outputs = {}
    try:
        b = t.bundle(args=["ls", "-l", "/proc/self/fd"], name="run")
        b.write()
        proc = t.exec(
            [*t.runtime.argv, "--root", str(t.root), "run", "--bundle", str(b.path), b.cid],
            pass_fds=(r, w),
            label="run",
        )
        outputs["run"] = proc.out
        b2 = t.bundle(args=["ls", "-l", "/proc/self/fd"], name="create")
        b2.write()
        t.exec(
            [*t.runtime.argv, "--root", str(t.root), "create", "--bundle", str(b2.path), b2.cid],
            pass_fds=(r, w),
            label="create",
            out_path=t.stdout_path(b2.cid),
            err_path=t.stderr_path(b2.cid),
        )
        t.start(b2.cid)
        t.wait_status(b2.cid, "stopped")
        outputs["create+start"] = t.output(b2.cid)
    finally:
        os.close(r)
        os.close(w)
    for how, out in outputs.items():
        fds = _fds_from_ls(out)
        # `ls` itself holds one descriptor on the /proc/self/fd directory while listing it.
        extra = {fd: target for fd, target in fds.items() if fd > 2 and "/fd" not in target}
        t.expect(0 in fds and 1 in fds and 2 in fds, f"stdio fds missing ({how})", out)
        t.expect(not extra, f"unexpected open fds in the container ({how}): {extra}", out)
