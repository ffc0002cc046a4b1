"""pytest fixtures shared by the client tests; each test module imports the ones it uses.

`client_runtime` is parametrised with ids `runc` (Debian's runc, the control) and `pyrunc`: every scenario runs with
both, in the same session. Neither is ever skipped: a missing client or runtime is a failure with the package to
install, because in CI these tests must run.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from .image import ImageArchive, build_image_archive
from .runtimes import RUNTIMES, runtime_binary


@dataclass(frozen=True)
class ClientRuntime:
    name: str     # "runc" | "pyrunc"
    binary: Path  # the single executable handed to the client

    def unique_id(self, scenario: str) -> str:
        """A container id/name that no other test, runtime or earlier run uses (cgroup paths derive from it)."""
        return f"{scenario}-{self.name}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module", params=RUNTIMES)
def client_runtime(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> ClientRuntime:
    name = request.param
    return ClientRuntime(name, runtime_binary(name, tmp_path_factory.mktemp(f"bin-{name}")))


@pytest.fixture(scope="module")
def image_archive(busybox_rootfs: Path, tmp_path_factory: pytest.TempPathFactory) -> ImageArchive:
    """The busybox rootfs of tests/conftest.py as an image tarball that every client can load."""
    return build_image_archive(busybox_rootfs, tmp_path_factory.mktemp("image") / "busybox-image.tar")
