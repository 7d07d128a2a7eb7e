/* log.h - one-line log records: "TIME PROG[PID] LEVEL: message".
 * Written to stderr unless log_open() names a file. */
#ifndef PPMQ_LOG_H
#define PPMQ_LOG_H

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

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
