#!/usr/bin/env python3
"""Secure-mode interop: shoal and js-libp2p (tests/interop/js/peer.mjs) on
loopback, each side dialing the other. Every process is bounded by its own
timeout and killed at the end.

usage: secure_js.py SHOAL_BINARY ECHO_NODE_BINARY [--quick]
(--quick skips the 30 s idle check)"""
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PEER = os.path.join(HERE, "js", "peer.mjs")
procs = []
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def start(cmd, prefix):
    """Starts a long-running process; returns it and the line that begins
    with prefix (waiting up to 20 s)."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stdin=subprocess.PIPE,
                         text=True)
    procs.append(p)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        line = p.stdout.readline()
        if not line:
            break
        if line.startswith(prefix):
            return p, line
    raise SystemExit("did not start: %s" % " ".join(cmd))


def js(*args, timeout=60):
    """Runs a peer.mjs command; returns its JSON events and exit code."""
    r = subprocess.run(["node", PEER] + list(args) +
                       ["--timeout", str(timeout)],
                       capture_output=True, text=True, timeout=timeout + 30)
    events = [json.loads(l) for l in r.stdout.splitlines()
              if l.startswith("{")]
    if r.returncode != 0:
        sys.stderr.write(r.stderr[-2000:])
    return events, r.returncode


def shoal(*args, timeout=60):
    r = subprocess.run([SHOAL] + list(args), capture_output=True, text=True,
                       timeout=timeout)
    return r.stdout, r.returncode


def event(events, name):
    return next((e for e in events if e.get("event") == name), None)


def main():
    global SHOAL
    SHOAL, echo_node = sys.argv[1], sys.argv[2]
    quick = "--quick" in sys.argv
    if not os.path.isdir(os.path.join(HERE, "js", "node_modules")):
        raise SystemExit("tests/interop/js/node_modules is missing: "
                         "run scripts/install-js-deps")

    # js listens; shoal dials it.
    jsp, line = start(["node", PEER, "listen", "--stdin", "--timeout", "600"],
                      '{"event":"listening"')
    jsinfo = json.loads(line)
    js_addr = next(a for a in jsinfo["addrs"] if "/ip4/127.0.0.1/" in a)
    js_port = js_addr.split("/")[4]

    out, rc = shoal("ping", "--count", "3", js_addr)
    check(rc == 0 and out.count("time=") == 3, "shoal pings js")
    out, rc = shoal("identify", js_addr)
    lines = out.splitlines()
    check(rc == 0 and "agent_version js-libp2p" in out, "shoal identifies js")
    check("listen_addr /ip4/127.0.0.1/tcp/%s" % js_port in lines,
          "js's listen address, as shoal hears it")
    check("protocol /ipfs/ping/1.0.0" in lines, "js's protocols")
    check(any(l.startswith("observed_addr /ip4/127.0.0.1/tcp/")
              for l in lines), "the address js observes shoal at")
    out, rc = shoal("perf", "--upload", str(64 << 20), "--download",
                    str(64 << 20), js_addr, timeout=120)
    check(rc == 0, "shoal -> js perf, 64 MiB each way, checked")
    wrong = js_addr.rsplit("/", 1)[0] + "/" + \
        "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq"
    out, rc = shoal("ping", wrong)
    check(rc != 0, "shoal refuses js under the wrong peer id")

    # shoal listens; js dials it.
    sp, line = start([echo_node], "listening on ")
    s_addr = line.split()[-1]
    s_port = s_addr.split("/")[4]
    ev, rc = js("ping", "--addr", s_addr, "--count", "3")
    check(rc == 0 and event(ev, "ping_done") is not None, "js pings shoal")
    ev, rc = js("identify", "--addr", s_addr)
    ident = event(ev, "identify") or {}
    conn = event(ev, "connection") or {}
    check(rc == 0 and ident.get("agentVersion", "").startswith("shoal/"),
          "js identifies shoal")
    check("/ip4/127.0.0.1/tcp/%s" % s_port in ident.get("listenAddrs", []),
          "shoal's listen address, as js hears it")
    check({"/ipfs/ping/1.0.0", "/ipfs/id/1.0.0", "/shoal/echo/1.0.0"} <=
          set(ident.get("protocols", [])), "shoal's protocols")
    check(ident.get("observedAddr") == conn.get("localAddr"),
          "the address shoal observes js at (%s)" % ident.get("observedAddr"))
    ev, rc = js("echo", "--addr", s_addr, "--streams", "100", "--bytes",
                str(1 << 20), timeout=120)
    e = event(ev, "echo") or {}
    check(rc == 0 and e.get("ok") == 100, "js: 100 streams echoing 1 MiB")
    ev, rc = js("perf", "--addr", s_addr, "--upload", str(64 << 20),
                "--download", str(64 << 20), timeout=120)
    e = event(ev, "perf") or {}
    check(rc == 0 and e.get("ok") is True, "js -> shoal perf, 64 MiB each way")
    wrong = s_addr.rsplit("/", 1)[0] + "/" + jsinfo["peerId"]
    ev, rc = js("ping", "--addr", wrong, timeout=20)
    check(rc != 0, "js refuses shoal under the wrong peer id")
    if not quick:
        ev, rc = js("idle", "--addr", s_addr, "--seconds", "30", timeout=90)
        e = event(ev, "idle") or {}
        check(rc == 0 and e.get("survived") is True,
              "a connection idle for 30 s, js pinging every 10 s, survives")

    print("%d failed" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    try:
        rc = main()
    finally:
        for p in procs:
            try:
                p.stdin.close()
            except OSError:
                pass
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
    sys.exit(rc)
