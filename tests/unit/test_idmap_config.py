"""Id-mapped mounts (runtime-spec 1.2+: `mounts[].uidMappings`/`gidMappings`, options `idmap`/`ridmap`): the
config checks, and what `pyrunc features` announces.

config.md: the mappings MUST come together; `idmap`/`ridmap` without them use the container's user namespace
mapping, and without a user namespace that is an error. runc also refuses them on anything but a bind mount,
and empty lists.
"""

from __future__ import annotations

import copy
import json
import os
from typing import Any

import pytest

from pyrunc.cli.commands.features import features
from pyrunc.errors import SpecError
from pyrunc.spec.default import example_spec
from pyrunc.spec.load import load_spec

MAP = [{"containerID": 0, "hostID": 100000, "size": 65536}]


def config(mount: dict[str, Any], userns: bool) -> dict[str, Any]:
    cfg = copy.deepcopy(example_spec(cgroup2=False))
    cfg["process"]["terminal"] = False
    cfg["mounts"].append(mount)
    if userns:
        cfg["linux"]["namespaces"].append({"type": "user"})
        cfg["linux"]["uidMappings"] = cfg["linux"]["gidMappings"] = MAP
    return cfg


def load(tmp_path: Any, cfg: dict[str, Any]) -> Any:
    os.makedirs(tmp_path / "rootfs", exist_ok=True)
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    return load_spec(str(tmp_path))


def problems(tmp_path: Any, cfg: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(SpecError) as info:
        load(tmp_path, cfg)
    assert "\n" not in str(info.value) and str(info.value).startswith("config.json: /mounts/")
    return info.value.problems


def bind(*options: str, **extra: Any) -> dict[str, Any]:
    return {"destination": "/data", "type": "bind", "source": "/srv", "options": ["rbind", *options], **extra}


@pytest.mark.parametrize(("mount", "userns"), [
    (bind("idmap", uidMappings=MAP, gidMappings=MAP), False),   # own mappings: no user namespace needed
    (bind("ridmap", uidMappings=MAP, gidMappings=MAP), True),
    (bind("idmap"), True),                                      # the container's mapping
    (bind(uidMappings=MAP, gidMappings=MAP), False),            # mappings without the option (runc: idmap)
])
def test_valid(tmp_path: Any, mount: dict[str, Any], userns: bool) -> None:
    spec = load(tmp_path, config(mount, userns))
    assert spec.mounts[-1].destination == "/data"


@pytest.mark.parametrize(("mount", "userns", "pointer", "words"), [
    (bind("idmap", uidMappings=MAP), True, "/mounts/7/gidMappings", "is required when the other"),
    (bind("idmap", gidMappings=MAP), False, "/mounts/7/uidMappings", "is required when the other"),
    (bind("idmap"), False, "/mounts/7/options", "needs a user namespace"),
    (bind("ridmap"), False, "/mounts/7/options", "needs a user namespace"),
    (bind("idmap", uidMappings=[], gidMappings=[]), True, "/mounts/7/uidMappings", "must not be empty"),
    (bind("idmap", uidMappings=MAP, gidMappings=[]), False, "/mounts/7/gidMappings", "must not be empty"),
    ({"destination": "/t", "type": "tmpfs", "source": "tmpfs", "options": ["idmap"]}, True, "/mounts/7/options",
     "only supported for bind mounts"),
    (bind("idmap", uidMappings=[{"containerID": 0, "hostID": 1, "size": 0}], gidMappings=MAP), False,
     "/mounts/7/uidMappings/0/size", "at least 1"),
])
def test_invalid_names_the_field(tmp_path: Any, mount: dict[str, Any], userns: bool, pointer: str,
                                 words: str) -> None:
    found = problems(tmp_path, config(mount, userns))
    assert any(p == pointer and words in msg for p, msg in found), found


def test_features_announce_idmap_as_runc_does() -> None:
    """runc (1.2+): mountExtensions.idmap.enabled, and idmap/ridmap are not listed among mountOptions."""
    f = features()
    assert f["linux"]["mountExtensions"] == {"idmap": {"enabled": True}}
    assert "idmap" not in f["mountOptions"] and "ridmap" not in f["mountOptions"]
    assert "rbind" in f["mountOptions"]
