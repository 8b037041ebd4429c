#!/usr/bin/env python3
"""Writes seeds for fuzz_dnsaddr into tests/fuzz/corpus/dnsaddr/: a settings
byte, then DNS answer messages, each with a 2-byte big-endian length (see
fuzz_dnsaddr.c). Answers good and bad: dnsaddr records, nested and looping
ones, wrong peers, garbage, long records in several strings, A records."""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                   "corpus", "dnsaddr")

B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def b58(data):
    n = int.from_bytes(data, "big")
    out = ""
    while n:
        n, r = divmod(n, 58)
        out = B58[r] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


def peer(byte):
    return b58(bytes([0x00, 0x24, 0x08, 0x01, 0x12, 0x20]) + bytes([byte]) * 32)


ID = peer(0x42)      # the id fuzz_dnsaddr asks for in mode 1
OTHER = peer(0x43)

T_A, T_TXT, T_AAAA = 1, 16, 28


def name(qname):
    out = b""
    for label in qname.split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def message(qname, qtype, records, rcode=0):
    """records: (type, rdata) pairs, owners pointing at the question."""
    head = struct.pack(">HHHHHH", 0x1234, 0x8180 | rcode, 1, len(records),
                       0, 0)
    body = name(qname) + struct.pack(">HH", qtype, 1)
    for rtype, rdata in records:
        body += struct.pack(">HHHIH", 0xC00C, rtype, 1, 60, len(rdata)) + rdata
    return head + body


def txt(text):
    data = text.encode() if isinstance(text, str) else text
    out = b""
    while True:
        out += bytes([min(len(data), 255)]) + data[:255]
        data = data[255:]
        if not data:
            return out


def dnsaddr(qname, *texts):
    return message("_dnsaddr." + qname, T_TXT, [(T_TXT, txt(t)) for t in texts])


def seed(settings, *answers):
    out = bytes([settings])
    for a in answers:
        out += struct.pack(">H", len(a)) + a
    return out


def settings(mode, hosts=0, depth=4, addrs=3):
    return mode | hosts << 2 | (depth - 1) << 3 | addrs << 6


SEEDS = {
    "plain": seed(settings(0), dnsaddr(
        "fuzz.test", "dnsaddr=/ip4/10.0.0.1/tcp/4001/p2p/" + ID,
        "dnsaddr=/ip6/::1/tcp/4001/p2p/" + OTHER)),
    "p2p_filter": seed(settings(1), dnsaddr(
        "fuzz.test", "dnsaddr=/ip4/10.0.0.1/tcp/4001/p2p/" + ID,
        "dnsaddr=/ip4/10.0.0.2/tcp/4001/p2p/" + OTHER,
        "dnsaddr=/ip4/10.0.0.3/tcp/4001")),
    "tcp_suffix": seed(settings(3), dnsaddr(
        "fuzz.test", "dnsaddr=/ip4/10.0.0.1/tcp/4001",
        "dnsaddr=/ip4/10.0.0.1/tcp/4002",
        "dnsaddr=/dnsaddr/sub.test/tcp/4001/p2p/" + ID),
        dnsaddr("sub.test", "dnsaddr=/ip4/10.0.0.9/tcp/4001/p2p/" + ID)),
    "nested": seed(settings(0), dnsaddr(
        "fuzz.test", "dnsaddr=/dnsaddr/a.test", "dnsaddr=/dnsaddr/b.test"),
        dnsaddr("a.test", "dnsaddr=/ip4/10.1.0.1/tcp/1",
                "dnsaddr=/dnsaddr/fuzz.test"),
        dnsaddr("b.test", "dnsaddr=/dnsaddr/c.test"),
        dnsaddr("c.test", "dnsaddr=/ip4/10.1.0.3/tcp/1")),
    "garbage": seed(settings(0, addrs=2), dnsaddr(
        "fuzz.test", "v=spf1 -all", "dnsaddr=", "dnsaddr=/ip4/999.1.1.1",
        "dnsaddr=/ip4/1.2.3.4\0/tcp/1", "dnsaddr=" + "/" * 1100,
        "dnsaddr=/dns4/" + "x" * 200 + ".test/tcp/1",
        "DNSADDR=/ip4/1.2.3.4/tcp/1", "dnsaddr=/ip4/10.2.0.1/tcp/1")),
    "bad_rdata": seed(settings(0), message(
        "_dnsaddr.fuzz.test", T_TXT,
        [(T_TXT, b"\x30dnsaddr="), (T_TXT, b""),
         (T_TXT, txt("dnsaddr=/ip4/10.3.0.1/tcp/1"))])),
    "truncated": seed(settings(0), dnsaddr(
        "fuzz.test", "dnsaddr=/ip4/10.0.0.1/tcp/1",
        "dnsaddr=/ip4/10.0.0.2/tcp/1")[:-7]),
    "nxdomain": seed(settings(0), message("_dnsaddr.fuzz.test", T_TXT, [],
                                          rcode=3)),
    "hosts": seed(settings(2, hosts=1),
                  message("fuzz.test", T_A, [(T_A, bytes([127, 0, 0, 1])),
                                             (T_A, b"\1\2\3"),
                                             (T_A, bytes([127, 0, 0, 2]))]),
                  message("fuzz.test", T_AAAA,
                          [(T_AAAA, bytes(15) + b"\1")])),
    "dnsaddr_to_host": seed(settings(1, hosts=1), dnsaddr(
        "fuzz.test", "dnsaddr=/dns4/boot.test/tcp/4001/p2p/" + ID),
        message("boot.test", T_A, [(T_A, bytes([127, 0, 0, 1]))])),
    "deep": seed(settings(0, depth=8, addrs=3),
                 *[dnsaddr(q, "dnsaddr=/dnsaddr/d%d.test" % (i + 1),
                           "dnsaddr=/ip4/10.4.0.%d/tcp/1" % i)
                   for i, q in enumerate(["fuzz.test"] +
                                         ["d%d.test" % k for k in range(1, 9)])]),
    "many": seed(settings(0, addrs=3), dnsaddr(
        "fuzz.test", *["dnsaddr=/ip4/10.5.%d.%d/tcp/1" % (i // 200, i % 200)
                       for i in range(60)])),
    "cname_first": seed(settings(0), message(
        "_dnsaddr.fuzz.test", T_TXT,
        [(5, name("other.test")), (T_TXT, txt("dnsaddr=/ip4/10.6.0.1/tcp/1"))])),
    "not_dns": seed(settings(0), bytes(range(64))),
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for key, data in SEEDS.items():
        with open(os.path.join(OUT, key), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
