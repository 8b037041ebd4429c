#!/usr/bin/env bash
# The shoal program as separate processes on loopback: three nodes, two of
# them bootstrapping from the first; peers, ping, --help, SIGINT.
# Usage: test_cli.sh PATH/TO/shoal
# Every wait polls with a deadline; every process started here is ended on
# exit, by its pid.
# PID_x and PORT_x are set through printf -v; functions run from traps and
# from wait_for look unreachable to shellcheck.
# shellcheck disable=SC2154,SC2317
set -u

SHOAL=${1:?usage: test_cli.sh PATH/TO/shoal}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/shoal-cli.XXXXXX")
# Each node has a home of its own, $TMP/home-NAME (one node per home); HOME
# is the test's, so that nothing lands in the real ~/.shoal.
export HOME="$TMP"
. "$(dirname "$0")/lib.sh"
fail_logs() { show_logs cat '*'; }

# start_node NAME ARGS...: starts a node in the background, on the home
# $TMP/home-NAME; its pid goes to PIDS and to the variable PID_NAME, its
# port to PORT_NAME.
start_node() {
    local name=$1 port
    shift
    spawn "$name" "$SHOAL" node --home "$TMP/home-$name" --classic \
        --listen 127.0.0.1:0 --api off --log-level debug "$@"
    wait_for 10000 grep -q '^listening on 127\.0\.0\.1:[0-9]' "$TMP/$name.out" ||
        fail "$name did not say where it listens"
    port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' \
        "$TMP/$name.out")
    if [ -z "$port" ] || [ "$port" -eq 0 ]; then
        fail "$name: no port in its output"
    fi
    printf -v "PORT_$name" %s "$port"
}

# peers_has PORT ID...: `shoal peers` on PORT lists every ID.
peers_has() {
    local port=$1 id out
    shift
    out=$("$SHOAL" peers --timeout 2000 "127.0.0.1:$port" 2>/dev/null) ||
        return 1
    for id in "$@"; do
        grep -q "^$id " <<<"$out" || return 1
    done
}


# ------------------------------------------------------------- --help
for cmd in "--help" "help" "-h" "node --help" "ping --help" "peers --help" \
    "ping -h" "peers -h" "node -h"; do
    # shellcheck disable=SC2086
    "$SHOAL" $cmd >"$TMP/help.out" 2>&1 || fail "shoal $cmd exited $?"
    grep -q '^usage: shoal' "$TMP/help.out" || fail "shoal $cmd: no usage"
done
"$SHOAL" >/dev/null 2>&1 && fail "shoal with no command should fail"
"$SHOAL" bogus >/dev/null 2>&1 && fail "shoal bogus should fail"
"$SHOAL" ping >/dev/null 2>&1 && fail "shoal ping with no address should fail"
"$SHOAL" node --max-peers nope >/dev/null 2>&1 &&
    fail "shoal node --max-peers nope should fail"
rm -f "$TMP/help.out"

# ------------------------------------------------------------- a network
start_node n1
start_node n2 --bootstrap "127.0.0.1:$PORT_n1"
# Node 3 starts once node 2's walk is over, so that it finds node 2 in
# node 1's list.
wait_for 10000 grep -q '^joined:' "$TMP/n2.out" || fail "node 2 did not join"
start_node n3 --bootstrap "127.0.0.1:$PORT_n1"
ID1=127.0.0.1:$PORT_n1
ID2=127.0.0.1:$PORT_n2
ID3=127.0.0.1:$PORT_n3

wait_for 10000 peers_has "$PORT_n1" "$ID2" "$ID3" ||
    fail "node 1 does not list nodes 2 and 3"
wait_for 10000 peers_has "$PORT_n2" "$ID1" ||
    fail "node 2 does not list node 1"
# Node 3 walked on from node 1's list to node 2 (hops 2 by default).
wait_for 10000 peers_has "$PORT_n3" "$ID1" "$ID2" ||
    fail "node 3 does not list nodes 1 and 2"
"$SHOAL" peers "127.0.0.1:$PORT_n1" >"$TMP/peers.out" 2>&1 ||
    fail "shoal peers exited $?"
grep -q '^(2 peers)$' "$TMP/peers.out" || fail "node 1 should have 2 peers"
grep -q "^joined: 1 peers added" "$TMP/n2.out" ||
    fail "node 2 did not report its join"
grep -q "^joined: 2 peers added" "$TMP/n3.out" ||
    fail "node 3 did not report its join"

# ------------------------------------------------------------- ping
"$SHOAL" ping --count 3 "127.0.0.1:$PORT_n2" >"$TMP/ping.out" 2>&1 ||
    fail "ping of a live node exited $?"
[ "$(grep -c 'REPL time=' "$TMP/ping.out")" -eq 3 ] ||
    fail "ping: expected three answers"

# ------------------------------------------------------------- SIGINT
kill -INT "$PID_n3"
wait_for 5000 gone "$PID_n3" || fail "node 3 ignored SIGINT"
wait "$PID_n3"
rc=$?
[ "$rc" -eq 0 ] || fail "node 3 exited $rc after SIGINT"

# Its port is closed now: ping fails, and fails fast.
start=$(now_ms)
"$SHOAL" ping --timeout 3000 "127.0.0.1:$PORT_n3" >"$TMP/ping-dead.out" 2>&1 &&
    fail "ping of a stopped node exited 0"
[ $(($(now_ms) - start)) -lt 3000 ] || fail "ping of a closed port was slow"
"$SHOAL" peers --timeout 3000 "127.0.0.1:$PORT_n3" >/dev/null 2>&1 &&
    fail "peers of a stopped node exited 0"

# The others, then SIGTERM for the last one.
kill -INT "$PID_n2"
kill -TERM "$PID_n1"
for pid in "$PID_n2" "$PID_n1"; do
    wait_for 5000 gone "$pid" || fail "node $pid did not stop"
    wait "$pid"
    rc=$?
    [ "$rc" -eq 0 ] || fail "node $pid exited $rc after a signal"
done
grep -q 'signal name=SIGINT' "$TMP/n2.err" || fail "node 2 did not log SIGINT"
grep -q 'signal name=SIGTERM' "$TMP/n1.err" || fail "node 1 did not log SIGTERM"

# Two nodes cannot listen on one port: the second one says so and exits 1.
start_node n4
spawn n5 "$SHOAL" node --home "$TMP/home-n5" --classic \
    --listen "127.0.0.1:$PORT_n4"
pid5=$PID_n5
wait_for 5000 gone "$pid5" || fail "a second node on a busy port kept running"
wait "$pid5" && fail "a second node on a busy port exited 0"
grep -q 'cannot start a node' "$TMP/n5.err" || fail "node 5 did not say why"
kill -INT "$PID_n4"
wait_for 5000 gone "$PID_n4" || fail "node 4 ignored SIGINT"

echo "cli: ok (nodes on ports $PORT_n1 $PORT_n2 $PORT_n3 $PORT_n4)"
exit 0
