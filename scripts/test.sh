#!/usr/bin/env bash
# Runs every test of the workspace, in release mode (the oracle tests process
# whole kernels). Oracle tests skip when an oracle is missing, except under
# CI=true, where they fail.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --release --locked "$@"
