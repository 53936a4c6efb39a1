/*
 * log.h — thread-safe structured logger.
 *
 * One line per event on stderr: JSON with Cloud Logging's field names
 * (severity, message, time) or plain text. The level check happens before
 * any formatting, so a disabled debug line costs one comparison. Safe to call
 * from any thread, including librdkafka's and libmicrohttpd's.
 */
#ifndef COLIBRI_LOG_H
#define COLIBRI_LOG_H

#include <stdbool.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

extern enum log_level log_min_level;

/* Parse "debug|info|warn|warning|error"; COLIBRI_EINVAL on anything else. */
int log_level_parse(const char *s, enum log_level *out);

/* json = true: one JSON object per line; false: "LEVEL message key=value". */
void log_setup(enum log_level min, bool json);

/*
 * Log msg at level with optional extra fields: a NULL-terminated list of
 * key, value string pairs (values are JSON-escaped; "key" starting with '#'
 * marks a raw JSON value, e.g. a number or an object).
 */
void log_fields(enum log_level level, const char *func, const char *msg, ...);

/* printf-style message, no extra fields. */
void log_msg(enum log_level level, const char *func, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_debug(...) do { if (log_min_level <= LOG_DEBUG) log_msg(LOG_DEBUG, __func__, __VA_ARGS__); } while (0)
#define log_info(...)  do { if (log_min_level <= LOG_INFO)  log_msg(LOG_INFO,  __func__, __VA_ARGS__); } while (0)
#define log_warn(...)  do { if (log_min_level <= LOG_WARN)  log_msg(LOG_WARN,  __func__, __VA_ARGS__); } while (0)
#define log_error(...) log_msg(LOG_ERROR, __func__, __VA_ARGS__)

#endif
