#!/usr/bin/env bash
# Builds the resolve_btfids oracle of one Debian linux-source package.
# usage: build-resolve-btfids.sh VERSION OUTDIR   (VERSION: 6.1 or 6.12)
# Extracts only tools/ and scripts/ from /usr/src/linux-source-VERSION.tar.xz
# into OUTDIR/src and leaves the binary at OUTDIR/resolve_btfids. Cached: does
# nothing when the binary exists.
set -euo pipefail
v=$1
out=$(realpath -m "$2")
bin="$out/resolve_btfids"
[ -x "$bin" ] && exit 0
tarball=/usr/src/linux-source-$v.tar.xz
[ -f "$tarball" ] || { echo "missing $tarball (apt-get install linux-source-$v)" >&2; exit 3; }
mkdir -p "$out/src" "$out/build"
if [ ! -d "$out/src/linux-source-$v/tools/bpf/resolve_btfids" ]; then
  tar -xJf "$tarball" -C "$out/src" "linux-source-$v/tools" "linux-source-$v/scripts" \
    "linux-source-$v/Makefile" "linux-source-$v/include/linux/btf_ids.h"
fi
make -s -C "$out/src/linux-source-$v/tools/bpf/resolve_btfids" OUTPUT="$out/build/" \
  HOSTCC=gcc >"$out/build.log" 2>&1 || { tail -30 "$out/build.log" >&2; exit 1; }
cp "$out/build/resolve_btfids" "$bin.tmp" && mv "$bin.tmp" "$bin"
