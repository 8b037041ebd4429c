#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *shoal_log_level_name(int level)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};

    if (level < 0 || level > SHOAL_LOG_DEBUG)
        return "unknown";
    return names[level];
}

void shoal_logf(const shoal_logger *log, int level, const char *fmt, ...)
{
    char line[1024];
    int n;
    va_list ap;

    n = snprintf(line, sizeof(line), "%s ", shoal_log_level_name(level));
    if (n < 0)
        return;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    if (log->cb != NULL) {
        log->cb(level, line, log->user);
        return;
    }
    if (log->prefix != NULL)
        fprintf(stderr, "shoal[%s] %s\n", log->prefix, line);
    else
        fprintf(stderr, "shoal %s\n", line);
}

/* The slot of key: its own, a free one (*fresh set), or, all taken, the
 * last one, which the causes beyond SHOAL_LOG_CAUSES share. */
static shoal_log_limiter *limiter_find(shoal_log_limits *limits,
                                       const char *key, int *fresh)
{
    size_t i;

    *fresh = 0;
    for (i = 0; i < SHOAL_LOG_CAUSES; i++) {
        shoal_log_limiter *l = &limits->slot[i];
        if (l->key[0] == '\0') {
            snprintf(l->key, sizeof(l->key), "%s", key);
            *fresh = 1;
            return l;
        }
        if (strncmp(l->key, key, sizeof(l->key) - 1) == 0)
            return l;
    }
    return &limits->slot[SHOAL_LOG_CAUSES - 1];
}

int shoal_log_limit(shoal_log_limits *limits, const char *key,
                    uint64_t now_ms, uint64_t *suppressed)
{
    shoal_log_limiter *l;
    int fresh;

    *suppressed = 0;
    if (key == NULL || key[0] == '\0' || limits->interval_ms == 0)
        return 1;
    l = limiter_find(limits, key, &fresh);
    if (!fresh && now_ms - l->last_ms < limits->interval_ms) {
        l->suppressed++;
        return 0;
    }
    *suppressed = l->suppressed;
    l->suppressed = 0;
    l->last_ms = now_ms;
    return 1;
}

void shoal_vlogf_limited(shoal_logger *log, int level, const char *key,
                         uint64_t now_ms, const char *fmt, va_list ap)
{
    char line[1024];
    const size_t room = sizeof(line) - 32; /* " suppressed=N" always fits */
    uint64_t held;
    int n;

    if (log->level < level ||
        !shoal_log_limit(&log->limits, key, now_ms, &held))
        return;
    n = vsnprintf(line, room, fmt, ap);
    if (n < 0)
        return;
    if ((size_t)n >= room)
        n = (int)room - 1;
    if (held > 0)
        snprintf(line + n, sizeof(line) - (size_t)n, " suppressed=%llu",
                 (unsigned long long)held);
    shoal_logf(log, level, "%s", line);
}

void shoal_logf_limited(shoal_logger *log, int level, const char *key,
                        uint64_t now_ms, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    shoal_vlogf_limited(log, level, key, now_ms, fmt, ap);
    va_end(ap);
}

uint64_t shoal_log_now(const shoal_logger *log)
{
    return log->loop != NULL ? uv_now(log->loop) : uv_hrtime() / 1000000;
}

const char *shoal_log_text(const char *text, char *buf, size_t size)
{
    size_t i;

    if (size == 0)
        return buf;
    if (text == NULL)
        text = "(null)";
    for (i = 0; i + 1 < size && text[i] != '\0'; i++) {
        unsigned char c = (unsigned char)text[i];
        buf[i] = c < 0x20 || c == 0x7f || c == '"' || c == '\\' ? '?'
                                                               : (char)c;
    }
    buf[i] = '\0';
    return buf;
}
