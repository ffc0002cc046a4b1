#!/usr/bin/env bash
# Build a minimal busybox-static root filesystem for the example bundles, the tests and bench/.
#
#   bundles/build-rootfs.sh [--force] [OUT]        (OUT defaults to bundles/out/rootfs)
#
# Needs only Debian's busybox-static (/bin/busybox) and coreutils; no network, no chroot, no root
# (files are owned by whoever runs it; as root that is root, which is what containers expect).
# Idempotent: if OUT was built by the same script from the same busybox, nothing is done.
# The build goes to a temporary sibling directory that is renamed into place at the end, so an
# interrupted build never leaves a half-made rootfs behind.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
force=0
out=""
for arg in "$@"; do
    case "$arg" in
        --force) force=1 ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0 ;;
        -*) echo "build-rootfs.sh: unknown option $arg" >&2; exit 2 ;;
        *) [[ -z "$out" ]] || { echo "build-rootfs.sh: only one OUT directory" >&2; exit 2; }; out=$arg ;;
    esac
done
out=${out:-$here/out/rootfs}

busybox=""
for candidate in /bin/busybox /usr/bin/busybox "$(command -v busybox 2>/dev/null || true)"; do
    if [[ -n "$candidate" && -x "$candidate" ]]; then busybox=$candidate; break; fi
done
if [[ -z "$busybox" ]]; then
    echo "build-rootfs.sh: busybox not found; install it with: apt-get install busybox-static" >&2
    exit 1
fi
# A dynamically linked busybox would need the host's libc inside the rootfs.
if ldd "$busybox" >/dev/null 2>&1; then
    echo "build-rootfs.sh: $busybox is dynamically linked; install busybox-static instead" >&2
    exit 1
fi

# Bump when the rootfs contents below change, so existing builds are redone (and only then: a rebuild deletes
# the old tree, which containers started from it may still be using).
layout=1
# The stamp lives beside OUT (not inside it, so containers don't see it).
stamp="$out.stamp"
want="layout=$layout busybox=$(sha256sum "$busybox" | cut -d' ' -f1)"
if [[ $force -eq 0 && -d "$out" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    echo "rootfs up to date: $out"
    exit 0
fi

mkdir -p "$(dirname "$out")"
tmp=$(mktemp -d "$out.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

cd "$tmp"
mkdir -p bin sbin usr/bin usr/sbin etc proc sys dev tmp root home/user run var/tmp var/log mnt
chmod 0755 .
chmod 1777 tmp var/tmp
chmod 0700 root

cp "$busybox" bin/busybox
chmod 0755 bin/busybox
# Same result as `busybox --install -s` run inside the rootfs: one absolute symlink per applet, at
# the applet's own path. Done from outside so that neither chroot nor root is needed.
while IFS= read -r applet; do
    case "$applet" in
        bin/busybox|linuxrc|"") continue ;;
    esac
    [[ -e "$applet" || -L "$applet" ]] || ln -s /bin/busybox "$applet"
done < <("$busybox" --list-full)

cat > etc/passwd <<'EOF'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
user:x:1000:1000:user:/home/user:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat > etc/group <<'EOF'
root:x:0:
daemon:x:1:
tty:x:5:
users:x:100:user
user:x:1000:
nogroup:x:65534:
EOF
chmod 0644 etc/passwd etc/group
echo "pyrunc" > etc/hostname
cat > etc/hosts <<'EOF'
127.0.0.1 localhost
::1 localhost ip6-localhost ip6-loopback
EOF
: > etc/resolv.conf
cat > etc/os-release <<'EOF'
NAME="pyrunc busybox rootfs"
ID=busybox
EOF
chown 1000:1000 home/user 2>/dev/null || true

cd /
rm -rf "$out" "$stamp"
mv "$tmp" "$out"
trap - EXIT
echo "$want" > "$stamp"
echo "rootfs built: $out ($(find "$out" | wc -l) entries)"
