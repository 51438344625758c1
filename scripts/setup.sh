#!/usr/bin/env bash
# Installs what btfkit's tests and benchmarks need on a Debian 12 machine:
# the oracles (bpftool 7.1, libbpf 1.1.2, pahole 1.24, clang 14), the Debian 6.1
# debug kernel (a real vmlinux with DWARF and .BTF, and 1121 modules), and small
# tools the tests call (zstd, hyperfine, GNU time), and what tests/kernel needs
# to build Linux 6.1 and 6.12 and boot them under qemu. Idempotent; needs root or sudo.
set -euo pipefail

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

PKGS=(bpftool libbpf-dev libelf-dev zlib1g-dev pkg-config dwarves clang llvm zstd hyperfine time jq
      linux-image-6.1.0-50-cloud-amd64-dbg
      make gcc binutils linux-source-6.1 linux-source-6.12
      flex bison bc libssl-dev cpio xz-utils qemu-system-x86)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v cargo >/dev/null || { echo "setup: cargo is missing (install Rust with rustup)" >&2; exit 1; }
echo "setup: ok (bpftool $(bpftool version 2>/dev/null | head -1 | awk '{print $2}'), pahole $(pahole --version 2>/dev/null))" >&2
