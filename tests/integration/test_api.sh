#!/usr/bin/env bash
# The shoal program's control API and client commands, as separate
# processes on loopback: the API's refusals (no token, wrong Host, foreign
# Origin, bad JSON, oversize bodies, unsafe names), its endpoints with curl,
# `shoal files/peers/search/get` (tables and --json), and a file found and
# fetched byte-exact from one secure node by another.
# Usage: test_api.sh PATH/TO/shoal
# SHOAL_WRAP="valgrind --leak-check=full --error-exitcode=1" runs the nodes
# under that command (their exit status after SIGINT is checked).
# Every wait polls with a deadline; every process started here is ended on
# exit, by its pid. HOME is a folder of the test's own, so the default token
# file and downloads folder (~/.shoal/...) are the test's too.
# API_x, TOKEN_x, ADDR_x and PID_x are set through printf -v; functions run
# from traps and from wait_for look unreachable to shellcheck.
# shellcheck disable=SC2154,SC2317
set -u

SHOAL=${1:?usage: test_api.sh PATH/TO/shoal}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/shoal-api.XXXXXX")
export HOME=$TMP/home
mkdir -p "$HOME"
read -r -a WRAP <<<"${SHOAL_WRAP:-}"
. "$(dirname "$0")/lib.sh"
fail_logs() { show_logs 'head -c 4000' '*.out' '*.err' body; }

# start_node NAME [--classic] ARGS...: a node (secure unless --classic)
# with its API on a port of the kernel's choosing; sets PID_NAME, ADDR_NAME (its first listening
# address), API_NAME (HOST:PORT) and TOKEN_NAME, from its output. Node a
# runs on the default home (~/.shoal of the test's HOME), every other one
# on a home of its own, $TMP/home-NAME: one node per home.
start_node() {
    local name=$1 listen=/ip4/127.0.0.1/tcp/0 home=()
    shift
    [ "$name" = a ] || home=(--home "$TMP/home-$name")
    [ "${1:-}" = --classic ] && listen=127.0.0.1:0
    spawn "$name" "${WRAP[@]}" "$SHOAL" node --listen "$listen" \
        "${home[@]}" --key "$TMP/$name.key" --api 127.0.0.1:0 \
        --check-interval 0 --log-level debug "$@"
    wait_api "$name" 10000 || fail "$name did not print its api line"
    [[ "$API_LINE" =~ ^http://127\.0\.0\.1:[0-9]+/#token=[0-9a-f]{64}$ ]] ||
        fail "$name: api line: $API_LINE"
}

# http API TOKEN METHOD PATH [CURL ARGS...]: prints the HTTP status; the
# body goes to $TMP/body. An empty TOKEN sends none.
http() {
    local api=$1 token=$2 method=$3 path=$4
    shift 4
    local auth=()
    [ -n "$token" ] && auth=(-H "X-Shoal-Token: $token")
    curl -s --noproxy '*' --max-time 30 -o "$TMP/body" -w '%{http_code}' \
        -X "$method" "${auth[@]}" "$@" "http://$api$path"
}

# expect STATUS WHAT API TOKEN METHOD PATH [CURL ARGS...]
expect() {
    local want=$1 what=$2 got
    shift 2
    got=$(http "$@")
    [ "$got" = "$want" ] || fail "$what: HTTP $got, expected $want"
}

# An error answer is JSON with an "error" string.
is_error_json() {
    python3 -c 'import json,sys; e=json.load(open(sys.argv[1]))["error"];
assert isinstance(e, str) and e' "$TMP/body" 2>/dev/null
}

json_ok() { python3 -m json.tool "$1" >/dev/null 2>&1; }

# files_indexed API TOKEN N: the node's index holds N hashed files.
files_indexed() {
    [ "$(http "$1" "$2" GET /api/files)" = 200 ] || return 1
    python3 -c 'import json,sys; f=json.load(open(sys.argv[1]))["files"];
sys.exit(0 if len(f) == int(sys.argv[2]) and all(x["hash"] for x in f) else 1)' \
        "$TMP/body" "$3"
}

# --------------------------------------------------------------- --help
for cmd in search get files peers; do
    "$SHOAL" "$cmd" --help >"$TMP/help.out" 2>&1 || fail "shoal $cmd --help"
    grep -q "^usage: shoal $cmd" "$TMP/help.out" || fail "shoal $cmd: usage"
done
"$SHOAL" node --help | grep -q -- '--api HOST:PORT' || fail "node --help: --api"
"$SHOAL" search >/dev/null 2>&1 && fail "search without a key should fail"
rm -f "$TMP/help.out"

# Nobody listens here: the client says so, and fails.
free_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$SHOAL" files --api "127.0.0.1:$free_port" >"$TMP/nonode.out" 2>&1 &&
    fail "shoal files without a node exited 0"
grep -q "cannot reach the node's API at http://127.0.0.1:$free_port" \
    "$TMP/nonode.out" || fail "no clear message without a node"
rm -f "$TMP/nonode.out"

# ------------------------------------------------------- node A's share
SHARE=$TMP/share
mkdir -p "$SHARE/sub folder"
printf 'hello, world\n' >"$SHARE/hello world.txt"
printf '# notes\n' >"$SHARE/notes.md"
head -c $((1536 * 1024)) /dev/urandom >"$SHARE/sub folder/deep file.bin"

start_node a --share "$SHARE"
A=$API_a
TA=$TOKEN_a
tokfile=$HOME/.shoal/api-${A/:/-}.token
[ -f "$tokfile" ] || fail "no token file at $tokfile"
[ "$(stat -c %a "$tokfile")" = 600 ] || fail "token file mode"
[ "$(cat "$tokfile")" = "$TA" ] || fail "token file holds another token"
wait_for 20000 files_indexed "$A" "$TA" 3 || fail "node A did not index 3 files"

# ------------------------------------------------------------- refusals
expect 403 "no token" "$A" "" GET /api/status
is_error_json || fail "403 without a JSON error"
# the token with its last digit changed
last=${TA: -1}; [ "$last" = 0 ] && other=1 || other=0
expect 403 "wrong token" "$A" "${TA%?}$other" GET /api/status
expect 403 "a rebinding Host" "$A" "$TA" GET /api/status -H "Host: evil.example:${A#*:}"
expect 403 "a rebinding Host, UI" "$A" "" GET / -H "Host: evil.example"
expect 403 "a foreign Origin" "$A" "$TA" GET /api/files -H "Origin: http://evil.example"
expect 403 "a foreign Origin, POST" "$A" "$TA" POST /api/search \
    -H "Origin: http://evil.example" --data '{"key":"x"}'
expect 200 "its own Origin" "$A" "$TA" GET /api/files -H "Origin: http://$A"
expect 200 "localhost as Host" "$A" "$TA" GET /api/status -H "Host: localhost:${A#*:}"
expect 400 "bad JSON" "$A" "$TA" POST /api/search --data '{"key": '
is_error_json || fail "400 without a JSON error"
expect 400 "JSON but no object" "$A" "$TA" POST /api/search --data '"key"'
expect 400 "a key of the wrong type" "$A" "$TA" POST /api/search --data '{"key": 5}'
expect 400 "no body" "$A" "$TA" POST /api/get
head -c 70000 /dev/zero | tr '\0' ' ' >"$TMP/big.json"
expect 413 "an oversize body" "$A" "$TA" POST /api/search --data-binary "@$TMP/big.json"
expect 413 "an oversize chunked body" "$A" "$TA" POST /api/search \
    -H "Transfer-Encoding: chunked" --data-binary "@$TMP/big.json"
rm -f "$TMP/big.json"
expect 404 "no such endpoint" "$A" "$TA" GET /api/nothing
expect 405 "wrong method" "$A" "$TA" PUT /api/files
expect 404 "no such transfer" "$A" "$TA" GET /api/transfers/999
expect 404 "a transfer id that is no number" "$A" "$TA" GET /api/transfers/x

# ---------------------------------------------------- endpoints, client
expect 200 "status" "$A" "$TA" GET /api/status
python3 - "$TMP/body" "$SHARE" <<'EOF' || fail "status: $(cat "$TMP/body")"
import json, os, sys
s = json.load(open(sys.argv[1]))
assert s["mode"] == "secure" and s["peer_id"].startswith("12D3KooW"), s
assert s["id"] == s["peer_id"], s
assert s["listen"][0].endswith("/p2p/" + s["peer_id"]), s
assert s["share_dir"] == os.path.realpath(sys.argv[2]), s
assert s["download_dir"] == os.path.realpath(os.environ["HOME"] + "/.shoal/downloads"), s
assert s["files"] == 3, s
EOF
[ -d "$HOME/.shoal/downloads" ] || fail "the default downloads folder was not made"
expect 200 "files" "$A" "$TA" GET /api/files
python3 - "$TMP/body" <<'EOF' || fail "files: $(cat "$TMP/body")"
import json, sys
f = {x["name"]: x for x in json.load(open(sys.argv[1]))["files"]}
assert sorted(f) == ["hello world.txt", "notes.md", "sub folder/deep file.bin"], f
assert f["sub folder/deep file.bin"]["size"] == 1536 * 1024, f
assert all(len(x["hash"]) == 64 for x in f.values()), f
EOF

# The UI's files, no token needed; the page allows no outside sources.
expect 200 "the UI page" "$A" "" GET /
grep -q 'src="app.js"' "$TMP/body" || fail "index.html without app.js"
expect 200 "app.js" "$A" "" GET /app.js
grep -q "X-Shoal-Token" "$TMP/body" || fail "app.js does not send the token"
expect 200 "app.css" "$A" "" GET /app.css
curl -s --noproxy '*' -D - -o /dev/null "http://$A/" |
    grep -qi "^content-security-policy: default-src 'none'" ||
    fail "the UI page has no content security policy"
expect 404 "no such page" "$A" "" GET /nothing.html

# Client commands, with the default token file.
"$SHOAL" files --api "$A" >"$TMP/files.out" 2>&1 || fail "shoal files: $(cat "$TMP/files.out")"
head -1 "$TMP/files.out" | grep -q '^NAME  *SIZE  *HASH$' || fail "shoal files: header"
grep -q '^sub folder/deep file.bin  *1\.5 MiB  [0-9a-f]\{12\}$' "$TMP/files.out" ||
    fail "shoal files: row: $(cat "$TMP/files.out")"
grep -q '^(3 files)$' "$TMP/files.out" || fail "shoal files: count"
"$SHOAL" files --api "$A" --json >"$TMP/files.json" || fail "shoal files --json"
json_ok "$TMP/files.json" || fail "shoal files --json is not JSON"
"$SHOAL" peers --api "$A" >"$TMP/peers.out" 2>&1 || fail "shoal peers"
grep -q '^(0 peers)$' "$TMP/peers.out" || fail "shoal peers: count"
"$SHOAL" peers --api "$A" --json >"$TMP/peers.json" || fail "shoal peers --json"
json_ok "$TMP/peers.json" || fail "shoal peers --json is not JSON"
"$SHOAL" files --api "$A" --token-file /nonexistent >"$TMP/tok.out" 2>&1 &&
    fail "a missing token file was accepted"
grep -q "refused" "$TMP/tok.out" || fail "no refusal for a missing token"
grep -q "/nonexistent" "$TMP/tok.out" ||
    fail "no clear message for a missing token: $(cat "$TMP/tok.out")"
rm -f "$TMP"/files.* "$TMP"/peers.* "$TMP/tok.out"

# ------------------------------------------- node B: bootstraps from A
DL=$TMP/downloads
start_node b --bootstrap "$ADDR_a" --downloads "$DL" --api-token-file "$TMP/b.token"
B=$API_b
TB=$TOKEN_b
[ "$(cat "$TMP/b.token")" = "$TB" ] || fail "--api-token-file not written"
[ ! -e "$TMP/home-b/api-${B/:/-}.token" ] || fail "default token file written too"
wait_for 10000 grep -q '^joined: ' "$TMP/b.out" || fail "node B did not join"
BC=(--api "$B" --token-file "$TMP/b.token")

peers_lists() {
    "$SHOAL" peers "${BC[@]}" 2>/dev/null | grep -q "^${ADDR_a##*/p2p/}  *127\.0\.0\.1  *[0-9]"
}
wait_for 10000 peers_lists || fail "node B does not list A: $("$SHOAL" peers "${BC[@]}" 2>&1)"
"$SHOAL" peers "${BC[@]}" --json >"$TMP/peers.json" || fail "peers --json on B"
python3 - "$TMP/peers.json" "$ADDR_a" <<'EOF' || fail "peers JSON: $(cat "$TMP/peers.json")"
import json, sys
p = json.load(open(sys.argv[1]))["peers"]
assert [x["addr"] for x in p] == [sys.argv[2]], p
EOF

# Search on B finds A's files; by part of a name, case-insensitively, white
# space around the key ignored; a row per file and holder, as they come.
"$SHOAL" search "${BC[@]}" --timeout 2000 ' DEEP  ' >"$TMP/search.out" 2>&1 ||
    fail "shoal search: $(cat "$TMP/search.out")"
head -1 "$TMP/search.out" | grep -q '^NAME  *SIZE  *HASH  *HOLDER$' ||
    fail "shoal search: header: $(cat "$TMP/search.out")"
grep -q "^sub folder/deep file.bin  *1\.5 MiB  [0-9a-f]\{12\}  ${ADDR_a##*/p2p/}\$" "$TMP/search.out" ||
    fail "shoal search: expected a row 'sub folder/deep file.bin  1.5 MiB  HASH  ${ADDR_a##*/p2p/}', got: $(cat "$TMP/search.out")"
grep -q '^(1 results)$' "$TMP/search.out" || fail "shoal search: count: $(cat "$TMP/search.out")"
"$SHOAL" search "${BC[@]}" '  ' >"$TMP/search.out" 2>&1 &&
    fail "shoal search of white space only exited 0"
grep -q "white space" "$TMP/search.out" ||
    fail "shoal search of white space: no clear message: $(cat "$TMP/search.out")"
expect 200 "a search key with white space around it" "$B" "$TB" POST /api/search \
    --data '{"key": " hello\t", "timeout_ms": 2000}'
python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"]; assert [x["name"] for x in r] == ["hello world.txt"], r' \
    "$TMP/body" || fail "search ' hello\\t': expected hello world.txt, got $(cat "$TMP/body")"
expect 400 "a search key of white space only" "$B" "$TB" POST /api/search \
    --data '{"key": " \t "}'
expect 400 "a search wait that is no boolean" "$B" "$TB" POST /api/search \
    --data '{"key": "x", "wait": "no"}'
expect 404 "no such search" "$B" "$TB" GET /api/search/999
expect 404 "a search id that is no number" "$B" "$TB" GET /api/search/x
# A search that answers at once with its id, read until done.
expect 200 "a search started without waiting" "$B" "$TB" POST /api/search \
    --data '{"key": "hello", "timeout_ms": 2000, "wait": false}'
sid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$TMP/body") ||
    fail "search without waiting: expected {\"id\": N}, got $(cat "$TMP/body")"
search_done() {
    [ "$(http "$B" "$TB" GET "/api/search/$sid")" = 200 ] &&
        python3 -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1]))["done"] else 1)' "$TMP/body"
}
wait_for 10000 search_done || fail "search $sid did not end: $(cat "$TMP/body")"
python3 - "$TMP/body" "$sid" <<'EOF' || fail "search $sid: $(cat "$TMP/body")"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["id"] == int(sys.argv[2]) and s["key"] == "hello", s
assert s["error"] is None and [x["name"] for x in s["results"]] == ["hello world.txt"], s
EOF
"$SHOAL" search "${BC[@]}" --timeout 2000 --json 'hello' >"$TMP/search.json" ||
    fail "shoal search --json"
json_ok "$TMP/search.json" || fail "shoal search --json is not JSON"
python3 - "$TMP/search.json" "$ADDR_a" <<'EOF' || fail "search JSON: $(cat "$TMP/search.json")"
import json, sys
r = json.load(open(sys.argv[1]))["results"]
assert [x["name"] for x in r] == ["hello world.txt"], r
assert len(r[0]["hash"]) == 64 and r[0]["size"] == 13, r
assert r[0]["holders"] == [{"peer": sys.argv[2].split("/p2p/")[1], "addr": sys.argv[2]}], r
EOF
hello_hash=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"][0]["hash"])' "$TMP/search.json")

# Get on B: by name, then by hash; byte-exact, and exit 0 only when done.
"$SHOAL" get "${BC[@]}" --timeout 30000 'sub folder/deep file.bin' >"$TMP/get.out" 2>"$TMP/get.err" ||
    fail "shoal get by name: $(cat "$TMP/get.err")"
got=$(cat "$TMP/get.out")
case "$got" in "$DL"/*) ;; *) fail "shoal get printed '$got', not a path in $DL" ;; esac
cmp "$got" "$SHARE/sub folder/deep file.bin" || fail "the fetched file differs"
"$SHOAL" get "${BC[@]}" --timeout 30000 --json "$hello_hash" >"$TMP/get.json" ||
    fail "shoal get by hash"
python3 - "$TMP/get.json" "$hello_hash" <<'EOF' || fail "get JSON: $(cat "$TMP/get.json")"
import json, sys
t = json.load(open(sys.argv[1]))
assert t["state"] == "done" and t["hash"] == sys.argv[2], t
assert t["received"] == t["size"] == 13 and t["error"] is None, t
EOF
cmp "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["path"])' "$TMP/get.json")" \
    "$SHARE/hello world.txt" || fail "the file fetched by hash differs"
"$SHOAL" get "${BC[@]}" --timeout 30000 'no such file anywhere' >"$TMP/get.out" 2>"$TMP/get.err" &&
    fail "shoal get of a missing file exited 0"
grep -q "failed" "$TMP/get.err" || fail "no clear message for a missing file"
expect 200 "transfers" "$B" "$TB" GET /api/transfers
python3 - "$TMP/body" <<'EOF' || fail "transfers: $(cat "$TMP/body")"
import json, sys
t = json.load(open(sys.argv[1]))["transfers"]
assert [x["state"] for x in t] == ["done", "done", "failed"], t
assert t[2]["error"] and t[0]["eta"] is None, t
assert all(k in t[0] for k in ("name", "hash", "path", "size", "received",
                               "resumed", "rate", "holders", "elapsed_ms",
                               "error_code")), t
EOF
expect 200 "one transfer" "$B" "$TB" GET /api/transfers/1

# ---------------------------------------------------------- path safety
touch "$TMP/marker"
long=$(head -c 5000 /dev/zero | tr '\0' 'n')
for what in '"../x"' '"/etc/passwd"' '"sub/../../x"' '"a\u0000b"' \
    '"ok\u0000/../../x"' "\"$long\"" '"a\\b"' '""'; do
    code=$(http "$B" "$TB" POST /api/get --data "{\"what\": $what}")
    case "$code" in 4??) ;; *) fail "get ${what:0:40}: HTTP $code, expected 4xx" ;; esac
    is_error_json || fail "get ${what:0:40}: no JSON error"
done
# Nothing was written anywhere but the downloads folder.
outside=$(find "$TMP" -newer "$TMP/marker" -type f ! -path "$DL/*" \
    ! -name '*.out' ! -name '*.err' ! -name body)
[ -z "$outside" ] || fail "written outside downloads: $outside"
[ ! -e "$TMP/x" ] || fail "a path escaped downloads"
[ "$(ls "$DL")" = "$(printf '%s\n' 'deep file.bin' 'hello world.txt')" ] ||
    fail "downloads holds: $(ls -a "$DL")"

# ---------------------------------------------------- peers through the API
id_a=${ADDR_a##*/p2p/}
expect 200 "remove a peer" "$B" "$TB" DELETE "/api/peers/$id_a"
expect 404 "remove it again" "$B" "$TB" DELETE "/api/peers/$id_a"
"$SHOAL" peers "${BC[@]}" | grep -q '^(0 peers)$' || fail "peer not removed"
# Node C joins through the API rather than --bootstrap.
start_node c
expect 200 "add a peer" "$API_c" "$TOKEN_c" POST /api/peers \
    --data "{\"addr\": \"$ADDR_a\"}"
python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))["added"] >= 1' \
    "$TMP/body" || fail "add a peer: $(cat "$TMP/body")"
expect 400 "add a bad address" "$API_c" "$TOKEN_c" POST /api/peers \
    --data '{"addr": "nowhere"}'
# its token in its home, found by --home as by SHOAL_HOME
"$SHOAL" peers --api "$API_c" --home "$TMP/home-c" | grep -q "^$id_a " ||
    fail "C does not list A (--home)"
SHOAL_HOME=$TMP/home-c "$SHOAL" peers --api "$API_c" | grep -q "^$id_a " ||
    fail "C does not list A (SHOAL_HOME)"

# ------------------------------------------------------ a classic node
start_node d --classic --share "$SHARE"
expect 200 "classic status" "$API_d" "$TOKEN_d" GET /api/status
python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); assert s["mode"] == "classic" and s["peer_id"] is None, s' \
    "$TMP/body" || fail "classic status: $(cat "$TMP/body")"
wait_for 10000 files_indexed "$API_d" "$TOKEN_d" 3 || fail "node D did not index its share"
# A classic key with white space around it still finds a local file.
"$SHOAL" search --api "$API_d" --home "$TMP/home-d" --timeout 1000 'hello ' >"$TMP/search.out" 2>&1 ||
    fail "classic search 'hello ': $(cat "$TMP/search.out")"
grep -q "^hello world.txt  .*  127\.0\.0\.1:[0-9]*\$" "$TMP/search.out" ||
    fail "classic search 'hello ': expected a row for hello world.txt, got: $(cat "$TMP/search.out")"
# A classic search lasts its whole timeout (20 s here); what it has found
# is there to read long before (its local file, at once).
expect 200 "a classic search without waiting" "$API_d" "$TOKEN_d" POST /api/search \
    --data '{"key": "notes", "timeout_ms": 20000, "wait": false}'
sid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$TMP/body") ||
    fail "classic search without waiting: expected {\"id\": N}, got $(cat "$TMP/body")"
expect 200 "the classic search so far" "$API_d" "$TOKEN_d" GET "/api/search/$sid"
python3 - "$TMP/body" <<'EOF' || fail "classic search so far: expected notes.md and done false, got $(cat "$TMP/body")"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["done"] is False and [x["name"] for x in s["results"]] == ["notes.md"], s
EOF
# At most 32 searches are kept; when all of them still run, one more waits.
for i in $(seq 2 32); do
    expect 200 "classic search $i of 32" "$API_d" "$TOKEN_d" POST /api/search \
        --data '{"key": "notes", "timeout_ms": 20000, "wait": false}'
done
expect 429 "a 33rd search while 32 run" "$API_d" "$TOKEN_d" POST /api/search \
    --data '{"key": "notes", "timeout_ms": 20000, "wait": false}'
is_error_json || fail "33rd search: no JSON error"
expect 200 "the first search, still kept" "$API_d" "$TOKEN_d" GET "/api/search/$sid"

# ------------------------------------------------------------ stopping
for n in a b c d; do
    pidvar=PID_$n
    kill -INT "${!pidvar}"
done
for n in a b c d; do
    pidvar=PID_$n
    wait_for 10000 gone "${!pidvar}" || fail "node $n ignored SIGINT"
    wait "${!pidvar}" || fail "node $n exited $? after SIGINT"
done
[ ! -e "$tokfile" ] || fail "node A left its token file"
[ ! -e "$TMP/b.token" ] || fail "node B left its token file"
"$SHOAL" files --api "$A" >/dev/null 2>&1 && fail "the API outlived its node"

echo "api: ok (nodes' APIs on $A $B $API_c $API_d)"
exit 0
