#!/usr/bin/env bash
# Compares `btf-dump` with bpftool on one BTF file, per output format.
#
#   bench/dump.sh [FORMAT...]        formats: raw json c (default: raw json)
#
# Environment: FILE (default /sys/kernel/btf/vmlinux), RUNS (hyperfine runs,
# default 20), BTF_DUMP (the binary; default: built here with --release).
# Prints one row per format: mean wall time (hyperfine, output to /dev/null)
# and peak RSS (/usr/bin/time -v, max of 3 runs) for both, and the ratios
# ours/bpftool (below 1: we are faster / smaller).
set -euo pipefail

cd "$(dirname "$0")/.."
FILE=${FILE:-/sys/kernel/btf/vmlinux}
RUNS=${RUNS:-20}
formats=("$@")
[ ${#formats[@]} -gt 0 ] || formats=(raw json)

for tool in hyperfine bpftool jq /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "bench/dump.sh: $tool is missing" >&2; exit 2; }
done
if [ -z "${BTF_DUMP:-}" ]; then
  cargo build --release -q -p btf-dump
  BTF_DUMP="${CARGO_TARGET_DIR:-target}/release/btf-dump"
fi

bpftool_cmd() {
  case "$1" in
    raw) echo "bpftool btf dump file $FILE" ;;
    json) echo "bpftool -j btf dump file $FILE" ;;
    c) echo "bpftool btf dump file $FILE format c" ;;
    *) echo "bench/dump.sh: unknown format $1 (raw, json, c)" >&2; exit 2 ;;
  esac
}

# Mean wall time in ms of a command, output discarded.
wall_ms() {
  local json
  json=$(mktemp)
  hyperfine -N -w 3 -r "$RUNS" --export-json "$json" "$1" >/dev/null 2>&1 ||
    hyperfine -w 3 -r "$RUNS" --export-json "$json" "$1" >/dev/null
  jq '.results[0].mean * 1000' "$json"
  rm -f "$json"
}

# Peak RSS in MiB (the largest of 3 runs).
rss_mib() {
  local best=0 kb
  for _ in 1 2 3; do
    # shellcheck disable=SC2086
    kb=$( { /usr/bin/time -v $1 >/dev/null; } 2>&1 | awk '/Maximum resident set size/ {print $6}')
    [ "$kb" -gt "$best" ] && best=$kb
  done
  awk -v k="$best" 'BEGIN { printf "%.1f", k / 1024 }'
}

echo "file: $FILE ($(stat -c %s "$FILE" 2>/dev/null || echo ?) bytes), $RUNS runs"
printf '%-6s %12s %12s %8s %12s %12s %8s\n' format ours_ms bpftool_ms ratio ours_MiB bpftool_MiB ratio
for f in "${formats[@]}"; do
  theirs=$(bpftool_cmd "$f")
  ours="$BTF_DUMP -f $f $FILE"
  ow=$(wall_ms "$ours"); tw=$(wall_ms "$theirs")
  orss=$(rss_mib "$ours"); trss=$(rss_mib "$theirs")
  awk -v f="$f" -v ow="$ow" -v tw="$tw" -v or="$orss" -v tr="$trss" 'BEGIN {
    printf "%-6s %12.1f %12.1f %8.2f %12.1f %12.1f %8.2f\n", f, ow, tw, ow / tw, or, tr, or / tr }'
done
