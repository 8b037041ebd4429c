# Helpers shared by the shell integration tests (tests/integration/*.sh).
# A test sources it once it has its folder:
#   TMP=$(mktemp -d ...)
#   . "$(dirname "$0")/lib.sh"
# It sets PIDS=() and STEP="", and `trap cleanup EXIT`; the rest are
# functions. A test may redefine cleanup or fail_logs after sourcing (the
# trap and fail call them by name).
# shellcheck shell=bash
# Functions here are run from traps, from fail and from wait_for/until_ok:
# shellcheck disable=SC2317

# ------------------------------------------------------------ processes

# Every process a test starts goes into PIDS, so that cleanup ends it.
PIDS=()

# stop_pids SIGNAL: sends SIGNAL to every pid in PIDS, then waits for each.
stop_pids() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill -"$1" "$pid" 2>/dev/null
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null
    done
}

# cleanup: on exit, ends every process in PIDS with STOP_SIGNAL (default
# KILL; TERM lets them exit on their own) and removes TMP.
cleanup() {
    stop_pids "${STOP_SIGNAL:-KILL}"
    [ -n "${TMP:-}" ] && rm -rf "$TMP"
}
trap cleanup EXIT

# spawn NAME CMD...: runs CMD in the background, stdout to $TMP/NAME.out
# and stderr to $TMP/NAME.err; its pid goes to PIDS and to PID_NAME (and
# stays in $!).
spawn() {
    local name=$1
    shift
    "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
    PIDS+=("$!")
    printf -v "PID_$name" %s "$!"
}

# spawn_log NAME CMD...: the same, stdout and stderr both to $TMP/NAME.log.
spawn_log() {
    local name=$1
    shift
    "$@" >"$TMP/$name.log" 2>&1 &
    PIDS+=("$!")
    printf -v "PID_$name" %s "$!"
}

alive() { kill -0 "$1" 2>/dev/null; }
gone() { ! alive "$1"; }

# stop_cleanly PID: Ctrl-C; the process must be gone within 10 s and exit
# 0, or the test fails.
stop_cleanly() {
    kill -INT "$1"
    for _ in $(seq 100); do alive "$1" || break; sleep 0.1; done
    alive "$1" && fail "SIGINT ignored"
    wait "$1" || fail "exit status after SIGINT"
}

# ------------------------------------------------------------- failing

# STEP: when set, fail names it ("FAIL [STEP]: ...").
STEP=""

# fail MESSAGE...: says FAIL and why, shows the test's logs (fail_logs),
# and exits 1. It writes to FAIL_FD (default 2, stderr).
fail() {
    {
        echo "FAIL${STEP:+ [$STEP]}: $*"
        fail_logs
    } >&"${FAIL_FD:-2}"
    exit 1
}

# fail_logs: what fail shows; by default every $TMP/*.log in full. A test
# that keeps its output elsewhere redefines it with show_logs.
fail_logs() { show_logs cat '*.log'; }

# show_logs [-s] SHOW PATTERN...: for every file in TMP matching a
# PATTERN, a line "---- NAME" and then SHOW FILE (SHOW is a command and its
# words: cat, "head -c 4000", "tail -n 30"). -s: empty files are left out.
show_logs() {
    local nonempty=0 show pat f
    if [ "$1" = -s ]; then
        nonempty=1
        shift
    fi
    read -r -a show <<<"$1"
    shift
    for pat in "$@"; do
        for f in "$TMP"/$pat; do
            [ -f "$f" ] || continue
            [ "$nonempty" = 1 ] && [ ! -s "$f" ] && continue
            echo "---- $(basename "$f")"
            "${show[@]}" "$f"
        done
    done
}

# ------------------------------------------------------------- waiting

now_ms() { date +%s%3N; }

# wait_for DEADLINE_MS COMMAND...: runs COMMAND until it succeeds, every
# WAIT_POLL seconds (default 0.05); returns 1 once DEADLINE_MS have passed.
wait_for() {
    local limit=$1 end
    shift
    end=$(($(now_ms) + limit))
    until "$@"; do
        [ "$(now_ms)" -lt "$end" ] || return 1
        sleep "${WAIT_POLL:-0.05}"
    done
}

# until_ok SECONDS CMD...: polls CMD every 0.2 s until it succeeds; returns
# 1 once SECONDS (whole seconds of bash's SECONDS) have passed.
until_ok() {
    local end=$((SECONDS + $1))
    shift
    while [ $SECONDS -lt $end ]; do
        "$@" && return 0
        sleep 0.2
    done
    return 1
}

# ---------------------------------------------------- nodes and ports

# free_port: a loopback TCP port nobody listens on (bound, read, closed).
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# first_addr LOG PID: waits up to 10 s for LOG's first "listening on"
# line and sets ADDR to its address; returns 1 without one, at once if PID
# has exited.
first_addr() {
    for _ in $(seq 100); do
        ADDR=$(sed -n 's/^listening on //p' "$1" | head -1)
        [ -n "$ADDR" ] && return 0
        alive "$2" || break
        sleep 0.1
    done
    return 1
}

# wait_api NAME DEADLINE_MS: waits for the "api on http://..." line of the
# node whose stdout is $TMP/NAME.out; then sets API_LINE (the URL it gives),
# API_NAME (its HOST:PORT), TOKEN_NAME (its #token=) and ADDR_NAME (the
# output's first line, less "listening on ": the node's first address).
# Returns 1 if no api line came in time.
wait_api() {
    local name=$1 hostport
    wait_for "$2" grep -qs '^api on http://' "$TMP/$name.out" || return 1
    API_LINE=$(sed -n 's/^api on //p' "$TMP/$name.out")
    hostport=${API_LINE#http://}
    printf -v "API_$name" %s "${hostport%%/*}"
    printf -v "TOKEN_$name" %s "${API_LINE##*#token=}"
    printf -v "ADDR_$name" %s "$(sed -n '1s/^listening on //p' "$TMP/$name.out")"
}
