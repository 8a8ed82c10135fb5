#!/usr/bin/env bash
# The main job, on bundled examples: build orcbridge, then run the REPL against a local
# orc-executor (launched by repl over pipes): a scripted REPL session that prints values, a C
# program and an LLVM IR file run through repl, and the same session over TCP against an
# orc-executor listening on loopback. Installs missing dependencies first.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --release --quiet --bin repl --bin repl-jit --bin orc-executor

bin=target/release
work=$(mktemp -d)
trap 'rm -rf "$work"; [ -n "${exe_pid:-}" ] && kill "$exe_pid" 2>/dev/null || true' EXIT

echo "== repl < examples/scripts/session.txt   (C++ REPL in a local orc-executor)"
"$bin/repl" < examples/scripts/session.txt

echo "== repl examples/scripts/hello.c -- demo"
"$bin/repl" examples/scripts/hello.c -- demo

echo "== repl examples/scripts/hello.ll"
"$bin/repl" examples/scripts/hello.ll

echo "== repl --oop-executor-connect (TCP; orc-executor listening on loopback)"
"$bin/orc-executor" listen=127.0.0.1:0 --once 2>"$work/exe.err" &
exe_pid=$!
for _ in $(seq 100); do grep -q "listening on" "$work/exe.err" 2>/dev/null && break; sleep 0.05; done
port=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$work/exe.err")
"$bin/repl" --oop-executor-connect=127.0.0.1:"$port" -e '#include <cmath>' -e 'sqrt(2.0)' -e '"values come back over TCP"'
wait "$exe_pid"

echo "== repl --session demo (a warm server keeps the session between commands)"
export XDG_RUNTIME_DIR="$work"
"$bin/repl" --session demo --session-idle=2 -e 'int x = 41;'
"$bin/repl" --session demo -e 'x + 1'
"$bin/repl" --session demo --status
# The server exits 2 s after its last client; wait for it, so that nothing outlives the demo.
for _ in $(seq 100); do [ -e "$work/orcbridge/demo.pid" ] || break; sleep 0.1; done
