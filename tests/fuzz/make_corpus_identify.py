#!/usr/bin/env python3
"""Writes seeds for fuzz_identify into tests/fuzz/corpus/identify/: varint-
length-prefixed Identify protobufs, well formed and not."""
import os

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                   "corpus", "identify")


def varint(n):
    out = b""
    while n >= 0x80:
        out += bytes([n & 0x7F | 0x80])
        n >>= 7
    return out + bytes([n])


def field(num, payload):
    return varint(num << 3 | 2) + varint(len(payload)) + payload


# the spec's test key: an Ed25519 PublicKey protobuf
KEY = bytes.fromhex("080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf601"
                    "0f0e42d474fce27e")
IP4 = bytes.fromhex("047f000001060fa1")           # /ip4/127.0.0.1/tcp/4001
IP6 = bytes([0x29]) + bytes(15) + b"\x01" + b"\x06\x1f\x90"  # /ip6/::1/tcp/8080
DNS = b"\x36\x09localhost\x06\x00\x50"           # /dns4/localhost/tcp/80

full = (field(5, b"ipfs/0.1.0") + field(6, b"shoal/0.1.0") + field(1, KEY) +
        field(2, IP4) + field(2, IP6) + field(2, DNS) + field(4, IP4) +
        field(3, b"/ipfs/ping/1.0.0") + field(3, b"/ipfs/id/1.0.0"))
seeds = {
    "full": varint(len(full)) + full,
    "empty": varint(0),
    "protocols_only": varint(20) + field(3, b"/ipfs/ping/1.0.0")[:20],
    "bad_addr": (lambda m: varint(len(m)) + m)(field(2, b"\xff\xff\x03")),
    "bad_key": (lambda m: varint(len(m)) + m)(field(1, b"\x08\x02\x12\x01x")),
    "length_too_long": varint(len(full) + 5) + full,
    "truncated": (varint(len(full)) + full)[:40],
}
os.makedirs(OUT, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
