"""`pyrunc validate [-b BUNDLE] [--create] [--console-socket PATH]`: check a bundle's config.json (not in runc).

Runs exactly the checks `create` runs (strict JSON, schema, semantic and host checks: rootfs, namespace files) and
prints EVERY problem, one per line on stdout, as `config.json: <pointer>: <message>`; warnings (deprecated but
allowed) as `config.json: <pointer>: warning: <message>`. Exit status 1 if there is any error, else 0.
A valid config prints nothing (warnings aside), so `pyrunc validate && pyrunc create ...` reads naturally.

Without --create the config is checked as a document: `process` may be absent and the terminal/console-socket rule
is skipped. With --create it is checked as `create` would use it; `--console-socket` (create's flag) implies --create.
A missing bundle or config.json is an ordinary error (one line on stderr/--log, exit 1).
"""

from __future__ import annotations

import argparse

from pyrunc.cli.context import Context


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--bundle", "-b", default=".", help="path to the root of the bundle directory")
    p.add_argument("--create", action="store_true", help="check the config as `create` would use it")
    p.add_argument("--console-socket", default=None, help="the --console-socket create would be given")


def run(args: argparse.Namespace, ctx: Context) -> int:
    import sys

    from pyrunc.errors import SpecError
    from pyrunc.spec.load import CONFIG_NAME, inspect_bundle

    create = args.create or args.console_socket is not None
    try:
        _, _, problems = inspect_bundle(
            args.bundle, console_socket=args.console_socket, for_create=create, detach=create
        )
    except SpecError as e:  # not strict JSON: nothing more can be checked
        sys.stdout.write("".join(line + "\n" for line in e.lines()))
        return 1
    lines = []
    for p in problems:
        label = "warning: " if p.warning else ""
        lines.append(f"{CONFIG_NAME}: {p.pointer or '/'}: {label}{p.message}\n")
    sys.stdout.write("".join(lines))
    return 1 if any(not p.warning for p in problems) else 0
