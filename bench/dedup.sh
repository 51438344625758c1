#!/bin/sh
# Benchmark btf-dedup against libbpf's btf__dedup (the tests/harness program
# built against the system libbpf-dev), whole process: parse, dedup, write.
#
# Inputs: 1, 5 and 20 copies of a vmlinux BTF appended into one blob with
# libbpf's btf__add_btf. Each run's output is checked byte for byte against
# libbpf's. Prints a Markdown table: median and best wall time, user+sys CPU
# time and peak RSS over RUNS runs, for libbpf and for btf-dedup at -j1, -j2.
#
#   bench/dedup.sh [VMLINUX] [RUNS]
#
# Environment: CARGO_TARGET_DIR (default: target), WORK (scratch dir,
# default: a fresh mktemp -d, removed at the end).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
vmlinux=${1:-/usr/lib/debug/boot/vmlinux-6.1.0-50-cloud-amd64}
runs=${2:-7}
target=${CARGO_TARGET_DIR:-$root/target}
work=${WORK:-}
cleanup=""
if [ -z "$work" ]; then
	work=$(mktemp -d)
	cleanup=$work
fi
trap '[ -n "$cleanup" ] && rm -rf "$cleanup"' EXIT

cc -O2 -o "$work/dedup_oracle" "$root/tests/harness/dedup_oracle.c" -lbpf
(cd "$root" && cargo build --release -q -p btf-dedup)
ours="$target/release/btf-dedup"
oracle="$work/dedup_oracle"

# measure LABEL CMD...: runs CMD $runs times; prints "median best cpu rss"
measure() {
	: >"$work/times"
	i=0
	while [ $i -lt "$runs" ]; do
		/usr/bin/time -f "%e %U %S %M" -o "$work/t1" "$@" >/dev/null 2>"$work/err" || {
			cat "$work/err" >&2
			exit 1
		}
		cat "$work/t1" >>"$work/times"
		i=$((i + 1))
	done
	sort -n "$work/times" | awk -v n="$runs" '
		{ w[NR] = $1; c = $2 + $3; if (NR == 1 || c < cpu) cpu = c; if ($4 > rss) rss = $4 }
		END { printf "%.3f %.3f %.3f %.1f\n", w[int((n + 1) / 2)], w[1], cpu, rss / 1024 }'
}

echo "| copies | types in | types out | tool | median wall s | best wall s | best CPU s | peak RSS MiB |"
echo "|---:|---:|---:|---|---:|---:|---:|---:|"
for n in 1 5 20; do
	in="$work/vmlinux-x$n.btf"
	"$oracle" concat "$n" "$vmlinux" "$in"
	"$oracle" dedup "$in" "$work/libbpf.btf"
	for j in 1 2; do
		"$ours" -j "$j" "$in" -o "$work/ours.btf"
		cmp -s "$work/libbpf.btf" "$work/ours.btf" || {
			echo "output of btf-dedup -j$j differs from libbpf on $n copies" >&2
			exit 1
		}
	done
	tin=$(bpftool btf dump file "$in" 2>/dev/null | grep -c '^\[' || echo "?")
	tout=$(bpftool btf dump file "$work/libbpf.btf" 2>/dev/null | grep -c '^\[' || echo "?")
	set -- $(measure "$oracle" dedup "$in" "$work/libbpf.btf")
	echo "| $n | $tin | $tout | libbpf 1.1.2 btf__dedup | $1 | $2 | $3 | $4 |"
	for j in 1 2; do
		set -- $(measure "$ours" -j "$j" "$in" -o "$work/ours.btf")
		echo "| $n | $tin | $tout | btf-dedup -j$j | $1 | $2 | $3 | $4 |"
	done
done
