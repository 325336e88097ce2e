#!/bin/bash
# The install, checked from the debug build `make test` has just made (nothing is rebuilt but
# ArgumentParser's manual tool): run by `make test` after the Swift tests, about 40 s on 2 cores.
#  1. `make install DESTDIR=TMP` lays out exactly the files README.md's "Install" lists, and
#     `make uninstall` removes every one;
#  2. the bash completion loads (zsh and fish: parsed, where they are installed); every manual
#     page renders with `man -l` without a warning;
#  3. installed with PREFIX=TMP/usr/local (so that ExecStart names a real file), the units pass
#     `systemd-analyze verify` (where systemd-analyze exists);
#  4. `make deb` builds the package, lintian finds no errors; extracted into an empty directory
#     tree, its intern says its version and runs a one-trial campaign with a local worker; its
#     postinst creates the intern system user (adduser run from a stub on PATH).
# Installs lintian and man-db with apt-get when missing (as `make system-deps` does).
set -euo pipefail
cd "$(dirname "$0")/../.."
started=$SECONDS
make=${MAKE:-make}
config=${INSTALL_CONFIG:-debug}
fail() { echo "check-install: $*" >&2; exit 1; }

missing=""
for pkg in lintian man-db dpkg-dev; do dpkg -s $pkg >/dev/null 2>&1 || missing="$missing $pkg"; done
if [ -n "$missing" ]; then
    echo "installing:$missing"
    SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
    $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# 1. The layout. The binaries, manual pages and completions are made once; each install copies them.
"$make" --no-print-directory install-build INSTALL_CONFIG="$config" >/dev/null
export PREBUILT=1
dest=$tmp/dest
"$make" --no-print-directory install INSTALL_CONFIG="$config" DESTDIR="$dest" >/dev/null
commands=$(.build/$config/intern --experimental-dump-help | python3 -c '
import json, sys
def walk(command, path):
    # generate-manual writes a page per command (hidden ones too), named after its path.
    print(".".join(path))
    for sub in command.get("subcommands", []):
        walk(sub, path + [sub["commandName"]])
walk(json.load(sys.stdin)["command"], ["intern"])')
{
    echo usr/local/bin/intern
    echo usr/local/bin/intern-mcp
    for page in $commands intern-mcp; do echo "usr/local/share/man/man1/$page.1.gz"; done
    echo usr/local/share/bash-completion/completions/intern
    echo usr/local/share/zsh/site-functions/_intern
    echo usr/local/share/fish/vendor_completions.d/intern.fish
    echo usr/local/lib/systemd/system/intern-coordinator.service
    echo usr/local/lib/systemd/system/intern-worker@.service
    echo usr/local/share/doc/intern/README.md
    for doc in docs/*.md; do echo "usr/local/share/doc/intern/$doc"; done
    find deploy -type f | grep -v -e '^deploy/debian/' -e '^deploy/Containerfile.dockerignore$' -e '^deploy/slurm/test-cluster.sh$' \
        | sed 's|^|usr/local/share/doc/intern/|'
} | sort > "$tmp/expected"
(cd "$dest" && find . ! -type d | sed 's|^\./||' | sort) > "$tmp/installed"
diff -u "$tmp/expected" "$tmp/installed" || fail "make install laid out other files than README.md's Install lists (- expected, + installed)"
grep -q "^ExecStart=/usr/local/bin/intern coordinator " "$dest/usr/local/lib/systemd/system/intern-coordinator.service" \
    || fail "the coordinator unit does not run /usr/local/bin/intern"
echo "make install: $(wc -l < "$tmp/installed") files, as documented [$((SECONDS - started)) s]"
cp -a "$dest" "$tmp/uninstall"
"$make" --no-print-directory uninstall DESTDIR="$tmp/uninstall" >/dev/null
left=$(cd "$tmp/uninstall" && find . ! -type d)
[ -z "$left" ] || fail "make uninstall left: $left"

# 2. Completions and manual pages.
bash -c "source '$dest/usr/local/share/bash-completion/completions/intern' && complete -p intern" | grep -q . \
    || fail "the bash completion does not register intern"
if command -v zsh >/dev/null; then zsh -n "$dest/usr/local/share/zsh/site-functions/_intern" || fail "zsh cannot parse _intern"; fi
if command -v fish >/dev/null; then fish -n "$dest/usr/local/share/fish/vendor_completions.d/intern.fish" || fail "fish cannot parse intern.fish"; fi
[ "$(zcat "$dest/usr/local/share/man/man1/intern-mcp.1.gz")" = ".so man1/intern.mcp.1" ] || fail "intern-mcp(1) is not intern mcp's page"
for page in "$dest"/usr/local/share/man/man1/intern.*1.gz; do
    # Every warning but a word longer than the line (an option's long name at 80 columns).
    LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$page" >"$tmp/page.txt" 2>"$tmp/page.err" || fail "man -l ${page##*/} failed: $(cat "$tmp/page.err")"
    warnings=$(grep -v "can't break line" "$tmp/page.err" || true)
    [ -z "$warnings" ] || fail "man -l ${page##*/}: $warnings"
    grep -q "^NAME" "$tmp/page.txt" || fail "${page##*/} has no NAME section"
done
grep -q "intern.run(1)" <(MANWIDTH=80 man -l "$dest/usr/local/share/man/man1/intern.1.gz" 2>/dev/null) \
    || fail "intern(1) does not refer to intern.run(1)"

# 3. The units, installed where their ExecStart points.
if command -v systemd-analyze >/dev/null; then
    prefix=$tmp/prefix/usr/local
    "$make" --no-print-directory install INSTALL_CONFIG="$config" PREFIX="$prefix" >/dev/null
    units=$prefix/lib/systemd/system
    ln -s intern-worker@.service "$units/intern-worker@main.service"
    systemd-analyze verify --man=no "$units/intern-coordinator.service" "$units/intern-worker@main.service" \
        || fail "systemd-analyze verify failed on the installed units"
    echo "systemd-analyze verify: the installed units pass [$((SECONDS - started)) s]"
fi

# 4. The package.
INSTALL_CONFIG="$config" DEB_COMPRESSION=gzip DEB_COMPRESSION_LEVEL=1 "$make" --no-print-directory deb >"$tmp/deb.log" 2>&1 || { cat "$tmp/deb.log"; fail "make deb failed"; }
grep -e '^lintian:' -e '^[EW]: ' "$tmp/deb.log" || true
deb=$(ls .build/deb/intern_*.deb)
root=$tmp/root
dpkg-deb -x "$deb" "$root"
for file in usr/bin/intern usr/bin/intern-mcp usr/lib/systemd/system/intern-worker@.service usr/share/zsh/vendor-completions/_intern \
    usr/share/doc/intern/copyright usr/share/doc/intern/changelog.gz; do
    [ -e "$root/$file" ] || fail "the package has no /$file"
done
[ "$(find "$root" -path '*/usr/local*' | wc -l)" = 0 ] || fail "the package installs into /usr/local"
grep -q '^ExecStart=/usr/bin/intern worker ' "$root/usr/lib/systemd/system/intern-worker@.service" || fail "the packaged worker unit does not run /usr/bin/intern"
depends=$(dpkg-deb -f "$deb" Depends)
for needed in libnng1 libzstd1 libmbedtls adduser; do [[ $depends == *"$needed"* ]] || fail "Depends lacks $needed: $depends"; done
version=$("$root/usr/bin/intern" --version)
[[ $version == "$(dpkg-deb -f "$deb" Version) (commit "*", protocol "*")" ]] || fail "the packaged intern --version says: $version"
echo "packaged intern --version: $version [$((SECONDS - started)) s]"
cat > "$tmp/one.yaml" <<'SPEC'
name: one
shell: "echo METRIC loss=0.25"
trials: 1
objective: {metric: loss, direction: minimize}
metrics: {prefix: METRIC}
SPEC
(cd "$tmp" && "$root/usr/bin/intern" run one.yaml --workers 1 --quiet >"$tmp/run.out" 2>&1) || { cat "$tmp/run.out"; fail "the packaged intern could not run a one-trial campaign"; }
(cd "$tmp" && "$root/usr/bin/intern" best --campaign one) | grep -q "0.25" || fail "the packaged intern's campaign has no best trial with loss 0.25"
echo "packaged intern: ran a one-trial campaign [$((SECONDS - started)) s]"
# The postinst, with adduser, getent and systemctl stubbed: it creates the system user the units run as.
mkdir -p "$tmp/stubs"
printf '#!/bin/sh\nexit 2\n' > "$tmp/stubs/getent"
printf '#!/bin/sh\nexit 0\n' > "$tmp/stubs/systemctl"
printf '#!/bin/sh\necho "$@" > "%s/adduser.args"\n' "$tmp" > "$tmp/stubs/adduser"
chmod +x "$tmp/stubs/getent" "$tmp/stubs/adduser" "$tmp/stubs/systemctl"
dpkg-deb -e "$deb" "$tmp/control"
PATH=$tmp/stubs:$PATH sh "$tmp/control/postinst" configure
grep -q -- "--system --group --home /var/lib/intern .*intern$" "$tmp/adduser.args" || fail "the postinst does not add the intern system user"
echo "check-install: passed in $((SECONDS - started)) s"
