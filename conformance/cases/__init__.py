"""Case modules, grouped by spec section; importing this package registers them all.

The table lists cases in the order of MODULES, then in definition order within a module.
"""

import importlib

MODULES = (
    "lifecycle",
    "stdio",
    "namespaces",
    "netdevices",
    "userns",
    "root",
    "mounts",
    "devices",
    "paths",
    "uts",
    "sysctl",
    "process",
    "hooks",
    "cgroups",
    "seccomp",
    "exec",
    "errors",
)

for _name in MODULES:
    importlib.import_module(f"conformance.cases.{_name}")
