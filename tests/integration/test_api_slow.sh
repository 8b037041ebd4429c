#!/usr/bin/env bash
# The control API under slow clients: a local process opens 200
# connections to it, each sending its request header one byte a second for
# 10 s (and opening another when one is cut), while the user's client
# (`shoal peers`, with the token from the node's home) asks again and again:
# every answer must come within ANSWER_MS, and the slow connections are cut.
# Usage: test_api_slow.sh PATH/TO/shoal
# SHOAL_WRAP="valgrind ..." runs the node under that command. Every wait
# polls with a deadline; every process started here is ended on exit.
# shellcheck disable=SC2154,SC2317
set -u

SHOAL=${1:?usage: test_api_slow.sh PATH/TO/shoal}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/shoal-api-slow.XXXXXX")
export HOME=$TMP/home
mkdir -p "$HOME"
read -r -a WRAP <<<"${SHOAL_WRAP:-}"
WAIT_MS=${SHOAL_WRAP:+60000}
WAIT_MS=${WAIT_MS:-15000}
# the user's answer, at most: a request takes milliseconds when the API is
# free; a slot freed by a cut comes at once (see apps/shoal/api.c)
ANSWER_MS=${SHOAL_WRAP:+10000}
ANSWER_MS=${ANSWER_MS:-3000}
SLOW_CONNS=200
SLOW_SECONDS=10
. "$(dirname "$0")/lib.sh"
fail_logs() { show_logs 'head -c 4000' '*.out' '*.err'; }

spawn a "${WRAP[@]}" "$SHOAL" node --listen /ip4/127.0.0.1/tcp/0 \
    --api 127.0.0.1:0 --check-interval 0 --log-level info
wait_api a "$WAIT_MS" || fail "the node did not print its api line"

# ask: one `shoal peers` as the user; sets TOOK (ms)
ask() {
    local t0
    t0=$(now_ms)
    timeout 30 "$SHOAL" peers --api "$API_a" --json >"$TMP/ask.out" \
        2>"$TMP/ask.err" || fail "shoal peers failed under slow clients: $(cat "$TMP/ask.err")"
    TOOK=$(($(now_ms) - t0))
}
ask
echo "api_slow: free, answered in ${TOOK} ms"

spawn slow python3 "$(dirname "$0")/slow_http.py" "$API_a" "$SLOW_CONNS" 1 \
    "$SLOW_SECONDS"
wait_for "$WAIT_MS" grep -qs '^ready$' "$TMP/slow.out" ||
    fail "the slow clients did not start"

# back to back, as long as the slow clients run (until their report)
rounds=0 worst=0
end=$(($(now_ms) + SLOW_SECONDS * 1000 + WAIT_MS))
until grep -qs '^slow: ' "$TMP/slow.out"; do
    [ "$(now_ms)" -lt "$end" ] || fail "the slow clients did not report"
    ask
    rounds=$((rounds + 1))
    [ "$TOOK" -gt "$worst" ] && worst=$TOOK
    TOOKS="${TOOKS:-} $TOOK"
    [ "$TOOK" -le "$ANSWER_MS" ] ||
        fail "answer $rounds under $SLOW_CONNS slow clients took $TOOK ms, expected at most $ANSWER_MS"
done
line=$(grep '^slow: ' "$TMP/slow.out")
echo "api_slow: answers (ms):${TOOKS:-}"
echo "api_slow: $rounds answers under $SLOW_CONNS slow clients for ${SLOW_SECONDS} s, worst ${worst} ms; $line"
[ "$rounds" -ge 3 ] || fail "only $rounds answers in ${SLOW_SECONDS} s"
cut=${line##*cut=}
cut=${cut%% *}
[ "$cut" -gt 0 ] || fail "no slow connection was cut: $line"
ask
# the node stops cleanly (under a sanitizer or valgrind: no report) and
# logged MHD's notes about the cut connections rate limited, not one a cut
stop_cleanly "$PID_a"
notes=$(grep -c 'api_http_note' "$TMP/a.err")
echo "api_slow: $notes api_http_note lines in the node's log"
[ "$notes" -le 3 ] || fail "$notes api_http_note lines for ${SLOW_SECONDS} s, expected a few"
echo "api_slow: ok"
