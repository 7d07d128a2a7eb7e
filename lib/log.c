/* log.c - see log.h. */
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char *log_prog = "ppmq";
static enum log_level log_lvl = LOG_INFO;
static FILE *log_file;
static long log_pid;          /* read by log_init; 0: read on every line */

static const char *const level_names[] = { "error", "warn", "info", "debug" };

/* In a forked child (an atfork handler may call getpid). */
static void child_pid(void)
{
	log_pid = (long)getpid();
}

void log_init(const char *prog, enum log_level level)
{
	static bool watching_forks;

	log_prog = prog;
	log_lvl = level;
	/* The pid of every line, read once: glibc does not cache getpid(),
	 * and a line would otherwise cost a system call for it. */
	if (!watching_forks)
		watching_forks = pthread_atfork(NULL, NULL, child_pid) == 0;
	log_pid = watching_forks ? (long)getpid() : 0;
}

int log_open(const char *path)
{
	FILE *f = fopen(path, "a");

	if (!f)
		return -1;
	setvbuf(f, NULL, _IOLBF, 0);
	log_close();
	log_file = f;
	return 0;
}

void log_close(void)
{
	if (log_file)
		fclose(log_file);
	log_file = NULL;
}

void log_set_level(enum log_level level)
{
	log_lvl = level;
}

bool log_enabled(enum log_level level)
{
	return level <= log_lvl;
}

int log_level_parse(const char *s)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcmp(s, level_names[i]) == 0)
			return (int)i;
	return -1;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char line[2048];
	char ts[32];
	struct timeval tv;
	struct tm tm;
	va_list ap;
	int n;

	if (level > log_lvl)
		return;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(line, sizeof(line), "%s.%03ldZ %s[%ld] %s: ", ts,
		     (long)(tv.tv_usec / 1000), log_prog, log_pid ? log_pid : (long)getpid(),
		     level_names[level]);
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof(line))
		vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	/* One write per record, so that lines from several processes do not mix. */
	fprintf(log_file ? log_file : stderr, "%s\n", line);
}
