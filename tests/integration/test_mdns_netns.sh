#!/bin/bash
# LAN discovery: five hosts, each a network namespace with a veth into a
# bridge this test makes (10.77.0.1-5/24, reachable only inside them), each
# running `shoal node --mdns` with no address of any other. Every node must
# find and add the four others (logged as mdns_peer_added) within 30 s.
# Everything made is removed on exit. Needs root and ip netns: skips (77)
# without them.
#   test_mdns_netns.sh SHOAL
set -u
SHOAL=$1
N=5
TMP=$(mktemp -d)
export HOME=$TMP
BR=shm$$
FAIL_FD=1
. "$(dirname "$0")/lib.sh"
cleanup() {
    stop_pids TERM
    for i in $(seq $N); do ip netns del shm$$-$i 2>/dev/null; done
    ip link del $BR 2>/dev/null
    rm -rf "$TMP"
}
fail_logs() { show_logs 'tail -20' 'n*.log'; }

if [ "$(id -u)" != 0 ] || ! ip netns add shm$$-probe 2>/dev/null; then
    echo "SKIP: needs root and ip netns"
    exit 77
fi
ip netns del shm$$-probe
ip link add $BR type bridge || fail "no bridge"
ip link set $BR up
for i in $(seq $N); do
    ns=shm$$-$i
    ip netns add $ns || fail "netns $ns"
    ip link add shv$$$i type veth peer name eth0 netns $ns || fail "veth $i"
    ip link set shv$$$i master $BR up
    ip -n $ns addr add 10.77.0.$i/24 dev eth0
    ip -n $ns link set eth0 up
    ip -n $ns link set lo up
    # --no-pex: every peer must be found by mDNS itself, not passed on
    spawn_log "n$i" ip netns exec $ns "$SHOAL" node --mdns --mdns-interval 1000 \
        --no-pex --listen /ip4/10.77.0.$i/tcp/4001 --home "$TMP/h$i" --key "$TMP/k$i" \
        --api off --downloads "$TMP/d$i" --log-level info
done

# found I: node I has added the N-1 others.
found() { [ "$(grep -c mdns_peer_added "$TMP/n$1.log")" -ge $((N - 1)) ]; }
end=$((SECONDS + 30))
while [ $SECONDS -lt $end ]; do
    ok=1
    for i in $(seq $N); do found $i || ok=0; done
    [ $ok = 1 ] && break
    for p in "${PIDS[@]}"; do alive "$p" || fail "a node died"; done
    sleep 0.2
done
[ $ok = 1 ] || fail "not every node found the others by mDNS"
# nobody added itself, nor anyone twice
for i in $(seq $N); do
    n=$(grep mdns_peer_added "$TMP/n$i.log" | grep -o 'peer=[^ ]*' | sort -u | wc -l)
    [ "$n" -eq $((N - 1)) ] || fail "node $i added $n distinct peers"
done
echo "PASS: $N hosts found each other by mDNS in $SECONDS s"
