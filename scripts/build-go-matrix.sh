#!/usr/bin/env bash
# build-go-matrix.sh CACHEDIR FIXTURE_DIR FIXTURES_SRC
#
# Builds the Go fixtures that the toolchain-matrix tests run
# (tests/integration/test_go_matrix.cpp, tests/unit/test_go_matrix_abi.cpp)
# with each of Debian's Go toolchains: FIXTURE_DIR/go1.MINOR/{allocserver,
# taskserver, cmemserver and cgoserver (cgo), fanserver, leakreach, tinyalloc,
# routemux, routemux_stripped (-s -w) and, from Go 1.22 on, routemux_muxgo121
# (-tags muxgo121: the pre-1.22 ServeMux on purpose; routemux itself says
# //go:debug httpmuxgo121=0, since GOPATH mode defaults to httpmuxgo121=1)},
# plus FIXTURE_DIR/go1.26-sizespecializedmalloc/ (Go 1.26 with
# the experiment that Go 1.27 turns on by default). Toolchains come from
# fetch-go-toolchains.sh into CACHEDIR; each keeps its build cache there too,
# so a second run only relinks what changed. Writes FIXTURE_DIR/go-matrix.txt:
# one line per build, "NAME GOROOT" (NAME as the directory). On any failure:
# one line on stderr naming the toolchain, exit status 1.
set -euo pipefail

# The Go minor versions of the matrix; the machine's own go (1.19) builds the
# other fixtures. Keep in step with MWS_GO_MATRIX in tests/CMakeLists.txt.
MINORS=(21 22 23 24 25 26 27)

fail() {
  echo "build-go-matrix: $*" >&2
  exit 1
}

[ $# -eq 3 ] || fail "usage: build-go-matrix.sh CACHEDIR FIXTURE_DIR FIXTURES_SRC"
cache=$1
out=$2
src=$(cd "$3" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)

toolchains=$(bash "$here/fetch-go-toolchains.sh" "$cache" "${MINORS[@]}") || exit 1
cache=$(cd "$cache" && pwd)

list="$out/go-matrix.txt.tmp"
: >"$list"

# build NAME GOROOT [GOEXPERIMENT]
build() {
  local name=$1 goroot=$2 experiment=${3:-}
  local minor=${goroot##*/go-1.}
  mkdir -p "$out/$name"
  # OUTPUT_NAME:SOURCE_DIR; variants: *_stripped links with -s -w,
  # *_muxgo121 builds with -tags muxgo121 (Go 1.22+ only).
  local builds=(allocserver taskserver cmemserver cgoserver fanserver leakreach tinyalloc routemux
    routemux_stripped:routemux)
  if [ "$minor" -ge 22 ]; then
    builds+=(routemux_muxgo121:routemux)
  fi
  local entry fixture dir
  for entry in "${builds[@]}"; do
    fixture=${entry%%:*}
    dir=${entry#*:}
    local args=()
    case $fixture in
    *_stripped) args=("-ldflags=-s -w") ;;
    *_muxgo121) args=("-tags=muxgo121") ;;
    esac
    if ! (cd "$src/$dir" &&
      env -u GOFLAGS GOROOT="$goroot" GOTOOLCHAIN=local GO111MODULE=off GOPATH="$cache/gopath" \
        GOCACHE="$cache/gocache-1.$minor${experiment:+-$experiment}" GOEXPERIMENT="$experiment" \
        "$goroot/bin/go" build "${args[@]}" -o "$out/$name/$fixture.tmp" .) >"$out/$name/$fixture.log" 2>&1; then
      fail "$name: go build of $fixture failed: $(tail -n 3 "$out/$name/$fixture.log" | tr '\n' ' ')"
    fi
    mv -f "$out/$name/$fixture.tmp" "$out/$name/$fixture"
    rm -f "$out/$name/$fixture.log"
  done
  echo "$name $goroot" >>"$list"
}

while read -r minor goroot; do
  build "go1.$minor" "$goroot"
  if [ "$minor" = 26 ]; then
    build "go1.26-sizespecializedmalloc" "$goroot" sizespecializedmalloc
  fi
done <<<"$toolchains"

mv -f "$list" "$out/go-matrix.txt"
cat "$out/go-matrix.txt"
