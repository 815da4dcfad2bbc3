#!/bin/sh
# systemd-analyze verify on deploy/mwscope.service, as installed but for the
# binary: verify refuses an ExecStart that is not there, and the check must
# not need mwscope installed (nor built), so a copy in a temporary directory
# runs /bin/true with the same arguments. verify exits 0 on unknown keys and
# on values it cannot parse (it only prints them), so any output fails too.
# A missing systemd-analyze fails: CI installs systemd (scripts/install-deps.sh).
set -u
unit=${1:?usage: verify_systemd_unit.sh path/to/mwscope.service}
installed=/usr/local/bin/mwscope
if ! command -v systemd-analyze >/dev/null 2>&1; then
  echo "systemd-analyze not found: install Debian's systemd package (scripts/install-deps.sh)" >&2
  exit 1
fi
if ! grep -q "^ExecStart=$installed serve " "$unit"; then
  echo "$unit: ExecStart does not run $installed serve" >&2
  exit 1
fi
dir=$(mktemp -d) || exit 1
trap 'rm -rf "$dir"' EXIT
# Same file name: verify checks the unit under the name it will be installed as.
sed "s|^ExecStart=$installed |ExecStart=/bin/true |" "$unit" > "$dir/mwscope.service"
out=$(systemd-analyze verify "$dir/mwscope.service" 2>&1)
rc=$?
if [ $rc -ne 0 ] || [ -n "$out" ]; then
  printf 'systemd-analyze verify (exit %s):\n%s\n' "$rc" "$out" >&2
  exit 1
fi
echo "systemd-analyze verify: mwscope.service is clean"
