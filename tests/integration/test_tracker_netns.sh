#!/bin/bash
# Discovery through a tracker across hosts: five network namespaces with a
# veth each into a bridge this test makes (10.78.0.1-5/24, reachable only
# inside them). Host 1 runs shoal-tracker; hosts 2-5 run `shoal node` with
# the tracker's address and no other (no peer exchange, no mDNS, no peer
# store): each must come to know the three others. The tracker is killed:
# once every node has seen an announce fail, each still knows the others.
# It restarts with an empty table (--db off): the four announce again.
# Everything made is removed on exit. Needs root and ip netns: skips (77)
# without them.
#   test_tracker_netns.sh SHOAL SHOAL_TRACKER
set -u
SHOAL=$1
TRACKER=$2
N=5
TMP=$(mktemp -d)
NS=sht$$                 # namespaces $NS-1..5, unique to this run
BR=shtb$$
TADDR=/ip4/10.78.0.1/tcp/4001
TPID=
FAIL_FD=1
. "$(dirname "$0")/lib.sh"
# the nodes are in PIDS; the tracker, TPID, while it runs
cleanup() {
    [ -n "$TPID" ] && PIDS+=("$TPID")
    stop_pids TERM
    for i in $(seq $N); do ip netns del $NS-$i 2>/dev/null; done
    ip link del $BR 2>/dev/null
    rm -rf "$TMP"
}
fail_logs() { show_logs 'tail -30' '*.log'; }

if [ "$(id -u)" != 0 ] || ! ip netns add $NS-probe 2>/dev/null; then
    echo "SKIP: needs root and ip netns"
    exit 77
fi
ip netns del $NS-probe
ip link add $BR type bridge || fail "no bridge"
ip link set $BR up
for i in $(seq $N); do
    ns=$NS-$i
    ip netns add $ns || fail "netns $ns"
    ip link add stv$$$i type veth peer name eth0 netns $ns || fail "veth $i"
    ip link set stv$$$i master $BR up
    ip -n $ns addr add 10.78.0.$i/24 dev eth0
    ip -n $ns link set eth0 up
    ip -n $ns link set lo up
    mkdir -p "$TMP/h$i"
done

log_has() { grep -q "$2" "$1"; }

# start_tracker RUN: the tracker on host 1, same key each run, no database.
start_tracker() {
    ip netns exec $NS-1 env HOME="$TMP/h1" "$TRACKER" --listen $TADDR \
        --key "$TMP/tracker.key" --db off >"$TMP/tracker$1.log" 2>&1 &
    TPID=$!
    until_ok 10 log_has "$TMP/tracker$1.log" '^listening on ' ||
        fail "the tracker did not start"
    TRK=$(sed -n 's/^listening on //p' "$TMP/tracker$1.log" | head -1)
}
start_tracker 1
[[ "$TRK" == $TADDR/p2p/12D3KooW* ]] || fail "tracker address: $TRK"

# Hosts 2-5: each its own HOME, so each API's token file is its own.
ids=()
for i in $(seq 2 $N); do
    spawn_log "node$i" ip netns exec $NS-$i env HOME="$TMP/h$i" "$SHOAL" node \
        --listen /ip4/10.78.0.$i/tcp/4001 --key "$TMP/k$i" \
        --api 127.0.0.1:7601 --tracker "$TRK" --tracker-interval 500 \
        --no-pex --no-peer-store --downloads "$TMP/d$i" --log-level debug
    until_ok 10 log_has "$TMP/node$i.log" '^listening on ' ||
        fail "node $i did not start"
    ids[$i]=$(sed -n 's/^listening on .*\/p2p\///p' "$TMP/node$i.log" | head -1)
done

# knows_others I: node I's peer table holds the three other nodes.
knows_others() {
    local out k
    out=$(ip netns exec $NS-$1 env HOME="$TMP/h$1" "$SHOAL" peers --json \
          --api 127.0.0.1:7601 2>/dev/null) || return 1
    for k in $(seq 2 $N); do
        [ "$k" = "$1" ] && continue
        grep -q "${ids[$k]}" <<<"$out" || return 1
    done
}
all_know() {
    local i
    for i in $(seq 2 $N); do knows_others $i || return 1; done
}
all_alive() {
    local p
    for p in "${PIDS[@]}"; do alive "$p" || fail "a node died"; done
}
know_or_die() { all_alive; all_know; }
until_ok 30 know_or_die || fail "the nodes did not find each other through the tracker"
stat_peers() {
    ip netns exec $NS-2 "$TRACKER" stat "$TRK" 2>/dev/null | grep -q "^peers=$1 "
}
until_ok 10 stat_peers 4 || fail "the tracker does not list 4 peers"

# The tracker dies. Every node must see an announce fail after that (so
# time has passed for it to lose peers), and then still know the others.
for i in $(seq 2 $N); do
    before[$i]=$(grep -c tracker_failed "$TMP/node$i.log")
done
kill -KILL $TPID
wait $TPID 2>/dev/null
TPID=
failed_since() {
    local i
    for i in $(seq 2 $N); do
        [ "$(grep -c tracker_failed "$TMP/node$i.log")" -gt "${before[$i]}" ] ||
            return 1
    done
}
until_ok 30 failed_since || fail "no failed announce with the tracker gone"
all_alive
all_know || fail "peers lost with the tracker gone"

# Back on the same host, port and key with an empty table: 4 peers means
# all four announced again.
for i in $(seq 2 $N); do
    backs[$i]=$(grep -c tracker_back "$TMP/node$i.log")
done
start_tracker 2
back_all() {
    local i
    for i in $(seq 2 $N); do
        [ "$(grep -c tracker_back "$TMP/node$i.log")" -gt "${backs[$i]}" ] ||
            return 1
    done
}
until_ok 90 back_all || fail "not every node announced to the restarted tracker"
until_ok 10 stat_peers 4 || fail "the restarted tracker does not list 4 peers"
all_alive
all_know || fail "peers lost after the restart"
echo "PASS: 4 hosts found each other through a tracker on a fifth, kept" \
     "each other through its death and announced again, in $SECONDS s"
