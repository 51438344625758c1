#!/usr/bin/env bash
# Compares `btf-resolve` with resolve_btfids (built from linux-source-6.1) on
# a pre-resolve copy of the Debian 6.1 vmlinux (561 MB; .BTF_ids slots and
# set counts zeroed, set8 flags back beside their slots), in the same run.
#
#   bench/resolve.sh
#
# Environment: VMLINUX (default the Debian 6.1 debug vmlinux), RUNS (hyperfine
# runs, default 10), WORK (scratch dir, default target/bench-resolve; needs
# 3x the vmlinux size). Prints mean wall time (hyperfine; each run starts from
# a fresh copy made by --prepare, outside the timing) and peak RSS
# (/usr/bin/time -v, the largest of 3 runs) of both, for the fresh copy and
# for a second run on a resolved file, and the ratios ours/theirs (below 1:
# we are faster / smaller).
set -euo pipefail

cd "$(dirname "$0")/.."
VMLINUX=${VMLINUX:-/usr/lib/debug/boot/vmlinux-6.1.0-50-cloud-amd64}
RUNS=${RUNS:-10}
WORK=${WORK:-target/bench-resolve}
for tool in hyperfine jq /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "bench/resolve.sh: $tool is missing" >&2; exit 2; }
done
mkdir -p "$WORK"
WORK=$(realpath "$WORK")
cargo build --release -q -p btf-resolve --bin btf-resolve --example unresolve
OURS="${CARGO_TARGET_DIR:-target}/release/btf-resolve"
UNRESOLVE="${CARGO_TARGET_DIR:-target}/release/examples/unresolve"
bash btf-resolve/tests/build-resolve-btfids.sh 6.1 "$WORK/resolve_btfids-6.1"
THEIRS="$WORK/resolve_btfids-6.1/resolve_btfids"

[ -f "$WORK/vmlinux.pre" ] || "$UNRESOLVE" "$VMLINUX" "$WORK/vmlinux.pre"

wall_ms() { # command, prepare command
  local json
  json=$(mktemp)
  hyperfine -N -w 1 -r "$RUNS" --prepare "$2" --export-json "$json" "$1" >/dev/null
  jq '.results[0].mean * 1000' "$json"
  rm -f "$json"
}

rss_mib() { # command, prepare command
  local best=0 kb
  for _ in 1 2 3; do
    sh -c "$2"
    # shellcheck disable=SC2086
    kb=$( { /usr/bin/time -v $1 >/dev/null; } 2>&1 | awk '/Maximum resident set size/ {print $6}')
    [ "$kb" -gt "$best" ] && best=$kb
  done
  awk -v k="$best" 'BEGIN { printf "%.1f", k / 1024 }'
}

fresh_o="cp $WORK/vmlinux.pre $WORK/o.vmlinux"
fresh_t="cp $WORK/vmlinux.pre $WORK/t.vmlinux"
echo "file: $VMLINUX ($(stat -c %s "$VMLINUX") bytes), pre-resolve copy, $RUNS runs"
printf '%-22s %10s %10s %7s %10s %10s %7s\n' case ours_ms theirs_ms ratio ours_MiB theirs_MiB ratio
row() { # name, ours cmd, theirs cmd, ours prepare, theirs prepare
  local ow tw orss trss
  ow=$(wall_ms "$2" "$4"); tw=$(wall_ms "$3" "$5")
  orss=$(rss_mib "$2" "$4"); trss=$(rss_mib "$3" "$5")
  printf '%-22s %10.1f %10.1f %7.2f %10s %10s %7.2f\n' "$1" "$ow" "$tw" \
    "$(awk -v a="$ow" -v b="$tw" 'BEGIN{print a/b}')" "$orss" "$trss" \
    "$(awk -v a="$orss" -v b="$trss" 'BEGIN{print a/b}')"
}
row "fresh (pre-resolve)" "$OURS $WORK/o.vmlinux" "$THEIRS $WORK/t.vmlinux" "$fresh_o" "$fresh_t"
# Second run: the file is already resolved (ours writes nothing; theirs rewrites).
row "second run (resolved)" "$OURS $WORK/o.vmlinux" "$THEIRS $WORK/t.vmlinux" "true" "true"
row "fresh, ours --atomic" "$OURS --atomic $WORK/o.vmlinux" "$THEIRS $WORK/t.vmlinux" "$fresh_o" "$fresh_t"
cmp "$WORK/o.vmlinux" "$VMLINUX" && echo "ours: resolved copy identical to the shipped vmlinux"
rm -f "$WORK/o.vmlinux" "$WORK/t.vmlinux"
