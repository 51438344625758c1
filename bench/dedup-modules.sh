#!/bin/sh
# Split dedup of every module of a kernel on its vmlinux, in one process:
# the base laid out again for each module ("each", the algorithm before
# btf_dedup::PreparedBase), laid out once ("prepared", bytes in and out), and
# in memory from parsed BTF ("memory"). Prints each mode's dedup time (the
# modules are read first, untimed) and the ratio to "each".
#
#   bench/dedup-modules.sh [VMLINUX] [MODULES_DIR]
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
vmlinux=${1:-/usr/lib/debug/boot/vmlinux-6.1.0-50-cloud-amd64}
moddir=${2:-/usr/lib/debug/lib/modules/6.1.0-50-cloud-amd64}
target=${CARGO_TARGET_DIR:-$root/target}
(cd "$root" && cargo build --release -q -p btf-dedup --example split_modules)
list=$(mktemp)
trap 'rm -f "$list"' EXIT
find "$moddir" -name '*.ko*' | sort >"$list"
echo "modules: $(wc -l <"$list")"
for mode in each prepared memory; do
	# shellcheck disable=SC2046
	"$target/release/examples/split_modules" "$mode" "$vmlinux" $(cat "$list") | tee -a "$list.out"
done
awk '/^each:/ {e=$(NF-1)} /^(prepared|memory):/ {printf "%s ratio to each: %.3f\n", $1, $(NF-1)/e}' "$list.out"
rm -f "$list.out"
