"""Helpers for the real-client integration tests (containerd/ctr, Docker, podman): a locally built image, private
daemons started and stopped by the tests, the runtime binaries (runc as control, pyrunc), subprocesses with timeouts."""
