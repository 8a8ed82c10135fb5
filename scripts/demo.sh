#!/usr/bin/env bash
# The main job, on a bundled example: build orcbridge, then let LLVM 22's own controller run a
# C program inside orc-executor, over pipes and over TCP. Installs missing dependencies first.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --release --quiet

bin=/usr/lib/llvm-22/bin
work=$(mktemp -d)
trap 'rm -rf "$work"; [ -n "${exe_pid:-}" ] && kill "$exe_pid" 2>/dev/null || true' EXIT
"$bin/clang" -c examples/scripts/hello.c -o "$work/hello.o"

echo "== llvm-jitlink -oop-executor=target/release/orc-executor (pipes)"
set +e
"$bin/llvm-jitlink" -oop-executor=target/release/orc-executor "$work/hello.o" -args demo
echo "exit status: $?"

echo "== llvm-jitlink -oop-executor-connect (TCP, orc-executor listening on loopback)"
target/release/orc-executor listen=127.0.0.1:0 --once 2>"$work/exe.err" &
exe_pid=$!
for _ in $(seq 100); do grep -q "listening on" "$work/exe.err" 2>/dev/null && break; sleep 0.05; done
port=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$work/exe.err")
"$bin/llvm-jitlink" -oop-executor-connect=127.0.0.1:"$port" "$work/hello.o" -args over tcp
echo "exit status: $?"
wait "$exe_pid"
