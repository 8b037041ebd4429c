#!/usr/bin/env python3
"""A classic-wire peer written from specs/classic-wire.md, playing the part
of the tutorial's reference program in interop tests: a thread per
connection, the type upper-cased before dispatch, replies until close.
Membership (NAME, LIST, JOIN, QUIT, PING) and file sharing (QUER, RESP,
FGET), with the reference's visible quirks: QUER answers the first known
name holding the key and nothing else, RESP keeps the first owner heard of
a name, FGET sends the whole file in one REPL. Unlike the reference it has
timeouts and serves only the files of its shared folder.

  classic_peer.py serve --port P [--max-peers N] [--bootstrap H:P --hops N]
                        [--share DIR]
      runs a peer; prints "listening on HOST:PORT" once it accepts. --share
      DIR shares DIR's regular files (flat; a name may hold spaces, as one
      added in the reference GUI may, but not start or end with one).
  classic_peer.py send HOST:PORT TYPE [PAYLOAD]
      one request; prints a "TYPE payload" line per reply.
  classic_peer.py fetch HOST:PORT NAME (--out FILE | --into DIR)
      FGET NAME, the REPL's payload saved to FILE, or as the reference GUI
      saves it: under NAME in DIR, with no folder made (a NAME with '/'
      fails then). Exit 0 when saved; 1 and "ERRO text" printed when the
      peer refused; 2 when it could not be asked; 3 when it could not be
      saved.
  classic_peer.py query HOST:PORT KEY [--ttl N] [--count N] [--wait S]
      listens on an ephemeral loopback port, sends QUER <that id> KEY ttl
      (default 4) to HOST:PORT, prints "listening on ID", the "REPL Query
      ACK" line, then "RESP name owner" per response received. Exits 0 once
      --count (default 1) responses came, 1 if --wait (default 10) seconds
      passed first.
"""
import argparse
import os
import queue
import socket
import struct
import sys
import threading
import time

TIMEOUT = 5.0


def log(text):
    print(text, file=sys.stderr, flush=True)


def recv_exact(sock, n):
    data = bytearray()
    while len(data) < n:
        chunk = sock.recv(min(n - len(data), 1 << 20))
        if not chunk:
            return None
        data += chunk
    return bytes(data)


def read_message_bytes(sock):
    """(type, payload bytes), or None at the close."""
    header = recv_exact(sock, 8)
    if header is None:
        return None
    mtype = header[:4].rstrip(b"\0").decode("ascii", "replace")
    (length,) = struct.unpack("!L", header[4:])
    payload = recv_exact(sock, length)
    if payload is None:
        return None
    return mtype, payload


def read_message(sock):
    msg = read_message_bytes(sock)
    if msg is None:
        return None
    return msg[0], msg[1].decode("utf-8", "replace")


def frame(mtype, payload):
    body = payload if isinstance(payload, bytes) else payload.encode()
    return mtype.encode().ljust(4, b"\0")[:4] + struct.pack("!L", len(body)) + body


def connect_and_send(host, port, mtype, payload="", raw=False):
    """One request per connection; every reply until the remote closes."""
    replies = []
    with socket.create_connection((host, int(port)), timeout=TIMEOUT) as s:
        s.sendall(frame(mtype, payload))
        while True:
            msg = read_message_bytes(s) if raw else read_message(s)
            if msg is None:
                break
            replies.append(msg)
    return replies


def split_addr(addr):
    host, port = addr.rsplit(":", 1)
    return host, int(port)


class Peer:
    def __init__(self, port, max_peers, share=None):
        self.host = "127.0.0.1"
        self.port = port
        self.max_peers = max_peers
        self.peers = {}  # id -> (host, port)
        # file name -> owner id, None for our own (the reference's table):
        # ours first, then remote ones in the order RESPs taught them.
        self.files = {}
        self.share = share
        self.lock = threading.Lock()
        if share is not None:
            for name in sorted(os.listdir(share)):
                if os.path.isfile(os.path.join(share, name)) and \
                        name == name.strip() and name.isprintable():
                    self.files[name] = None
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

    # ------------------------------------------------------ file sharing

    def on_quer(self, conn, data):
        try:
            pid, key, ttl = data.split()
            ttl = int(ttl)
            split_addr(pid)
        except ValueError:
            self.reply(conn, "ERRO", "Query: incorrect arguments")
            return
        self.reply(conn, "REPL", "Query ACK: %s" % key)
        log("QUER from %s key=%s ttl=%d" % (pid, key, ttl))
        threading.Thread(target=self.process_query, args=(pid, key, ttl),
                         daemon=True).start()

    def process_query(self, pid, key, ttl):
        """The reference's: the first name holding key, else forward."""
        with self.lock:
            files = list(self.files.items())
            peers = list(self.peers.values())
        for name, owner in files:
            if key in name:
                owner = owner or self.myid
                log("RESP to %s: %s %s" % (pid, name, owner))
                try:
                    host, port = split_addr(pid)
                    connect_and_send(host, port, "RESP", "%s %s" % (name, owner))
                except (OSError, ValueError) as e:
                    log("RESP to %s failed: %s" % (pid, e))
                return
        if ttl > 0:
            # no duplicate suppression, as the reference: every neighbour
            for host, port in peers:
                log("QUER forward to %s:%d: %s %s %d" % (host, port, pid, key, ttl - 1))
                try:
                    connect_and_send(host, port, "QUER", "%s %s %d" % (pid, key, ttl - 1))
                except OSError as e:
                    log("QUER forward to %s:%d failed: %s" % (host, port, e))

    def on_resp(self, conn, data):
        try:
            name, owner = data.split()
        except ValueError:
            return
        with self.lock:
            if name not in self.files:
                self.files[name] = owner
        log("RESP %s %s" % (name, owner))

    def on_fget(self, conn, data):
        name = data
        with self.lock:
            known = name in self.files
            local = known and self.files[name] is None
        if not known:
            self.reply(conn, "ERRO", "File not found")
            return
        # The reference opens the name relative to its working directory,
        # whoever owns it; we read only our own shared files (a name
        # learned from RESP is not here to read).
        try:
            if not local:
                raise OSError("not a local file")
            with open(os.path.join(self.share, name), "rb") as f:
                body = f.read()
        except OSError:
            self.reply(conn, "ERRO", "Error reading file")
            return
        log("FGET %s: %d bytes" % (name, len(body)))
        conn.sendall(frame("REPL", body))

    # ------------------------------------------------------------------

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


def cmd_fetch(args):
    host, port = split_addr(args.addr)
    try:
        replies = connect_and_send(host, port, "FGET", args.name, raw=True)
    except OSError as e:
        print("fetch: cannot ask %s: %s" % (args.addr, e), file=sys.stderr)
        return 2
    if len(replies) != 1:
        print("fetch: %d replies, not one" % len(replies), file=sys.stderr)
        for mtype, body in replies:
            print(mtype, body[:200].decode("utf-8", "replace"))
        return 1
    mtype, body = replies[0]
    if mtype != "REPL":
        print(mtype, body.decode("utf-8", "replace"))
        return 1
    if args.into is not None:
        # the reference GUI: open(name, "w") where it runs, nothing more
        try:
            with open(os.path.join(args.into, args.name), "wb") as f:
                f.write(body)
        except OSError as e:
            print("fetch: cannot save %s: %s" % (args.name, e), file=sys.stderr)
            return 3
        print("fetched %s: %d bytes" % (args.name, len(body)))
        return 0
    tmp = args.out + ".part"
    with open(tmp, "wb") as f:
        f.write(body)
    os.replace(tmp, args.out)
    print("fetched %s: %d bytes" % (args.name, len(body)))
    return 0


class Listener:
    """Receives RESPs for a query: each is a request of its own."""

    def __init__(self):
        self.server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(64)
        self.myid = "127.0.0.1:%d" % self.server.getsockname()[1]
        self.resps = queue.Queue()
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            conn, _ = self.server.accept()
            threading.Thread(target=self.handle, args=(conn,), daemon=True).start()

    def handle(self, conn):
        with conn:
            conn.settimeout(TIMEOUT)
            try:
                msg = read_message(conn)
            except OSError:
                return
            if msg is not None and msg[0].upper() == "RESP":
                self.resps.put(msg[1])
            # a QUER forwarded back to us, or anything else: closed unanswered


def cmd_query(args):
    host, port = split_addr(args.addr)
    listener = Listener()
    print("listening on %s" % listener.myid, flush=True)
    try:
        replies = connect_and_send(host, port, "QUER", "%s %s %d" % (
            listener.myid, args.key, args.ttl))
    except OSError as e:
        print("query: cannot ask %s: %s" % (args.addr, e), file=sys.stderr)
        return 2
    for mtype, text in replies:
        print(mtype, text, flush=True)
    if not replies or replies[0][0] != "REPL":
        print("query: no Query ACK from %s" % args.addr, file=sys.stderr)
        return 1
    deadline = time.monotonic() + args.wait
    got = 0
    while got < args.count:
        left = deadline - time.monotonic()
        if left <= 0:
            print("query: %d of %d responses in %g s" % (got, args.count, args.wait),
                  file=sys.stderr)
            return 1
        try:
            text = listener.resps.get(timeout=left)
        except queue.Empty:
            continue
        print("RESP", text, flush=True)
        got += 1
    return 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--port", type=int, default=0)
    s.add_argument("--max-peers", type=int, default=0)
    s.add_argument("--bootstrap")
    s.add_argument("--hops", type=int, default=2)
    s.add_argument("--share")
    c = sub.add_parser("send")
    c.add_argument("addr")
    c.add_argument("type")
    c.add_argument("payload", nargs="?", default="")
    f = sub.add_parser("fetch")
    f.add_argument("addr")
    f.add_argument("name")
    where = f.add_mutually_exclusive_group(required=True)
    where.add_argument("--out")
    where.add_argument("--into")
    q = sub.add_parser("query")
    q.add_argument("addr")
    q.add_argument("key")
    q.add_argument("--ttl", type=int, default=4)
    q.add_argument("--count", type=int, default=1)
    q.add_argument("--wait", type=float, default=10.0)
    args = ap.parse_args()

    if args.cmd == "send":
        host, port = split_addr(args.addr)
        try:
            replies = connect_and_send(host, port, args.type, args.payload)
        except OSError as e:
            print("send: cannot ask %s: %s" % (args.addr, e), file=sys.stderr)
            return 1
        for mtype, text in replies:
            print(mtype, text)
        return 0
    if args.cmd == "fetch":
        return cmd_fetch(args)
    if args.cmd == "query":
        return cmd_query(args)
    peer = Peer(args.port, args.max_peers, args.share)
    if args.bootstrap:
        host, port = split_addr(args.bootstrap)
        peer.build_peers(host, port, args.hops)
    print("listening on %s" % peer.myid, flush=True)
    try:
        peer.serve()
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # "send ... | head -1": the reader has enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)
