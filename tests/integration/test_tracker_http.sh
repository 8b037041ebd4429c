#!/bin/bash
# shoal-tracker --http: GET /stats and GET / show what STAT shows once two
# nodes have announced; other paths are 404, other methods 405; bad --http
# addresses are refused at start; garbage, an oversized request line and
# headers do not stop the tracker; Ctrl-C still stops it cleanly.
#   test_tracker_http.sh SHOAL SHOAL_TRACKER
set -u
SHOAL=$1
TRACKER=$2
TMP=$(mktemp -d)
export HOME="$TMP"
STOP_SIGNAL=TERM FAIL_FD=1
. "$(dirname "$0")/lib.sh"

# Refused at start, with the reason, before anything is served.
for bad in example.com:80 '::1:80' 127.0.0.1:99999 127.0.0.1: :80 '' \
           '[::1]' 10.0.0.1.5:80; do
    "$TRACKER" --listen /ip4/127.0.0.1/tcp/0 --key "$TMP/bad.key" --db off \
        --http "$bad" >"$TMP/bad.out" 2>&1 &
    bpid=$!
    for _ in $(seq 100); do kill -0 $bpid 2>/dev/null || break; sleep 0.1; done
    if kill -0 $bpid 2>/dev/null; then
        kill $bpid; wait $bpid; fail "--http '$bad' was taken"
    fi
    wait $bpid && fail "--http '$bad' exited 0"
    grep -q -- "--http" "$TMP/bad.out" || fail "--http '$bad': no reason given"
done

spawn_log tracker "$TRACKER" --listen /ip4/127.0.0.1/tcp/0 \
    --key "$TMP/tracker.key" --db "$TMP/tracker.db" --http 127.0.0.1:0
TPID=$!
grep_log() { grep -q "$1" "$TMP/tracker.log"; }
until_ok 10 grep_log '^stats on ' || fail "no 'stats on' line"
URL=$(sed -n 's/^stats on //p' "$TMP/tracker.log")
T=$(sed -n 's/^listening on //p' "$TMP/tracker.log" | head -1)
[[ "$URL" =~ ^http://127\.0\.0\.1:[0-9]+/$ ]] || fail "stats line: $URL"
HP=${URL#http://127.0.0.1:}; HP=${HP%/}

for i in 0 1; do
    # a home each (one node per home); the tracker has the default one
    spawn_log "node$i" "$SHOAL" node --home "$TMP/home$i" \
        --listen /ip4/127.0.0.1/tcp/0 \
        --key "$TMP/n$i.key" --api off --tracker "$T" \
        --tracker-interval 500 --downloads "$TMP/dl$i"
done

# field NAME JSON: one number of /stats.
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[2])[sys.argv[1]])' "$1" "$2"; }
# agree: /stats and STAT say the same of peers, topics and the cap, with
# both nodes in, and /stats has every field.
agree() {
    local j s
    j=$(curl -sf "$URL"stats) || return 1
    s=$("$TRACKER" stat "$T" 2>/dev/null) || return 1
    python3 - "$j" "$s" 2>/dev/null <<'EOF' || return 1
import json, sys
j = json.loads(sys.argv[1])
s = dict(kv.split("=") for kv in sys.argv[2].split())
keys = ["peers", "topics", "announces_per_s", "entries_cap", "announces",
        "refused", "rate_limited", "flushes", "uptime_s"]
assert sorted(j) == sorted(keys), j
assert all(isinstance(j[k], (int, float)) and j[k] >= 0 for k in keys), j
assert j["peers"] == int(s["peers"]) == 2, (j, s)
assert j["topics"] == int(s["topics"]), (j, s)
assert j["entries_cap"] == int(s["entries_cap"]), (j, s)
assert j["announces"] >= 2 and j["announces_per_s"] > 0, j
assert float(s["announces_per_s"]) > 0, s
assert j["refused"] == 0 and j["rate_limited"] == 0, j
EOF
}
until_ok 30 agree || fail "/stats and STAT do not agree: $(curl -s "$URL"stats) / $("$TRACKER" stat "$T")"
# the counters move on: the nodes go on announcing, the table is flushed
j1=$(curl -sf "$URL"stats)
moved() {
    local j
    j=$(curl -sf "$URL"stats) || return 1
    [ "$(field announces "$j")" -gt "$(field announces "$j1")" ] &&
        [ "$(field flushes "$j")" -gt "$(field flushes "$j1")" ] &&
        [ "$(field uptime_s "$j")" -ge 1 ]
}
until_ok 10 moved || fail "the counters do not move: $j1 then $(curl -s "$URL"stats)"

# The page: HTML, reloading itself, the same figures.
page=$(curl -sf -D "$TMP/page.hdr" "$URL") || fail "GET /"
grep -qi '^content-type: text/html' "$TMP/page.hdr" || fail "/ is not HTML"
grep -q 'http-equiv="refresh" content="2"' <<<"$page" || fail "/ does not refresh"
grep -q 'id="peers">2<' <<<"$page" || fail "/ does not show 2 peers: $page"
grep -q 'id="entries_cap">1000000<' <<<"$page" || fail "/ has no cap"
grep -q 'src=\|href="http' <<<"$page" && fail "/ loads something from elsewhere"

# code METHOD PATH: the status curl gets.
code() { curl -s -o /dev/null -w '%{http_code}' -X "$1" "http://127.0.0.1:$HP$2"; }
[ "$(code GET /stats)" = 200 ] || fail "GET /stats"
[ "$(curl -s -o /dev/null -w '%{http_code}' -I "$URL"stats)" = 200 ] || fail "HEAD /stats"
[ -z "$(curl -s -I "$URL"stats | tr -d '\r' | sed '1,/^$/d')" ] || fail "HEAD has a body"
for p in /nope /stats/ /index.html //stats /STATS; do
    [ "$(code GET "$p")" = 404 ] || fail "GET $p is not 404"
done
for m in POST PUT DELETE PATCH OPTIONS; do
    [ "$(code $m /stats)" = 405 ] || fail "$m /stats is not 405"
done
curl -s -D - -o /dev/null -X POST --data-binary @/dev/null "$URL"stats |
    grep -qi '^allow: GET, HEAD' || fail "405 without Allow"
# A body is never read: a large POST is refused at once. The tracker
# closes with the body unread, which may reset the connection before curl
# has read the 405 (000): either is fine, a wait or any other answer not.
head -c 1000000 /dev/zero >"$TMP/big"
c=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 --data-binary @"$TMP/big" "$URL"stats)
[ "$c" = 405 ] || [ "$c" = 000 ] || fail "a large POST is $c"

# Garbage, an overlong request line, oversized headers, a huge body
# announced, a half request and a silent connection: each is the client's
# problem only. raw BYTES: the first line of the answer, if any. The
# writer ignores SIGPIPE: the tracker may close before it has read all,
# and then the reset may also lose the answer (so an empty one passes).
raw() {
    exec 3<>/dev/tcp/127.0.0.1/$HP || return 1
    ( trap '' PIPE; printf '%b' "$1" ) >&3 2>/dev/null
    timeout 3 head -1 <&3 2>/dev/null | tr -d '\r'
    exec 3>&-
}
raw 'GARBAGE\r\n\r\n' >/dev/null
raw '\x00\xff\x01\r\n\r\n\r\n' >/dev/null
a=$(raw "GET /$(head -c 70000 /dev/zero | tr '\0' a) HTTP/1.1\r\nHost: x\r\n\r\n")
[[ -z "$a" || "$a" = "HTTP/1.1 414 "* ]] || fail "an overlong URL: $a"
a=$(raw "GET /stats HTTP/1.1\r\nHost: x\r\nX-Big: $(head -c 70000 /dev/zero | tr '\0' b)\r\n\r\n")
[[ -z "$a" || "$a" = "HTTP/1.1 431 "* ]] || fail "oversized headers: $a"
[[ "$(raw 'GET /stats HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n')" = \
  "HTTP/1.1 413 "* ]] || fail "an impossible body is not 413"
[ "$(raw 'GET /stats HTTP/1.1\r\nHost: x\r\n\r\n')" = "HTTP/1.1 200 OK" ] ||
    fail "a plain HTTP/1.1 GET"
exec 4<>/dev/tcp/127.0.0.1/$HP   # says nothing; stays open past the checks
printf 'GET /sta' >&4
kill -0 $TPID 2>/dev/null || fail "the tracker died of garbage"
[ "$(code GET /stats)" = 200 ] || fail "/stats after garbage"
"$TRACKER" stat "$T" | grep -q '^peers=2 ' || fail "STAT after garbage"
exec 4>&-

# Ctrl-C stops the tracker cleanly, HTTP server and all.
stop_cleanly $TPID
echo "tracker http: ok"
