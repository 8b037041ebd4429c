#!/bin/sh
# Writes the seed corpora of fuzz_multiaddr (tests/fuzz/corpus/multiaddr/)
# and fuzz_peerid (tests/fuzz/corpus/peerid/). Each target reads every
# input both as text and as bytes (see the targets), so the seeds are a mix
# of the two. Run from anywhere; it rewrites only the seeds named below.
set -eu
dir="$(dirname "$0")/corpus"
mkdir -p "$dir/multiaddr" "$dir/peerid"

# text seeds: text <target> <name> <text>
text() { printf '%s' "$3" > "$dir/$1/$2"; }
# binary seeds from hex: bin <target> <name> <hex>
bin() {
    hex=$3
    : > "$dir/$1/$2"
    while [ -n "$hex" ]; do
        rest=${hex#??}
        pair=${hex%"$rest"}
        printf "\\$(printf '%03o' "0x$pair")" >> "$dir/$1/$2"
        hex=$rest
    done
}

ID=12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq
ID_HEX=0024080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e
QM=QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N
QM_HEX=12209dff3b17d74cf4d38a50d8b6383e92d181a10395a5e73a726dcccbd21bf6f0b9

# ---- multiaddr
text multiaddr t_ip4_tcp      /ip4/127.0.0.1/tcp/4001
text multiaddr t_ip6_udp      /ip6/2001:db8::1/udp/4001
text multiaddr t_ip6_mapped   /ip6/::ffff:1.2.3.4/tcp/1
text multiaddr t_dns4_ws      /dns4/node-1.example.org/tcp/9000/ws
text multiaddr t_dns6_wss     /dns6/example.com/tcp/443/wss
text multiaddr t_dnsaddr      /dnsaddr/bootstrap.libp2p.io/p2p/$QM
text multiaddr t_p2p          /ip4/127.0.0.1/tcp/4001/p2p/$ID
text multiaddr t_ipfs         /ipfs/$QM
text multiaddr t_circuit      /ip4/1.2.3.4/tcp/4001/p2p/$ID/p2p-circuit/p2p/$QM
text multiaddr t_bad_port     /ip4/1.2.3.4/tcp/65536
bin multiaddr b_ip4_tcp       047f000001060fa1
bin multiaddr b_ip6_tcp       2900000000000000000000000000000001060fa1
bin multiaddr b_ip4_udp       040102030491020035
bin multiaddr b_dns4          360b6578616d706c652e636f6d0601bb
bin multiaddr b_p2p           047f000001060fa1a50326$ID_HEX
bin multiaddr b_circuit_ws    0401020304060050dd03a202a50322$QM_HEX
bin multiaddr b_len_past_end  3605616263
bin multiaddr b_varint_10     80808080808080808001

# ---- peerid
text peerid t_ed25519         $ID
text peerid t_sha256          $QM
text peerid t_cid_ed25519     bafzaajaiaejcahwr5d5ofrfbis4l5d6uwr57hu5tjodrypfm6yaq6dsc2r2pzyt6
text peerid t_cid_sha256      bafzbeie5745rpv2m6tjyuugywy4d5ewrqgqqhfnf445he3omzpjbx5xqxe
text peerid t_bad_char        12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3p0
bin peerid b_pubkey           080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e
bin peerid b_pubkey_extra     080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e1a0100
bin peerid b_id_ed25519       $ID_HEX
bin peerid b_id_sha256        $QM_HEX
# RFC 8032 test 1: public key, signature of the empty message
bin peerid b_verify           d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511ae5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b
