#!/bin/sh
# Writes the seed corpus of fuzz_files (tests/fuzz/corpus/files/): valid
# and almost-valid payloads of each kind the files service parses
# (src/files/protocol.h), manifests (src/files/manifest.h) and names.
# fuzz_files.c feeds every input to every parser, so one seed per shape is
# enough. Run from anywhere; it rewrites only the seeds named below.
set -eu
out="$(dirname "$0")/corpus/files"
mkdir -p "$out"
seed() { printf "$2" > "$out/$1"; }

h=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
pid=12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp
ma=/ip4/127.0.0.1/tcp/4001/p2p/$pid

# FIND: a search, a key with spaces, a ttl over the limit
seed find            '0123456789abcdef 4 2750 song'
seed find_spaces     '00000000000000ff 0 100 my data file.bin'
seed find_ttl_17     '0123456789abcdef 17 100 k'
# HITS: one result, and one with an uppercase hash (refused)
seed hits            "$h 3145740 $pid $ma sub/Data File.bin"
seed hits_upper      "0123456789ABCDEF${h#0123456789abcdef} 5 $pid $ma a"
# MANI: a hash; CHNK: a hash and an index, and one past 32 bits
seed mani            "$h"
seed chnk            "$h 3"
seed chnk_big        "$h 4294967296"
# classic QUER (a ttl the reference may send negative) and RESP
seed quer            '127.0.0.1:7700 song 3'
seed quer_negative   '127.0.0.1:7700 my song -1'
seed resp            'song 2.mp3 127.0.0.1:7701'
# manifests: empty file; 5 bytes in one chunk; 1 MiB + 1 in two chunks;
# a count that does not match the size (refused)
seed mani_empty      '\000\000\000\000\000\000\000\000\000\000\000\000'
seed mani_one        "\000\000\000\000\000\000\000\005\000\000\000\001$(printf '%032d' 7)"
seed mani_two        "\000\000\000\000\000\020\000\001\000\000\000\002$(printf '%064d' 9)"
seed mani_bad_count  "\000\000\000\000\000\000\000\005\000\000\000\002$(printf '%064d' 7)"
# names: a good one with UTF-8, one that climbs out
seed name_ok         'ok name/\303\251.txt'
seed name_dotdot     'a/../../etc/passwd'
