/* launch.h - start and stop the target broker for a run (profile
 * `launch`): a shell command in its own process group, with the profile's
 * environment plus a configuration's overrides, its output in a file,
 * "ready" when every condition of launch.ready holds.
 */
#ifndef PPMQ_CONFORM_LAUNCH_H
#define PPMQ_CONFORM_LAUNCH_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include "err.h"
#include "profile.h"

struct launch_target {
	pid_t pid;               /* 0: not running */
	bool exited;             /* reaped by launch_alive: status holds its wait status */
	int status;
	char output[512];        /* file with the broker's stdout and stderr */
	bool tmp_output;         /* ours to delete */
};

/* Run launch.prepare (if any) once, before the first start: in the
 * profile's environment, in launch.workdir, its output kept in memory.
 * Returns 0, or -1 with *e saying why and its last lines of output. */
int launch_prepare(const struct profile *p, struct perr *e);

/* Start the target with overrides (value NULL = remove the variable) and
 * wait until ready. On failure the target is stopped again and *e says
 * why, with the last lines of its output. */
int launch_start(const struct profile *p, const struct profile_kv *overrides, size_t noverrides,
	     struct launch_target *t, struct perr *e);

/* Stop it (stop command or SIGTERM to the group, SIGKILL after 5 s) and
 * reap it. Safe on a target that is not running. Keeps the output file. */
void launch_stop(const struct profile *p, struct launch_target *t);

/* Delete a temporary output file. */
void launch_cleanup(struct launch_target *t);

/* Is it still running? */
bool launch_alive(struct launch_target *t);

/* How a target that launch_alive found gone ended: "killed by signal 6
 * (SIGABRT)", "exited with status 1". */
const char *launch_exit_text(const struct launch_target *t, char *buf, size_t cap);

/* Last n lines of the output into buf. */
void launch_tail(const struct launch_target *t, int n, char *buf, size_t cap);

/* Called from a signal handler: SIGTERM the running target's group, then
 * SIGKILL what is left after 5 s. */
void launch_kill_from_signal(void);

#endif
