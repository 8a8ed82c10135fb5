#!/usr/bin/env bash
# Builds OrcExecutor.xcframework, the executor's C API (package orc-executor-capi, static
# library liborcx.a, header orc_executor.h) for an Xcode project: one slice for iOS devices,
# one for the iOS simulator (arm64 and x86_64 in one library), and with --macos one for macOS.
# A module map in the headers lets Swift `import OrcExecutor`. See docs/ios.md.
#
#   scripts/build-xcframework.sh [--macos] [--debug] [--out DIR]
#
# Runs on macOS only, with Xcode's command-line tools and rustup's Apple targets:
#   rustup target add aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios
#   rustup target add aarch64-apple-darwin x86_64-apple-darwin     # for --macos
# Writes DIR/OrcExecutor.xcframework (default DIR: target/xcframework), replacing an old one.
set -euo pipefail
cd "$(dirname "$0")/.."

die() {
  echo "build-xcframework: $*" >&2
  exit 1
}

macos=0
profile=release
out=target/xcframework
while (($#)); do
  case "$1" in
    --macos) macos=1 ;;
    --debug) profile=debug ;;
    --out)
      [ $# -ge 2 ] || die "--out needs a folder"
      out="$2"
      shift
      ;;
    -h | --help)
      sed -n '2,13p' "$0"
      exit 0
      ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
  shift
done

[ "$(uname -s)" = Darwin ] ||
  die "this script needs macOS with Xcode (xcodebuild, lipo); on Linux, scripts/check-apple.sh type-checks the Apple targets"
for tool in cargo rustup xcodebuild lipo; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found (install Xcode's command-line tools and rustup)"
done

package=orc-executor-capi
header=executor/capi/include/orc_executor.h
cargo metadata --no-deps --format-version 1 | grep -q "\"name\":\"$package\"" ||
  die "the workspace has no package $package (the C API)"
[ -f "$header" ] || die "$header not found"

ios_targets=(aarch64-apple-ios)
sim_targets=(aarch64-apple-ios-sim x86_64-apple-ios)
mac_targets=()
if ((macos)); then mac_targets=(aarch64-apple-darwin x86_64-apple-darwin); fi

installed="$(rustup target list --installed)"
for t in "${ios_targets[@]}" "${sim_targets[@]}" "${mac_targets[@]}"; do
  grep -qx "$t" <<<"$installed" || die "Rust target $t is not installed: rustup target add $t"
done

# The OS versions the library is built for; the executor announces them in its triple
# (executor/build.rs, orc_executor::process_triple). iOS 14 and macOS 11 unless set.
export IPHONEOS_DEPLOYMENT_TARGET="${IPHONEOS_DEPLOYMENT_TARGET:-14.0}"
export MACOSX_DEPLOYMENT_TARGET="${MACOSX_DEPLOYMENT_TARGET:-11.0}"

target_dir="${CARGO_TARGET_DIR:-target}"
profile_flag=()
if [ "$profile" = release ]; then profile_flag=(--release); fi

build() { # TARGET -> path of its liborcx.a
  cargo build --quiet "${profile_flag[@]}" -p "$package" --target "$1" >&2
  local lib="$target_dir/$1/$profile/liborcx.a"
  [ -f "$lib" ] || die "cargo built $1 but $lib is missing (is $package a staticlib named orcx?)"
  echo "$lib"
}

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Headers, with the module map Swift imports.
mkdir -p "$work/include"
cp "$header" "$work/include/"
cat >"$work/include/module.modulemap" <<'EOF'
module OrcExecutor {
    header "orc_executor.h"
    link "c++"
    export *
}
EOF

slice() { # NAME TARGET... -> one library for the targets (lipo'd when more than one)
  local name="$1"
  shift
  mkdir -p "$work/$name"
  local libs=()
  for t in "$@"; do
    echo "build-xcframework: building $t ($profile)" >&2
    libs+=("$(build "$t")")
  done
  if ((${#libs[@]} == 1)); then
    cp "${libs[0]}" "$work/$name/liborcx.a"
  else
    lipo -create "${libs[@]}" -output "$work/$name/liborcx.a"
  fi
}

slice ios "${ios_targets[@]}"
slice ios-simulator "${sim_targets[@]}"
args=(-library "$work/ios/liborcx.a" -headers "$work/include"
  -library "$work/ios-simulator/liborcx.a" -headers "$work/include")
if ((macos)); then
  slice macos "${mac_targets[@]}"
  args+=(-library "$work/macos/liborcx.a" -headers "$work/include")
fi

mkdir -p "$out"
rm -rf "$out/OrcExecutor.xcframework"
xcodebuild -create-xcframework "${args[@]}" -output "$out/OrcExecutor.xcframework" >&2
echo "$out/OrcExecutor.xcframework"
