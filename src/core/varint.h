/* Unsigned LEB128 varints, as multiformats and protobuf use them. Only the
 * minimal encoding is accepted, and at most 9 bytes (63 bits), as the
 * multiformats unsigned-varint spec requires. */
#ifndef SHOAL_CORE_VARINT_H
#define SHOAL_CORE_VARINT_H

#include <stddef.h>
#include <stdint.h>

#define SHOAL_VARINT_MAX 9

/* Writes v (< 2^63) to out, returns the number of bytes (1..9). */
size_t shoal_varint_encode(uint64_t v, uint8_t out[SHOAL_VARINT_MAX]);

/* Reads a varint from in[0..len). Returns the bytes used (> 0), 0 when more
 * bytes are needed, or SHOAL_EPROTO for an overlong or non-minimal one. */
int shoal_varint_decode(const uint8_t *in, size_t len, uint64_t *out);

/* Bytes the encoding of v takes. */
size_t shoal_varint_size(uint64_t v);

#endif
