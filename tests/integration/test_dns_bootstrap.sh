#!/bin/bash
# shoal node --bootstrap by DNS name, against a real DNS server: Debian's
# dnsmasq, started here on a loopback port of its own, serving a zone made
# up for the test (.test, which no resolver outside knows). A seed node
# listens on loopback; other nodes find it through
#   (a) /dnsaddr/boot.test (TXT records of _dnsaddr.boot.test),
#   (b) /dns4/seed.test/tcp/PORT/p2p/ID (an A record),
#   (c) /dnsaddr/mixed.test/p2p/ID, where the good record sits among
#       garbage: not dnsaddr=, a bad multiaddr, an overlong record (which
#       also makes the answer too big for UDP: libresolv asks again over
#       TCP), and another peer's id, which the /p2p filter skips;
# and must be told clearly, and keep running with their API up, when
#   (d) a name has only garbage (the same, the good record left out), or
#       no records at all,
#   (e) there is no DNS server, (f) it never answers, (g) the node is
#       stopped while it waits for an answer;
# and every node must stop cleanly on Ctrl-C.
# Every address in every record is a loopback one. Every wait polls with a
# deadline. Skips (77) without dnsmasq (Debian's dnsmasq-base).
#   test_dns_bootstrap.sh SHOAL
# PID_x, API_x and OUT_x are set through printf -v.
# shellcheck disable=SC2154
set -u
SHOAL=${1:?usage: test_dns_bootstrap.sh PATH/TO/shoal}
DNSMASQ=$(PATH=$PATH:/usr/sbin:/sbin command -v dnsmasq) || {
    echo "SKIP: no dnsmasq (apt-get install dnsmasq-base)"
    exit 77
}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/shoal-dns.XXXXXX")
# Each node has a home of its own, $TMP/home-NAME (one node per home); HOME
# is the test's, so that nothing lands in the real ~/.shoal.
export HOME=$TMP
STOP_SIGNAL=TERM FAIL_FD=1
. "$(dirname "$0")/lib.sh"
fail_logs() { show_logs 'tail -30' '*.out' '*.err' dnsmasq.log; }

has_line() { grep -qs "$2" "$1"; } # -s: the file may not be made yet

# start NAME ARGS...: a secure node on loopback, on the home
# $TMP/home-NAME, with its API on a port of the kernel's choosing; sets
# PID_NAME and API_NAME (HOST:PORT) once it has printed its api line; its
# stdout is $TMP/NAME.out, stderr $TMP/NAME.err.
start() {
    local name=$1
    shift
    spawn "$name" "$SHOAL" node --home "$TMP/home-$name" \
        --listen /ip4/127.0.0.1/tcp/0 --key "$TMP/$name.key" \
        --api 127.0.0.1:0 --check-interval 0 "$@"
    wait_api "$name" 10000 || fail "$name did not start"
}

# peers_json NAME: `shoal peers --json` of node NAME (its API, its home's
# token).
peers_json() {
    local api=API_$1
    "$SHOAL" peers --json --api "${!api}" --home "$TMP/home-$1" 2>/dev/null
}

# knows_seed NAME: node NAME has the seed in its peer table.
knows_seed() {
    peers_json "$1" | grep -q "\"$SEED_ID\""
}

# serves NAME: node NAME answers its API (status, then peers).
serves() {
    peers_json "$1" >/dev/null
}

# ------------------------------------------------------------- the seed
spawn seed "$SHOAL" node --home "$TMP/home-seed" \
    --listen /ip4/127.0.0.1/tcp/0 --key "$TMP/seed.key" --api off \
    --check-interval 0
SEED_PID=$!
wait_for 10000 has_line "$TMP/seed.out" '^listening on ' ||
    fail "the seed did not start"
SEED=$(sed -n '1s/^listening on //p' "$TMP/seed.out")
[[ "$SEED" =~ ^/ip4/127\.0\.0\.1/tcp/([0-9]+)/p2p/(12D3KooW[1-9A-HJ-NP-Za-km-z]+)$ ]] ||
    fail "seed address: $SEED"
SEED_PORT=${BASH_REMATCH[1]}
SEED_ID=${BASH_REMATCH[2]}
# another peer's id (never started: the /p2p filter must drop it unasked)
OTHER_ID=12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq

# --------------------------------------------------------- the records
# Garbage, all of it pointing at loopback if anything.
LONG=/ip4/127.0.0.1/tcp/1/p2p/$OTHER_ID$(printf '/tcp/1%.0s' $(seq 200))
GARBAGE=(
    "hello world"                                 # not dnsaddr=
    "v=spf1 -all"                                 # not dnsaddr=
    "dnsaddr=/ip4/127.0.0.1/tcp/notaport"         # bad multiaddr
    "dnsaddr=/ip4/127.0.0.1/udp/1/p2p/$SEED_ID/x" # bad multiaddr
    "dnsaddr=$LONG"                               # too long (over 1 KiB)
    "dnsaddr=/ip4/127.0.0.1/tcp/1/p2p/$OTHER_ID"  # another peer
)
# txt NAME TEXT: a --txt-record option; TEXT (no commas) cut into
# character-strings of 250 bytes (one string holds at most 255), as a long
# record is written. No quotes: on the command line dnsmasq keeps them.
txt() {
    local name=$1 text=$2 opt
    opt="--txt-record=$name"
    while [ -n "$text" ]; do
        opt+=",${text:0:250}"
        text=${text:250}
    done
    printf '%s\n' "$opt"
}
DNS_ARGS=(
    "$(txt _dnsaddr.boot.test "dnsaddr=$SEED")"
    "$(txt _dnsaddr.mixed.test "dnsaddr=$SEED")"
    --address=/seed.test/127.0.0.1
)
for g in "${GARBAGE[@]}"; do
    DNS_ARGS+=("$(txt _dnsaddr.mixed.test "$g")" "$(txt _dnsaddr.junk.test "$g")")
done

# dnsmasq on a free loopback port: a port taken (UDP or TCP) makes it exit
# at once, and another is tried. --local=/test/: names it does not have
# are NXDOMAIN, not forwarded (it has no upstream: --no-resolv).
dns_ready() { has_line "$TMP/dnsmasq.log" 'started, version' && alive "$DNS_PID"; }
DNS_PORT=
for _ in $(seq 10); do
    port=$((20000 + RANDOM % 40000))
    "$DNSMASQ" --no-daemon --port="$port" --listen-address=127.0.0.1 \
        --bind-interfaces --no-resolv --no-hosts --conf-file=/dev/null \
        --pid-file= --local=/test/ --log-queries --log-facility=- \
        "${DNS_ARGS[@]}" >"$TMP/dnsmasq.log" 2>&1 &
    DNS_PID=$!
    if wait_for 5000 dns_ready; then
        PIDS+=("$DNS_PID")
        DNS_PORT=$port
        break
    fi
    kill "$DNS_PID" 2>/dev/null
    wait "$DNS_PID" 2>/dev/null
done
[ -n "$DNS_PORT" ] || fail "dnsmasq did not start on any port"
DNS=127.0.0.1:$DNS_PORT

# -------------------------------------------------- (a) /dnsaddr/NAME
start a --bootstrap /dnsaddr/boot.test --dns-server "$DNS"
wait_for 20000 knows_seed a || fail "(a) /dnsaddr: the seed not known"
grep -qx "bootstrap /dnsaddr/boot.test: $SEED" "$TMP/a.out" ||
    fail "(a) the resolved address is not said"
wait_for 10000 has_line "$TMP/a.out" '^joined: 1 peers added' || fail "(a) not joined"

# ----------------------------------------------- (b) /dns4/NAME/tcp/PORT
start b --bootstrap "/dns4/seed.test/tcp/$SEED_PORT/p2p/$SEED_ID" \
    --dns-server "$DNS"
wait_for 20000 knows_seed b || fail "(b) /dns4: the seed not known"
grep -qx "bootstrap /dns4/seed.test/tcp/$SEED_PORT/p2p/$SEED_ID: $SEED" \
    "$TMP/b.out" || fail "(b) resolved through the server, to the seed"

# ---------------------------------------- (c) garbage around a good one
start c --bootstrap "/dnsaddr/mixed.test/p2p/$SEED_ID" --dns-server "$DNS"
wait_for 20000 knows_seed c || fail "(c) the good record was not used"
wait_for 5000 has_line "$TMP/c.err" 'records skipped' ||
    fail "(c) the garbage skipped is not said"
line=$(grep "^shoal: --bootstrap /dnsaddr/mixed.test/p2p/$SEED_ID: " "$TMP/c.err")
for why in not_dnsaddr=2 bad_multiaddr=2 too_long=1 wrong_peer=1; do
    [[ "$line" == *"$why"* ]] || fail "(c) $why not counted: $line"
done
grep -q 'dns_resolved addr=/dnsaddr/mixed.test/.* addrs=1 ' "$TMP/c.err" ||
    fail "(c) not one address kept"
[ "$(grep -c '^bootstrap /dnsaddr/mixed.test' "$TMP/c.out")" = 1 ] ||
    fail "(c) only the seed is joined"
grep -q "query\[TXT\] _dnsaddr.mixed.test from 127.0.0.1" "$TMP/dnsmasq.log" ||
    fail "(c) the node did not ask our server"

# ---------------------- (d) only garbage, or nothing: said, and running
start d --bootstrap "/dnsaddr/junk.test/p2p/$SEED_ID" \
    --bootstrap /dnsaddr/none.test --dns-server "$DNS"
wait_for 20000 has_line "$TMP/d.err" \
    "^shoal: --bootstrap /dnsaddr/junk.test/p2p/$SEED_ID: no usable addresses (6 records skipped: " ||
    fail "(d) no clear error for a name with only garbage"
wait_for 20000 has_line "$TMP/d.err" \
    '^shoal: --bootstrap /dnsaddr/none.test: no usable addresses (no TXT records for _dnsaddr.none.test)' ||
    fail "(d) no clear error for a name without records"
alive "$PID_d" || fail "(d) the node died"
serves d || fail "(d) the node's API does not answer"
grep -q '^joined' "$TMP/d.out" && fail "(d) joined through garbage"

# ------------------------------------ (e) a DNS server that is not there
free_port=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
start e --bootstrap /dnsaddr/boot.test --dns-server "127.0.0.1:$free_port"
wait_for 30000 has_line "$TMP/e.err" \
    "^shoal: --bootstrap /dnsaddr/boot.test: no answer from the DNS server (127.0.0.1:$free_port)" ||
    fail "(e) no clear error without a DNS server"
alive "$PID_e" || fail "(e) the node died"
serves e || fail "(e) the node's API does not answer"

# A server that takes queries and never answers: the resolution times out
# (f), and a node stopped while it waits stops cleanly (g), once the query
# sent has timed out (libresolv's call cannot be cut short: 2 tries of 2 s).
python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True)
time.sleep(600)' >"$TMP/hole.port" &
PIDS+=($!)
wait_for 5000 test -s "$TMP/hole.port" || fail "no silent server"
HOLE=127.0.0.1:$(cat "$TMP/hole.port")
start f --bootstrap /dnsaddr/boot.test --dns-server "$HOLE"
start g --bootstrap /dnsaddr/boot.test --dns-server "$HOLE"
kill -INT "$PID_g"
wait_for 10000 gone "$PID_g" || fail "(g) a node waiting on DNS did not stop"
wait "$PID_g" || fail "(g) exit status after SIGINT (see g.err)"
wait_for 30000 has_line "$TMP/f.err" \
    "^shoal: --bootstrap /dnsaddr/boot.test: no answer from the DNS server ($HOLE)" ||
    fail "(f) no clear error when the DNS server is silent"
serves f || fail "(f) the node's API does not answer"

# A --dns-server that is no IPv4[:PORT] is refused before anything starts.
"$SHOAL" node --home "$TMP/home-bad" --api off --dns-server seed.test:53 \
    >"$TMP/bad.out" 2>&1 &&
    fail "a bad --dns-server was accepted"
grep -q -- "--dns-server seed.test:53: not IPv4" "$TMP/bad.out" ||
    fail "no clear message for a bad --dns-server"

alive "$SEED_PID" || fail "the seed died"
alive "$DNS_PID" || fail "dnsmasq died"
# Every node stops cleanly on Ctrl-C (in the sanitizer build: no leak, no
# undefined behaviour).
for n in a b c d e f; do
    pid_var=PID_$n
    kill -INT "${!pid_var}"
    wait_for 10000 gone "${!pid_var}" || fail "node $n ignored SIGINT"
    wait "${!pid_var}" || fail "node $n: exit status after SIGINT (see $n.err)"
done
echo "dns bootstrap: ok (dnsmasq on $DNS)"
