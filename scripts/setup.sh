#!/usr/bin/env bash
# Installs what orcbridge needs on Debian 12 and is not there yet: LLVM/Clang 22 from Debian's
# packages (headers and libraries to build against, clang-22 to compile test programs, the LLVM
# peers llvm-jitlink, llvm-jitlink-executor and clang-repl, and the ORC runtime), a C/C++
# toolchain, and the Rust components the checks use. Safe to run again: it only installs what is
# missing.
set -euo pipefail

packages=(
  llvm-22-dev libclang-cpp22-dev libclang-22-dev clang-22 libclang-rt-22-dev
  clang-tools-22   # clang-repl
  build-essential pkg-config zlib1g-dev libzstd-dev
)

"$(dirname "$0")/apt-install.sh" setup "${packages[@]}"

if ! command -v cargo >/dev/null 2>&1; then
  [ -x "$HOME/.cargo/bin/cargo" ] || {
    echo "setup: installing Rust with rustup" >&2
    curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --component rustfmt,clippy >/dev/null
  }
  export PATH="$HOME/.cargo/bin:$PATH"
fi
for c in rustfmt clippy; do
  if ! cargo "${c/rustfmt/fmt}" --version >/dev/null 2>&1; then
    rustup component add "$c" >/dev/null
  fi
done

test -x /usr/lib/llvm-22/bin/llvm-jitlink || { echo "setup: llvm-jitlink 22 missing after install" >&2; exit 1; }
