/* Internal: the rule that lets the public configuration structs grow
 * (shoal.h, "configuration"). Each struct starts with size_t size; its
 * *_config_init macro passes the program's sizeof, and its *_new reads
 * only that many bytes of the program's struct, over the library's own
 * defaults. */
#ifndef SHOAL_CORE_CONFIG_H
#define SHOAL_CORE_CONFIG_H

#include <stddef.h>

#include "shoal.h"

/* Fills the program's struct cfg (size bytes, its sizeof) from defaults
 * (full bytes, the library's own struct filled with its defaults): the
 * first size bytes of them, zeros past full (fields of a newer header that
 * this library does not know), and size in its size member. A size too
 * small to hold the size member: nothing is written. */
void shoal_cfg_fill(void *cfg, size_t size, const void *defaults,
                    size_t full);

/* Copies the program's struct given over own (full bytes, already filled
 * with defaults), as far as given's size member says, so that fields an
 * older program does not know keep their defaults; own's size stays full.
 * given NULL: own is left as it is. SHOAL_EINVAL, with a WARN line through
 * node's log (stderr when node is NULL) naming the struct (what) and the
 * reason, for a size of 0 (a struct not filled by its *_config_init), one
 * too small or implausibly large, or one larger than full whose extra
 * bytes are not all zero (fields this library does not have were set). */
int shoal_cfg_take(shoal_node *node, const char *what, void *own,
                   size_t full, const void *given);

#endif
