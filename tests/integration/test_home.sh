#!/usr/bin/env bash
# One node per home, as separate processes on loopback: a node's state
# (key, peer store, API token, downloads) goes to its home (--home DIR, or
# SHOAL_HOME; the flag wins); a second node on a home in use is refused,
# naming the first one's pid, and the first goes on; a SIGKILLed node's
# home and key are usable at once; one key file is refused to a second
# node with another home; a tracker and a node share a home, two trackers
# do not. And the programs name the file and the reason: a bad key file, a
# downloads folder that cannot be written (for root too), a tracker
# database that is not one.
#   test_home.sh SHOAL SHOAL_TRACKER
# Every wait polls with a deadline; every process started here is ended on
# exit, by its pid.
# PID_x, API_x and ADDR_x are set through printf -v; functions run from
# traps and from wait_for look unreachable to shellcheck.
# shellcheck disable=SC2154,SC2317
set -u

SHOAL=${1:?usage: test_home.sh SHOAL SHOAL_TRACKER}
TRACKER=${2:?usage: test_home.sh SHOAL SHOAL_TRACKER}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/shoal-home.XXXXXX")
# HOME is the test's: what lands in ~/.shoal lands here, and must not.
export HOME=$TMP/user
mkdir -p "$HOME"
unset SHOAL_HOME
. "$(dirname "$0")/lib.sh"
fail_logs() { show_logs -s cat '*.log'; }

# node NAME ARGS...: `shoal node` in the background on loopback (its API on
# a port of the kernel's choosing), output in $TMP/NAME.log; waits for its
# "api on" line and sets PID_NAME, API_NAME and ADDR_NAME.
node() {
    local name=$1 hostport
    shift
    spawn_log "$name" "$SHOAL" node --listen /ip4/127.0.0.1/tcp/0 \
        --api 127.0.0.1:0 --check-interval 0 "$@"
    wait_for 10000 grep -qs '^api on http://' "$TMP/$name.log" ||
        fail "$name: expected an 'api on' line within 10 s; got none" \
             "(exit: $(alive "${PIDS[-1]}" && echo running || echo gone))"
    hostport=$(sed -n 's|^api on http://\([^/]*\)/.*|\1|p' "$TMP/$name.log")
    printf -v "API_$name" %s "$hostport"
    printf -v "ADDR_$name" %s "$(sed -n '1s/^listening on //p' "$TMP/$name.log")"
}

# refused NAME PATTERN CMD...: CMD (a program that should refuse to start)
# must exit non-zero within 10 s, saying something matching PATTERN (grep
# -E) on its output; output in $TMP/NAME.log.
refused() {
    local name=$1 pattern=$2 rc=0
    shift 2
    timeout 10 "$@" >"$TMP/$name.log" 2>&1 || rc=$?
    [ "$rc" = 124 ] &&
        fail "$name: expected a refusal; it was still running after 10 s"
    [ "$rc" != 0 ] || fail "$name: expected a refusal (exit != 0); got exit 0"
    grep -Eq -- "$pattern" "$TMP/$name.log" ||
        fail "$name: expected a line matching '$pattern'; got:" \
             "$(cat "$TMP/$name.log")"
}

# answers NAME: node NAME answers a ping on its address.
answers() {
    local addr=ADDR_$1
    "$SHOAL" ping --timeout 5000 "${!addr}" >/dev/null 2>&1
}

# has_file PATH WHAT: fails unless PATH exists.
has_file() {
    [ -e "$1" ] || fail "expected $2 at $1; the folder holds:" \
        "$(ls -A "$(dirname "$1")" 2>&1)"
}

L=(--listen /ip4/127.0.0.1/tcp/0)

# ------------------------------------------------- --home holds the state
STEP="--home"
H1=$TMP/h1
node a --home "$H1"
has_file "$H1/key" "the key"
has_file "$H1/peers.db" "the peer store"
has_file "$H1/api-${API_a/:/-}.token" "the API token"
has_file "$H1/downloads" "the downloads folder"
[ "$(cat "$H1/node.lock" 2>/dev/null)" = "$PID_a" ] ||
    fail "expected node a's pid $PID_a in $H1/node.lock; got" \
         "'$(cat "$H1/node.lock" 2>&1)'"
grep -q "^peer store $H1/peers.db: " "$TMP/a.log" ||
    fail "expected the peer store in $H1 on a's output"
[ ! -e "$HOME/.shoal" ] ||
    fail "expected nothing in ~/.shoal with --home; got $(ls -A "$HOME/.shoal")"
# the client commands find the token through the same home
"$SHOAL" peers --api "$API_a" --home "$H1" >"$TMP/peers-a.log" 2>&1 ||
    fail "shoal peers --home $H1: expected exit 0; got $?"

# ------------------------------------- a second node on it: refused, by pid
STEP="second node"
refused second "home $H1 is in use by another node \(pid $PID_a\)" \
    "$SHOAL" node "${L[@]}" --api 127.0.0.1:0 --home "$H1"
refused second_env "home $H1 is in use by another node \(pid $PID_a\)" \
    env SHOAL_HOME="$H1" "$SHOAL" node "${L[@]}" --api 127.0.0.1:0
alive "$PID_a" || fail "node a died when a second node tried its home"
answers a || fail "node a does not answer a ping after the refusals"
[ "$(cat "$H1/node.lock")" = "$PID_a" ] ||
    fail "expected $PID_a still in $H1/node.lock; got $(cat "$H1/node.lock")"

# ---------------------------------------------------- SHOAL_HOME, and the
# flag over it
STEP="SHOAL_HOME"
H2=$TMP/h2
SHOAL_HOME=$H2 node b
has_file "$H2/key" "the key (SHOAL_HOME)"
has_file "$H2/peers.db" "the peer store (SHOAL_HOME)"
has_file "$H2/api-${API_b/:/-}.token" "the API token (SHOAL_HOME)"
has_file "$H2/downloads" "the downloads folder (SHOAL_HOME)"
SHOAL_HOME=$H2 "$SHOAL" peers --api "$API_b" >"$TMP/peers-b.log" 2>&1 ||
    fail "shoal peers with SHOAL_HOME=$H2: expected exit 0; got $?"
H3=$TMP/h3
SHOAL_HOME=$H1 node c --home "$H3"
has_file "$H3/key" "the key of --home, which wins over SHOAL_HOME"
[ "${ADDR_a##*/p2p/}" != "${ADDR_c##*/p2p/}" ] ||
    fail "node c took node a's identity: --home did not win over SHOAL_HOME"
[ ! -e "$HOME/.shoal" ] ||
    fail "expected nothing in ~/.shoal; got $(ls -A "$HOME/.shoal")"

# ------------------------------------ a killed node's home, usable at once
STEP="SIGKILL"
ID_a=${ADDR_a##*/p2p/}
kill -KILL "$PID_a"
wait_for 10000 gone "$PID_a" || fail "node a survived SIGKILL"
wait "$PID_a" 2>/dev/null
node a2 --home "$H1"
[ "${ADDR_a2##*/p2p/}" = "$ID_a" ] ||
    fail "expected node a's peer id $ID_a back on its home; got ${ADDR_a2##*/p2p/}"
[ "$(cat "$H1/node.lock")" = "$PID_a2" ] ||
    fail "expected $PID_a2 in $H1/node.lock; got $(cat "$H1/node.lock")"

# -------------------------------------------- one key file, one node
STEP="--key"
node k1 --home "$TMP/h4" --key "$TMP/shared.key"
refused k2 "key file $TMP/shared.key is in use by another running node \(pid $PID_k1\)" \
    "$SHOAL" node "${L[@]}" --api 127.0.0.1:0 --home "$TMP/h5" \
    --key "$TMP/shared.key"
answers k1 || fail "node k1 does not answer after the refusal"

# ------------------------------- trackers: beside a node, not beside one
STEP="tracker"
spawn_log t1 "$TRACKER" "${L[@]}" --home "$H1"
first_addr "$TMP/t1.log" "$PID_t1" ||
    fail "t1: expected a tracker beside node a2 in $H1; it did not start"
has_file "$H1/tracker.key" "the tracker's key"
has_file "$H1/tracker.db" "the tracker's database"
refused t2 "home $H1 is in use by another tracker \(pid $PID_t1\)" \
    "$TRACKER" "${L[@]}" --home "$H1"
refused t3 "key file $H1/tracker.key is in use by another running node \(pid $PID_t1\)" \
    "$TRACKER" "${L[@]}" --home "$TMP/h7" --key "$H1/tracker.key"
alive "$PID_t1" || fail "tracker t1 died when others tried its home"
alive "$PID_a2" || fail "node a2 died beside the tracker"

# --------------------------------- the programs say what is wrong, and where
STEP="messages"
printf 'twelve bytes' >"$TMP/short.key"
chmod 600 "$TMP/short.key"
refused badkey "^shoal: key file $TMP/short.key: not a shoal key \(bad length" \
    "$SHOAL" node "${L[@]}" --api off --home "$TMP/h8" --key "$TMP/short.key"
head -c 68 /dev/zero >"$TMP/zero.key"
chmod 600 "$TMP/zero.key"
refused zerokey "^shoal: key file $TMP/zero.key: not a shoal key" \
    "$SHOAL" node "${L[@]}" --api off --home "$TMP/h8" --key "$TMP/zero.key"
refused nokeydir "^shoal: key file $TMP/none/key: cannot create it: folder $TMP/none: No such file" \
    "$SHOAL" node "${L[@]}" --api off --home "$TMP/h8" --key "$TMP/none/key"
refused badkey_tracker "^shoal-tracker: key file $TMP/short.key: not a shoal key \(bad length" \
    "$TRACKER" "${L[@]}" --home "$TMP/h8" --key "$TMP/short.key"
# /sys: a folder no one, root included, can make a file in (EACCES)
if ! touch /sys/shoal-home-test 2>/dev/null; then
    refused rodl "^shoal: downloads folder /sys: not writable \(Permission denied\)" \
        "$SHOAL" node "${L[@]}" --api off --home "$TMP/h8" --downloads /sys
fi
refused filedl "^shoal: downloads folder $TMP/short.key: not a folder" \
    "$SHOAL" node "${L[@]}" --api off --home "$TMP/h8" \
    --downloads "$TMP/short.key"
head -c 8192 /dev/urandom >"$TMP/junk.db"
refused baddb "^shoal-tracker: tracker db $TMP/junk.db: not a database \(file is not a database\)" \
    "$TRACKER" "${L[@]}" --home "$TMP/h8" --db "$TMP/junk.db"

STEP="stop"
for p in "$PID_a2" "$PID_b" "$PID_c" "$PID_k1" "$PID_t1"; do
    stop_cleanly "$p"
done
echo "home: ok"
