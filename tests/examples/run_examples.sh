#!/bin/bash
# Runs the examples as a user would: start echo_peer, ask it with
# echo_client, check the answer, stop the peer with Ctrl-C (SIGINT).
set -u
peer=$1 client=$2
out=$(mktemp -d)
trap 'kill $pid 2>/dev/null; rm -rf "$out"' EXIT

"$peer" /ip4/127.0.0.1/tcp/0 >"$out/peer.log" 2>&1 &
pid=$!
addr=
for _ in $(seq 100); do  # up to 10 s for the peer to say where it listens
    addr=$(sed -n 's/^listening on //p' "$out/peer.log")
    [ -n "$addr" ] && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.1
done
[ -n "$addr" ] || { echo "echo_peer did not start"; cat "$out/peer.log"; exit 1; }

reply=$("$client" "$addr" "hello, shoal") || { echo "echo_client failed"; exit 1; }
[ "$reply" = "REPL hello, shoal" ] || { echo "unexpected reply: $reply"; exit 1; }

kill -INT $pid
for _ in $(seq 100); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
if kill -0 $pid 2>/dev/null; then echo "echo_peer ignored SIGINT"; exit 1; fi
wait $pid || { echo "echo_peer exited with $?"; exit 1; }
echo "examples: ok"
