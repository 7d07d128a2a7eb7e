/* runner.h - run the catalog against a target: every selected scenario on
 * every selected listener (one test point each), grouped by the target
 * configuration it needs (the base launch first, then one restart per
 * distinct configuration), -j N worker threads per group, results handed
 * to the report in catalog order as soon as they are known.
 */
#ifndef PPMQ_CONFORM_RUNNER_H
#define PPMQ_CONFORM_RUNNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "err.h"
#include "profile.h"
#include "../reports/report.h"
#include "scenario.h"

struct runner_config {
	struct profile *profile;
	struct sc_catalog *catalog;
	char **only;             /* --only patterns (sc_matches); none = all */
	size_t nonly;
	unsigned listeners;      /* bit per sc_listener; 0 = all */
	int jobs;                /* worker threads, >= 1 */
	int timeout_ms;          /* 0: the profile's */
	bool strict, verbose;
	bool no_preflight;       /* skip the pre-flight checks of listeners and observers */
	int wait_s;              /* --wait: give the target that long to accept on every listener */
	FILE *tap;               /* TAP stream, NULL for none */
};

/* runner_run results besides 0. */
#define RUNNER_ERROR       (-1)  /* configuration error: *e says why (exit 2) */
#define RUNNER_UNREACHABLE (-3)  /* nothing answers on any listener (exit 3) */

/* Run everything, appending one result per point to run and writing the
 * TAP plan and points (not the summary: the caller adds the run's
 * duration first). Returns 0, or
 * RUNNER_ERROR / RUNNER_UNREACHABLE with *e set. */
int runner_run(const struct runner_config *c, struct rpt_run *run, struct perr *e);

/* What a run would do with each point, decided without running anything
 * (--check-profile): where it runs, or why it will be skipped. */
struct runner_planned {
	const struct scenario *s;
	enum sc_listener l;
	enum sc_mode mode;      /* the listener's mode where it runs */
	char *skip;             /* why it will SKIP, or NULL: it runs */
	bool unsupported;       /* not run, graded UNSUPPORTED (no_proxy_support) */
	char *configuration;    /* the restart it runs in (canonical), NULL: the base */
};

/* Every point, in catalog order: 0, or RUNNER_ERROR with *e. */
int runner_plan(const struct runner_config *c, struct runner_planned **out, size_t *n, struct perr *e);
void runner_plan_free(struct runner_planned *v, size_t n);

/* Selected scenarios, in catalog order (for --list). *n gets the count;
 * the array is malloc'd. */
const struct scenario **runner_select(const struct runner_config *c, size_t *n);

/* Client id of a connection: "ppmq-<hash of id>-<listener>-<n>", at most
 * 23 characters for n < 2^20 (the MQTT 3.1.1 limit brokers may enforce). */
void runner_client_id(const char *scenario_id, enum sc_listener l, unsigned n, char *buf, size_t cap);

/* Why scenario s cannot run on listener l when that listener is in the
 * given mode (text in buf), or NULL when it can. The runner asks again
 * under a configurations.modes configuration before it gives up. */
const char *runner_skip_reason(const struct profile *p, const struct scenario *s, enum sc_listener l,
			   enum sc_mode mode, char *buf, size_t cap);

/* The longest the runner waits for a scenario that waits on the header
 * timeout: the profile's header timeout + 1 s (4 s when it has none). */
int runner_header_wait(const struct profile *p);
/* The same for listener l, whose own header_timeout_ms (when it has one)
 * replaces the profile's. */
int runner_listener_header_wait(const struct profile *p, enum sc_listener l);

#endif
