"""A container image built locally from a rootfs directory, so that no client ever pulls from a registry.

One tar file serves every client: it is an OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/...`, read by
`ctr image import` and `podman load`) that also carries a docker-archive `manifest.json` pointing at the same blobs
(read by Docker 20.10's `docker load`, which predates OCI-layout support). The single layer is an uncompressed tar.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import tarfile
from dataclasses import dataclass
from pathlib import Path

IMAGE_NAME = "localhost/pyrunc-busybox:test"
IMAGE_PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Fixed so that the archive (and so the image id) is the same on every run.
EPOCH = 946684800  # 2000-01-01T00:00:00Z
CREATED = "2000-01-01T00:00:00Z"

_GO_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le", "s390x": "s390x",
            "riscv64": "riscv64"}


@dataclass(frozen=True)
class ImageArchive:
    path: Path          # the tar file
    name: str           # the reference every client knows it by after loading
    config_digest: str  # "sha256:..." of the config blob, i.e. Docker's image id


def _layer_tar(rootfs: Path) -> bytes:
    """The rootfs as a tar with sorted entries, owner root and a fixed mtime (reproducible digests).

    A symlink to an absolute host path inside the rootfs (what `busybox --install -s` makes when run from the host:
    it links to /proc/self/exe) is stored as the same path seen from inside the image.
    """
    host_prefix = str(rootfs.resolve()).rstrip("/") + "/"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for dirpath, dirnames, filenames in os.walk(rootfs):
            dirnames.sort()
            for name in sorted(dirnames) + sorted(filenames):
                full = Path(dirpath) / name
                info = tar.gettarinfo(str(full), arcname=str(full.relative_to(rootfs)))
                info.uid = info.gid = 0
                info.uname = info.gname = "root"
                info.mtime = EPOCH
                if info.issym() and info.linkname.startswith(host_prefix):
                    info.linkname = "/" + info.linkname[len(host_prefix):]
                if info.isreg():
                    with open(full, "rb") as f:
                        tar.addfile(info, f)
                else:
                    tar.addfile(info)
    return buf.getvalue()


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = EPOCH
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def _add_dir(tar: tarfile.TarFile, name: str) -> None:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    info.mtime = EPOCH
    tar.addfile(info)


def _blob(data: bytes) -> tuple[str, str]:
    """(digest "sha256:<hex>", archive path "blobs/sha256/<hex>")."""
    hexd = hashlib.sha256(data).hexdigest()
    return f"sha256:{hexd}", f"blobs/sha256/{hexd}"


def build_image_archive(rootfs: Path, dest: Path, name: str = IMAGE_NAME) -> ImageArchive:
    """Write `dest` (a .tar) holding `rootfs` as a one-layer image called `name`, with Cmd ["/bin/sh"]."""
    layer = _layer_tar(rootfs)
    layer_digest, layer_path = _blob(layer)
    arch = _GO_ARCH.get(platform.machine(), platform.machine())
    config = json.dumps({
        "created": CREATED,
        "architecture": arch,
        "os": "linux",
        "config": {"Env": [IMAGE_PATH_ENV], "Cmd": ["/bin/sh"], "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
        "history": [{"created": CREATED, "created_by": "pyrunc tests: busybox-static rootfs"}],
    }, sort_keys=True).encode()
    config_digest, config_path = _blob(config)
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest,
                   "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest,
                    "size": len(layer)}],
    }, sort_keys=True).encode()
    manifest_digest, manifest_path = _blob(manifest)
    tag = name.rsplit(":", 1)[1] if ":" in name.rsplit("/", 1)[-1] else "latest"
    index = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest,
            "size": len(manifest),
            "platform": {"architecture": arch, "os": "linux"},
            # containerd names the imported image after io.containerd.image.name; the OCI ref name is the tag.
            "annotations": {"io.containerd.image.name": name, "org.opencontainers.image.ref.name": tag},
        }],
    }, sort_keys=True).encode()
    docker_manifest = json.dumps([{"Config": config_path, "RepoTags": [name], "Layers": [layer_path]}]).encode()

    dest.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(dest, "w", format=tarfile.PAX_FORMAT) as tar:
        _add(tar, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        _add(tar, "index.json", index)
        _add(tar, "manifest.json", docker_manifest)
        _add_dir(tar, "blobs")
        _add_dir(tar, "blobs/sha256")
        _add(tar, config_path, config)
        _add(tar, manifest_path, manifest)
        _add(tar, layer_path, layer)
    return ImageArchive(path=dest, name=name, config_digest=config_digest)
