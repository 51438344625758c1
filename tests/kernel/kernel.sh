#!/usr/bin/env bash
# btfkit's kernel end-to-end test (issue 11): build a real kernel with
# btf-encode as PAHOLE and btf-resolve as RESOLVE_BTFIDS, compare its BTF steps
# byte for byte with pahole 1.24 -j1 and the tree's own resolve_btfids on the
# same files, build an out-of-tree kfunc module the same way, and boot the
# kernel under qemu (TCG) with an initramfs whose static init loads the module
# and runs a BPF program on its kfuncs and a referenced kptr.
#
# Usage: tests/kernel/kernel.sh [STEP...] VERSION     (VERSION: 6.1 or 6.12)
#   steps: prepare build compare module boot (default: all of them, in order)
# Environment:
#   BTFKIT_KERNEL_CACHE  where the trees are unpacked and built
#                        (default ~/.cache/btfkit-kernel; reused when present)
#   BTF_ENCODE, BTF_RESOLVE  the btfkit binaries (default target/release/...)
#   JOBS                 make -j (default: nproc)
#   PAHOLE_FLAGS         passed to make when set (build with these flags
#                        instead of the ones the tree picks for our --version)
#   BOOT_TIMEOUT         seconds before a boot counts as hung (default 300)
# Every step prints "kernel-e2e: <version> <step>: ok|FAIL ..." and exits
# non-zero on failure. A missing prerequisite is a failure (never a skip).
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
CACHE="${BTFKIT_KERNEL_CACHE:-$HOME/.cache/btfkit-kernel}"
BTF_ENCODE="${BTF_ENCODE:-$ROOT/target/release/btf-encode}"
BTF_RESOLVE="${BTF_RESOLVE:-$ROOT/target/release/btf-resolve}"
JOBS="${JOBS:-$(nproc)}"
BOOT_TIMEOUT="${BOOT_TIMEOUT:-300}"
E2E_CONFIG="${E2E_CONFIG:-$ROOT/../shared/kernel/btf-e2e.config}"
[ -f "$E2E_CONFIG" ] || E2E_CONFIG=/work/shared/kernel/btf-e2e.config

steps=()
VER=""
for a in "$@"; do
  case "$a" in
    prepare|build|compare|module|boot) steps+=("$a") ;;
    6.1|6.12) VER="$a" ;;
    *) echo "usage: $0 [prepare|build|compare|module|boot]... 6.1|6.12" >&2; exit 2 ;;
  esac
done
[ -n "$VER" ] || { echo "usage: $0 [STEP...] 6.1|6.12" >&2; exit 2; }
[ "${#steps[@]}" -gt 0 ] || steps=(prepare build compare module boot)

TREE="$CACHE/linux-source-$VER"
OUT="$CACHE/out-$VER"          # comparison files, module build, initramfs, logs
TARBALL="/usr/src/linux-source-$VER.tar.xz"

say() { echo "kernel-e2e: $VER $*" >&2; }
die() { say "FAIL: $*"; exit 1; }
need() { for t in "$@"; do command -v "$t" >/dev/null || die "missing prerequisite: $t (scripts/setup.sh installs it)"; done; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
section() { # section ELF NAME OUT: the raw bytes of a section
  objcopy --dump-section "$2=$3" "$1" "$3.elf" 2>/dev/null || die "objcopy: no $2 section in $1"
  rm -f "$3.elf"
  [ -s "$3" ] || die "$1 has no $2 section"
}
# The flags the tree's own scripts give TOOL as PAHOLE (6.1: the script the
# build runs; 6.12: Makefile.btf on CONFIG_PAHOLE_VERSION, overridden on
# the command line). The tree is asked with PAHOLE=btf-encode either way:
# another PAHOLE would re-run Kconfig (auto.conf.cmd records it) and, with
# another version, change the tree's .config.
tree_flags() { # tree_flags TOOL
  if [ -f "$TREE/scripts/pahole-flags.sh" ]; then
    (cd "$TREE" && PAHOLE="$1" sh scripts/pahole-flags.sh)
  else
    make -s --no-print-directory -C "$TREE" PAHOLE="$BTF_ENCODE" \
      CONFIG_PAHOLE_VERSION="$("$TREE/scripts/pahole-version.sh" "$1")" \
      --eval 'btfkit-flags: ; @echo $(PAHOLE_FLAGS)' btfkit-flags | tail -1
  fi
}
# A cmp that lists every differing byte (up to 50 lines) and counts them.
compare_files() { # compare_files WHAT A B
  if cmp -s "$2" "$3"; then
    say "compare: $1: identical ($(stat -c %s "$2") bytes)"
    return 0
  fi
  local n
  n=$(cmp -l "$2" "$3" 2>/dev/null | wc -l || true)
  say "compare: $1: DIFFERENT: $n bytes differ (sizes $(stat -c %s "$2") / $(stat -c %s "$3"))"
  cmp -l "$2" "$3" 2>&1 | head -50 >&2 || true
  return 1
}

step_prepare() {
  need tar xz make gcc flex bison bc
  [ -f "$TARBALL" ] || die "missing $TARBALL (apt-get install linux-source-$VER)"
  [ -x "$BTF_ENCODE" ] || die "missing $BTF_ENCODE (cargo build --release -p btf-encode)"
  [ -x "$BTF_RESOLVE" ] || die "missing $BTF_RESOLVE (cargo build --release -p btf-resolve)"
  mkdir -p "$CACHE"
  if [ ! -f "$TREE/Makefile" ]; then
    say "prepare: unpacking $TARBALL into $CACHE"
    tar -C "$CACHE" -xf "$TARBALL"
  fi
  # tinyconfig + the e2e config + what the module and the boot test need.
  # Kconfig reads the PAHOLE version (CONFIG_PAHOLE_VERSION), so pass ours.
  local cfg="$OUT/config.fragments"
  mkdir -p "$OUT"
  cat "$E2E_CONFIG" "$HERE/extra.config" >"$cfg.new"
  if [ -f "$TREE/.config" ] && cmp -s "$cfg.new" "$cfg" 2>/dev/null; then
    say "prepare: ok (tree and .config reused)"
    return
  fi
  make -s -C "$TREE" PAHOLE="$BTF_ENCODE" tinyconfig >/dev/null
  (cd "$TREE" && scripts/kconfig/merge_config.sh -m .config "$E2E_CONFIG" "$HERE/extra.config" >/dev/null)
  make -s -C "$TREE" PAHOLE="$BTF_ENCODE" olddefconfig
  for c in DEBUG_INFO_BTF DEBUG_INFO_BTF_MODULES BPF_SYSCALL BPF_JIT MODULES NET SERIAL_8250_CONSOLE \
           CGROUPS BPF_EVENTS DYNAMIC_FTRACE; do
    grep -q "^CONFIG_$c=y" "$TREE/.config" || die "prepare: CONFIG_$c did not survive olddefconfig"
  done
  mv "$cfg.new" "$cfg"
  say "prepare: ok (CONFIG_PAHOLE_VERSION=$(sed -n 's/^CONFIG_PAHOLE_VERSION=//p' "$TREE/.config"))"
}

step_build() {
  mkdir -p "$OUT"
  local extra=()
  [ -n "${PAHOLE_FLAGS:-}" ] && extra=("PAHOLE_FLAGS=$PAHOLE_FLAGS")
  say "build: make -j$JOBS PAHOLE=$BTF_ENCODE RESOLVE_BTFIDS=$BTF_RESOLVE ${extra[*]:-} (flags for our $("$BTF_ENCODE" --version): $(tree_flags "$BTF_ENCODE"))"
  local t0 t1
  t0=$(now)
  make -C "$TREE" -j"$JOBS" PAHOLE="$BTF_ENCODE" RESOLVE_BTFIDS="$BTF_RESOLVE" "${extra[@]}" all \
    >"$OUT/build.log" 2>&1 || { tail -40 "$OUT/build.log" >&2; die "build: make failed (log $OUT/build.log)"; }
  t1=$(now)
  grep -E '^  (BTF|BTFIDS) ' "$OUT/build.log" >&2 || true
  # resolve_btfids' warnings (6.12 tinyconfig: "unresolved symbol
  # bpf_crypto_ctx", CONFIG_CRYPTO off) are the tree's; `compare` checks ours
  # are the same bytes. Errors of either BTF step fail.
  grep -E '^WARN: ' "$OUT/build.log" >&2 || true
  if grep -iE 'BTF: |btf_encoder|error:.*(btf|BTF)|Failed to generate BTF' "$OUT/build.log" >&2; then
    die "build: BTF errors in the build log"
  fi
  [ -f "$TREE/vmlinux" ] && [ -f "$TREE/arch/x86/boot/bzImage" ] || die "build: no vmlinux/bzImage"
  say "build: ok in $(elapsed "$t0" "$t1") s (log $OUT/build.log)"
}

# The linked file pahole ran on (DWARF, .BTF added in place) and the last
# link before vmlinux (same .BTF and .BTF_ids contents as vmlinux before
# resolve_btfids patched it).
btf_input() { if [ -f "$TREE/.tmp_vmlinux.btf" ]; then echo "$TREE/.tmp_vmlinux.btf"; else echo "$TREE/.tmp_vmlinux1"; fi; }
ids_input() {
  local f
  for f in .tmp_vmlinux3 .tmp_vmlinux2 .tmp_vmlinux.kallsyms3 .tmp_vmlinux.kallsyms2; do
    [ -f "$TREE/$f" ] && { echo "$TREE/$f"; return; }
  done
  die "no .tmp_vmlinux link before vmlinux in $TREE"
}

# The flags of a -j run with -j taken out and -j1 put in: the reference
# runs of pahole 1.24, whose -j is not reproducible.
j1() { echo "$(echo " $1 " | sed -E 's/ -j[0-9]* / /g; s/ --jobs(=[0-9]+)? / /g') -j1"; }

step_compare() {
  need pahole objcopy cmp
  local d="$OUT/compare" fails=0 flags ref_flags
  rm -rf "$d"; mkdir -p "$d"
  # flags: what the tree gave btf-encode for our --version (the build's);
  # ref_flags: what it gives pahole 1.24. Where they differ (our version is
  # newer), the byte comparison with pahole runs btf-encode with pahole's
  # flags on the same DWARF (like with like), and the build's own .BTF is
  # checked against btf-encode with the build's flags on that DWARF.
  flags=$(tree_flags "$BTF_ENCODE")
  ref_flags=$(tree_flags pahole)
  [ -n "${PAHOLE_FLAGS:-}" ] && { flags="$PAHOLE_FLAGS"; ref_flags="$PAHOLE_FLAGS"; }
  local ref_j1; ref_j1=$(j1 "$ref_flags")
  say "compare: build flags (btf-encode $("$BTF_ENCODE" --version)): $flags; pahole $(pahole --version) flags: $ref_j1"
  [ "$flags" = "$ref_flags" ] || say "compare: the tree gives btf-encode other flags than pahole 1.24: btf-encode is compared with pahole on pahole's flags, and the built .BTF with btf-encode on the build's"

  # 1. vmlinux .BTF: the same DWARF, .BTF removed, encoded by both in place.
  local src; src=$(btf_input)
  objcopy --remove-section=.BTF "$src" "$d/dwarf.elf"
  cp "$d/dwarf.elf" "$d/btfkit.elf"; cp "$d/dwarf.elf" "$d/pahole.elf"
  local t0 t1 t2 t3
  t0=$(now)
  # shellcheck disable=SC2086
  LLVM_OBJCOPY=objcopy "$BTF_ENCODE" -J $ref_flags "$d/btfkit.elf" || die "compare: btf-encode failed"
  t1=$(now)
  # shellcheck disable=SC2086
  LLVM_OBJCOPY=objcopy pahole -J $ref_j1 "$d/pahole.elf" || die "compare: pahole failed"
  t2=$(now)
  # shellcheck disable=SC2086
  cp "$d/dwarf.elf" "$d/pahole-j.elf"; LLVM_OBJCOPY=objcopy pahole -J $ref_flags "$d/pahole-j.elf" >/dev/null
  t3=$(now)
  echo "encode_btfkit $(elapsed "$t0" "$t1")" >"$d/times"
  echo "encode_pahole_j1 $(elapsed "$t1" "$t2")" >>"$d/times"
  echo "encode_pahole_j $(elapsed "$t2" "$t3")" >>"$d/times"
  section "$d/btfkit.elf" .BTF "$d/btfkit.BTF"
  section "$d/pahole.elf" .BTF "$d/pahole.BTF"
  section "$TREE/vmlinux" .BTF "$d/vmlinux.BTF"
  compare_files "vmlinux .BTF, btf-encode vs pahole 1.24 -j1 (pahole's flags)" "$d/btfkit.BTF" "$d/pahole.BTF" || fails=$((fails + 1))
  # Informational: pahole adds .BTF through objcopy --add-section, which puts
  # it before .symtab in the section table and rewrites .symtab/.strtab;
  # btf-encode appends it and leaves the rest alone. The build takes only the
  # .BTF section's bytes out of this file (objcopy --only-section=.BTF).
  compare_files "ELF after in-place encode, btf-encode vs pahole+objcopy (layout only, informational)" "$d/btfkit.elf" "$d/pahole.elf" 2>&1 | head -3 >&2 || true
  if [ "$flags" = "$ref_flags" ]; then
    compare_files "built vmlinux .BTF vs pahole 1.24 -j1" "$d/vmlinux.BTF" "$d/pahole.BTF" || fails=$((fails + 1))
  else
    cp "$d/dwarf.elf" "$d/btfkit-build.elf"
    # shellcheck disable=SC2086
    LLVM_OBJCOPY=objcopy "$BTF_ENCODE" -J $flags "$d/btfkit-build.elf" || die "compare: btf-encode with the build's flags failed"
    section "$d/btfkit-build.elf" .BTF "$d/btfkit-build.BTF"
    compare_files "built vmlinux .BTF vs btf-encode with the build's flags on the same DWARF" "$d/vmlinux.BTF" "$d/btfkit-build.BTF" || fails=$((fails + 1))
  fi

  # 2. .BTF_ids: the last link before vmlinux, resolved by both.
  local ids; ids=$(ids_input)
  local rb="$TREE/tools/bpf/resolve_btfids/resolve_btfids"
  [ -x "$rb" ] || die "compare: the tree's $rb was not built"
  cp "$ids" "$d/ids-btfkit.elf"; cp "$ids" "$d/ids-ref.elf"
  t0=$(now)
  "$BTF_RESOLVE" "$d/ids-btfkit.elf" || die "compare: btf-resolve failed"
  t1=$(now)
  "$rb" "$d/ids-ref.elf" || die "compare: resolve_btfids failed"
  t2=$(now)
  echo "resolve_btfkit $(elapsed "$t0" "$t1")" >>"$d/times"
  echo "resolve_ref $(elapsed "$t1" "$t2")" >>"$d/times"
  section "$d/ids-btfkit.elf" .BTF_ids "$d/btfkit.BTF_ids"
  section "$d/ids-ref.elf" .BTF_ids "$d/ref.BTF_ids"
  section "$TREE/vmlinux" .BTF_ids "$d/vmlinux.BTF_ids"
  compare_files ".BTF_ids of $(basename "$ids"), btf-resolve vs resolve_btfids" "$d/btfkit.BTF_ids" "$d/ref.BTF_ids" || fails=$((fails + 1))
  compare_files "whole $(basename "$ids") after resolving, btf-resolve vs resolve_btfids" "$d/ids-btfkit.elf" "$d/ids-ref.elf" || fails=$((fails + 1))
  compare_files "built vmlinux .BTF_ids vs resolve_btfids" "$d/vmlinux.BTF_ids" "$d/ref.BTF_ids" || fails=$((fails + 1))
  sed 's/^/kernel-e2e: '"$VER"' time: /' "$d/times" >&2
  rm -f "$d"/*.elf
  [ "$fails" = 0 ] || die "compare: $fails comparisons differ"
  say "compare: ok"
}

step_module() {
  need pahole objcopy cmp
  local m="$OUT/module" flags ref_flags
  rm -rf "$m"; mkdir -p "$m"
  cp "$HERE/module/Kbuild" "$HERE/module/btfkit_kfunc.c" "$m/"
  local extra=()
  [ -n "${PAHOLE_FLAGS:-}" ] && extra=("PAHOLE_FLAGS=$PAHOLE_FLAGS")
  make -C "$TREE" M="$m" -j"$JOBS" PAHOLE="$BTF_ENCODE" RESOLVE_BTFIDS="$BTF_RESOLVE" "${extra[@]}" modules \
    >"$m/build.log" 2>&1 || { cat "$m/build.log" >&2; die "module: build failed"; }
  grep -iE 'warning|error' "$m/build.log" >&2 && die "module: warnings in the build"
  local ko="$m/btfkit_kfunc.ko"
  [ -f "$ko" ] || die "module: no $ko"
  section "$ko" .BTF "$m/btfkit.BTF"
  section "$ko" .BTF_ids "$m/btfkit.BTF_ids"
  # The reference: the module as modfinal linked it before its BTF steps
  # (the link command kbuild saved in .btfkit_kfunc.ko.cmd, run again), then
  # pahole 1.24 -j1 and the tree's resolve_btfids on it; btf-encode and
  # btf-resolve on a copy of it with pahole's flags (like with like, when the
  # build's flags are another version's).
  flags=$(tree_flags "$BTF_ENCODE"); ref_flags=$(tree_flags pahole)
  [ -n "${PAHOLE_FLAGS:-}" ] && { flags="$PAHOLE_FLAGS"; ref_flags="$PAHOLE_FLAGS"; }
  local ref_j1; ref_j1=$(j1 "$ref_flags")
  local ld_cmd
  ld_cmd=$(sed -n -E 's/^(saved)?cmd_[^ ]+ := //p' "$m/.btfkit_kfunc.ko.cmd" | sed 's/;.*//')
  [ -n "$ld_cmd" ] || die "module: no link command in $m/.btfkit_kfunc.ko.cmd"
  (cd "$TREE" && eval "${ld_cmd/-o $ko /-o $m/ref.ko }") || die "module: relinking the reference .ko"
  cp "$m/ref.ko" "$m/ours.ko"
  # shellcheck disable=SC2086
  LLVM_OBJCOPY=objcopy pahole -J $ref_j1 --btf_base "$TREE/vmlinux" "$m/ref.ko" || die "module: pahole failed"
  "$TREE/tools/bpf/resolve_btfids/resolve_btfids" -b "$TREE/vmlinux" "$m/ref.ko" || die "module: resolve_btfids failed"
  # shellcheck disable=SC2086
  LLVM_OBJCOPY=objcopy "$BTF_ENCODE" -J $ref_flags --btf_base "$TREE/vmlinux" "$m/ours.ko" || die "module: btf-encode failed"
  "$BTF_RESOLVE" -b "$TREE/vmlinux" "$m/ours.ko" || die "module: btf-resolve failed"
  section "$m/ref.ko" .BTF "$m/ref.BTF"
  section "$m/ref.ko" .BTF_ids "$m/ref.BTF_ids"
  section "$m/ours.ko" .BTF "$m/ours.BTF"
  section "$m/ours.ko" .BTF_ids "$m/ours.BTF_ids"
  local fails=0
  compare_files "module split .BTF, btf-encode vs pahole 1.24 -j1 (pahole's flags)" "$m/ours.BTF" "$m/ref.BTF" || fails=$((fails + 1))
  compare_files "module .BTF_ids, btf-resolve vs resolve_btfids (on pahole's BTF)" "$m/ours.BTF_ids" "$m/ref.BTF_ids" || fails=$((fails + 1))
  if [ "$flags" = "$ref_flags" ]; then
    compare_files "built module .BTF vs pahole 1.24 -j1" "$m/btfkit.BTF" "$m/ref.BTF" || fails=$((fails + 1))
    compare_files "built module .BTF_ids vs resolve_btfids" "$m/btfkit.BTF_ids" "$m/ref.BTF_ids" || fails=$((fails + 1))
  fi
  # 6.12 gives out-of-tree modules --btf_features=distilled_base from pahole
  # 1.26 on: their split BTF is then on a distilled base in .BTF.base, which
  # the kernel relocates onto its own BTF at load (the boot step loads it).
  rm -f "$m/btfkit.BTF.base"
  if objcopy --dump-section .BTF.base="$m/btfkit.BTF.base" "$ko" "$m/x.elf" 2>/dev/null && [ -s "$m/btfkit.BTF.base" ]; then
    say "module: .BTF.base (distilled base) of $(stat -c %s "$m/btfkit.BTF.base") bytes"
  fi
  rm -f "$m/x.elf"
  # Informational, as for vmlinux: objcopy --add-section puts .BTF before
  # .symtab in the section table, btf-encode appends it.
  compare_files "whole module, btfkit vs pahole+objcopy + resolve_btfids (layout only, informational)" "$ko" "$m/ref.ko" 2>&1 | head -3 >&2 || true
  "$BTF_RESOLVE" --check -b "$TREE/vmlinux" --report json "$ko" >"$m/report.json" 2>&1 || { cat "$m/report.json" >&2; fails=$((fails + 1)); }
  [ "$fails" = 0 ] || die "module: $fails comparisons differ"
  say "module: ok ($(stat -c %s "$m/btfkit.BTF") bytes of split BTF)"
}

step_boot() {
  need qemu-system-x86_64 clang bpftool gcc cpio timeout
  local b="$OUT/boot"
  rm -rf "$b"; mkdir -p "$b/root"
  local ko="$OUT/module/btfkit_kfunc.ko"
  [ -f "$ko" ] || die "boot: build the module first (step module)"
  # The BPF program: vmlinux.h from this kernel's BTF (made by btf-encode), the
  # module's types declared by hand; the kptr tag is the tree's.
  bpftool btf dump file "$TREE/vmlinux" format c >"$b/vmlinux.h" || die "boot: bpftool dump of vmlinux"
  local tag=kptr
  [ "$VER" = 6.1 ] && tag=kptr_ref
  clang -g -O2 -target bpf -D__TARGET_ARCH_x86 -DKPTR_TAG="\"$tag\"" -I"$b" \
    -c "$HERE/boot/btfkit_prog.bpf.c" -o "$b/btfkit_prog.bpf.o" || die "boot: clang -target bpf"
  bpftool gen skeleton "$b/btfkit_prog.bpf.o" name btfkit_prog >"$b/btfkit_prog.skel.h" || die "boot: bpftool gen skeleton"
  gcc -static -O2 -Wall -I"$b" -o "$b/root/init" "$HERE/boot/init.c" -lbpf -lelf -lz \
    || die "boot: static init (needs libbpf.a, libelf.a, libz.a)"
  cp "$ko" "$b/root/btfkit_kfunc.ko"
  mkdir -p "$b/root/proc" "$b/root/sys" "$b/root/dev"
  (cd "$b/root" && find . | cpio -o -H newc --quiet) >"$b/initramfs.cpio"
  local btf_size mod_btf_size
  btf_size=$(stat -c %s "$OUT/compare/vmlinux.BTF" 2>/dev/null || { section "$TREE/vmlinux" .BTF "$b/v.BTF"; stat -c %s "$b/v.BTF"; })
  section "$ko" .BTF "$b/m.BTF"; mod_btf_size=$(stat -c %s "$b/m.BTF")
  say "boot: qemu-system-x86_64 (TCG), timeout ${BOOT_TIMEOUT}s, console $b/console.log"
  local rc=0
  timeout "$BOOT_TIMEOUT" qemu-system-x86_64 -machine q35,accel=tcg -cpu max -m 256M -smp 1 \
    -kernel "$TREE/arch/x86/boot/bzImage" -initrd "$b/initramfs.cpio" \
    -append "console=ttyS0 panic=-1 BTFKIT_BTF_SIZE=$btf_size BTFKIT_MOD_BTF_SIZE=$mod_btf_size" \
    -nographic -no-reboot -serial stdio -monitor none -display none \
    </dev/null >"$b/console.log" 2>&1 || rc=$?
  grep -E 'BTFKIT|btfkit|BPF|BTF|libbpf' "$b/console.log" >&2 || true
  [ "$rc" = 124 ] && die "boot: hung (no verdict within ${BOOT_TIMEOUT}s; console $b/console.log)"
  if grep -E 'BPF: |BTF: |btf: |Call Trace|Kernel panic|BUG:|WARNING:' "$b/console.log" >&2; then
    die "boot: BPF/BTF errors or a kernel warning on the console"
  fi
  grep -q '^BTFKIT: PASS' "$b/console.log" || die "boot: no BTFKIT: PASS on the console ($b/console.log)"
  say "boot: ok"
}

for s in "${steps[@]}"; do "step_$s"; done
