#!/bin/bash
# shoal-tracker and three `shoal node --tracker` processes on loopback: the
# nodes know only the tracker and find each other; the tracker is killed
# (SIGKILL) and they stay connected; it restarts on the same key, port and
# database, has its entries back, and the nodes announce to it again.
#   test_tracker_cli.sh SHOAL SHOAL_TRACKER
set -u
SHOAL=$1
TRACKER=$2
TMP=$(mktemp -d)
export HOME="$TMP"
STOP_SIGNAL=TERM FAIL_FD=1
. "$(dirname "$0")/lib.sh"

# start_tracker LISTEN N: shoal-tracker on LISTEN, its output in
# $TMP/trackerN.log; sets TPID, and T to its first address.
start_tracker() {
    spawn_log "tracker$2" "$TRACKER" --listen "$1" --key "$TMP/tracker.key" \
        --db "$TMP/tracker.db"
    TPID=$!
    first_addr "$TMP/tracker$2.log" $TPID ||
        fail "$TMP/tracker$2.log: no listening line"
    T=$ADDR
}

start_tracker /ip4/127.0.0.1/tcp/0 1
TPORT=$(echo "$T" | sed 's|^/ip4/127.0.0.1/tcp/\([0-9]*\)/p2p/.*|\1|')
[[ "$T" =~ ^/ip4/127\.0\.0\.1/tcp/[0-9]+/p2p/12D3KooW ]] || fail "listen line: $T"

ids=(); addrs=(); apis=()
for i in 0 1 2; do
    api=127.0.0.1:$(free_port)
    # a home each (one node per home); the tracker has the default one
    spawn_log "node$i" "$SHOAL" node --home "$TMP/home$i" \
        --listen /ip4/127.0.0.1/tcp/0 \
        --key "$TMP/n$i.key" --api "$api" --tracker "$T" \
        --tracker-interval 1000 --downloads "$TMP/dl$i"
    first_addr "$TMP/node$i.log" $! || fail "$TMP/node$i.log: no listening line"
    addrs+=("$ADDR"); ids+=("${ADDR##*/p2p/}"); apis+=("$api")
done

# knows_others I: node I's table holds the two other nodes.
knows_others() {
    local out
    out=$("$SHOAL" peers --api "${apis[$1]}" --home "$TMP/home$1" --json \
        2>/dev/null) || return 1
    for k in 0 1 2; do
        [ "$k" = "$1" ] && continue
        grep -q "${ids[$k]}" <<<"$out" || return 1
    done
}
all_connected() { knows_others 0 && knows_others 1 && knows_others 2; }
until_ok 30 all_connected || fail "the nodes did not find each other"

stat_has() { "$TRACKER" stat "$T" 2>/dev/null | grep -q "$1"; }
until_ok 10 stat_has "^peers=3 " || fail "STAT does not show 3 peers"
# The three entries are on disk once a flush has run after that.
flushes=$("$TRACKER" stat "$T" | sed -n 's/.* flushes=\([0-9]*\).*/\1/p')
[ -n "$flushes" ] || fail "STAT shows no flush count"
flushed_since() {
    local now
    now=$("$TRACKER" stat "$T" 2>/dev/null |
          sed -n 's/.* flushes=\([0-9]*\).*/\1/p')
    [ -n "$now" ] && [ "$now" -gt "$flushes" ]
}
until_ok 10 flushed_since || fail "the tracker did not flush its table"

# The tracker dies; the nodes keep their peers (through a few failed
# announces and their backoff) and still answer pings.
kill -KILL $TPID
wait $TPID 2>/dev/null
sleep 3   # a few announce periods must pass for "nothing changed" to mean much
all_connected || fail "peers lost with the tracker gone"
for i in 0 1 2; do
    "$SHOAL" ping --count 1 "${addrs[$i]}" >/dev/null || fail "ping node $i"
done

# Back on the same port, key and database: its entries are there at once,
# and the nodes announce to it again.
start_tracker "/ip4/127.0.0.1/tcp/$TPORT" 2
grep -q "tracker_loaded entries=3" "$TMP/tracker2.log" || fail "entries not loaded from the database"
until_ok 30 stat_has "^peers=3 topics=0 announces_per_s=[1-9]" ||
    fail "the nodes did not announce again"
all_connected || fail "peers lost after the restart"

# Ctrl-C stops the tracker cleanly.
stop_cleanly $TPID
echo "tracker cli: ok"
