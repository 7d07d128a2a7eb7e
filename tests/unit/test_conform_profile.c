/* test_conform_profile.c - the profile keys that describe what a broker's
 * records look like and how to reach them: connected_value, with the
 * errors a profile gets for them (file:line:col). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profile.h"

/* Load yaml; fail the test with the loader's message when it does not. */
static void load_ok(struct profile *p, const char *yaml)
{
	struct perr e;

	if (pf_load_string(p, "p.yml", yaml, &e) < 0)
		fail_msg("%s", e.msg);
}

/* yaml must be refused with a message starting with where and holding what. */
static void load_bad(const char *yaml, const char *where, const char *what)
{
	struct profile p;
	struct perr e;
	int rc;

	memset(&e, 0, sizeof(e));
	rc = pf_load_string(&p, "p.yml", yaml, &e);
	if (rc != -1 || strncmp(e.msg, where, strlen(where)) || !strstr(e.msg, what))
		fail_msg("rc %d, message '%s'; wanted '%s...%s'", rc, e.msg, where, what);
	pf_free(&p);
}

#define HEAD "name: n\nhost: h\nlisteners: {tcp: {port: 1}}\n"

static void test_connected_value(void **state)
{
	struct profile p;

	(void)state;
	load_ok(&p, HEAD "observers:\n"
		"  sessions: {type: http, url: u, ip_field: clientIpAdr,\n"
		"             connected_field: connectionState, connected_value: CONNECTED}\n");
	assert_string_equal(p.sessions.connected_field, "connectionState");
	assert_string_equal(p.sessions.connected_value, "CONNECTED");
	pf_free(&p);
	load_ok(&p, HEAD "observers: {sessions: {type: http, url: u, ip_field: i, connected_field: c}}\n");
	assert_null(p.sessions.connected_value);
	pf_free(&p);
	load_bad(HEAD "observers:\n  sessions: {type: http, url: u, ip_field: i, connected_value: CONNECTED}\n",
		 "p.yml:5:64:", "connected_value: needs 'connected_field'");
	load_bad(HEAD "observers:\n  sessions: {type: log, file: f, regex: '{client_id}', connected_value: x}\n",
		 "p.yml:5:56:", "unknown key 'connected_value'");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_connected_value),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
