#!/usr/bin/env bash
# Installs every Debian package that the build, the tests, the demo and the
# benchmarks need. Idempotent: does nothing when all are present.
set -euo pipefail

PACKAGES=(
  # build
  build-essential cmake pkg-config clang llvm
  libbpf-dev bpftool libelf-dev libdw-dev zlib1g-dev libcapstone-dev
  libcli11-dev libfmt-dev nlohmann-json3-dev catch2
  # mwscope serve: its HTTP side (/metrics, /debug/pprof/*), header-only
  libcpp-httplib-dev
  # pprof output: pprof's messages compiled by protoc, encoded by libprotobuf
  protobuf-compiler libprotobuf-dev
  # fixtures, demo, benchmarks (bpftrace: the peer make bench measures beside mwscope)
  golang-go wrk curl bpftrace jq
  # a listener that is not Go (discovery tests), free ports in the scripts
  python3
  # Go web-framework fixtures (tests/fixtures/{gin,chi,echo,glue}server): source
  # under /usr/share/gocode; the second group is what echoserver/go.mod's
  # replace lines name (echo's dependencies, listed so the paths stay there)
  golang-github-gin-gonic-gin-dev golang-github-go-chi-chi-dev
  golang-github-labstack-echo-dev golang-github-urfave-negroni-dev
  golang-github-gorilla-mux-dev golang-github-justinas-alice-dev
  golang-github-labstack-gommon-dev golang-github-mattn-go-colorable-dev
  golang-github-mattn-go-isatty-dev golang-github-valyala-fasttemplate-dev
  golang-github-valyala-bytebufferpool-dev golang-golang-x-crypto-dev
  golang-golang-x-net-dev golang-golang-x-sys-dev golang-golang-x-term-dev
  golang-golang-x-text-dev golang-golang-x-time-dev
  # real, stripped Go servers built by Debian (test_goroutines.cpp: their
  # goroutines beside their own /debug/pprof/goroutine; test_leak_verdict.cpp:
  # no false leaks on healthy servers)
  caddy prometheus
  # the hostile-target suite measures each run's time and peak memory (test_hostile_target.cpp)
  time
  # the reference tool for native heap leaks, beside --c-heap (test_c_heap.cpp)
  heaptrack
  # deploy checks (ctest -R deploy): systemd-analyze verify on
  # deploy/mwscope.service (promtool comes with prometheus above)
  systemd
  # fuzzing: libFuzzer for clang 14 (only recommended by clang, not pulled in)
  libclang-rt-14-dev
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# npm fetches the esbuild binaries of the cross-version tests. Machines of
# this kind ship Node.js from another source, which conflicts with Debian's
# npm package: install Debian's only when there is no npm at all.
if ! command -v npm >/dev/null 2>&1; then
  missing+=(npm)
fi

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}; run this script as root" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
