#!/usr/bin/env bash
# fetch-esbuild.sh VERSION DESTDIR
#
# Prints the path of esbuild VERSION's linux-x64 binary (a stripped, statically
# linked Go program; `esbuild --serve` is a net/http server), fetching it once
# from the npm registry (`npm pack @esbuild/linux-x64@VERSION`) into
# DESTDIR/VERSION/bin/esbuild. Idempotent: a cached binary is printed without
# touching the network. On any failure: one line on stderr, exit status 1.
set -euo pipefail

fail() {
  echo "fetch-esbuild: $*" >&2
  exit 1
}

[ $# -eq 2 ] || fail "usage: fetch-esbuild.sh VERSION DESTDIR"
version=$1
dest=$2
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "not an esbuild version: '$version' (expected e.g. 0.22.0)"

dir="$dest/$version"
bin="$dir/bin/esbuild"
if [ -x "$bin" ]; then
  echo "$(cd "$dir/bin" && pwd)/esbuild"
  exit 0
fi

command -v npm >/dev/null 2>&1 || fail "npm is not installed (Debian package: npm); needed to fetch @esbuild/linux-x64@$version"
mkdir -p "$dest" || fail "cannot create $dest"
dest=$(cd "$dest" && pwd) || fail "cannot enter $dest"
dir="$dest/$version"
bin="$dir/bin/esbuild"

# Work in a private directory so concurrent runs and half-done downloads never
# leave a partial binary at $bin: it appears only through the final rename.
work=$(mktemp -d "$dest/.fetch-$version.XXXXXX") || fail "cannot create a temporary directory in $dest"
trap 'rm -rf "$work"' EXIT

if ! tgz=$(cd "$work" && npm pack --loglevel=error "@esbuild/linux-x64@$version" 2>"$work/npm.err"); then
  # First message line, without npm's "code EXXX" line: e.g. "notarget No matching
  # version found for @esbuild/linux-x64@9.9.9." or a network error.
  msg=$(grep -E '^npm (ERR!|error) ' "$work/npm.err" | grep -vE '^npm (ERR!|error) code ' | head -n1 |
    sed -E 's/^npm (ERR!|error) *//' || true)
  fail "npm pack @esbuild/linux-x64@$version failed: ${msg:-$(head -c 300 "$work/npm.err" | tr '\n' ' ')}"
fi
tgz=$(echo "$tgz" | tail -n1)
[ -f "$work/$tgz" ] || fail "npm pack @esbuild/linux-x64@$version produced no tarball"
tar -xzf "$work/$tgz" -C "$work" package/bin/esbuild 2>/dev/null ||
  fail "@esbuild/linux-x64@$version: the package has no bin/esbuild"
[ -s "$work/package/bin/esbuild" ] || fail "@esbuild/linux-x64@$version: bin/esbuild is empty"
chmod 0755 "$work/package/bin/esbuild"

mkdir -p "$dir/bin" || fail "cannot create $dir/bin"
mv -f "$work/package/bin/esbuild" "$bin" || fail "cannot move the binary to $bin"
echo "$bin"
