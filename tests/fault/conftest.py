"""Fixtures for fault and concurrency tests: pyrunc with a private root, a busybox rootfs and a bundle."""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import base_config
from security.runtimes import Runtime, copy_rootfs


@pytest.fixture
def world() -> Iterator[Path]:
    top = Path(tempfile.mkdtemp(prefix="pyrunc-fault-"))
    yield top
    shutil.rmtree(top, ignore_errors=True)


@pytest.fixture
def pyrunc(world: Path) -> Iterator[Runtime]:
    rt = Runtime("pyrunc", [sys.executable, "-m", "pyrunc"], world / "state")
    yield rt
    rt.cleanup()


@pytest.fixture(scope="module")
def fault_rootfs(busybox_rootfs: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_rootfs(busybox_rootfs, tmp_path_factory.mktemp("fault") / "rootfs")


def write_bundle(where: Path, rootfs: Path, args: list[str], edit: Any = None) -> Path:
    where.mkdir(parents=True, exist_ok=True)
    cfg = base_config(str(rootfs), args)
    if edit:
        edit(cfg)
    (where / "config.json").write_text(json.dumps(cfg))
    return where


@pytest.fixture
def sleeper(world: Path, fault_rootfs: Path) -> Path:
    """A bundle whose process sleeps (long enough for any test, short enough to never outlive a broken one)."""
    return write_bundle(world / "sleeper", fault_rootfs, ["sleep", "120"])
