#!/bin/sh
# Writes the seed corpus of fuzz_frame (tests/fuzz/corpus/frame/).
# Each file is one control byte (see fuzz_frame.c: chunk-size count, small
# max_len, prepare/commit), the chunk sizes, then the bytes of the stream.
# Run from anywhere; it rewrites only the seeds named below.
set -eu
out="$(dirname "$0")/corpus/frame"
mkdir -p "$out"
seed() { printf "$2" > "$out/$1"; }

# valid PING, whole
seed ping           '\000PING\000\000\000\000'
# NAME, one byte at a time through prepare/commit
seed name_bytewise  '\201\001NAME\000\000\000\000'
# JOIN with its payload, chunks of 3 and 5
seed join_payload   '\002\003\005JOIN\000\000\000\025peer-1 127.0.0.1 9000'
# two messages back to back, fed whole (feed stops at the first's end)
seed two_messages   '\000NAME\000\000\000\000REPL\000\000\000\016127.0.0.1:9000'
# the same through prepare/commit, chunks of 7
seed two_prepare    '\201\007NAME\000\000\000\000REPL\000\000\000\016127.0.0.1:9000'
# truncated header
seed trunc_header   '\000PIN'
# truncated payload
seed trunc_payload  '\000FGET\000\000\000\020short'
# 4 GiB - 1 announced, a few payload bytes: refused, nothing allocated
seed len_4gib       '\000FGET\377\377\377\377abcdef'
# a length just over the small limit (64), and one exactly at it
seed over_small_max '\100REPL\000\000\000\101x'
seed at_small_max   "\300REPL\000\000\000\100$(head -c 64 /dev/zero | tr '\000' x)"
# lowercase type, NUL-padded short type
seed lowercase      '\000join\000\000\000\005a b 1'
seed short_type     '\001\002AB\000\000\000\000\000\002hiQ\000\000\000\000\000\000\000'
