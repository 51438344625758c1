#!/usr/bin/env bash
# Seeds and runs the cargo-fuzz targets.
#
#   bench/fuzz.sh [SECONDS] [TARGET...]     default: 600 s each, every target
#
# Seeds: the 167 raw loader cases of ../shared/suites/raw_cases.json and the
# .BTF sections of the btf_dump suite objects. cargo-fuzz needs nightly
# features; RUSTC_BOOTSTRAP=1 lets the stable toolchain provide them.
# Prints libFuzzer's final statistics (executions, coverage) per target.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-600}; shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(parse_verify_dump dedup encode resolve distill)
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
seed=fuzz/corpus/seed
mkdir -p "$seed"
python3 - "$seed" <<'PY'
import json, sys
cases = json.load(open('../shared/suites/raw_cases.json'))
cases = cases if isinstance(cases, list) else cases.get('cases', [])
for i, c in enumerate(cases):
    if c.get('raw_btf_hex'):
        open(f'{sys.argv[1]}/raw{i:03d}', 'wb').write(bytes.fromhex(c['raw_btf_hex']))
PY
for o in ../shared/suites/btf_dump/*.o; do
  llvm-objcopy --dump-section .BTF="$seed/$(basename "$o").btf" "$o" /dev/null 2>/dev/null || true
done
# encode: ELF objects with DWARF (the suite's host objects, small ones).
eseed=fuzz/corpus/encode-seed
mkdir -p "$eseed"
cp ../shared/suites/btf_dump/*.host.o "$eseed/" 2>/dev/null || true
for t in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$t"
  echo "== $t: $SECS s"
  s=corpus/seed; [ "$t" = encode ] && s=corpus/encode-seed
  (cd fuzz && cargo fuzz run "$t" "corpus/$t" "$s" -- \
      -max_total_time="$SECS" -rss_limit_mb=4096 -timeout=60 -print_final_stats=1 2>&1) |
    grep -E '^(stat::|Done|==|SUMMARY|INFO: a corpus)|panicked|ERROR' || true
done
