#!/bin/bash
# Classic interop, file sharing: a shoal node in classic mode and Python
# classic peers (tests/interop/classic_peer.py, written from the spec,
# playing the reference program) search for files with QUER/RESP and fetch
# them with FGET, byte for byte.
#   1. Python peers P1 and P2 in a chain, P2 sharing deep.bin (3 MiB);
#   2. our node joins through P1 only (deep.bin is two hops away), then
#      `shoal search` finds deep.bin held by P2 and `shoal get` fetches it;
#   3. a Python peer fetches a file from our node's share with FGET, and our
#      node refuses FGET of ../etc/passwd, /etc/passwd and a symlink out;
#   4. a name with a space ("c space.txt" on P2) is found and fetched;
#   5. files in sub-folders of our share are offered by their base name,
#      which the Python peer saves as the reference GUI does (under that
#      name, no folder made); of two with one base name, the first folder's;
#   6. with a search timeout of 20 s, `shoal search` shows a result and
#      `shoal get` finishes in less than half of it (results are used as
#      they come, not at the search's end).
set -eu
shoal=$1
here=$(cd "$(dirname "$0")" && pwd)
py="python3 $here/classic_peer.py"
work=$(mktemp -d)
export HOME=$work/home # the API token file goes to (and is found in) ~/.shoal
mkdir -p "$HOME" "$work/p1share" "$work/p2share" "$work/share" "$work/dl"
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
step=setup
fail() {
    echo "FAIL (step $step): $*"
    local f
    for f in "$work"/*.log; do
        [ -e "$f" ] || continue
        echo "--- last lines of $(basename "$f")"
        tail -n 40 "$f"
    done
    exit 1
}

# now_ms: a monotonic-enough clock for deadlines.
now_ms() { date +%s%3N; }

# wait_line NAME PID PATTERN SECONDS: polls NAME's log until a line matches
# the sed pattern (its \1 is printed to $line), failing early if PID died.
wait_line() {
    local name=$1 pid=$2 pattern=$3 end=$(( $(now_ms) + $4 * 1000 ))
    while [ "$(now_ms)" -lt "$end" ]; do
        line=$(sed -n "s/$pattern/\\1/p" "$work/$name.log" | head -n 1)
        [ -n "$line" ] && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}

# start NAME CMD...: runs CMD in the background, waits for "listening on".
start() {
    local name=$1; shift
    "$@" >"$work/$name.log" 2>&1 &
    pids+=($!)
    wait_line "$name" $! '^listening on \(.*\)' 10 || fail "$name did not start"
    addr=$line
}

# eventually SECONDS DESC CMD...: polls CMD until it succeeds; on failure
# shows CMD's last output.
eventually() {
    local end=$(( $(now_ms) + $1 * 1000 )) desc=$2 last=; shift 2
    while [ "$(now_ms)" -lt "$end" ]; do
        last=$("$@" 2>&1) && return 0
        sleep 0.1
    done
    fail "$desc; last output:
$last"
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# ---------------------------------------------------------------- step 1
step="1 (Python peers P1 -> P2)"
head -c 3145728 /dev/urandom >"$work/p2share/deep.bin"
echo "a name with a space" >"$work/p2share/c space.txt"
head -c 200000 /dev/urandom >"$work/p2share/late.bin"
head -c 200000 /dev/urandom >"$work/p2share/fresh.bin"
echo "P1's own file, which no search here matches" >"$work/p1share/p1-notes.txt"
start p1 $py serve --port 0 --share "$work/p1share"; P1=$addr
start p2 $py serve --port 0 --share "$work/p2share" --bootstrap "$P1" --hops 1
P2=$addr
$py send "$P1" LIST | grep -qx "REPL $P2 127.0.0.1 ${P2##*:}" ||
    fail "P1 does not know P2"
# The harness itself: a Python query through P1 finds deep.bin on P2, and a
# Python FGET from P2 gets it whole.
out=$($py query "$P1" deep --wait 10) || fail "Python QUER through P1: $out"
echo "$out" | grep -qx "RESP deep.bin $P2" || fail "Python QUER through P1: $out"
$py fetch "$P2" deep.bin --out "$work/py-deep.bin" >/dev/null ||
    fail "Python FGET of deep.bin from P2"
cmp -s "$work/p2share/deep.bin" "$work/py-deep.bin" ||
    fail "Python FGET of deep.bin from P2 is not byte-exact"

# ---------------------------------------------------------------- step 2
step="2 (our node searches and fetches through P1)"
head -c 1048576 /dev/urandom >"$work/share/mine.bin"
mkdir -p "$work/share/sub/deeper" "$work/share/a" "$work/share/b" "$work/saved"
echo "inside a folder" >"$work/share/sub/deeper/inner.txt"
echo "twin in a" >"$work/share/a/twin.txt"
echo "twin in b" >"$work/share/b/twin.txt"
SEARCH_MS=20000 # step 6: long, so that waiting for it shows
ln -s /etc/passwd "$work/share/escape"
node_started=
for attempt in 1 2 3; do
    API=127.0.0.1:$(free_port)
    "$shoal" node --classic --listen 127.0.0.1:0 --share "$work/share" \
        --downloads "$work/dl" --api "$API" --bootstrap "$P1" --hops 1 \
        --search-timeout "$SEARCH_MS" --log-level debug >"$work/node.log" 2>&1 &
    npid=$!
    if wait_line node "$npid" '^api on \(.*\)' 15; then
        pids+=($npid)
        node_started=1
        break
    fi
    kill "$npid" 2>/dev/null || true
    node_rc=0
    wait "$npid" 2>/dev/null || node_rc=$?
    grep -q 'is taken\|in use' "$work/node.log" || break # not a port race
done
[ -n "$node_started" ] ||
    fail "our node did not start: no 'api on' line (exit status $node_rc; does shoal node know --classic --share --downloads --api --bootstrap?)"
S=$(sed -n 's/^listening on //p' "$work/node.log" | head -n 1)
[ -n "$S" ] || fail "our node printed no listening address"
eventually 10 "our node did not join P1" \
    bash -c "$py send $S LIST | grep -qx 'REPL $P1 127.0.0.1 ${P1##*:}'"
out=$($py send "$S" LIST)
[ "${out%%$'\n'*}" = "REPL 1" ] ||
    fail "our node knows more than P1 (deep.bin must be two hops away): $out"
# Search until deep.bin shows up held by P2 (each search runs the node's
# search time; the deadline bounds the whole).
end=$(( $(now_ms) + 30000 ))
found=
while [ "$(now_ms)" -lt "$end" ]; do
    if out=$("$shoal" search deep --api "$API" --timeout 3000 --json 2>&1) &&
        echo "$out" | grep -q '"deep.bin"' && echo "$out" | grep -qF "$P2"; then
        found=1
        break
    fi
    sleep 0.2
done
[ -n "$found" ] || fail "shoal search deep did not find deep.bin held by $P2; last output:
$out"
out=$("$shoal" get deep.bin --api "$API" --timeout 60000 2>&1) ||
    fail "shoal get deep.bin: $out"
[ -f "$work/dl/deep.bin" ] || fail "shoal get deep.bin left no $work/dl/deep.bin: $out"
cmp "$work/p2share/deep.bin" "$work/dl/deep.bin" ||
    fail "the downloaded deep.bin differs from P2's"

# ---------------------------------------------------------------- step 3
step="3 (a Python peer fetches from our node's share)"
eventually 20 "Python FGET of mine.bin from our node" \
    $py fetch "$S" mine.bin --out "$work/py-mine.bin"
cmp "$work/share/mine.bin" "$work/py-mine.bin" ||
    fail "FGET mine.bin from our node is not byte-exact"
out=$($py query "$S" mine --wait 10) || fail "Python QUER to our node: $out"
echo "$out" | grep -qx "RESP mine.bin $S" || fail "Python QUER to our node: $out"
for name in ../etc/passwd /etc/passwd escape "../share/mine.bin"; do
    rc=0
    out=$($py fetch "$S" "$name" --out "$work/refused") || rc=$?
    [ "$rc" = 1 ] && [ "${out#ERRO }" != "$out" ] ||
        fail "FGET $name from our node was not refused with ERRO (rc $rc): $out"
    [ ! -e "$work/refused" ] || fail "FGET $name from our node sent data"
done

# ---------------------------------------------------------------- step 4
step="4 (a name with a space, from P2)"
end=$(( $(now_ms) + 30000 ))
found=
while [ "$(now_ms)" -lt "$end" ]; do
    if out=$("$shoal" search space --api "$API" --timeout 3000 2>&1) &&
        echo "$out" | grep -q "^c space\.txt  .*  $P2\$"; then
        found=1
        break
    fi
    sleep 0.2
done
[ -n "$found" ] || fail "shoal search space did not list 'c space.txt' held by $P2; last output:
$out"
out=$("$shoal" get "c space.txt" --api "$API" --timeout 60000 2>&1) ||
    fail "shoal get 'c space.txt' (expected the file, as the reference serves it): $out"
cmp "$work/p2share/c space.txt" "$work/dl/c space.txt" ||
    fail "the downloaded 'c space.txt' differs from P2's"

# ---------------------------------------------------------------- step 5
step="5 (files in sub-folders, offered by their base name)"
eventually 20 "our node indexed its sub-folders" \
    bash -c "'$shoal' files --api '$API' | grep -q '^b/twin.txt '"
out=$($py query "$S" inner --wait 10) || fail "Python QUER inner to our node: $out"
echo "$out" | grep -qx "RESP inner.txt $S" ||
    fail "QUER inner: expected 'RESP inner.txt $S' (a name the reference GUI can save), got:
$out"
out=$($py fetch "$S" inner.txt --into "$work/saved" 2>&1) ||
    fail "the Python peer could not fetch and save inner.txt as the reference GUI does: $out"
cmp "$work/share/sub/deeper/inner.txt" "$work/saved/inner.txt" ||
    fail "inner.txt as saved differs from sub/deeper/inner.txt"
# two files named twin.txt: one RESP, for a/twin.txt (the first folder)
rc=0
out=$($py query "$S" twin --count 2 --wait 3 2>&1) || rc=$?
[ "$rc" = 1 ] && [ "$(echo "$out" | grep -c '^RESP ')" = 1 ] &&
    echo "$out" | grep -qx "RESP twin.txt $S" ||
    fail "QUER twin: expected one 'RESP twin.txt $S' (rc 1 after 3 s), got rc $rc:
$out"
$py fetch "$S" twin.txt --into "$work/saved" >/dev/null ||
    fail "the Python peer could not fetch twin.txt"
cmp "$work/share/a/twin.txt" "$work/saved/twin.txt" ||
    fail "twin.txt as served is not a/twin.txt: $(cat "$work/saved/twin.txt")"

# ---------------------------------------------------------------- step 6
step="6 (results as they come: search timeout ${SEARCH_MS} ms)"
# a deadline check, not a speed figure: less than half the search timeout
half=$(( SEARCH_MS / 2 ))
t0=$(now_ms)
"$shoal" search late --api "$API" >"$work/search-late.log" 2>&1 &
search_pid=$!
pids+=($search_pid)
wait_line search-late "$search_pid" "^\(late\.bin\)  .*  $P2\$" $(( half / 1000 )) ||
    fail "shoal search late showed no row for late.bin held by $P2 within $half ms (the search lasts $SEARCH_MS ms); it printed:
$(cat "$work/search-late.log")"
elapsed=$(( $(now_ms) - t0 ))
kill -0 "$search_pid" 2>/dev/null ||
    fail "shoal search late had already ended after $elapsed ms: it should still run, its search lasts $SEARCH_MS ms"
echo "shoal search: late.bin shown after $elapsed ms of a $SEARCH_MS ms search"
kill "$search_pid" 2>/dev/null || true
wait "$search_pid" 2>/dev/null || true
# a file no search of this node has met yet: its holder found on the
# network by the transfer's own search
t0=$(now_ms)
out=$("$shoal" get fresh.bin --api "$API" --timeout 60000 2>&1) ||
    fail "shoal get fresh.bin: $out"
elapsed=$(( $(now_ms) - t0 ))
[ "$elapsed" -lt "$half" ] ||
    fail "shoal get fresh.bin took $elapsed ms: expected less than $half ms (the search lasts $SEARCH_MS ms; the download should start on the first holder)"
cmp "$work/p2share/fresh.bin" "$work/dl/fresh.bin" ||
    fail "the downloaded fresh.bin differs from P2's"
echo "shoal get: fresh.bin done after $elapsed ms of a $SEARCH_MS ms search"
echo "classic files interop: ok"
