#!/bin/bash
# Builds the Debian package of intern from `make install`'s layout under /usr, then checks it with
# lintian. Run by `make deb` from the repository root; writes .build/deb/intern_VERSION_ARCH.deb.
#   INSTALL_CONFIG=release (default): the release build, the Swift runtime linked in statically.
#   INSTALL_CONFIG=debug: the debug build already there (the install test's; nothing is built). Its
#     binaries find the Swift runtime through a RUNPATH into the toolchain, which lintian calls an
#     error (custom-library-search-path) and dpkg-shlibdeps cannot map to a package: both are let
#     through for that build only.
#   DEB_COMPRESSION=xz (default), gzip, zstd and DEB_COMPRESSION_LEVEL: how dpkg-deb compresses (the
#     test's gzip at level 1 takes a second, xz a minute).
set -euo pipefail
cd "$(dirname "$0")/../.."
config=${INSTALL_CONFIG:-release}
make=${MAKE:-make}
out=.build/deb
stage=$out/root
rm -rf "$out"
mkdir -p "$stage"
"$make" --no-print-directory install INSTALL_CONFIG="$config" DESTDIR="$PWD/$stage" PREFIX=/usr \
    ZSH_COMPLETIONS=/usr/share/zsh/vendor-completions SYSTEMD_UNITS=/usr/lib/systemd/system

strip --strip-unneeded --remove-section=.comment --remove-section=.note "$stage/usr/bin/intern" "$stage/usr/bin/intern-mcp"
version=$("$stage/usr/bin/intern" --version | cut -d' ' -f1)
commit=$("$stage/usr/bin/intern" --version | sed -n 's/.*(commit \([^,]*\),.*/\1/p')
arch=$(dpkg --print-architecture)

install -D -m 0644 deploy/debian/lintian-overrides "$stage/usr/share/lintian/overrides/intern"

# What Debian wants in /usr/share/doc/PACKAGE: the copyright and a changelog (a native package's).
doc=$stage/usr/share/doc/intern
install -m 0644 deploy/debian/copyright "$doc/copyright"
date=$(git log -1 --format=%aD 2>/dev/null || date -R)
printf 'intern (%s) unstable; urgency=medium\n\n  * Built from commit %s.\n\n -- intern maintainers <intern-maintainers@users.noreply.github.com>  %s\n' \
    "$version" "$commit" "$date" | gzip -9n > "$doc/changelog.gz"
chmod 0644 "$doc/changelog.gz"

# The shared libraries' packages, from the binaries themselves (libnng1, libzstd1, mbedtls, sqlite, libc).
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/debian"
printf 'Source: intern\n\nPackage: intern\nArchitecture: any\n' > "$work/debian/control"
shlibdeps_flags=()
[ "$config" = release ] || shlibdeps_flags=(--ignore-missing-info -l"$(dirname "$(readlink -f "$(command -v swift)")")/../lib/swift/linux")
depends=$(cd "$work" && dpkg-shlibdeps -O "${shlibdeps_flags[@]}" -e"$OLDPWD/$stage/usr/bin/intern" -e"$OLDPWD/$stage/usr/bin/intern-mcp" 2>"$work/shlibdeps.err" \
    | sed -n 's/^shlibs:Depends=//p') || { cat "$work/shlibdeps.err" >&2; exit 1; }
for needed in libnng1 libzstd1 libmbedtls; do
    [[ $depends == *"$needed"* ]] || { echo "build-deb: $needed missing from Depends: $depends" >&2; exit 1; }
done

mkdir -p "$stage/DEBIAN"
install -m 0755 deploy/debian/postinst deploy/debian/postrm "$stage/DEBIAN/"
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" -e "s/@DEPENDS@/$depends/" \
    deploy/debian/control.in > "$stage/DEBIAN/control"
(cd "$stage" && find usr -type f -print0 | sort -z | xargs -0 md5sum) > "$stage/DEBIAN/md5sums"
chmod 0644 "$stage/DEBIAN/control" "$stage/DEBIAN/md5sums"

deb=$out/intern_${version}_${arch}.deb
dpkg-deb --root-owner-group -Z"${DEB_COMPRESSION:-xz}" ${DEB_COMPRESSION_LEVEL:+-z"$DEB_COMPRESSION_LEVEL"} --build "$stage" "$deb" >/dev/null
echo "built $deb"

# lintian: no errors (warnings are printed). The debug build's RUNPATH is its only expected error.
suppress=()
[ "$config" = release ] || suppress=(--suppress-tags custom-library-search-path)
if command -v lintian >/dev/null; then
    lintian --tag-display-limit 0 "${suppress[@]}" "$deb" 2>&1 | grep -v "^running with root privileges" | tee "$out/lintian.txt" || true
    if grep -q '^E: ' "$out/lintian.txt"; then
        echo "build-deb: lintian reports errors" >&2
        exit 1
    fi
    echo "lintian: $(grep -c '^W: ' "$out/lintian.txt" || true) warnings, no errors"
else
    echo "build-deb: lintian is not installed (apt-get install lintian); the package is not checked" >&2
fi
