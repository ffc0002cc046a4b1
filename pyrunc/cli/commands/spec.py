"""`pyrunc spec [-b BUNDLE] [--rootless]`: write a starter config.json (runc's example, see pyrunc.spec.default).

Like runc, an existing config.json is never overwritten ("File config.json exists. Remove it first"). The file is
created with O_EXCL, so a config.json appearing meanwhile is not clobbered either. Output is 2-space-indented JSON
(runc indents with tabs; JSON readers do not care).
"""

from __future__ import annotations

import argparse

from pyrunc.cli.context import Context


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--bundle", "-b", default="", help="path to the root of the bundle directory")
    p.add_argument("--rootless", action="store_true", help="generate a configuration for a rootless container")


def run(args: argparse.Namespace, ctx: Context) -> int:
    import errno
    import json
    import os

    from pyrunc.errors import PyruncError
    from pyrunc.spec.default import example_spec, to_rootless

    spec = example_spec()
    if args.rootless:
        spec = to_rootless(spec)
    bundle = args.bundle or "."
    path = os.path.join(bundle, "config.json")
    data = (json.dumps(spec, indent=2) + "\n").encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW, 0o666)
    except OSError as e:
        if e.errno == errno.EEXIST:
            raise PyruncError("File config.json exists. Remove it first") from None
        where = bundle if e.errno in (errno.ENOENT, errno.ENOTDIR) else path
        raise PyruncError(f"{where}: {os.strerror(e.errno or 0)}") from None
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    except OSError as e:
        os.unlink(path)
        raise PyruncError(f"write {path}: {os.strerror(e.errno or 0)}") from None
    finally:
        os.close(fd)
    return 0
