/* How configuration structs grow without breaking older programs: see
 * config.h and shoal.h's configuration section. */
#include "core/config.h"

#include <string.h>

#include "core/log.h"

/* No config struct comes near this: a larger size is garbage (a struct
 * that never went through its *_config_init), not a newer header. */
#define CFG_SIZE_MAX 65536

void shoal_cfg_fill(void *cfg, size_t size, const void *defaults,
                    size_t full)
{
    if (cfg == NULL || size < sizeof(size_t))
        return;
    if (size <= full) {
        memcpy(cfg, defaults, size);
    } else {
        memcpy(cfg, defaults, full);
        memset((char *)cfg + full, 0, size - full);
    }
    memcpy(cfg, &size, sizeof(size));
}

static int refuse(shoal_node *node, const char *what, size_t size,
                  const char *why)
{
    static const shoal_logger to_stderr = {.level = SHOAL_LOG_WARN};

    if (node != NULL)
        shoal_log(node, SHOAL_LOG_WARN,
                  "config_refused struct=%s size=%zu reason=\"%s\"", what,
                  size, why);
    else
        shoal_logf(&to_stderr, SHOAL_LOG_WARN,
                   "config_refused struct=%s size=%zu reason=\"%s\"", what,
                   size, why);
    return SHOAL_EINVAL;
}

int shoal_cfg_take(shoal_node *node, const char *what, void *own,
                   size_t full, const void *given)
{
    const unsigned char *extra;
    size_t size, i;

    if (given == NULL)
        return 0;
    memcpy(&size, given, sizeof(size));
    if (size == 0)
        return refuse(node, what, size,
                      "size is 0: fill the struct with its _config_init "
                      "before setting fields");
    if (size < sizeof(size_t) || size > CFG_SIZE_MAX)
        return refuse(node, what, size,
                      "size is not one a _config_init sets: fill the "
                      "struct with its _config_init");
    if (size > full) {
        /* A program built against a newer header: fine as long as it left
         * the fields this library lacks as init made them (zero). */
        extra = (const unsigned char *)given + full;
        for (i = 0; i < size - full; i++)
            if (extra[i] != 0)
                return refuse(node, what, size,
                              "fields this version of the library does not "
                              "have are set (built against a newer header)");
        size = full;
    }
    memcpy(own, given, size);
    memcpy(own, &full, sizeof(full));
    return 0;
}
