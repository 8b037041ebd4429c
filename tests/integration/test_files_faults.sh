#!/usr/bin/env bash
# Chunked downloads under faults, with separate shoal processes on loopback
# and a file of 64 MiB of random bytes:
#  1. a holder killed mid-download: the downloader drops it and takes its
#     chunks from the other holder; the file arrives byte-identical;
#  2. the downloader killed mid-download and restarted with the same
#     folders, key and ports: a new `shoal get` resumes from the partial
#     file ("resumed" > 0) and the file arrives byte-identical;
#  3. a holder whose copy is corrupted (one byte flipped in every chunk,
#     size and mtime kept): its index notices (the inode change time
#     moved) and offers the file under its new hash only; the downloader
#     finds the old hash on the other holder alone, rejects no chunk, and
#     the file arrives byte-identical. (A chunk read before that rescan is
#     refused by the holder itself: test_share_escape.)
# Loopback transfers are fast, so nothing here relies on timing to catch a
# transfer mid-way: the holders are frozen with SIGSTOP as soon as the
# downloader's transfer holds a verified chunk ("received" > 0 in its API;
# the .part file is sized to the whole file before the first chunk, so its
# size says nothing), the fault is done, and what must go on gets SIGCONT.
# Usage: test_files_faults.sh PATH/TO/shoal
# Every wait polls with a deadline; every process started here is ended on
# exit, by its pid. HOME is a folder of the test's own; each node has a
# home of its own in it.
# API_x, TOKEN_x, ADDR_x, PORT_x, APIPORT_x and PID_x are set through
# printf -v; shellcheck sees functions run from traps and from wait_for as
# unreachable.
# shellcheck disable=SC2154,SC2317
set -u

SHOAL=${1:?usage: test_files_faults.sh PATH/TO/shoal}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/shoal-faults.XXXXXX")
export HOME=$TMP/home
mkdir -p "$HOME"
. "$(dirname "$0")/lib.sh"
fail_logs() { show_logs -s 'tail -n 30' '*.out' '*.err' '*.json' body; }
STEP="setup"
MIB=$((1024 * 1024))
SIZE=$((64 * MIB))

# start_node NAME KEY LISTEN_PORT API_PORT ARGS...: a secure node on the
# home $TMP/home-NAME (client commands find its token there) with the
# identity in $TMP/KEY.key, listening on 127.0.0.1 (port 0: the kernel
# picks one) with its API beside it; its output in $TMP/NAME.out and .err.
# Sets PID_NAME, ADDR_NAME (its listening multiaddr, /p2p/ included),
# PORT_NAME, API_NAME (HOST:PORT), APIPORT_NAME and TOKEN_NAME.
start_node() {
    local name=$1 key=$2 port=$3 apiport=$4 hostport addr
    shift 4
    spawn "$name" "$SHOAL" node --home "$TMP/home-$name" \
        --listen "/ip4/127.0.0.1/tcp/$port" --key "$TMP/$key.key" \
        --api "127.0.0.1:$apiport" --check-interval 0 --log-level debug "$@"
    wait_api "$name" 10000 || fail "node $name did not print its api line"
    [[ "$API_LINE" =~ ^http://127\.0\.0\.1:[0-9]+/#token=[0-9a-f]{64}$ ]] ||
        fail "node $name: api line: $API_LINE"
    hostport=${API_LINE#http://}
    hostport=${hostport%%/*}
    printf -v "APIPORT_$name" %s "${hostport##*:}"
    addr=$(sed -n '1s/^listening on //p' "$TMP/$name.out")
    [[ "$addr" =~ ^/ip4/127\.0\.0\.1/tcp/([0-9]+)/p2p/12D3KooW[1-9A-HJ-NP-Za-km-z]+$ ]] ||
        fail "node $name: listening line: $addr"
    printf -v "PORT_$name" %s "${BASH_REMATCH[1]}"
}

# peer_of NAME: the node's peer id.
peer_of() {
    local v=ADDR_$1
    echo "${!v##*/p2p/}"
}

# api_get NAME PATH: GET on the node's API; the body goes to $TMP/body.
api_get() {
    local a=API_$1 t=TOKEN_$1
    [ "$(curl -s --noproxy '*' --max-time 10 -o "$TMP/body" -w '%{http_code}' \
        -H "X-Shoal-Token: ${!t}" "http://${!a}$2")" = 200 ]
}

# shares_hash NAME HASH: `shoal files --json` on the node lists HASH.
shares_hash() {
    local a=API_$1 home=$TMP/home-$1
    "$SHOAL" files --api "${!a}" --home "$home" --json >"$TMP/files.json" 2>/dev/null &&
        python3 - "$TMP/files.json" "$2" <<'EOF'
import json, sys
f = json.load(open(sys.argv[1]))["files"]
sys.exit(0 if any(x["hash"] == sys.argv[2] for x in f) else 1)
EOF
}

# first_hash NAME: prints the hash of big.bin in the node's share, once it
# is indexed (empty until then).
first_hash() {
    local a=API_$1 home=$TMP/home-$1
    "$SHOAL" files --api "${!a}" --home "$home" --json 2>/dev/null | python3 -c '
import json, sys
for x in json.load(sys.stdin)["files"]:
    if x["name"] == "big.bin" and len(x["hash"]) == 64:
        print(x["hash"])'
}

# knows_peers NAME PEER_ID...: the node's peer table lists every PEER_ID.
knows_peers() {
    local a=API_$1 home=$TMP/home-$1
    shift
    "$SHOAL" peers --api "${!a}" --home "$home" --json >"$TMP/peers.json" 2>/dev/null &&
        python3 - "$TMP/peers.json" "$@" <<'EOF'
import json, sys
have = {x["id"] for x in json.load(open(sys.argv[1]))["peers"]}
sys.exit(0 if set(sys.argv[2:]) <= have else 1)
EOF
}

has_hash() { [ -n "$(first_hash "$1")" ]; }

# holders_seen NAME HASH N: a search on the node finds HASH at N holders.
# $1 shares one file, under a hash other than $2.
shares_other_hash() {
    local a=API_$1 home=$TMP/home-$1
    "$SHOAL" files --api "${!a}" --home "$home" --json >"$TMP/files.json" 2>/dev/null &&
        python3 - "$TMP/files.json" "$2" <<'EOF'
import json, sys
f = json.load(open(sys.argv[1]))["files"]
sys.exit(0 if len(f) == 1 and f[0]["hash"] != sys.argv[2] else 1)
EOF
}

holders_seen() {
    local a=API_$1 home=$TMP/home-$1
    "$SHOAL" search --api "${!a}" --home "$home" --json --timeout 2000 "$2" \
        >"$TMP/search.json" 2>/dev/null &&
        python3 - "$TMP/search.json" "$2" "$3" <<'EOF'
import json, sys
r = [x for x in json.load(open(sys.argv[1]))["results"] if x["hash"] == sys.argv[2]]
sys.exit(0 if r and len(r[0]["holders"]) == int(sys.argv[3]) else 1)
EOF
}

# start_freezer NAME HASH PID...: in the background, a watcher that polls
# node NAME's API (on one kept-alive connection, as fast as it answers: for
# speed, not for timing) until its transfer of HASH has verified data
# ("received" > 0), then stops every PID with SIGSTOP at once and exits 0;
# 1 at its 30 s deadline. It says it is polling (the file $TMP/freezer.ready)
# before this returns, so the get started next cannot outrun it. The
# .part file's size cannot serve here: the node sizes it to the whole file
# before the first chunk arrives. Sets FREEZER (its pid).
start_freezer() {
    local a=API_$1 t=TOKEN_$1
    shift
    rm -f "$TMP/freezer.ready"
    python3 - "${!a}" "${!t}" "$TMP/freezer.ready" "$@" \
        >"$TMP/freezer.out" 2>&1 <<'EOF' &
import http.client, json, os, signal, sys, time
api, token, ready, want = sys.argv[1:5]
pids = [int(p) for p in sys.argv[5:]]
end = time.monotonic() + 30
conn = None
while time.monotonic() < end:
    try:
        if conn is None:
            conn = http.client.HTTPConnection(api, timeout=5)
        conn.request("GET", "/api/transfers", headers={"X-Shoal-Token": token})
        resp = conn.getresponse()
        body = resp.read()
    except (OSError, http.client.HTTPException):
        conn = None
        time.sleep(0.01)
        continue
    if resp.status != 200:
        print("HTTP %d: %r" % (resp.status, body))
        sys.exit(1)
    if not os.path.exists(ready):
        open(ready, "w").close()
    for t in json.loads(body)["transfers"]:
        if t["hash"] == want and t["received"] > 0:
            for p in pids:
                os.kill(p, signal.SIGSTOP)
            print("frozen at received=%d of %d, state %s" %
                  (t["received"], t["size"], t["state"]))
            sys.exit(0)
    if resp.getheader("Connection", "").lower() == "close":
        conn.close()
        conn = None
print("no transfer of %s with data within 30 s" % want)
sys.exit(1)
EOF
    FREEZER=$!
    PIDS+=("$FREEZER")
    wait_for 10000 test -e "$TMP/freezer.ready" ||
        fail "the watcher did not reach the API of node $1"
}

# wait_frozen: waits for the watcher; fails unless it froze its holders.
wait_frozen() {
    local rc
    wait_for 40000 gone "$FREEZER" || fail "the watcher did not end"
    wait "$FREEZER"
    rc=$?
    [ "$rc" = 0 ] || fail "the downloader's transfer never held data ($(cat "$TMP/freezer.out"))"
}

# is_stopped PID: the process is in the stopped state.
is_stopped() { [ "$(ps -o stat= -p "$1" | cut -c1)" = T ]; }

# transfer_mid NAME ID MIN_HOLDERS: the node's transfer ID is running, has
# verified data but is not complete, with at least MIN_HOLDERS in use.
transfer_mid() {
    api_get "$1" "/api/transfers/$2" || return 1
    python3 - "$TMP/body" "$3" <<'EOF'
import json, sys
t = json.load(open(sys.argv[1]))
ok = (t["state"] == "running" and 0 < t["received"] < t["size"]
      and t["holders"] >= int(sys.argv[2]))
if not ok:
    print("transfer not mid-way: %s" % t, file=sys.stderr)
sys.exit(0 if ok else 1)
EOF
}

# json_field FILE KEY: prints one top-level field of a JSON object.
json_field() {
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"
}

# check_get JSON HASH: a `shoal get --json` answer for a finished,
# byte-identical download of HASH.
check_get() {
    local path
    python3 - "$1" "$2" "$SIZE" <<'EOF' || fail "get JSON: $(cat "$1")"
import json, sys
t = json.load(open(sys.argv[1]))
assert t["state"] == "done" and t["hash"] == sys.argv[2], t
assert t["received"] == t["size"] == int(sys.argv[3]) and t["error"] is None, t
EOF
    path=$(json_field "$1" path)
    [ -f "$path" ] || fail "no downloaded file at '$path'"
    cmp "$path" "$BIG" || fail "the downloaded file differs from the original"
}

# wait_get PID RCVAR: waits (deadline) for a background get, sets RCVAR to
# its exit status.
wait_get() {
    wait_for 90000 gone "$1" || fail "shoal get did not end within 90 s"
    wait "$1"
    printf -v "$2" %s $?
}

# kill9 PID: SIGKILL (unless it is gone already), and wait until it is.
kill9() {
    { kill -KILL "$1"; wait_for 10000 gone "$1"; } 2>/dev/null ||
        fail "pid $1 survived SIGKILL"
    wait "$1" 2>/dev/null
}

# --------------------------------------------------------------- the file
BIG=$TMP/big.bin
head -c "$SIZE" /dev/urandom >"$BIG" || fail "cannot make the 64 MiB file"
[ "$(stat -c %s "$BIG")" = "$SIZE" ] || fail "the random file is not 64 MiB"

# share_copy DIR: a folder holding a copy of the file, as big.bin.
share_copy() {
    mkdir -p "$1"
    cp "$BIG" "$1/big.bin" || fail "cannot copy the file to $1"
}

# ============================================ 1. a holder killed mid-way
STEP="1 holder killed"
share_copy "$TMP/s1h1"
share_copy "$TMP/s1h2"
start_node s1h1 s1h1 0 0 --share "$TMP/s1h1"
start_node s1h2 s1h2 0 0 --share "$TMP/s1h2"
wait_for 30000 has_hash s1h1 || fail "H1 did not index the file"
HASH=$(first_hash s1h1)
wait_for 30000 shares_hash s1h2 "$HASH" || fail "H2 did not index the file as H1 did"
mkdir -p "$TMP/s1d"
start_node s1d s1d 0 0 --downloads "$TMP/s1d" \
    --bootstrap "$ADDR_s1h1" --bootstrap "$ADDR_s1h2"
# D was given both holders with a repeated --bootstrap: it must know both.
wait_for 15000 knows_peers s1d "$(peer_of s1h1)" "$(peer_of s1h2)" ||
    fail "D, started with --bootstrap H1 --bootstrap H2, does not know both holders"
wait_for 30000 holders_seen s1d "$HASH" 2 || fail "D does not find both holders"

start_freezer s1d "$HASH" "$PID_s1h1" "$PID_s1h2"
"$SHOAL" get --api "$API_s1d" --home "$TMP/home-s1d" --json --timeout 90000 "$HASH" \
    >"$TMP/s1get.json" 2>"$TMP/s1get.err" &
GET=$!
PIDS+=("$GET")
PART=$TMP/s1d/.shoal-partial/$HASH.part
wait_frozen
{ is_stopped "$PID_s1h1" && is_stopped "$PID_s1h2"; } || fail "holders not stopped"
[ -e "$PART" ] || fail "D has no partial file at $PART"
transfer_mid s1d 1 2 2>>"$TMP/s1get.err" ||
    fail "D's transfer is not mid-way with both holders after the freeze"
echo "step 1: H1 and H2 $(cat "$TMP/freezer.out"); H1 killed"
kill9 "$PID_s1h1"
kill -CONT "$PID_s1h2" || fail "cannot resume H2"
wait_get "$GET" rc
[ "$rc" = 0 ] || fail "shoal get exited $rc after H1 was killed"
check_get "$TMP/s1get.json" "$HASH"
grep -q "transfer_holder_dropped id=1 peer=$(peer_of s1h1) " "$TMP/s1d.err" ||
    fail "D did not log that it dropped H1"
grep -q 'transfer_done id=1 ' "$TMP/s1d.err" || fail "D logged no transfer_done"
[ ! -e "$PART" ] || fail "the partial file is still there"
kill9 "$PID_s1d"
kill9 "$PID_s1h2"
rm -rf "$TMP"/s1*/ "$TMP"/s1*.out "$TMP"/s1*.err "$TMP"/s1*.json

# ===================================== 2. the downloader killed, restarted
STEP="2 downloader killed and restarted"
share_copy "$TMP/s2h"
start_node s2h s2h 0 0 --share "$TMP/s2h"
wait_for 30000 shares_hash s2h "$HASH" || fail "H did not index the file"
mkdir -p "$TMP/s2d"
start_node s2d s2d 0 0 --downloads "$TMP/s2d" --bootstrap "$ADDR_s2h"
wait_for 30000 holders_seen s2d "$HASH" 1 || fail "D does not find H"

start_freezer s2d "$HASH" "$PID_s2h"
"$SHOAL" get --api "$API_s2d" --home "$TMP/home-s2d" --json --timeout 90000 "$HASH" \
    >"$TMP/s2get1.json" 2>"$TMP/s2get1.err" &
GET=$!
PIDS+=("$GET")
PART=$TMP/s2d/.shoal-partial/$HASH.part
wait_frozen
is_stopped "$PID_s2h" || fail "H not stopped"
transfer_mid s2d 1 1 2>>"$TMP/s2get1.err" ||
    fail "D's transfer is not mid-way after the freeze"
echo "step 2: H $(cat "$TMP/freezer.out"); D killed"
kill9 "$PID_s2d"
kill9 "$GET"
kill -CONT "$PID_s2h" || fail "cannot resume H"
[ -s "$PART" ] || fail "D left no partial file behind"
[ -z "$(ls "$TMP/s2d")" ] || fail "a file appeared in downloads: $(ls "$TMP/s2d")"

# The same folders, key and ports.
start_node s2d2 s2d "$PORT_s2d" "$APIPORT_s2d" --downloads "$TMP/s2d" \
    --bootstrap "$ADDR_s2h"
[ "$ADDR_s2d2" = "$ADDR_s2d" ] || fail "D came back as $ADDR_s2d2, not $ADDR_s2d"
[ "$API_s2d2" = "$API_s2d" ] || fail "D's API came back on $API_s2d2"
wait_for 30000 holders_seen s2d2 "$HASH" 1 || fail "restarted D does not find H"
"$SHOAL" get --api "$API_s2d2" --home "$TMP/home-s2d2" --json --timeout 90000 "$HASH" \
    >"$TMP/s2get2.json" 2>"$TMP/s2get2.err" ||
    fail "shoal get after the restart exited $?"
check_get "$TMP/s2get2.json" "$HASH"
resumed=$(json_field "$TMP/s2get2.json" resumed)
[ "$resumed" -gt 0 ] || fail "nothing was resumed (resumed=$resumed)"
{ [ "$resumed" -le "$SIZE" ] && [ $((resumed % MIB)) = 0 ]; } ||
    fail "resumed=$resumed is not a whole number of chunks of the file"
grep -q "transfer_resumed id=1 .* bytes=$resumed\$" "$TMP/s2d2.err" ||
    fail "the restarted D did not log transfer_resumed bytes=$resumed"
echo "step 2: the restarted D resumed $resumed bytes"
kill9 "$PID_s2d2"
kill9 "$PID_s2h"
rm -rf "$TMP"/s2*/ "$TMP"/s2*.out "$TMP"/s2*.err "$TMP"/s2*.json

# ======================================== 3. a holder with a bad copy
STEP="3 corrupt chunks on a holder"
share_copy "$TMP/s3h1"
share_copy "$TMP/s3h2"
start_node s3h1 s3h1 0 0 --share "$TMP/s3h1"
start_node s3h2 s3h2 0 0 --share "$TMP/s3h2"
wait_for 30000 shares_hash s3h1 "$HASH" || fail "H1 did not index the file"
wait_for 30000 shares_hash s3h2 "$HASH" || fail "H2 did not index the file"
# One byte flipped in the middle of every chunk; size and mtime kept, but
# not the inode change time: H2's index rehashes it.
python3 - "$TMP/s3h2/big.bin" "$MIB" <<'EOF' || fail "cannot corrupt H2's copy"
import os, sys
path, chunk = sys.argv[1], int(sys.argv[2])
st = os.stat(path)
with open(path, "r+b") as f:
    for off in range(chunk // 2, st.st_size, chunk):
        f.seek(off)
        b = f.read(1)
        f.seek(off)
        f.write(bytes([b[0] ^ 0xFF]))
os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
st2 = os.stat(path)
assert st2.st_size == st.st_size and st2.st_mtime_ns == st.st_mtime_ns
EOF
cmp -s "$TMP/s3h2/big.bin" "$BIG" && fail "H2's copy is not corrupted"
wait_for 30000 shares_other_hash s3h2 "$HASH" ||
    fail "H2 still offers its changed copy under the old hash"
mkdir -p "$TMP/s3d"
start_node s3d s3d 0 0 --downloads "$TMP/s3d" \
    --bootstrap "$ADDR_s3h1" --bootstrap "$ADDR_s3h2"
# D was given both holders with a repeated --bootstrap: it must know both.
wait_for 15000 knows_peers s3d "$(peer_of s3h1)" "$(peer_of s3h2)" ||
    fail "D, started with --bootstrap H1 --bootstrap H2, does not know both holders"
wait_for 30000 holders_seen s3d "$HASH" 1 || fail "D does not find H1 alone"
"$SHOAL" get --api "$API_s3d" --home "$TMP/home-s3d" --json --timeout 90000 "$HASH" \
    >"$TMP/s3get.json" 2>"$TMP/s3get.err" ||
    fail "shoal get with a corrupt holder exited $?"
check_get "$TMP/s3get.json" "$HASH"
grep -q "transfer_chunk_rejected" "$TMP/s3d.err" &&
    fail "D rejected a chunk: no holder should offer a copy that fails"
cmp -s "$TMP/s3h2/big.bin" "$BIG" && fail "H2's copy changed back"
echo "step 3: H2 rehashed its changed copy; D got the file from H1"

echo "files_faults: ok (holder killed, downloader restarted with $resumed bytes resumed, corrupt holder)"
exit 0
