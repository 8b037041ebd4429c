#!/bin/bash
# The shoal program in secure mode, as separate processes on loopback: key
# files (created 0600, reused, refused when others can read them), the
# "listening on" lines, ping, identify and perf between processes, a wrong
# peer id refused, Ctrl-C.
set -u
SHOAL=$1
TMP=$(mktemp -d)
# Each node has a home of its own, $TMP/home-NAME (one node per home); HOME
# is the test's, so that nothing lands in the real ~/.shoal.
export HOME="$TMP"
STOP_SIGNAL=TERM FAIL_FD=1
. "$(dirname "$0")/lib.sh"

# start NAME ARGS...: a node in the background, on the home
# $TMP/home-NAME; sets ADDR to its first "listening on" address (waits up
# to 10 s).
start() {
    local name=$1; shift
    spawn_log "$name" "$SHOAL" node --home "$TMP/home-$name" --api off "$@"
    PID=$!
    first_addr "$TMP/$name.log" $PID || fail "$name did not start"
}

start a --key "$TMP/a.key" --perf --listen /ip4/127.0.0.1/tcp/0 --listen /ip6/::1/tcp/0
A=$ADDR; APID=$PID
[[ "$A" =~ ^/ip4/127\.0\.0\.1/tcp/[0-9]+/p2p/12D3KooW[1-9A-HJ-NP-Za-km-z]+$ ]] || fail "listen line: $A"
[ "$(grep -c '^listening on ' "$TMP/a.log")" = 2 ] || fail "one line per listening address"
[ "$(stat -c %a "$TMP/a.key")" = 600 ] || fail "key file mode"

"$SHOAL" ping --count 3 "$A" >"$TMP/ping.log" || fail "ping"
[ "$(grep -c 'time=' "$TMP/ping.log")" = 3 ] || fail "three round trips"
"$SHOAL" identify "$A" >"$TMP/id.log" || fail "identify"
grep -qx "protocol /ipfs/ping/1.0.0" "$TMP/id.log" || fail "identify lists ping"
grep -qx "protocol /perf/1.0.0" "$TMP/id.log" || fail "identify lists perf (--perf)"
grep -qx "listen_addr ${A%/p2p/*}" "$TMP/id.log" || fail "identify gives the listen address"
"$SHOAL" perf --upload 1048576 --download 4194304 "$A" >/dev/null || fail "perf"

# The same address under another peer id is refused.
WRONG="${A%/p2p/*}/p2p/12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq"
"$SHOAL" ping --timeout 3000 "$WRONG" >/dev/null 2>&1 && fail "wrong peer id accepted"

# Ctrl-C stops the node; restarted on the same key it has the same id.
stop_cleanly $APID
start a2 --key "$TMP/a.key" --listen /ip4/127.0.0.1/tcp/0
[ "${ADDR##*/p2p/}" = "${A##*/p2p/}" ] || fail "the key file keeps the peer id"
stop_cleanly $PID # and its key is free again

# A key file others can read is refused, with a clear message.
chmod 644 "$TMP/a.key"
"$SHOAL" node --home "$TMP/home-r" --key "$TMP/a.key" --listen /ip4/127.0.0.1/tcp/0 >"$TMP/refused.log" 2>&1 &&
    fail "a readable key file was accepted"
grep -q "can be read by others" "$TMP/refused.log" || fail "no clear message"
echo "cli secure: ok"
