#!/usr/bin/env bash
# fetch-go-toolchains.sh CACHEDIR MINOR...
#
# Makes Debian's Go toolchains of other suites usable without installing them:
# for each MINOR (e.g. 21 27) it downloads golang-1.MINOR-go and
# golang-1.MINOR-src with a private apt state (this machine's own Debian
# mirror, other suite names: bookworm-backports, trixie, trixie-backports) and
# unpacks them into CACHEDIR/1.MINOR (a usr/ tree). Prints one line per toolchain:
#   MINOR GOROOT
# Build with: GOROOT=<GOROOT> GOTOOLCHAIN=local <GOROOT>/bin/go build ...
# Idempotent: an unpacked toolchain is printed without touching the network.
# The system's apt state and installed packages are never changed.
# On any failure: one line on stderr naming the toolchain, exit status 1.
set -euo pipefail

fail() {
  echo "fetch-go-toolchains: $*" >&2
  exit 1
}

[ $# -ge 2 ] || fail "usage: fetch-go-toolchains.sh CACHEDIR MINOR..."
mkdir -p "$1" || fail "cannot create $1"
cache=$(cd "$1" && pwd)
shift

missing=()
for minor in "$@"; do
  [[ $minor =~ ^[0-9]+$ ]] || fail "not a Go minor version: '$minor' (expected e.g. 27 for go1.27)"
  [ -x "$cache/1.$minor/usr/lib/go-1.$minor/bin/go" ] || missing+=("$minor")
done

if [ ${#missing[@]} -gt 0 ]; then
  # The mirror this machine already uses (deb822 or one-line format).
  mirror=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  if [ -z "$mirror" ]; then
    mirror=$(awk '$1 == "deb" && $0 !~ /security/ {for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' \
      /etc/apt/sources.list 2>/dev/null || true)
  fi
  [ -n "$mirror" ] || fail "no Debian mirror found in /etc/apt/sources.list{,.d}"

  apt_dir="$cache/.apt"
  mkdir -p "$apt_dir/state/lists/partial" "$apt_dir/cache/archives/partial"
  {
    for suite in bookworm-backports trixie trixie-backports; do
      echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $suite main"
    done
  } >"$apt_dir/sources.list"
  apt_opts=(-o "Dir::State=$apt_dir/state" -o "Dir::Cache=$apt_dir/cache"
    -o "Dir::Etc::SourceList=$apt_dir/sources.list" -o "Dir::Etc::SourceParts=-"
    -o "Debug::NoLocking=1")
  apt-get "${apt_opts[@]}" -qq update >"$apt_dir/update.log" 2>&1 ||
    fail "apt-get update of bookworm-backports/trixie/trixie-backports failed: $(tail -n1 "$apt_dir/update.log")"

  for minor in "${missing[@]}"; do
    work=$(mktemp -d "$cache/.fetch-1.$minor.XXXXXX")
    if ! (cd "$work" && apt-get "${apt_opts[@]}" -qq download "golang-1.$minor-go" "golang-1.$minor-src") \
      >"$work/download.log" 2>&1; then
      msg=$(tail -n1 "$work/download.log")
      rm -rf "$work"
      fail "go1.$minor: apt-get download golang-1.$minor-go golang-1.$minor-src failed: $msg"
    fi
    for deb in "$work"/*.deb; do
      dpkg-deb -x "$deb" "$work/root" || { rm -rf "$work"; fail "go1.$minor: cannot unpack $(basename "$deb")"; }
    done
    [ -x "$work/root/usr/lib/go-1.$minor/bin/go" ] || { rm -rf "$work"; fail "go1.$minor: the package has no bin/go"; }
    # The -src package puts the sources in usr/share/go-1.X, linked from
    # usr/lib/go-1.X by relative links: keep the usr/ tree whole.
    rm -rf "$cache/1.$minor"
    mv "$work/root" "$cache/1.$minor"
    rm -rf "$work"
    [ -f "$cache/1.$minor/usr/lib/go-1.$minor/src/runtime/runtime2.go" ] ||
      fail "go1.$minor: unpacked, but its runtime sources are missing"
  done
fi

for minor in "$@"; do
  echo "$minor $cache/1.$minor/usr/lib/go-1.$minor"
done
