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
#include "runner.h"

/* Load yaml; fail the test with the loader's message when it does not. */
static void load_ok(struct profile *p, const char *yaml)
{
	struct perr e;

	if (profile_load_string(p, "p.yml", yaml, &e) < 0)
		fail_msg("%s", e.msg);
}

/* yaml must be refused with a message starting with where and holding what. */
static void load_bad(const char *yaml, const char *where, const char *what)
{
	struct profile p;
	struct perr e;
	int rc;

	memset(&e, 0, sizeof(e));
	rc = profile_load_string(&p, "p.yml", yaml, &e);
	if (rc != -1 || strncmp(e.msg, where, strlen(where)) || !strstr(e.msg, what))
		fail_msg("rc %d, message '%s'; wanted '%s...%s'", rc, e.msg, where, what);
	profile_free(&p);
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
	profile_free(&p);
	load_ok(&p, HEAD "observers: {sessions: {type: http, url: u, ip_field: i, connected_field: c}}\n");
	assert_null(p.sessions.connected_value);
	profile_free(&p);
	load_bad(HEAD "observers:\n  sessions: {type: http, url: u, ip_field: i, connected_value: CONNECTED}\n",
		 "p.yml:5:64:", "connected_value: needs 'connected_field'");
	load_bad(HEAD "observers:\n  sessions: {type: log, file: f, regex: '{client_id}', connected_value: x}\n",
		 "p.yml:5:56:", "unknown key 'connected_value'");
}

static void test_login(void **state)
{
	struct profile p;
	const struct profile_login *g;

	(void)state;
	setenv("PPMQ_T_PW", "from-env", 1);
	load_ok(&p, HEAD "observers:\n"
		"  sessions:\n"
		"    type: http\n"
		"    url: u\n"
		"    ip_field: i\n"
		"    auth: &api\n"
		"      login:\n"
		"        url: http://127.0.0.1:8083/api/auth/login\n"
		"        json: {username: admin, password: \"${PPMQ_T_PW}\"}\n"
		"        token_field: token\n"
		"        header: X-Authorization\n"
		"  unauthorized: {type: http, url: v, ip_field: i, auth: *api}\n");
	g = p.sessions.login;
	assert_non_null(g);
	assert_ptr_equal(p.unauthorized.login, g); /* one login, shared through the alias */
	assert_int_equal(p.nlogins, 1);
	assert_string_equal(g->method, "POST");
	assert_string_equal(g->url, "http://127.0.0.1:8083/api/auth/login");
	assert_int_equal(g->body, PROFILE_BODY_JSON);
	assert_int_equal(g->nfields, 2);
	assert_string_equal(g->fields[1].key, "password");
	assert_string_equal(g->fields[1].value, "from-env");
	assert_string_equal(g->token_field, "token");
	assert_null(g->token_header);
	assert_string_equal(g->header, "X-Authorization");
	assert_string_equal(g->scheme, "Bearer");
	assert_int_equal(g->gen, 0);
	profile_free(&p);
	load_ok(&p, HEAD "observers:\n"
		"  sessions: {type: http, url: u, ip_field: i, insecure: true,\n"
		"             auth: {login: {url: https://h/l, method: PUT, form: {a: b}, token_header: X-T, scheme: ''}}}\n");
	g = p.sessions.login;
	assert_string_equal(g->method, "PUT");
	assert_int_equal(g->body, PROFILE_BODY_FORM);
	assert_string_equal(g->token_header, "X-T");
	assert_string_equal(g->header, "Authorization");
	assert_string_equal(g->scheme, "");
	assert_true(g->insecure);
	profile_free(&p);
	unsetenv("PPMQ_T_PW");
}

#define OBS "observers:\n  sessions:\n    type: http\n    url: u\n    ip_field: i\n    auth:\n"

static const struct { const char *auth, *where, *what; } login_errors[] = {
	{ "      login: {json: {a: b}, token_field: t}\n", "p.yml:10:14:", "auth.login: missing 'url'" },
	{ "      login: {url: x}\n", "p.yml:10:14:", "give 'token_field'" },
	{ "      login: {url: x, token_field: t, token_header: h}\n", "p.yml:10:14:", "or 'token_header'" },
	{ "      login: {url: x, token_field: t, json: {a: b}, form: {a: b}}\n", "p.yml:10:59:",
	  "give 'json' or 'form', not both" },
	{ "      login: {url: x, token_field: t, method: DELETE}\n", "p.yml:10:47:",
	  "method: 'DELETE' is not POST, PUT or GET" },
	{ "      login: {url: x, token_field: t, header: 'X-A: b'}\n", "p.yml:10:47:",
	  "header: 'X-A: b' is not a header name" },
	{ "      login: {url: x, token_feld: t}\n", "p.yml:10:23:",
	  "unknown key 'token_feld' (did you mean 'token_field'?)" },
	{ "      bearer: b\n      login: {url: x, token_field: t}\n", "p.yml:10:7:",
	  "give one of bearer, basic and login" },
	{ "      login: {url: x, token_field: t, json: {a: [1]}}\n", "p.yml:10:49:",
	  "auth.login: expected a single value" },
};

static void test_login_errors(void **state)
{
	char yaml[512];

	(void)state;
	for (size_t i = 0; i < sizeof(login_errors) / sizeof(login_errors[0]); i++) {
		snprintf(yaml, sizeof(yaml), "%s%s%s", HEAD, OBS, login_errors[i].auth);
		load_bad(yaml, login_errors[i].where, login_errors[i].what);
	}
}

static void test_listener_header_timeout(void **state)
{
	struct profile p;

	(void)state;
	load_ok(&p, "name: n\nhost: h\nheader_timeout_ms: 3000\nlisteners:\n"
		"  tcp: {port: 1}\n"
		"  ws: {port: 2, header_timeout_ms: 1000}\n"
		"  wss: {port: 3, header_timeout_ms: none, tls: {insecure: true}}\n");
	assert_int_equal(p.l[SC_TCP].header_timeout_ms, -1);
	assert_int_equal(runner_listener_header_wait(&p, SC_TCP), 4000);
	assert_int_equal(p.l[SC_WS].header_timeout_ms, 1000);
	assert_int_equal(runner_listener_header_wait(&p, SC_WS), 2000);
	assert_int_equal(p.l[SC_WSS].header_timeout_ms, 0);
	assert_int_equal(runner_listener_header_wait(&p, SC_WSS), 4000);
	assert_int_equal(runner_header_wait(&p), 4000);
	profile_free(&p);
	load_bad("name: n\nhost: h\nlisteners:\n  ws: {port: 2, header_timeout_ms: 10}\n", "p.yml:4:36:",
		 "listeners.ws.header_timeout_ms: 10 is out of range");
}

static void test_no_proxy_support(void **state)
{
	struct profile p;

	(void)state;
	load_ok(&p, "name: n\nhost: h\nno_proxy_support: \"CE: no such option\"\n"
		"listeners:\n  tcp: {port: 1}\n  ws: {port: 2, proxy: disabled}\n  wss: {proxy: absent}\n");
	assert_string_equal(p.no_proxy_support, "CE: no such option");
	assert_int_equal(p.l[SC_TCP].mode, SC_MODE_DISABLED); /* the default without PROXY support */
	assert_int_equal(p.l[SC_WS].mode, SC_MODE_DISABLED);
	assert_false(p.l[SC_WSS].present);
	profile_free(&p);
	load_ok(&p, "name: n\nhost: h\nno_proxy_support: \"${PPMQ_T_UNSET_X}\"\nlisteners: {tcp: {port: 1}}\n");
	assert_null(p.no_proxy_support); /* empty: it has PROXY support */
	assert_int_equal(p.l[SC_TCP].mode, SC_MODE_ENABLED);
	profile_free(&p);
	load_bad("name: n\nhost: h\nno_proxy_support: x\nlisteners: {tcp: {port: 1, proxy: optional}}\n",
		 "p.yml:4:35:", "listeners.tcp.proxy: 'optional', but no_proxy_support says");
	load_bad("name: n\nhost: h\nno_proxy_support: x\nlisteners: {tcp: {port: 1}}\nlaunch: {start: x}\n"
		 "configurations: {settings: {global: G}}\n", "p.yml:6:17:", "no PROXY settings to restart");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_connected_value),
		cmocka_unit_test(test_login),
		cmocka_unit_test(test_login_errors),
		cmocka_unit_test(test_listener_header_timeout),
		cmocka_unit_test(test_no_proxy_support),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
