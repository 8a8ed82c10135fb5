#!/usr/bin/env bash
# The test command: formatting, lints, then every test (unit tests and the integration tests
# against the real LLVM 22 peers). Installs missing dependencies first.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# The aarch64 tests' target: qemu, the cross toolchain, LLVM's arm64 executor.
scripts/build-target.sh aarch64-unknown-linux-gnu >/dev/null
# ... so the aarch64 tests must find it: a skip would hide a failure.
export ORCBRIDGE_REQUIRE_AARCH64=1
export PATH="$HOME/.cargo/bin:$PATH"

cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
# The executor library type-checks for iOS (device, simulators) and macOS.
scripts/check-apple.sh
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps
cargo build --workspace --bins
cargo test --workspace
