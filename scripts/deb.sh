#!/usr/bin/env bash
# scripts/deb.sh ROOT VERSION ARCH OUT.deb: turn a `make install
# DESTDIR=ROOT PREFIX=/usr` tree into a Debian package (make deb).
set -euo pipefail
root=$1 version=$2 arch=$3 out=$4
here=$(cd "$(dirname "$0")/.." && pwd)
doc=$root/usr/share/doc/reins

# Debian policy: compressed man pages and changelog, a copyright file
gzip -9n "$root"/usr/share/man/man*/*
install -m 0644 "$here/dist/copyright" "$doc/copyright"
{
	printf 'reins (%s) unstable; urgency=medium\n\n' "$version"
	printf '  * Built from git %s.\n\n' "$(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo unknown)"
	printf ' -- reins maintainers <maintainers@users.noreply.r-seed-8220a92c.example>  %s\n' \
		"$(date -R -d "@${SOURCE_DATE_EPOCH:-$(git -C "$here" log -1 --format=%ct)}")"
} | gzip -9n >"$doc/changelog.gz"

# Depends: the shared libraries the binary links (glibc only: the rest is
# static), as dpkg-shlibdeps computes them; it wants a debian/control
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/debian"
printf 'Source: reins\n\nPackage: reins\nArchitecture: any\n' >"$work/debian/control"
binary=$(realpath "$root/usr/bin/reins")
depends=$(cd "$work" && dpkg-shlibdeps -O "$binary" 2>/dev/null |
	sed -n 's/^shlibs:Depends=//p')

# lintian's verdict on the static libraries, with the reason (Makefile, LDLIBS)
install -D -m 0644 "$here/dist/lintian-overrides" "$root/usr/share/lintian/overrides/reins"

mkdir -p "$root/DEBIAN"
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
sed -e "s|@VERSION@|$version|" -e "s|@ARCH@|$arch|" -e "s|@SIZE@|$size|" \
	-e "s|@DEPENDS@|${depends:-libc6}|" "$here/dist/control.in" >"$root/DEBIAN/control"
(cd "$root" && find . -type f ! -path './DEBIAN/*' -printf '%P\0' | sort -z |
	xargs -0 md5sum) >"$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/md5sums" "$root/DEBIAN/control"
dpkg-deb --root-owner-group --build "$root" "$out" >/dev/null
echo "$out"
if command -v lintian >/dev/null; then
	# (as root lintian first says it would rather not be: not about the package)
	status=0
	report=$(lintian --fail-on error "$out" 2>&1) || status=$?
	grep -v '^running with root privileges' <<<"$report" || true
	exit $status
fi
