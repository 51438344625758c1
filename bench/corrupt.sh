#!/usr/bin/env bash
# Robustness against bpftool on corrupted BTF: N deterministic mutations
# (truncations and 1-4 flipped bits) of real blobs — the .BTF of the btf_dump
# suite objects — each dumped by `bpftool btf dump file F format c` and by
# `btf-dump --format c F`. Counts how each tool ends: ok, error (exit 1/2),
# or crash (killed by a signal, a Rust panic's exit 101, or a 10 s timeout).
#
#   bench/corrupt.sh [N]      N mutations per blob (default 300)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-300}
SUITE=../shared/suites/btf_dump
command -v bpftool >/dev/null || { echo "bench/corrupt.sh: bpftool is missing" >&2; exit 2; }
cargo build --release -q -p btf-dump
OURS="${CARGO_TARGET_DIR:-target}/release/btf-dump"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for o in "$SUITE"/*.bpf.o "$SUITE"/*.host.o; do
  llvm-objcopy --dump-section .BTF="$work/$(basename "$o").btf" "$o" /dev/null 2>/dev/null ||
    objcopy --dump-section .BTF="$work/$(basename "$o").btf" "$o" /dev/null
done

python3 - "$work" "$N" <<'PY'
import os, random, sys
work, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(0xb7f)
for f in sorted(os.listdir(work)):
    data = open(os.path.join(work, f), 'rb').read()
    os.makedirs(os.path.join(work, 'm'), exist_ok=True)
    for i in range(n):
        d = bytearray(data)
        if i % 5 == 0:
            d = d[:rng.randrange(len(d))]
        else:
            for _ in range(rng.randint(1, 4)):
                span = 256 if rng.random() < 0.5 else len(d)
                j = rng.randrange(min(span, len(d)))
                d[j] ^= 1 << rng.randrange(8)
        open(os.path.join(work, 'm', f'{f}.{i}'), 'wb').write(bytes(d))
PY

count() { # label bpftool|ours
  local label=$1 which=$2
  local ok=0 err=0 crash=0 total=0 rc
  for f in "$work"/m/*; do
    set +e
    if [ "$which" = bpftool ]; then
      timeout 10 bpftool btf dump file "$f" format c >/dev/null 2>&1
    else
      timeout 10 "$OURS" --format c "$f" >/dev/null 2>&1
    fi
    rc=$?
    set -e
    total=$((total + 1))
    # 124: timeout; 101: a Rust panic; 129..192: killed by signal 1..64.
    # bpftool exits with -errno (234 for EINVAL): an error, not a crash.
    if [ $rc -eq 0 ]; then ok=$((ok + 1));
    elif [ $rc -eq 124 ] || [ $rc -eq 101 ] || { [ $rc -gt 128 ] && [ $rc -le 192 ]; }; then crash=$((crash + 1));
    else err=$((err + 1)); fi
  done
  printf '| %s | %d | %d | %d | %d (%s%%) |\n' "$label" "$total" "$ok" "$err" "$crash" \
    "$(python3 -c "print(round(100*$crash/$total, 1))")"
}

echo "| tool (format c) | inputs | ok | error exit | crash (signal, panic, timeout) |"
echo "|---|---|---|---|---|"
count "bpftool $(bpftool version | head -1 | awk '{print $2}')" bpftool
count "btf-dump" ours
