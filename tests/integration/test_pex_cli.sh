#!/bin/bash
# Peer exchange between `shoal node` processes on loopback: B, C and D each
# bootstrap from A alone, one after the other, so B's walk finds only A;
# B must then learn C and D from its neighbours (peer exchange is on by
# default in secure mode). A node with --no-pex never asks.
#   test_pex_cli.sh SHOAL
set -u
SHOAL=$1
TMP=$(mktemp -d)
export HOME="$TMP"
STOP_SIGNAL=TERM FAIL_FD=1
. "$(dirname "$0")/lib.sh"

# start NAME ARGS...: a node on the home $TMP/home-NAME with its API on a
# free port (API_NAME); sets ADDR to its first "listening on" address
# (waits up to 10 s).
start() {
    local name=$1 api; shift
    api=127.0.0.1:$(free_port)
    spawn_log "$name" "$SHOAL" node --home "$TMP/home-$name" --key "$TMP/$name.key" \
        --listen /ip4/127.0.0.1/tcp/0 --api "$api" --downloads "$TMP/dl-$name" \
        --log-level debug "$@"
    printf -v "API_$name" %s "$api"
    first_addr "$TMP/$name.log" "${PIDS[-1]}" || fail "$name did not start"
}

# knows NAME ID...: node NAME has every ID in its peer table.
knows() {
    local api=API_$1 home=$TMP/home-$1 out; shift
    out=$("$SHOAL" peers --api "${!api}" --home "$home" --json 2>/dev/null) || return 1
    for id in "$@"; do grep -q "$id" <<<"$out" || return 1; done
}

start a --pex-interval 300; A=$ADDR
start b --bootstrap "$A" --hops 1 --pex-interval 300; B=$ADDR
until_ok 20 knows b "${A##*/p2p/}" || fail "b did not join a"
start c --bootstrap "$A" --hops 1 --pex-interval 300; C=$ADDR
start d --bootstrap "$A" --hops 1 --pex-interval 300 --no-pex; D=$ADDR
until_ok 30 knows b "${C##*/p2p/}" "${D##*/p2p/}" ||
    fail "b did not learn c and d by peer exchange"
grep -q "pex_peer_added peer=${C##*/p2p/}" "$TMP/b.log" || fail "b did not add c by peer exchange"
grep -q "pex_peer_added" "$TMP/d.log" && fail "d asked, with --no-pex"
echo "pex cli: ok"
