/* launch.c - see launch.h. */
#include "launch.h"

#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "net.h"
#include "observer.h"

extern char **environ;

/* The running target's process group, for the signal handler. */
static volatile pid_t launch_running_pgid;

void launch_kill_from_signal(void)
{
	const struct timespec step = { 0, 50 * 1000 * 1000 };
	pid_t g = launch_running_pgid;
	int saved = errno;

	if (g <= 0)
		return;
	/* SIGTERM first, so that a launcher can stop its broker and remove
	 * its files; SIGKILL what is left after 5 s. Signal-safe calls only. */
	kill(-g, SIGTERM);
	for (int i = 0; i < 100; i++) {
		waitpid(-g, NULL, WNOHANG);
		if (kill(-g, 0) < 0 && errno == ESRCH)
			break;
		nanosleep(&step, NULL);
	}
	kill(-g, SIGKILL);
	errno = saved;
}

/* environ + profile env + overrides, as a NULL-terminated array. */
static char **build_env(const struct profile *p, const struct profile_kv *ov, size_t nov)
{
	size_t n = 0, i, j, cap;
	char **env;

	while (environ[n])
		n++;
	cap = n + p->launch.nenv + nov + 1;
	env = calloc(cap, sizeof(*env));
	if (!env)
		return NULL;
	for (i = 0; i < n; i++)
		env[i] = strdup(environ[i]);
	for (j = 0; j < p->launch.nenv + nov; j++) {
		const struct profile_kv *kv = j < p->launch.nenv ? &p->launch.env[j] : &ov[j - p->launch.nenv];
		size_t kl = strlen(kv->key);

		for (i = 0; i < n; i++)
			if (env[i] && !strncmp(env[i], kv->key, kl) && env[i][kl] == '=') {
				free(env[i]);
				/* Keep the array dense: move the last one here. */
				env[i] = env[--n];
				env[n] = NULL;
				break;
			}
		if (kv->value) {
			char *s = malloc(kl + strlen(kv->value) + 2);

			if (s)
				sprintf(s, "%s=%s", kv->key, kv->value);
			env[n++] = s;
		}
	}
	env[n] = NULL;
	return env;
}

static void free_env(char **env)
{
	size_t i;

	if (!env)
		return;
	for (i = 0; env[i]; i++)
		free(env[i]);
	free(env);
}

/* Is pid already on its way out (a zombie, or exiting: PROFILE_EXITING)? A
 * process killed by a signal resets its clients' connections a moment
 * before it can be reaped. */
static bool exiting(pid_t pid)
{
	char path[64], buf[512], *p, state;
	unsigned long flags = 0;
	FILE *f;
	int n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	n = (int)fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	/* ") S ppid pgrp session tty_nr tpgid flags" */
	if (!p || sscanf(p + 1, " %c %*d %*d %*d %*d %*d %lu", &state, &flags) != 2)
		return false;
	return state == 'Z' || state == 'X' || (flags & 0x4);
}

bool launch_alive(struct launch_target *t)
{
	int st;

	if (t->pid <= 0)
		return false;
	if (waitpid(t->pid, &st, WNOHANG) == t->pid ||
	    (exiting(t->pid) && waitpid(t->pid, &st, 0) == t->pid)) {
		t->pid = 0;
		t->exited = true;
		t->status = st;
		launch_running_pgid = 0;
		return false;
	}
	return true;
}

const char *launch_exit_text(const struct launch_target *t, char *buf, size_t cap)
{
	if (!t->exited)
		snprintf(buf, cap, "its process still runs");
	else if (WIFSIGNALED(t->status))
		snprintf(buf, cap, "killed by signal %d (SIG%s)", WTERMSIG(t->status),
			 sigabbrev_np(WTERMSIG(t->status)) ? sigabbrev_np(WTERMSIG(t->status)) : "?");
	else
		snprintf(buf, cap, "exited with status %d", WEXITSTATUS(t->status));
	return buf;
}

void launch_tail(const struct launch_target *t, int n, char *buf, size_t cap)
{
	FILE *f = fopen(t->output, "rb");
	long size, start;
	char *text;
	size_t got, i;
	int lines = 0;

	buf[0] = '\0';
	if (!f)
		return;
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	start = size > 8192 ? size - 8192 : 0;
	fseek(f, start, SEEK_SET);
	text = malloc(8193);
	if (!text) {
		fclose(f);
		return;
	}
	got = fread(text, 1, 8192, f);
	fclose(f);
	text[got] = '\0';
	for (i = got; i > 0; i--)
		if (text[i - 1] == '\n' && i != got && ++lines >= n)
			break;
	snprintf(buf, cap, "%s", text + i);
	free(text);
}

static bool tcp_ready(const char *host, uint16_t port)
{
	struct perr e;
	int fd = net_connect(host, port, NULL, 300, NULL, &e);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

static bool log_ready(const struct launch_target *t, const regex_t *re)
{
	FILE *f = fopen(t->output, "rb");
	char line[4096];
	bool ok = false;

	if (!f)
		return false;
	while (!ok && fgets(line, sizeof(line), f))
		ok = regexec(re, line, 0, NULL, 0) == 0;
	fclose(f);
	return ok;
}

static bool url_ready(const char *url)
{
	struct perr e;
	long status;
	char *body;

	if (obs_http_get(url, NULL, &status, &body, &e) < 0)
		return false;
	free(body);
	return status >= 200 && status <= 299;
}

static bool all_ready(const struct profile *p, const struct launch_target *t, const regex_t *re)
{
	const struct profile_launch *la = &p->launch;
	size_t i;

	if (la->ready_listeners)
		for (i = 0; i < SC_NLISTENERS; i++)
			if (p->l[i].present && !tcp_ready(p->l[i].host, p->l[i].port))
				return false;
	for (i = 0; i < la->nready_ports; i++)
		if (!tcp_ready(p->host, la->ready_ports[i]))
			return false;
	if (la->ready_url && !url_ready(la->ready_url))
		return false;
	if (re && !log_ready(t, re))
		return false;
	return true;
}

static bool wait_exit(struct launch_target *t, int ms)
{
	int64_t deadline = net_now_ms() + ms;

	while (launch_alive(t)) {
		if (net_now_ms() >= deadline)
			return false;
		net_sleep_ms(10);
	}
	return true;
}

/* Run cmd with /bin/sh in a process group of its own, in the profile's
 * environment with overrides and in launch.workdir, its output to
 * launch.output or a temporary file (out_path: use that file instead).
 * Fills t (pid, output). Returns 0 or -1 with *e. */
static int spawn(const struct profile *p, const char *cmd, const char *out_path,
		 const struct profile_kv *overrides, size_t noverrides, struct launch_target *t,
		 struct perr *e)
{
	const struct profile_launch *la = &p->launch;
	char **env;
	int out, devnull;
	pid_t pid;

	if (out_path) {
		snprintf(t->output, sizeof(t->output), "%s", out_path);
		out = open(t->output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	} else {
		const char *tmp = getenv("TMPDIR");

		snprintf(t->output, sizeof(t->output), "%s/ppmq-conform-target-XXXXXX",
			 tmp && *tmp ? tmp : "/tmp");
		out = mkostemp(t->output, O_CLOEXEC);
		t->tmp_output = out >= 0;
	}
	if (out < 0)
		return perr_errno(e, "launch output %s", t->output);
	env = build_env(p, overrides, noverrides);
	if (!env) {
		close(out);
		return perr_set(e, "out of memory");
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		close(out);
		free_env(env);
		return perr_errno(e, "fork");
	}
	if (pid == 0) {
		setpgid(0, 0);
		devnull = open("/dev/null", O_RDONLY);
		if (devnull >= 0)
			dup2(devnull, 0);
		dup2(out, 1);
		dup2(out, 2);
		signal(SIGPIPE, SIG_DFL);
		if (la->workdir && chdir(la->workdir) < 0) {
			dprintf(2, "ppmq-conform: launch.workdir %s: %s\n", la->workdir, strerror(errno));
			_exit(127);
		}
		execle("/bin/sh", "sh", "-c", cmd, (char *)NULL, env);
		dprintf(2, "ppmq-conform: /bin/sh: %s\n", strerror(errno));
		_exit(127);
	}
	setpgid(pid, pid); /* both sides: no race with the first signal */
	close(out);
	free_env(env);
	t->pid = pid;
	launch_running_pgid = pid;
	return 0;
}

int launch_prepare(const struct profile *p, struct perr *e)
{
	const struct profile_launch *la = &p->launch;
	struct launch_target t;
	char tail[1024], how[96];
	int rc = 0;

	if (!la->present || !la->prepare)
		return 0;
	memset(&t, 0, sizeof(t));
	if (spawn(p, la->prepare, NULL, NULL, 0, &t, e) < 0) {
		launch_cleanup(&t);
		return perr_wrap(e, "launch.prepare");
	}
	if (!wait_exit(&t, la->timeout_ms)) {
		kill(-t.pid, SIGKILL);
		wait_exit(&t, 5000);
		launch_tail(&t, 10, tail, sizeof(tail));
		rc = perr_set(e, "launch.prepare (`%s`) did not end within %d ms (launch.timeout_ms); "
			      "its last output:\n%s", la->prepare, la->timeout_ms, tail);
	} else if (!WIFEXITED(t.status) || WEXITSTATUS(t.status) != 0) {
		launch_tail(&t, 10, tail, sizeof(tail));
		rc = perr_set(e, "launch.prepare (`%s`) %s; its last output:\n%s", la->prepare,
			      launch_exit_text(&t, how, sizeof(how)), tail);
	}
	launch_running_pgid = 0;
	launch_cleanup(&t);
	return rc;
}

int launch_start(const struct profile *p, const struct profile_kv *overrides, size_t noverrides,
	     struct launch_target *t, struct perr *e)
{
	const struct profile_launch *la = &p->launch;
	regex_t re;
	bool have_re = false;
	int64_t started, deadline;

	memset(t, 0, sizeof(*t));
	if (!la->present)
		return perr_set(e, "the profile has no 'launch'");
	if (la->ready_log) {
		int rc = regcomp(&re, la->ready_log, REG_EXTENDED | REG_NOSUB);

		if (rc != 0)
			return perr_set(e, "launch.ready.log: bad regex '%s'", la->ready_log);
		have_re = true;
	}
	if (spawn(p, la->start, la->output, overrides, noverrides, t, e) < 0) {
		if (have_re)
			regfree(&re);
		return -1;
	}

	started = net_now_ms();
	deadline = started + la->timeout_ms;
	for (;;) {
		char tail[1024];

		if (!launch_alive(t)) {
			launch_tail(t, 10, tail, sizeof(tail));
			if (have_re)
				regfree(&re);
			return perr_set(e, "the target exited while starting (`%s`); its last output:\n%s",
					la->start, tail);
		}
		if (all_ready(p, t, have_re ? &re : NULL))
			break;
		if (net_now_ms() >= deadline) {
			launch_stop(p, t);
			launch_tail(t, 10, tail, sizeof(tail));
			if (have_re)
				regfree(&re);
			return perr_set(e, "the target was not ready within %d ms (`%s`); its last output:\n%s",
					la->timeout_ms, la->start, tail);
		}
		/* Restarts are on the catalog's critical path: a broker that
		 * starts at once is seen at once; one that takes seconds is
		 * not asked a hundred times a second. */
		net_sleep_ms(net_now_ms() - started < 1000 ? 10 : 50);
	}
	if (have_re)
		regfree(&re);
	return 0;
}


void launch_stop(const struct profile *p, struct launch_target *t)
{
	if (t->pid <= 0)
		return;
	if (p->launch.stop) {
		char pidbuf[32];
		pid_t sp;

		snprintf(pidbuf, sizeof(pidbuf), "%d", (int)t->pid);
		fflush(NULL);
		sp = fork();
		if (sp == 0) {
			setenv("PPMQ_TARGET_PID", pidbuf, 1);
			execl("/bin/sh", "sh", "-c", p->launch.stop, (char *)NULL);
			_exit(127);
		}
		if (sp > 0) {
			int st;

			waitpid(sp, &st, 0);
		}
		if (wait_exit(t, 5000))
			return;
	}
	kill(-t->pid, SIGTERM);
	if (wait_exit(t, 5000))
		return;
	kill(-t->pid, SIGKILL);
	wait_exit(t, 5000);
	/* Whatever is left of the group goes too. */
	if (t->pid > 0) {
		int st;

		waitpid(t->pid, &st, 0);
		t->pid = 0;
	}
	launch_running_pgid = 0;
}

void launch_cleanup(struct launch_target *t)
{
	if (t->tmp_output && t->output[0])
		unlink(t->output);
	t->tmp_output = false;
}
