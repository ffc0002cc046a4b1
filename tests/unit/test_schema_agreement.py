"""Our config schema (schemas/config.schema.json) gives the official runtime-spec schema's verdict on the corpus.

The official schema comes from Debian's golang-github-opencontainers-specs-dev (runtime-spec 1.0.2 + 118 commits,
before 1.1.0), which CI installs. It predates runtime-spec 1.1-1.3, so the two may disagree exactly where those
releases added or tightened fields; each such corpus file is listed in DIFFERENCES with the reason, and the test
also fails if a listed file stops differing (so the list stays true). Only the schema pass is compared: pyrunc's
semantic checks (tests/configs/semantic/) are stricter on purpose.
"""

from __future__ import annotations

import json
import os

import pytest

from pyrunc.spec import schema
from pyrunc.spec.load import parse_json

OFFICIAL_DIR = "/usr/share/gocode/src/github.com/opencontainers/runtime-spec/schema"
CORPUS = os.path.join(os.path.dirname(__file__), os.pardir, "configs")

# corpus file -> why our verdict differs from the pre-1.1 official schema's.
DIFFERENCES: dict[str, str] = {
    # Valid since 1.1-1.3, refused by the older schema's enums:
    "valid/time-namespace.json": 'namespace type "time" (1.1.0, #1151)',
    "semantic/time-offsets-realtime.json": 'namespace type "time" (1.1.0, #1151)',
    "valid/seccomp-arch-loongarch.json": "SCMP_ARCH_LOONGARCH64/M68K/SH/SHEB (1.2.1, #1229, #1276)",
    # runc compatibility, not a spec addition: runc accepts the recursive propagation values and Docker writes them.
    "valid/rootfs-propagation-rshared.json": "rootfsPropagation rshared/rslave/rprivate/runbindable (runc)",
    # Loosened in 1.3.0 (the 1.3.0 JSON schema itself still requires the field; runc accepts `"pids": {}`):
    "valid/pids-without-limit.json": "linux.resources.pids.limit OPTIONAL (1.3.0, #1279)",
    # Tightened in 1.3.0:
    "invalid/device-file-mode-512.json": "fileMode maximum 511 (1.3.0, #1298; the older schema allows 512)",
    # Fields the older schema does not know (so it ignores them), which 1.1-1.3 define:
    "invalid/scheduler-bad-policy.json": "process.scheduler (1.1.0, #1188)",
    "invalid/scheduler-missing-policy.json": "process.scheduler (1.1.0, #1188)",
    "invalid/io-priority-bad-class.json": "process.ioPriority (1.1.0, #1191)",
    "invalid/exec-cpu-affinity-number.json": "process.execCPUAffinity (1.2.1, #1253)",
    "invalid/memory-policy-bad-mode.json": "linux.memoryPolicy (1.3.0, #1282)",
    "invalid/net-device-name-number.json": "linux.netDevices (1.3.0, #1271)",
    "invalid/intel-rdt-schemata-string.json": "linux.intelRdt.schemata (1.3.0, #1230)",
    "invalid/intel-rdt-enable-monitoring-string.json": "linux.intelRdt.enableMonitoring (1.3.0, #1287)",
}


def corpus_files() -> list[str]:
    with open(os.path.join(CORPUS, "expected.json")) as f:
        return sorted(json.load(f))


def load_corpus(name: str) -> object:
    with open(os.path.join(CORPUS, name), "rb") as f:
        return parse_json(f.read(), name)


@pytest.fixture(scope="module")
def official_registry():  # type: ignore[no-untyped-def]
    if not os.path.isfile(os.path.join(OFFICIAL_DIR, "config-schema.json")):
        pytest.fail(
            f"the official runtime-spec schema is missing from {OFFICIAL_DIR}: "
            "install it with `apt-get install -y golang-github-opencontainers-specs-dev` (CI does)"
        )
    import referencing
    import referencing.jsonschema

    # The official files refer to each other by bare file name ("defs.json#/definitions/uint32") and have no $id,
    # so registering each under its file name resolves every $ref locally.
    resources = []
    for fname in sorted(os.listdir(OFFICIAL_DIR)):
        if fname.endswith(".json"):
            with open(os.path.join(OFFICIAL_DIR, fname)) as f:
                resources.append((fname, referencing.jsonschema.DRAFT4.create_resource(json.load(f))))
    return referencing.Registry().with_resources(resources)


def official_validator(registry, fname: str):  # type: ignore[no-untyped-def]
    import jsonschema

    with open(os.path.join(OFFICIAL_DIR, fname)) as f:
        root = json.load(f)
    jsonschema.Draft4Validator.check_schema(root)
    return jsonschema.Draft4Validator(root, registry=registry)


@pytest.fixture(scope="module")
def official(official_registry):  # type: ignore[no-untyped-def]
    return official_validator(official_registry, "config-schema.json")


def test_corpus_is_big_enough() -> None:
    files = corpus_files()
    assert len(files) >= 60
    assert {f.split("/")[0] for f in files} == {"valid", "invalid", "semantic"}
    on_disk = {f"{d}/{n}" for d in ("valid", "invalid", "semantic") for n in os.listdir(os.path.join(CORPUS, d))}
    assert on_disk == set(files), "tests/configs/expected.json and the corpus files disagree"


def test_differences_are_corpus_files() -> None:
    assert set(DIFFERENCES) <= set(corpus_files())


@pytest.mark.parametrize("name", corpus_files())
def test_same_verdict_as_official_schema(name: str, official) -> None:  # type: ignore[no-untyped-def]
    doc = load_corpus(name)
    ours_valid = not schema.validate(doc)
    official_errors = [e.message for e in official.iter_errors(doc)]
    official_valid = not official_errors
    if name in DIFFERENCES:
        assert ours_valid != official_valid, f"{name} no longer differs ({DIFFERENCES[name]}): update DIFFERENCES"
    else:
        assert ours_valid == official_valid, (
            f"{name}: ours says {'valid' if ours_valid else schema.validate(doc)}, "
            f"official says {'valid' if official_valid else official_errors}"
        )


def test_state_schema_agrees_with_official(official_registry) -> None:  # type: ignore[no-untyped-def]
    off = official_validator(official_registry, "state-schema.json")
    base = {"ociVersion": "1.3.0", "id": "c1", "status": "running", "pid": 42, "bundle": "/b"}
    cases = [
        base,
        {
            **base,
            "annotations": {"a": "b"},
            "rootfs": "/b/rootfs",
            "created": "2026-11-22T04:12:40.833881598Z",
            "owner": "",
        },
        {**base, "status": "stopped", "pid": 0},
        {**base, "status": "creating"},
        {k: v for k, v in base.items() if k != "id"},
        {k: v for k, v in base.items() if k != "bundle"},
        {**base, "pid": -1},
        {**base, "pid": "42"},
        {**base, "status": "exploded"},
        {**base, "annotations": {"a": 1}},
        [],
    ]
    for doc in cases:
        assert (not schema.validate(doc, "state")) == off.is_valid(doc), doc
    # Where ours is stricter or broader, on purpose:
    assert not schema.validate({**base, "status": "paused"}, "state")  # runc's extra status
    assert not off.is_valid({**base, "status": "paused"})
    no_pid = {k: v for k, v in base.items() if k != "pid"}
    assert schema.validate(no_pid, "state") == [("/pid", "is required")]  # runtime.md: REQUIRED when running (Linux)
    assert off.is_valid(no_pid)
