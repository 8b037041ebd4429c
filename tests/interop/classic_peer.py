#!/usr/bin/env python3
"""A classic-wire peer written from specs/classic-wire.md, playing the part
of the tutorial's reference program in interop tests: a thread per
connection, the type upper-cased before dispatch, replies until close.

  classic_peer.py serve --port P [--max-peers N] [--bootstrap H:P --hops N]
  classic_peer.py send HOST:PORT TYPE [PAYLOAD]   (prints "TYPE payload" lines)
"""
import argparse
import socket
import struct
import sys
import threading

TIMEOUT = 5.0


def recv_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def read_message(sock):
    header = recv_exact(sock, 8)
    if header is None:
        return None
    mtype = header[:4].rstrip(b"\0").decode("ascii", "replace")
    (length,) = struct.unpack("!L", header[4:])
    payload = recv_exact(sock, length)
    if payload is None:
        return None
    return mtype, payload.decode("utf-8", "replace")


def frame(mtype, payload):
    body = payload.encode()
    return mtype.encode().ljust(4, b"\0")[:4] + struct.pack("!L", len(body)) + body


def connect_and_send(host, port, mtype, payload=""):
    """One request per connection; every reply until the remote closes."""
    replies = []
    with socket.create_connection((host, int(port)), timeout=TIMEOUT) as s:
        s.sendall(frame(mtype, payload))
        while True:
            msg = read_message(s)
            if msg is None:
                break
            replies.append(msg)
    return replies


class Peer:
    def __init__(self, port, max_peers):
        self.host = "127.0.0.1"
        self.port = port
        self.max_peers = max_peers
        self.peers = {}  # id -> (host, port)
        self.lock = threading.Lock()
        self.server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind((self.host, port))
        self.server.listen(64)
        self.port = self.server.getsockname()[1]
        self.myid = "%s:%d" % (self.host, self.port)

    def full(self):
        return self.max_peers > 0 and len(self.peers) >= self.max_peers

    def handle(self, conn):
        with conn:
            conn.settimeout(TIMEOUT)
            try:
                msg = read_message(conn)
                if msg is None:
                    return
                mtype, data = msg
                mtype = mtype.upper()
                handler = getattr(self, "on_" + mtype.lower(), None)
                if handler is not None and mtype.isalpha():
                    handler(conn, data)
            except OSError:
                pass

    def reply(self, conn, mtype, text):
        conn.sendall(frame(mtype, text))

    def on_name(self, conn, data):
        self.reply(conn, "REPL", self.myid)

    def on_list(self, conn, data):
        with self.lock:
            peers = list(self.peers.items())
        self.reply(conn, "REPL", "%d" % len(peers))
        for pid, (host, port) in peers:
            self.reply(conn, "REPL", "%s %s %d" % (pid, host, port))

    def on_join(self, conn, data):
        with self.lock:
            if self.full():
                self.reply(conn, "ERRO", "Join: too many peers")
                return
            try:
                pid, host, port = data.split()
                int(port)
            except ValueError:
                self.reply(conn, "ERRO", "Join: incorrect arguments")
                return
            if pid in self.peers or pid == self.myid:
                self.reply(conn, "ERRO", "Join: peer already inserted %s" % pid)
                return
            self.peers[pid] = (host, int(port))
        self.reply(conn, "REPL", "Join: peer added: %s" % pid)

    def on_quit(self, conn, data):
        pid = data.strip()
        with self.lock:
            found = self.peers.pop(pid, None) is not None
        if found:
            self.reply(conn, "REPL", "Quit: peer removed: %s" % pid)
        else:
            self.reply(conn, "ERRO", "Quit: peer not found: %s" % pid)

    def on_ping(self, conn, data):
        pass  # a successful connect is the answer

    def build_peers(self, host, port, hops):
        if self.full() or hops <= 0:
            return
        try:
            peerid = connect_and_send(host, port, "NAME")[0][1]
            resp = connect_and_send(host, port, "JOIN", "%s %s %d" % (self.myid, self.host, self.port))
            if not resp or resp[0][0] != "REPL" or peerid in self.peers:
                return
            with self.lock:
                self.peers[peerid] = (host, int(port))
            for _, line in connect_and_send(host, port, "LIST")[1:]:
                nextpid, nhost, nport = line.split()
                if nextpid != self.myid:
                    self.build_peers(nhost, nport, hops - 1)
        except (OSError, IndexError, ValueError):
            pass

    def serve(self):
        while True:
            conn, _ = self.server.accept()
            threading.Thread(target=self.handle, args=(conn,), daemon=True).start()


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--port", type=int, default=0)
    s.add_argument("--max-peers", type=int, default=0)
    s.add_argument("--bootstrap")
    s.add_argument("--hops", type=int, default=2)
    c = sub.add_parser("send")
    c.add_argument("addr")
    c.add_argument("type")
    c.add_argument("payload", nargs="?", default="")
    args = ap.parse_args()

    if args.cmd == "send":
        host, port = args.addr.rsplit(":", 1)
        for mtype, text in connect_and_send(host, port, args.type, args.payload):
            print(mtype, text)
        return 0
    peer = Peer(args.port, args.max_peers)
    if args.bootstrap:
        host, port = args.bootstrap.rsplit(":", 1)
        peer.build_peers(host, port, args.hops)
    print("listening on %s" % peer.myid, flush=True)
    try:
        peer.serve()
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
