#!/usr/bin/env bash
# Optional: build a minimal Debian root filesystem with debootstrap, for trying bundles with a real distribution
# (bash, apt, coreutils) instead of busybox. Not used by CI or the tests: it downloads ~40 MB of packages.
#
#   bundles/build-debian-rootfs.sh [--force] [--suite SUITE] [--mirror URL] [OUT]
#
# OUT defaults to bundles/out/debian-rootfs; SUITE to the host's codename (e.g. bookworm); URL to the Debian mirror
# the host's apt already uses. Needs root. To use it, copy a bundle and point root.path at it, e.g.:
#   cp -r bundles/oneshot /tmp/deb && sed -i 's#"../out/rootfs"#"'"$PWD"'/bundles/out/debian-rootfs"#' /tmp/deb/config.json
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
force=0 suite="" mirror="" out=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --force) force=1 ;;
        --suite) suite=${2:?--suite needs a value}; shift ;;
        --mirror) mirror=${2:?--mirror needs a value}; shift ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0 ;;
        -*) echo "build-debian-rootfs.sh: unknown option $1" >&2; exit 2 ;;
        *) out=$1 ;;
    esac
    shift
done
out=${out:-$here/out/debian-rootfs}
[[ $EUID -eq 0 ]] || { echo "build-debian-rootfs.sh: run as root (debootstrap mounts and chroots)" >&2; exit 1; }

if [[ -z "$suite" ]]; then
    # shellcheck disable=SC1091
    suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
    [[ -n "$suite" ]] || { echo "build-debian-rootfs.sh: cannot tell the host's codename; give --suite" >&2; exit 1; }
fi
if [[ -z "$mirror" ]]; then
    # The first Debian archive the host's apt is configured with (deb822 or one-line format).
    mirror=$(grep -rhoE '^(URIs:|deb)[[:space:]]+https?://[^[:space:]]+/debian/?([[:space:]]|$)' \
                 /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null \
             | awk '{print $2}' | head -1 || true)
    mirror=${mirror:-http://deb.debian.org/debian}
fi

stamp="$out.stamp"
want="$suite $mirror"
if [[ $force -eq 0 && -d "$out" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    echo "debian rootfs up to date: $out"
    exit 0
fi

command -v debootstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null

mkdir -p "$(dirname "$out")"
tmp=$(mktemp -d "$out.tmp.XXXXXX")
log=$(mktemp)
trap 'rm -rf "$tmp" "$log"' EXIT
echo "debootstrap --variant=minbase $suite from $mirror (a few minutes)"
debootstrap --variant=minbase "$suite" "$tmp" "$mirror" >"$log" 2>&1 || {
    tail -20 "$log" >&2
    echo "build-debian-rootfs.sh: debootstrap failed (log above); is $mirror reachable?" >&2
    exit 1
}
# Keep it small and neutral: no downloaded package files, the same users as the busybox rootfs.
rm -rf "$tmp"/var/cache/apt/archives/*.deb "$tmp"/var/lib/apt/lists/*
chroot "$tmp" sh -c 'id user >/dev/null 2>&1 || useradd -m -u 1000 -s /bin/bash user'
echo "debian" > "$tmp/etc/hostname"

rm -rf "$out" "$stamp" "$log"
mv "$tmp" "$out"
trap - EXIT
echo "$want" > "$stamp"
echo "debian rootfs built: $out ($(du -sh "$out" | cut -f1))"
