#!/usr/bin/env bash
# Prepares this x86-64 Debian 12 machine to test orcbridge against another target, installing
# what is missing:
#
#   scripts/build-target.sh aarch64-unknown-linux-gnu
#
# * qemu-user, to run aarch64 Linux programs here (`qemu-aarch64 PROGRAM`);
# * the arm64 C and C++ runtime libraries (Debian multiarch, beside the amd64 ones) that
#   aarch64 programs load, and the aarch64 cross toolchain (`aarch64-linux-gnu-gcc`/`g++`:
#   headers and libraries to compile and link for the target);
# * LLVM 22's own aarch64 `llvm-jitlink-executor`, from Debian's arm64 `llvm-22` package
#   extracted into target/aarch64-unknown-linux-gnu/llvm-22 (never installed: the arm64
#   package would replace the amd64 LLVM);
# * Debian's Rust toolchain (`rustc-web`, with the arm64 standard library; rustup cannot
#   download targets here), which builds target/aarch64-unknown-linux-gnu/release/orc-executor
#   and the test-only darwin-sim-executor (the iOS simulator stand-in, arm64-apple-ios triple).
#   Run it with `qemu-aarch64 target/aarch64-unknown-linux-gnu/release/orc-executor
#   listen=127.0.0.1:PORT`, then `repl --oop-executor-connect=127.0.0.1:PORT prog.c`.
#
# Prints the folder of the LLVM peer. Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

target="${1:-}"
case "$target" in
  aarch64-unknown-linux-gnu) ;;
  *) echo "usage: scripts/build-target.sh aarch64-unknown-linux-gnu" >&2; exit 2 ;;
esac

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi

packages=(
  qemu-user gcc-aarch64-linux-gnu g++-aarch64-linux-gnu libc6-dev-arm64-cross
  libc6:arm64 libstdc++6:arm64 libgcc-s1:arm64
  # What LLVM's arm64 llvm-jitlink-executor links against.
  zlib1g:arm64 libzstd1:arm64 libz3-4:arm64
  rustc-web cargo-web libstd-rust-web-dev:arm64
)
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  echo "build-target: adding the arm64 package architecture" >&2
  $sudo dpkg --add-architecture arm64
fi
# (The :arm64 packages are missing after a new architecture, so the update does happen.)
scripts/apt-install.sh build-target "${packages[@]}"

peer="${CARGO_TARGET_DIR:-target}/$target/llvm-22"
if [ ! -x "$peer/usr/lib/llvm-22/bin/llvm-jitlink-executor" ]; then
  echo "build-target: extracting LLVM 22's arm64 llvm-jitlink-executor into $peer" >&2
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  # The same version as the amd64 LLVM, so both peers are LLVM 22.1.x from one release.
  version="$(dpkg-query -W -f='${Version}' llvm-22)"
  (cd "$work" && chmod 777 . && apt-get download -qq "llvm-22:arm64=$version" >/dev/null)
  mkdir -p "$peer"
  dpkg-deb -x "$work"/llvm-22_*_arm64.deb "$peer"
fi
usage="$(qemu-aarch64 "$peer/usr/lib/llvm-22/bin/llvm-jitlink-executor" 2>&1 || true)"
[[ "$usage" == *filedescs=* ]] || {
  echo "build-target: $peer/usr/lib/llvm-22/bin/llvm-jitlink-executor does not run under qemu-aarch64" >&2
  exit 1
}
# Debian's rustc and cargo, not rustup's shims earlier in PATH; cargo only rebuilds what changed.
echo "build-target: building orc-executor and darwin-sim-executor for $target" >&2
RUSTC=/usr/bin/rustc CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \
  /usr/bin/cargo build -q --release --target "$target" -p orc-executor-cli --bin orc-executor \
  -p device-tests --bin darwin-sim-executor

echo "$peer/usr/lib/llvm-22/bin"
