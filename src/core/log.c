#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>

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
