#!/bin/sh
# Regenerates tests/data/selftests/*.btf: the raw .BTF sections of a few BPF
# programs of the Linux 6.1 selftests (tools/testing/selftests/bpf/progs in
# the linux-source-6.1 package), compiled with clang 14 as the selftests do.
# They are checked in (a few KiB each) so that tests need neither the source
# tarball nor clang; dump_broken.rs corrupts them.
set -eu
out=$(cd "$(dirname "$0")/.." && pwd)/tests/data/selftests
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
progs=linux-source-6.1/tools/testing/selftests/bpf/progs
tar -xJf /usr/src/linux-source-6.1.tar.xz -C "$tmp" "$progs"
mkdir -p "$out"
for p in atomic_bounds atomics bloom_filter_map btf_data dev_cgroup dummy_st_ops \
    empty_skb fentry_test fexit_bpf2bpf fexit_bpf2bpf_simple fexit_test \
    fmod_ret_freplace freplace_attach_probe; do
    clang -g -O2 -target bpf -D__TARGET_ARCH_x86 -I"$tmp/$progs" -I"$tmp/$progs/.." \
        -I/usr/include/x86_64-linux-gnu -c "$tmp/$progs/$p.c" -o "$tmp/$p.o"
    llvm-objcopy --dump-section ".BTF=$out/$p.btf" "$tmp/$p.o" "$tmp/junk.o"
done
