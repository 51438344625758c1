#!/usr/bin/env bash
# Benchmark: a whole kernel build (`make clean`, then `make -j all`) of a
# tests/kernel tree with pahole 1.24 + the tree's resolve_btfids against
# btf-encode + btf-resolve, alternating in the same run, and the time of the
# BTF steps inside each build (every PAHOLE -J and every RESOLVE_BTFIDS call:
# vmlinux and modules), taken by a wrapper that logs each call's wall time.
# Needs a tree prepared by tests/kernel/kernel.sh (`prepare`).
# Usage: bench/kernel_build.sh 6.1|6.12 [ROUNDS]   (ends with a btfkit-built tree)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VER="$1"; ROUNDS="${2:-1}"
CACHE="${BTFKIT_KERNEL_CACHE:-$HOME/.cache/btfkit-kernel}"
TREE="$CACHE/linux-source-$VER"
E="${BTF_ENCODE:-$ROOT/target/release/btf-encode}"
R="${BTF_RESOLVE:-$ROOT/target/release/btf-resolve}"
JOBS="${JOBS:-$(nproc)}"
[ -f "$TREE/.config" ] || { echo "prepare $TREE first (tests/kernel/kernel.sh prepare $VER)" >&2; exit 1; }
for t in pahole "$E" "$R"; do command -v "$t" >/dev/null || { echo "missing $t" >&2; exit 1; }; done

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
# wrap NAME REAL: a wrapper that runs REAL and logs "NAME SECONDS ARGS" for
# the BTF-producing calls (not `--version`).
wrap() {
  cat >"$WORK/$1" <<EOF
#!/bin/sh
case "\$*" in --version|-v) exec "$2" "\$@" ;; esac
t0=\$(date +%s.%N)
"$2" "\$@"
rc=\$?
t1=\$(date +%s.%N)
echo "$1 \$(awk -v a=\$t0 -v b=\$t1 'BEGIN { printf "%.3f", b - a }') \$*" >>"$WORK/calls.log"
exit \$rc
EOF
  chmod +x "$WORK/$1"
}
# The tree's resolve_btfids is built by the kernel build itself (after
# `make clean` too), so its wrapper calls it where the build leaves it.
RB="$TREE/tools/bpf/resolve_btfids/resolve_btfids"
wrap pahole "$(command -v pahole)"
wrap resolve_btfids "$RB"
wrap btf-encode "$E"
wrap btf-resolve "$R"

build() { # build LABEL PAHOLE RESOLVE: prints "wall steps calls"
  make -s -C "$TREE" clean >/dev/null 2>&1
  : >"$WORK/calls.log"
  local t0 t1
  t0=$(date +%s.%N)
  make -C "$TREE" -j"$JOBS" PAHOLE="$2" RESOLVE_BTFIDS="$3" all >"$WORK/build-$1.log" 2>&1 \
    || { tail -30 "$WORK/build-$1.log" >&2; echo "build with $1 failed" >&2; exit 1; }
  t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" -v f="$WORK/calls.log" 'BEGIN {
    while ((getline l < f) > 0) { split(l, w, " "); s += w[2]; n++ }
    printf "%.1f %.2f %d\n", b - a, s, n }'
}
echo "kernel $VER: make -j$JOBS all after make clean; load $(cut -d' ' -f1-3 /proc/loadavg)"
for i in $(seq "$ROUNDS"); do
  read -r pw ps pn < <(build pahole "$WORK/pahole" "$WORK/resolve_btfids")
  read -r bw bs bn < <(build btfkit "$WORK/btf-encode" "$WORK/btf-resolve")
  echo "kernel $VER round $i: whole build: pahole+resolve_btfids ${pw} s, btfkit ${bw} s (ratio $(awk -v a="$bw" -v b="$pw" 'BEGIN { printf "%.3f", a / b }'))"
  echo "kernel $VER round $i: BTF steps:   pahole+resolve_btfids ${ps} s in $pn calls, btfkit ${bs} s in $bn calls (ratio $(awk -v a="$bs" -v b="$ps" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }'))"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
