#!/bin/sh
# Benchmark btf-encode against pahole 1.24, whole process, same flags:
#   -J --btf_gen_floats --lang_exclude=rust --btf_encode_detached=OUT [-j1 | -j]
# on an ELF with DWARF (default: the Debian 6.1 vmlinux) and optionally a
# module (split BTF on the vmlinux). Every btf-encode output is checked byte
# for byte against pahole -j1's. Prints a Markdown table: median wall time,
# user+sys CPU time and peak RSS over RUNS runs.
#
#   bench/encode.sh [VMLINUX] [RUNS] [MODULE...]
#
# Environment: CARGO_TARGET_DIR (default: target), WORK (scratch dir,
# default: a fresh mktemp -d, removed at the end).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
vmlinux=${1:-/usr/lib/debug/boot/vmlinux-6.1.0-50-cloud-amd64}
runs=${2:-3}
[ $# -ge 2 ] && shift 2 || shift $#
target=${CARGO_TARGET_DIR:-$root/target}
work=${WORK:-}
cleanup=""
if [ -z "$work" ]; then
	work=$(mktemp -d)
	cleanup=$work
fi
trap '[ -n "$cleanup" ] && rm -rf "$cleanup"' EXIT

(cd "$root" && cargo build --release -q -p btf-encode --bin btf-encode --example gimli_walk)
ours="$target/release/btf-encode"
floor="$target/release/examples/gimli_walk"
flags="-J --btf_gen_floats --lang_exclude=rust"

# measure OUT CMD...: runs CMD $runs times (with --btf_encode_detached=OUT,
# unless OUT is -); prints "median_wall cpu rss_mib"
measure() {
	out=$1
	shift
	detached=""
	[ "$out" != - ] && detached="--btf_encode_detached=$out"
	: >"$work/times"
	i=0
	while [ $i -lt "$runs" ]; do
		[ "$out" != - ] && rm -f "$out"
		# shellcheck disable=SC2086
		/usr/bin/time -f "%e %U %S %M" -o "$work/t1" "$@" $detached >/dev/null 2>"$work/err" || {
			cat "$work/err" >&2
			exit 1
		}
		cat "$work/t1" >>"$work/times"
		i=$((i + 1))
	done
	sort -n "$work/times" | awk -v n="$runs" '{w[NR]=$1; c[NR]=$2+$3; m[NR]=$4} END {
		mid=int((n+1)/2); printf "%.2f %.2f %.0f\n", w[mid], c[mid], m[mid]/1024 }'
}

row() { # LABEL "wall cpu rss"
	set -- "$1" $2
	printf "| %s | %s s | %s s | %s MiB |\n" "$1" "$2" "$3" "$4"
}

input() { # FILE [BASE]
	file=$1
	base=${2:-}
	bflag=""
	[ -n "$base" ] && bflag="--btf_base $base"
	echo
	echo "$(basename "$file"), $runs runs, $(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg)"
	echo
	echo "| tool | wall (median) | CPU user+sys | peak RSS |"
	echo "|---|---|---|---|"
	# shellcheck disable=SC2086
	row "pahole 1.24 -j1" "$(measure "$work/p1" pahole $flags -j1 $bflag "$file")"
	# shellcheck disable=SC2086
	pj=$(measure "$work/pj" pahole $flags -j $bflag "$file")
	row "pahole 1.24 -j" "$pj"
	for j in -j1 -j; do
		# shellcheck disable=SC2086
		m=$(measure "$work/o$j" "$ours" $flags $j $bflag "$file")
		row "btf-encode $j" "$m"
		cmp "$work/p1" "$work/o$j" || { echo "btf-encode $j differs from pahole -j1" >&2; exit 1; }
	done
	oj=$m
	fl=$(measure - "$floor" "$file" "-j$(nproc)")
	row "floor: bare gimli walk of every DIE, -j$(nproc)" "$fl"
	echo
	set -- $oj
	ow=$1 orss=$3
	set -- $pj
	pw=$1 prss=$3
	set -- $fl
	fw=$1
	awk -v o="$ow" -v p="$pw" -v f="$fw" -v ors="$orss" -v prs="$prss" 'BEGIN {
		printf "btf-encode -j / pahole -j: wall %.2f, peak RSS %.2f; btf-encode -j / floor: wall %s\n", o/p, ors/prs, (f > 0 ? sprintf("%.2f", o/f) : "n/a (floor under 0.01 s)") }'
}

input "$vmlinux"
for m in "$@"; do
	input "$m" "$vmlinux"
done
