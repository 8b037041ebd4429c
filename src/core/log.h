/* Internal logging: one line per event, "event key=value ...". */
#ifndef SHOAL_CORE_LOG_H
#define SHOAL_CORE_LOG_H

#include "shoal.h"

typedef struct shoal_logger {
    int level;
    shoal_log_cb cb;   /* NULL: stderr */
    void *user;
    const char *prefix; /* e.g. the node id, borrowed */
} shoal_logger;

void shoal_logf(const shoal_logger *log, int level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* text (NULL: "(null)") made fit for a quoted value of a log line, in
 * buf: quotes, backslashes and control bytes become '?', and it is cut to
 * size - 1 bytes. Returns buf. For strings a caller or a peer gave. */
const char *shoal_log_text(const char *text, char *buf, size_t size);

#define SHOAL_LOG(lg, lvl, ...)                                          \
    do {                                                                 \
        if ((lg)->level >= (lvl))                                        \
            shoal_logf((lg), (lvl), __VA_ARGS__);                        \
    } while (0)

#endif
