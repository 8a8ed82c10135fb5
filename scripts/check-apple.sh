#!/usr/bin/env bash
# Type-checks the executor library for Apple targets on this Debian machine, which has no Apple
# SDK and no rustup targets for Apple: Debian's Rust toolchain builds the standard library from
# source (`-Zbuild-std`, docs/targets.md "Apple targets"). Catches Apple-only mistakes (a libc
# function iOS lacks, a Darwin type, a cfg typo) before anyone runs the code on a Mac.
#
#   scripts/check-apple.sh            # all four targets
#   scripts/check-apple.sh TARGET...  # some of them
#
# Checks package orc-executor, and orc-executor-capi when the workspace has it. The executor's
# build script compiles its C++ crash guard for the target without an SDK (see executor/build.rs).
# Installs what is missing (rustc-web, cargo-web, rust-web-src, clang-22). Uses its own target
# folder (target/apple-check) so it does not disturb the ordinary build. Nothing here waits
# without a deadline: every cargo run is bounded by `timeout`.
set -euo pipefail
cd "$(dirname "$0")/.."

targets=("$@")
if ((${#targets[@]} == 0)); then
  targets=(aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios aarch64-apple-darwin)
fi

scripts/apt-install.sh check-apple rustc-web cargo-web rust-web-src clang-22

# Debian's toolchain, not rustup's (rustup's ~/.cargo/bin may come first in PATH).
cargo=/usr/bin/cargo
export RUSTC=/usr/bin/rustc
# -Zbuild-std on a stable toolchain.
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR_APPLE:-target/apple-check}"
# rustup's environment must not leak into Debian's cargo.
unset RUSTUP_TOOLCHAIN CARGO_BUILD_TARGET || true

# The C API crate, when someone has added it to the workspace.
packages_to_check=(-p orc-executor)
if timeout 120 "$cargo" metadata --no-deps --format-version 1 --offline 2>/dev/null |
  grep -q '"name":"orc-executor-capi"'; then
  packages_to_check+=(-p orc-executor-capi)
fi

status=0
for t in "${targets[@]}"; do
  start=$SECONDS
  if timeout 1200 "$cargo" check --quiet -Zbuild-std=std,panic_abort --target "$t" --lib \
    "${packages_to_check[@]}"; then
    echo "check-apple: $t ok ($((SECONDS - start)) s)"
  else
    echo "check-apple: $t FAILED ($((SECONDS - start)) s)" >&2
    status=1
  fi
done
exit $status
