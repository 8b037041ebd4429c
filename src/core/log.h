/* Internal logging: one line per event, "event key=value ...". */
#ifndef SHOAL_CORE_LOG_H
#define SHOAL_CORE_LOG_H

#include <stdarg.h>
#include <stdint.h>

#include "shoal.h"

/* Causes a logger limits at once; more share the last slot. */
#define SHOAL_LOG_CAUSES 32
#define SHOAL_LOG_KEY_MAX 32
/* shoal_config's default log_interval_ms. */
#define SHOAL_LOG_INTERVAL_MS 1000

/* One cause's limit: when its last line went out, and how many were held
 * back since. */
typedef struct shoal_log_limiter {
    char key[SHOAL_LOG_KEY_MAX]; /* "": a free slot */
    uint64_t last_ms;
    uint64_t suppressed;
} shoal_log_limiter;

/* Lines a remote peer can cause once per event (a refusal, a drop, bad
 * input), limited per cause: the first passes, then at most one per
 * interval, carrying how many were held back. Per logger, so per node. */
typedef struct shoal_log_limits {
    uint32_t interval_ms; /* 0: every line passes */
    shoal_log_limiter slot[SHOAL_LOG_CAUSES];
} shoal_log_limits;

typedef struct shoal_logger {
    int level;
    shoal_log_cb cb;   /* NULL: stderr */
    void *user;
    const char *prefix; /* e.g. the node id, borrowed */
    uv_loop_t *loop;    /* the clock of limited lines; NULL: uv_hrtime */
    shoal_log_limits limits;
} shoal_logger;

void shoal_logf(const shoal_logger *log, int level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Whether a line of cause key may go out at now_ms (milliseconds of any
 * monotonic clock): 1, with *suppressed set to the lines of that cause held
 * back since the last one that went out; or 0, and this one is counted as
 * held back. A NULL key or an interval of 0 always passes. No I/O, no
 * clock of its own: a test drives it with made-up times. */
int shoal_log_limit(shoal_log_limits *limits, const char *key,
                    uint64_t now_ms, uint64_t *suppressed);

/* shoal_logf for a line of cause key, through shoal_log_limit at now_ms;
 * a line that goes out after some were held back ends with
 * " suppressed=N". Held-back lines are only told by the next one that goes
 * out. One thread at a time per logger (the node's loop thread). */
void shoal_logf_limited(shoal_logger *log, int level, const char *key,
                        uint64_t now_ms, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;
void shoal_vlogf_limited(shoal_logger *log, int level, const char *key,
                         uint64_t now_ms, const char *fmt, va_list ap);

/* The limiter's clock: the logger's loop time, or uv_hrtime in ms. */
uint64_t shoal_log_now(const shoal_logger *log);

/* text (NULL: "(null)") made fit for a quoted value of a log line, in
 * buf: quotes, backslashes and control bytes become '?', and it is cut to
 * size - 1 bytes. Returns buf. For strings a caller or a peer gave. */
const char *shoal_log_text(const char *text, char *buf, size_t size);

#define SHOAL_LOG(lg, lvl, ...)                                          \
    do {                                                                 \
        if ((lg)->level >= (lvl))                                        \
            shoal_logf((lg), (lvl), __VA_ARGS__);                        \
    } while (0)

/* SHOAL_LOG for a line a remote peer can cause once per event: lines of
 * one key (the cause, e.g. "conn_reject") are limited to one per the
 * logger's interval. A line dropped by level is not counted. Loop thread
 * only. */
#define SHOAL_LOG_LIMITED(lg, lvl, key, ...)                             \
    do {                                                                 \
        if ((lg)->level >= (lvl))                                        \
            shoal_logf_limited((lg), (lvl), (key), shoal_log_now(lg),    \
                               __VA_ARGS__);                             \
    } while (0)

#endif
