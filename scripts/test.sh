#!/usr/bin/env bash
# Runs every test of the workspace, in release mode (the oracle tests process
# whole kernels). Oracle tests skip when an oracle is missing, except under
# CI=true, where they fail.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --release --locked "$@"

# The kernel end-to-end test (tests/kernel): Linux 6.1 and 6.12 built with
# btf-encode and btf-resolve, compared with pahole and resolve_btfids, booted
# under qemu. It runs under CI=true (a missing prerequisite fails it) or with
# BTFKIT_KERNEL_E2E=1; BTFKIT_KERNEL_E2E=0 turns it off.
if [ "${BTFKIT_KERNEL_E2E:-${CI:-}}" = 1 ] || [ "${BTFKIT_KERNEL_E2E:-${CI:-}}" = true ]; then
  cargo build --release --locked -p btf-encode -p btf-resolve
  for v in 6.1 6.12; do
    bash tests/kernel/kernel.sh "$v"
  done
  # btf-match's EXT and fentry cases (tests/tests/match_kfunc_call.rs), which
  # the machine's kernel refuses to verify: the 6.12 kernel just built
  # verifies them, booted under qemu.
  BTFKIT_KFUNC_VM_KERNEL="${BTFKIT_KERNEL_CACHE:-$HOME/.cache/btfkit-kernel}/linux-source-6.12" \
    cargo test --release --locked -p btfkit-tests --test match_kfunc_call -- --ignored
fi
