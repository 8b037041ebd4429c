#!/bin/bash
# Classic interop: shoal nodes and the Python classic peer (written from the
# spec, playing the reference program) form one network and answer each
# other's membership messages byte for byte.
set -u
shoal=$1
here=$(cd "$(dirname "$0")" && pwd)
py="python3 $here/classic_peer.py"
work=$(mktemp -d)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in "$work"/*.log; do echo "--- $f"; cat "$f"; done; exit 1; }

# start NAME CMD...: runs CMD in the background, waits for "listening on".
start() {
    local name=$1; shift
    "$@" >"$work/$name.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do
        addr=$(sed -n 's/^listening on //p' "$work/$name.log")
        [ -n "$addr" ] && return 0
        sleep 0.1
    done
    fail "$name did not start"
}

# expect_eventually DESC CMD...: polls CMD (up to 10 s) until it succeeds.
eventually() {
    local desc=$1; shift
    for _ in $(seq 100); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
    fail "$desc"
}

start pyA $py serve --port 0;                           A=$addr
# a home in the test's folder: never the machine's ~/.shoal
start shoal1 "$shoal" node --home "$work/home" --classic --listen 127.0.0.1:0 \
    --bootstrap "$A" --hops 2
S=$addr
start pyB $py serve --port 0 --bootstrap "$S" --hops 2; B=$addr

# The shoal node joined A; B joined the shoal node, then A through its LIST.
eventually "shoal node lists A and B" bash -c "$py send $S LIST | grep -qx 'REPL 2'"
$py send "$S" LIST | grep -qx "REPL $A 127.0.0.1 ${A##*:}" || fail "LIST lacks A"
$py send "$S" LIST | grep -qx "REPL $B 127.0.0.1 ${B##*:}" || fail "LIST lacks B"
$py send "$A" LIST | grep -qx "REPL $S 127.0.0.1 ${S##*:}" || fail "A does not know the shoal node"
"$shoal" peers "$B" | grep -q "^$S " || fail "shoal peers B lacks the shoal node"

# Byte-exact answers, types in any case, unknown types closed unanswered.
[ "$($py send "$S" NAME)" = "REPL $S" ] || fail "NAME"
[ "$($py send "$S" name)" = "REPL $S" ] || fail "lower-case name"
[ "$($py send "$S" JOIN "only-an-id")" = "ERRO Join: incorrect arguments" ] || fail "bad JOIN"
[ "$($py send "$S" JOIN "$A 127.0.0.1 ${A##*:}")" = "ERRO Join: peer already inserted $A" ] || fail "JOIN twice"
[ "$($py send "$S" QUIT "nobody")" = "ERRO Quit: peer not found: nobody" ] || fail "QUIT unknown"
[ -z "$($py send "$S" XXXX)" ] || fail "unknown type got a reply"
"$shoal" ping "$A" >/dev/null || fail "shoal ping of the Python peer"
"$shoal" ping "$S" >/dev/null || fail "shoal ping of the shoal node"

# QUIT removes; the Python peer sees the change through LIST.
[ "$($py send "$S" QUIT "$B")" = "REPL Quit: peer removed: $B" ] || fail "QUIT"
[ "$($py send "$S" LIST | head -1)" = "REPL 1" ] || fail "LIST after QUIT"
echo "classic membership interop: ok"
