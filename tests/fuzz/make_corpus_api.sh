#!/bin/sh
# Writes the seed corpus of fuzz_api (tests/fuzz/corpus/api/): a valid
# request for each endpoint of the shoal program's API, and the refusals
# (apps/shoal/api_input.h). fuzz_api.c reads an input as six choice bytes
# (method, path, Host, Origin, token, Content-Length: see its comment),
# the lines those choices take, then the body. Run from anywhere; it
# rewrites only the seeds named below.
set -eu
out="$(dirname "$0")/corpus/api"
mkdir -p "$out"
# The seeds are printf formats: octal escapes for the bytes that are not
# text.
# shellcheck disable=SC2059
seed() { printf "$2" > "$out/$1"; }

# The choice bytes, by name (octal, for printf).
GET='\000' POST='\001' DELETE='\002' HEAD='\004' M_LINE='\007'
STATUS='\000' PEERS='\001' PEER_ID='\002' FILES='\003' SEARCH='\004'
GETP='\005' TRANSFERS='\006' TRANSFER_ID='\007' ROOT='\010' P_LINE='\013'
H_SELF='\000' H_LOCAL='\001' H_NONE='\003' H_OTHER='\005' H_LINE='\006'
H_SELF6='\200' # the API on [::1], named by its own Host
O_NONE='\000' O_SELF='\001' O_LOCAL='\002' O_HTTPS='\003' O_LINE='\005'
T_OK='\000' T_NONE='\001' T_WRONG='\002'
L_NONE='\000' L_0='\001' L_OVER='\003' L_LINE='\005' PAD_OVER='\300'

pid=12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp

# each endpoint, valid
seed status       "$GET$STATUS$H_SELF$O_NONE$T_OK$L_NONE"
seed peers        "$GET$PEERS$H_LOCAL$O_SELF$T_OK$L_NONE"
seed join         "$POST$PEERS$H_SELF$O_SELF$T_OK$L_NONE"'{"addr": "/ip4/127.0.0.1/tcp/7600/p2p/'$pid'"}'
seed peer_remove  "$DELETE$PEER_ID$H_SELF$O_NONE$T_OK$L_NONE$pid\n"
seed files        "$GET$FILES$H_SELF6$O_NONE$T_OK$L_0"
seed search       "$POST$SEARCH$H_SELF$O_LOCAL$T_OK$L_NONE"'{"key": "blue", "timeout_ms": 1500}'
seed search_null  "$POST$SEARCH$H_SELF$O_NONE$T_OK$L_NONE"'{"key": "my song", "timeout_ms": null}'
seed get          "$POST$GETP$H_SELF$O_NONE$T_OK$L_NONE"'{"what": "albums/\\u00e9t\\u00e9.flac"}'
seed transfers    "$GET$TRANSFERS$H_SELF$O_NONE$T_OK$L_NONE"
seed transfer     "$GET$TRANSFER_ID$H_SELF$O_NONE$T_OK$L_NONE"'4294967295\n'
seed page         "$HEAD$ROOT$H_LOCAL$O_NONE$T_NONE$L_NONE"
# refused on the headers: no Host or a rebinding one, a foreign Origin or
# one over https, a wrong token, a Content-Length over 64 KiB
seed bad_no_host  "$GET$STATUS$H_NONE$O_NONE$T_OK$L_NONE"
seed bad_host     "$GET$STATUS$H_OTHER$O_NONE$T_OK$L_NONE"
seed bad_origin   "$POST$SEARCH$H_SELF$O_LINE$T_OK$L_NONE"'http://evil.example\n{"key": "a"}'
seed bad_https    "$GET$FILES$H_SELF$O_HTTPS$T_OK$L_NONE"
seed bad_token    "$GET$FILES$H_LINE$O_NONE$T_WRONG$L_NONE"'127.0.0.1:7601\n'
seed bad_length   "$POST$SEARCH$H_SELF$O_NONE$T_OK$L_OVER"'{"key": "a"}'
# refused on the rest: a body padded past 64 KiB, no such endpoint, a
# method not allowed (on the API, on a page), no body, JSON that is not an
# object, a missing member, a wrong type, an overlong key, a name that
# climbs out, a raw NUL and \u0000, a timeout out of range, bad transfer
# and peer ids
seed bad_size     "$POST$SEARCH$H_SELF$O_NONE$T_OK$PAD_OVER"'{"key": "a"}'
seed bad_endpoint "$GET$P_LINE$H_SELF$O_NONE$T_OK$L_NONE"'/api/nothing\n'
seed bad_method   "$M_LINE$FILES$H_SELF$O_NONE$T_OK$L_LINE"'PUT\n0\n'
seed bad_page_method "$POST$ROOT$H_SELF$O_NONE$T_NONE$L_NONE"'{}'
seed bad_no_body  "$POST$GETP$H_SELF$O_NONE$T_OK$L_NONE"
seed bad_json     "$POST$SEARCH$H_SELF$O_NONE$T_OK$L_NONE"'["key", '
seed bad_missing  "$POST$GETP$H_SELF$O_NONE$T_OK$L_NONE"'{"name": "a"}'
seed bad_type     "$POST$PEERS$H_SELF$O_NONE$T_OK$L_NONE"'{"addr": 7600}'
seed bad_long_key "$POST$SEARCH$H_SELF$O_NONE$T_OK$L_NONE"'{"key": "'"$(printf '%01025d' 0)"'"}'
seed bad_name     "$POST$GETP$H_SELF$O_NONE$T_OK$L_NONE"'{"what": "a/../../etc/passwd"}'
seed bad_raw_nul  "$POST$SEARCH$H_SELF$O_NONE$T_OK$L_NONE"'{"key": "a\000b"}'
seed bad_nul      "$POST$GETP$H_SELF$O_NONE$T_OK$L_NONE"'{"what": "ok\\u0000/../x"}'
seed bad_timeout  "$POST$SEARCH$H_SELF$O_NONE$T_OK$L_NONE"'{"key": "a", "timeout_ms": -1}'
seed bad_transfer "$GET$TRANSFER_ID$H_SELF$O_NONE$T_OK$L_NONE"'4294967296\n'
seed bad_transfer_0 "$GET$TRANSFER_ID$H_SELF$O_NONE$T_OK$L_NONE"'07\n'
seed bad_transfer_x "$GET$TRANSFER_ID$H_SELF$O_NONE$T_OK$L_NONE"'7x\n'
seed bad_peer_id  "$DELETE$PEER_ID$H_SELF$O_NONE$T_OK$L_NONE"'a/b\n'
