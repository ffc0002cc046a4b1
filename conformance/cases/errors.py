"""runtime.md#errors: invalid bundles fail, and a failed create leaves no container behind."""

from __future__ import annotations

from conformance.harness import MUST, RUNC, Bundle, Ctx, case


def _create_fails(t: Ctx, b: Bundle, raw_config: str | None = None) -> None:
    if raw_config is None:
        b.write()
    else:
        (b.path / "config.json").write_text(raw_config)
    t.rt("create", "--bundle", str(b.path), b.cid, ok=False)
    t.expect_gone(b.cid, b.cgroups_path)


@case("errors.missing_rootfs", MUST, "config.md#root; runtime.md#create")
def missing_rootfs(t: Ctx) -> None:
    """root.path that does not exist: create fails and nothing is left."""
    b = t.bundle()
    b.config["root"]["path"] = "no-such-rootfs"
    _create_fails(t, b)


@case("errors.invalid_json", MUST, "runtime.md#create")
def invalid_json(t: Ctx) -> None:
    """A config.json that is not JSON: create fails and nothing is left."""
    b = t.bundle()
    _create_fails(t, b, raw_config='{"ociVersion": "1.0.2", "process": ')


@case("errors.unknown_namespace", MUST, "config-linux.md#namespaces")
def unknown_namespace(t: Ctx) -> None:
    """An unknown namespace type: create fails and nothing is left."""
    b = t.bundle()
    b.linux["namespaces"].append({"type": "conformance-bogus"})
    _create_fails(t, b)


@case("errors.duplicate_namespace", MUST, "config-linux.md#namespaces (duplicates MUST error)")
def duplicate_namespace(t: Ctx) -> None:
    """The same namespace type twice: create fails and nothing is left."""
    b = t.bundle()
    b.linux["namespaces"].append({"type": "pid"})
    _create_fails(t, b)


@case("errors.unknown_rlimit", MUST, "config.md#posix-process (rlimits)")
def unknown_rlimit(t: Ctx) -> None:
    """An rlimit type that maps to no kernel resource: create fails and nothing is left."""
    b = t.bundle()
    b.process["rlimits"] = [{"type": "RLIMIT_CONFORMANCE", "soft": 1, "hard": 1}]
    _create_fails(t, b)


@case("errors.duplicate_rlimit", MUST, "config.md#posix-process (duplicate rlimits MUST error)")
def duplicate_rlimit(t: Ctx) -> None:
    """The same rlimit type twice: create fails and nothing is left."""
    b = t.bundle()
    b.process["rlimits"] = [
        {"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 1024},
        {"type": "RLIMIT_NOFILE", "soft": 512, "hard": 512},
    ]
    _create_fails(t, b)


@case("errors.missing_executable", MUST, "runtime.md#start; runtime.md#lifecycle")
def missing_executable(t: Ctx) -> None:
    """args[0] that does not exist: create or start fails, and delete --force cleans everything."""
    b = t.bundle(args=["/conformance/no-such-program"])
    proc = t.create(b, ok=None)
    if proc.rc == 0:
        t.start(b.cid, ok=False)
        st = t.rt("state", b.cid, ok=None)
        t.expect(st.rc != 0 or '"running"' not in st.out, "container reported running without a program", st.out)
        t.delete(b.cid, force=True)
    t.expect_gone(b.cid, b.cgroups_path)


@case("errors.process_not_started", MUST, "runtime.md#create (process.args not applied before start)")
def process_not_started(t: Ctx) -> None:
    """A failed create never runs the process (its side effect in a bind-mounted dir must be absent)."""
    out = t.host_dir("side-effects")
    b = t.bundle(f"touch {out}/ran")
    b.add_mount(str(out), "bind", str(out), ["rbind"])
    b.linux["namespaces"].append({"type": "conformance-bogus"})
    _create_fails(t, b)
    t.expect(not (out / "ran").exists(), "the process ran although create failed")


@case("errors.intel_rdt_without_resctrl", MUST, "config-linux.md#intelrdt (no resctrl mounted MUST error)")
def intel_rdt_without_resctrl(t: Ctx) -> None:
    """linux.intelRdt where no resctrl file system is mounted: create fails and nothing is left."""
    with open("/proc/self/mountinfo") as f:
        if any(" - resctrl " in line for line in f):
            t.skip("resctrl is mounted on this host")
    b = t.bundle()
    b.linux["intelRdt"] = {"closID": "conformance"}
    _create_fails(t, b)


@case("errors.apparmor_unavailable", RUNC, "runc refuses an AppArmor profile it cannot apply")
def apparmor_unavailable(t: Ctx) -> None:
    """process.apparmorProfile on a host without AppArmor: create fails (no container runs unconfined)."""
    try:
        with open("/sys/module/apparmor/parameters/enabled") as f:
            if f.read(1) == "Y":
                t.skip("AppArmor is enabled on this host")
    except OSError:
        pass
    b = t.bundle()
    b.process["apparmorProfile"] = "conformance-profile"
    _create_fails(t, b)
