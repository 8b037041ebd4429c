#!/usr/bin/env python3
"""Writes the seeds of fuzz_mdns into tests/fuzz/corpus/mdns/: a query, a
response with two addresses (compressed names), one with a bad TXT record,
and a name that points at itself."""
import os
import struct

ID = "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq"
SERVICE = b"\x04_p2p\x04_udp\x05local\x00"
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "mdns")
os.makedirs(out, exist_ok=True)


def header(flags, qd, an, ar):
    return struct.pack(">HHHHHH", 0, flags, qd, an, 0, ar)


def txt(*strings):
    rd = b"".join(bytes([len(s)]) + s for s in strings)
    return struct.pack(">HHIH", 16, 0x8001, 120, len(rd)) + rd


def response(addrs):
    msg = header(0x8400, 0, 1, len(addrs))
    # answer: <service> PTR peer.<service>; the service name sits at 12
    target = b"\x06abcdef\xc0\x0c"
    msg += SERVICE + struct.pack(">HHIH", 12, 1, 120, len(target)) + target
    inst = 12 + len(SERVICE) + 10  # where "abcdef.<service>" starts
    for a in addrs:
        msg += struct.pack(">H", 0xC000 | inst) + txt(a)
    return msg


seeds = {
    "query": header(0, 1, 0, 0) + SERVICE + struct.pack(">HH", 12, 1),
    "response": response([("dnsaddr=/ip4/10.77.0.1/tcp/4001/p2p/" + ID).encode(),
                          ("dnsaddr=/ip6/fe80::1/tcp/4001/p2p/" + ID).encode()]),
    "bad_txt": response([b"dnsaddr=/ip4/999.1.1.1/tcp/1", b"hello=world",
                         ("dnsaddr=/ip4/10.0.0.1/tcp/1/p2p/" + ID).encode()]),
    "loop": header(0, 1, 0, 0) + b"\xc0\x0c" + struct.pack(">HH", 12, 1),
}
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
