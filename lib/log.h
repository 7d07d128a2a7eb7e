/* log.h - one-line log records: "TIME PROG[PID] LEVEL: message".
 * Written to stderr unless log_open() names a file. */
#ifndef PPMQ_LOG_H
#define PPMQ_LOG_H

#include <stdbool.h>

enum log_level { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };

void log_init(const char *prog, enum log_level level);
/* Append to path as well as ... instead of stderr. Returns 0 or -1 (errno). */
int log_open(const char *path);
void log_close(void);
void log_set_level(enum log_level level);
/* "error" | "warn" | "info" | "debug" -> level; -1 when unknown. */
int log_level_parse(const char *s);
void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Would a record of this level be written? */
bool log_enabled(enum log_level level);

/* A line below the level costs nothing: its arguments (text made for
 * it) are not even evaluated. */
#define log_at(level, ...) do { if (log_enabled(level)) log_msg(level, __VA_ARGS__); } while (0)
#define log_error(...) log_at(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_at(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_at(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_at(LOG_DEBUG, __VA_ARGS__)

#endif
