#!/usr/bin/env bash
# Benchmark: the vmlinux link stage of a tests/kernel tree (link-vmlinux.sh:
# the BTF encode, the kallsyms links, the .BTF_ids resolve) with pahole 1.24 +
# the tree's resolve_btfids against btf-encode + btf-resolve, same tree, same
# run, alternating. Needs a tree built by tests/kernel/kernel.sh.
# Usage: bench/kernel_link.sh 6.1|6.12 [ROUNDS]   (leaves the btfkit-built vmlinux)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VER="$1"; ROUNDS="${2:-1}"
CACHE="${BTFKIT_KERNEL_CACHE:-$HOME/.cache/btfkit-kernel}"
TREE="$CACHE/linux-source-$VER"
E="${BTF_ENCODE:-$ROOT/target/release/btf-encode}"
R="${BTF_RESOLVE:-$ROOT/target/release/btf-resolve}"
RB="$TREE/tools/bpf/resolve_btfids/resolve_btfids"
[ -f "$TREE/vmlinux" ] || { echo "build $TREE first (tests/kernel/kernel.sh $VER)" >&2; exit 1; }
link() { # link PAHOLE RESOLVE_BTFIDS: seconds of `make vmlinux` after removing vmlinux
  rm -f "$TREE/vmlinux"
  local t0 t1
  t0=$(date +%s.%N)
  make -s -C "$TREE" -j"${JOBS:-$(nproc)}" PAHOLE="$1" RESOLVE_BTFIDS="$2" vmlinux >/dev/null 2>&1
  t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }'
}
for i in $(seq "$ROUNDS"); do
  p=$(link pahole "$RB")
  b=$(link "$E" "$R")
  echo "kernel $VER link round $i: pahole+resolve_btfids ${p} s, btf-encode+btf-resolve ${b} s"
done
