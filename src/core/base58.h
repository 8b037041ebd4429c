/* base58btc (the Bitcoin alphabet), as peer ids use it. */
#ifndef SHOAL_CORE_BASE58_H
#define SHOAL_CORE_BASE58_H

#include <stddef.h>
#include <stdint.h>

/* Encodes in[0..len) as NUL-terminated text into out (size bytes). Returns
 * the text length, or SHOAL_EINVAL if it does not fit. Inputs up to 256
 * bytes. */
int shoal_base58_encode(const uint8_t *in, size_t len, char *out,
                        size_t size);

/* Decodes text into out (size bytes). Returns the byte count, or
 * SHOAL_EINVAL for a character outside the alphabet, text over 512
 * characters, or output that does not fit. */
int shoal_base58_decode(const char *text, uint8_t *out, size_t size);

#endif
