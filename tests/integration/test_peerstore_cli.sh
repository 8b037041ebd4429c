#!/usr/bin/env bash
# `shoal node --peer-store` as separate processes on loopback: B learns A
# through --bootstrap, is stopped (Ctrl-C), and started again with only its
# store: it reconnects to A, and `shoal peers` (table and --json) shows A
# with its address, a last-seen time, no failures, connected. Then: the
# default store under ~/.shoal with the default key, --no-peer-store, and a
# file that is not a store refused with a clear message; another program's
# SQLite file refused and left byte for byte as it was.
# Usage: test_peerstore_cli.sh PATH/TO/shoal
# SHOAL_WRAP="valgrind ..." runs the nodes under that command (their exit
# status after SIGINT is checked). Every wait polls with a deadline; every
# process started here is ended on exit, by its pid.
# shellcheck disable=SC2154,SC2317
set -u

SHOAL=${1:?usage: test_peerstore_cli.sh PATH/TO/shoal}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/shoal-peerstore.XXXXXX")
export HOME=$TMP/home
mkdir -p "$HOME"
read -r -a WRAP <<<"${SHOAL_WRAP:-}"
# a node under valgrind starts and answers many times slower
WAIT_MS=${SHOAL_WRAP:+60000}
WAIT_MS=${WAIT_MS:-15000}
WAIT_POLL=0.1
. "$(dirname "$0")/lib.sh"
fail_logs() { show_logs 'head -c 4000' '*.out' '*.err' '*.json'; }

# start_node NAME ARGS...: a secure node with its API on a free port; sets
# PID_NAME, ADDR_NAME (its first listening address) and API_NAME.
start_node() {
    local name=$1
    shift
    spawn "$name" "${WRAP[@]}" "$SHOAL" node --listen /ip4/127.0.0.1/tcp/0 \
        --api 127.0.0.1:0 --check-interval 0 --log-level debug "$@"
    wait_api "$name" "$WAIT_MS" || fail "$name did not print its api line"
}

# stop_node PID: Ctrl-C, and a clean exit.
stop_node() {
    kill -INT "$1"
    wait_for "$WAIT_MS" gone "$1" || fail "pid $1 ignored SIGINT"
    wait "$1" || fail "pid $1: exit status $? after SIGINT"
}

# stored_ok API PEER_ID ADDR: the node's store lists PEER_ID at ADDR,
# connected, seen, with no failures.
stored_ok() {
    "$SHOAL" peers --api "$1" --json >"$TMP/peers.json" 2>/dev/null || return 1
    python3 - "$TMP/peers.json" "$2" "$3" <<'EOF'
import json, sys, time
doc = json.load(open(sys.argv[1]))
want_id, want_addr = sys.argv[2], sys.argv[3]
e = [s for s in doc["stored"] if s["id"] == want_id]
assert len(e) == 1, doc
e = e[0]
assert e["addrs"][0] == want_addr, e
assert e["connected"] is True, e
assert e["failures"] == 0, e
now = time.time() * 1000
assert 0 < e["first_seen"] <= e["last_seen"] <= now + 1000, e
assert now - e["last_seen"] < 600000, e
assert any(p["id"] == want_id for p in doc["peers"]), doc
EOF
}

# ------------------------------------------ learn, stop, restart, reconnect
# a on a home of its own; the b's, d and e, one after another, on the
# default one (~/.shoal of the test's HOME), where the client commands find
# their tokens
start_node a --home "$TMP/home-a" --key "$TMP/a.key" --no-peer-store
ID_a=${ADDR_a##*/p2p/}
DIAL_a=${ADDR_a%/p2p/*}
start_node b --key "$TMP/b.key" --peer-store "$TMP/b.peers" \
    --bootstrap "$ADDR_a"
grep -q "^peer store $TMP/b.peers: 0 peers$" "$TMP/b.out" ||
    fail "b's peer store line"
wait_for "$WAIT_MS" stored_ok "$API_b" "$ID_a" "$DIAL_a" ||
    fail "b does not store a"
stop_node "$PID_b"
[ -s "$TMP/b.peers" ] || fail "no store file written"

# again, with the store alone
start_node b2 --key "$TMP/b.key" --peer-store "$TMP/b.peers"
grep -q "^peer store $TMP/b.peers: 1 peers$" "$TMP/b2.out" ||
    fail "b did not read its store back"
wait_for "$WAIT_MS" stored_ok "$API_b2" "$ID_a" "$DIAL_a" ||
    fail "b, restarted with its store only, did not reconnect to a"

# the table for humans: a's row, its address, seen, 0 failures, yes
"$SHOAL" peers --api "$API_b2" >"$TMP/peers.out" || fail "shoal peers"
grep -q '^STORED PEER  *ADDRESS  *LAST SEEN  *FAILURES  *CONNECTED$' \
    "$TMP/peers.out" || fail "stored peers header"
grep -Eq "^$ID_a  *$DIAL_a  *[0-9]+s ago  *0  *yes$" "$TMP/peers.out" ||
    fail "stored peer row"
grep -q '^(1 stored)$' "$TMP/peers.out" || fail "stored count"
grep -q '^(1 peers)$' "$TMP/peers.out" || fail "b's peer table"

# a gone: the store says not connected (and keeps it)
stop_node "$PID_a"
a_disconnected() {
    "$SHOAL" peers --api "$API_b2" >"$TMP/peers.out" 2>/dev/null &&
        grep -Eq "^$ID_a .* no$" "$TMP/peers.out"
}
wait_for "$WAIT_MS" a_disconnected || fail "a shown connected after it left"
stop_node "$PID_b2"

# ------------------------------------------ default, off, not a store
# the default key: the default store, ~/.shoal/peers.db
start_node d
grep -q "^peer store $HOME/.shoal/peers.db: 0 peers$" "$TMP/d.out" ||
    fail "default store line"
[ -f "$HOME/.shoal/peers.db" ] || fail "no default store"
stop_node "$PID_d"
# --no-peer-store: none, and the API says so
start_node e --key "$TMP/e.key" --no-peer-store
grep -q '^peer store' "$TMP/e.out" && fail "a store despite --no-peer-store"
"$SHOAL" peers --api "$API_e" --json >"$TMP/e.json" || fail "peers --json on e"
python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))["stored"] is None' \
    "$TMP/e.json" || fail "stored is not null without a store"
stop_node "$PID_e"
# a file that is not SQLite: refused at start, with the reason
head -c 4096 /dev/urandom >"$TMP/junk.peers"
"$SHOAL" node --listen /ip4/127.0.0.1/tcp/0 --api off --key "$TMP/f.key" \
    --peer-store "$TMP/junk.peers" >"$TMP/f.out" 2>"$TMP/f.err" &&
    fail "a junk peer store was accepted"
grep -q "peer store $TMP/junk.peers: .*not a database" "$TMP/f.err" ||
    fail "no clear message for a junk store"
# another program's SQLite file (a table of its own, journal mode DELETE):
# refused with the reason, and left as it was: same bytes, same journal
# mode, no WAL beside it
python3 - "$TMP/app.db" <<'EOF2' || fail "making another program's db"
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("PRAGMA journal_mode=DELETE")
db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
db.execute("INSERT INTO notes VALUES (1, 'keep me')")
db.commit()
db.close()
EOF2
SUM=$(sha256sum <"$TMP/app.db")
"$SHOAL" node --listen /ip4/127.0.0.1/tcp/0 --api off --key "$TMP/g.key" \
    --peer-store "$TMP/app.db" >"$TMP/g.out" 2>"$TMP/g.err" &&
    fail "another program's SQLite file was taken as a peer store"
grep -q "peer store $TMP/app.db: .*not a shoal peer store: it holds table notes" \
    "$TMP/g.err" || fail "no reason given for another program's db"
[ "$(sha256sum <"$TMP/app.db")" = "$SUM" ] ||
    fail "another program's db was modified (sha256 $SUM before)"
[ -e "$TMP/app.db-wal" ] && fail "a WAL was made beside another program's db"
MODE=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("PRAGMA journal_mode").fetchone()[0])' "$TMP/app.db")
[ "$MODE" = delete ] || fail "journal mode of another program's db: wanted delete, got $MODE"
echo "peerstore_cli: ok"
