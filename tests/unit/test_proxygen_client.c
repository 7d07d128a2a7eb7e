/* test_proxygen_client.c - the client options `proxygen send` and
 * `proxygen flood` share (proxygen/opts_client): one parse fills a struct
 * client_opts, a subcommand takes only the options it names, and the checks
 * word their messages from the options it has. Usage errors are read back
 * from stderr. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "opts_client.h"

/* ---- a subcommand made for the tests ------------------------------------ */

enum { T_HELP = 'h', T_FLAG = 0x100 };

static const struct option own[] = {
	{ "flag", no_argument, NULL, T_FLAG },
	{ "help", no_argument, NULL, T_HELP },
	{ NULL, 0, NULL, 0 }
};

struct t_args {
	int flags;
	int helps;
};

static int usages;

/* Counts instead of printing: stdout is the TAP stream. */
static void t_usage(FILE *f)
{
	(void)f;
	usages++;
}

static int t_apply(void *args, int code, const char *arg)
{
	struct t_args *a = args;

	(void)arg;
	assert_int_equal(code, T_FLAG); /* the others never come here */
	a->flags++;
	return 0;
}

static const struct opts_cl_spec all = {
	.cmd = "t", .opts = OPTS_CL_ALL, .timeout_max = 1000,
	.shortopts = ":h", .own = own, .usage = t_usage, .apply = t_apply,
};

/* As flood: no certificate, subprotocol or client id; port 0 refused. */
static const struct opts_cl_spec few = {
	.cmd = "t", .opts = OPTS_CL_ALL & ~(OPTS_CL(OPT_CL_CERT) | OPTS_CL(OPT_CL_KEY) |
					   OPTS_CL(OPT_CL_SUBPROTOCOL) | OPTS_CL(OPT_CL_CLIENT_ID)),
	.timeout_max = 1000, .port_nonzero = true,
	.shortopts = ":h", .own = own, .usage = t_usage, .apply = t_apply,
};

/* What a parse (and, when check, the check after it) printed on stderr,
 * into err; returns the status. */
static int run(const struct opts_cl_spec *s, struct opts_client *c, struct t_args *a,
	       bool check, char *err, size_t cap, ...)
{
	char *argv[64] = { "t" };
	int argc = 1, saved = dup(STDERR_FILENO), rc;
	FILE *tmp = tmpfile();
	va_list ap;
	size_t n;

	va_start(ap, cap);
	for (char *v = va_arg(ap, char *); v; v = va_arg(ap, char *)) {
		assert_true(argc + 1 < 64);
		argv[argc++] = v;
	}
	va_end(ap);
	assert_non_null(tmp);
	fflush(stderr);
	dup2(fileno(tmp), STDERR_FILENO);
	rc = opts_client_parse(argc, argv, s, c, a);
	if (rc == 0 && check && !c->help)
		rc = opts_client_check(c, s);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(tmp);
	n = fread(err, 1, cap - 1, tmp);
	err[n] = '\0';
	fclose(tmp);
	return rc;
}

#define RUN(s, check, ...) \
	(opts_client_free(&c), opts_client_init(&c), memset(&a, 0, sizeof(a)), \
	 run((s), &c, &a, (check), err, sizeof(err), __VA_ARGS__, (char *)NULL))

/* ---- tests ---------------------------------------------------------------- */

static void test_fills_cl_opts(void **state)
{
	struct opts_client c;
	struct t_args a;
	char err[512];

	(void)state;
	opts_client_init(&c);
	assert_int_equal(RUN(&all, true, "--target", "broker.example:8883", "--transport", "wss",
			     "--ca", "ca.pem", "--sni", "sni.example", "--cert", "c.pem", "--key",
			     "k.pem", "--path", "/ws", "--subprotocol", "mqttv5", "--bind",
			     "127.0.0.7", "--timeout", "999", "--mqtt", "5", "--client-id", "c1",
			     "--username", "u", "--password", "p", "--keepalive", "0", "--flag",
			     "--v1"), 0);
	assert_string_equal(err, "");
	assert_string_equal(c.o.host, "broker.example");
	assert_ptr_equal(c.o.host, c.host);
	assert_int_equal(c.o.port, 8883);
	assert_int_equal(c.o.transport, CLIENT_WSS);
	assert_string_equal(c.o.ca_file, "ca.pem");
	assert_false(c.o.insecure);
	assert_string_equal(c.o.sni, "sni.example");
	assert_string_equal(c.o.cert_file, "c.pem");
	assert_string_equal(c.o.key_file, "k.pem");
	assert_string_equal(c.o.ws_path, "/ws");
	assert_string_equal(c.o.ws_subprotocol, "mqttv5");
	assert_string_equal(c.o.bind_addr, "127.0.0.7");
	assert_int_equal(c.o.timeout_ms, 999);
	assert_int_equal(c.o.mqtt_version, 5);
	assert_string_equal(c.o.client_id, "c1");
	assert_string_equal(c.o.username, "u");
	assert_string_equal(c.o.password, "p");
	assert_int_equal(c.o.keepalive, 0);
	assert_int_equal(a.flags, 1);
	assert_int_equal(c.hdr.version, 1);
	assert_true(c.have_target);
	assert_false(c.no_header);
	assert_true(c.given & OPTS_CL(OPT_CL_CERT));
	assert_false(c.given & OPTS_CL(OPT_CL_INSECURE));

	/* Untouched options keep client_opts_init's defaults. */
	assert_int_equal(RUN(&all, true, "--target", "[::1]:1883", "--no-header"), 0);
	assert_string_equal(c.o.host, "::1");
	assert_int_equal(c.o.transport, CLIENT_TCP);
	assert_int_equal(c.o.timeout_ms, 5000);
	assert_int_equal(c.o.keepalive, 60);
	assert_int_equal(c.o.mqtt_version, 4);
	assert_null(c.o.ws_path);
	assert_true(c.no_header);
	opts_client_free(&c);
}

static void test_subcommand_takes_its_own(void **state)
{
	struct opts_client c;
	struct t_args a;
	char err[512];

	(void)state;
	opts_client_init(&c);
	/* Options the subcommand does not take are unknown to it. */
	assert_int_equal(RUN(&few, false, "--cert", "c.pem"), PG_EXIT_USAGE);
	assert_non_null(strstr(err, "proxygen t: unknown or ambiguous option '--cert'"));
	assert_int_equal(RUN(&few, false, "--client-id", "x"), PG_EXIT_USAGE);
	assert_non_null(strstr(err, "'--client-id'"));
	assert_int_equal(RUN(&all, false, "--client-id", "x"), 0);
	/* Port 0 where the spec says so. */
	assert_int_equal(RUN(&few, false, "--target", "127.0.0.1:0"), PG_EXIT_USAGE);
	assert_non_null(strstr(err, "--target '127.0.0.1:0': port 0"));
	assert_int_equal(RUN(&all, false, "--target", "127.0.0.1:0"), 0);
	/* --timeout up to the spec's bound. */
	assert_int_equal(RUN(&all, false, "--timeout", "1001"), PG_EXIT_USAGE);
	assert_non_null(strstr(err, "--timeout '1001'"));
	assert_int_equal(RUN(&all, false, "--timeout", "0"), PG_EXIT_USAGE);
	/* --help: the usage, nothing more parsed, status 0. */
	usages = 0;
	assert_int_equal(RUN(&all, false, "--help", "--flag"), 0);
	assert_int_equal(usages, 1);
	assert_true(c.help);
	assert_int_equal(a.flags, 0);
	opts_client_free(&c);
}

static void test_value_errors(void **state)
{
	static const struct { const char *opt, *val, *want; } cases[] = {
		{ "--target", "nohost", "--target 'nohost': missing ':PORT'" },
		{ "--transport", "foo", "--transport 'foo': expected tcp, tls, ws or wss (the "
					"header's transport field is --proto)" },
		{ "--path", "ws", "--path 'ws': must start with '/'" },
		{ "--bind", "localhost", "--bind 'localhost': not an IPv4 or IPv6 address" },
		{ "--mqtt", "4.0", "--mqtt '4.0': expected 3.1.1 or 5" },
		{ "--keepalive", "65536", "--keepalive '65536'" },
		{ "--src", "1.2.3.4:99999", "--src '1.2.3.4:99999': port 99999 out of range" },
		{ "--proto", "foo", "expected stream, dgram or unspec" },
	};
	struct opts_client c;
	struct t_args a;
	char err[512];

	(void)state;
	opts_client_init(&c);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(RUN(&all, false, cases[i].opt, cases[i].val), PG_EXIT_USAGE);
		if (!strstr(err, cases[i].want))
			fail_msg("%s %s: '%s' lacks '%s'", cases[i].opt, cases[i].val, err,
				 cases[i].want);
	}
	opts_client_free(&c);
}

static void test_checks(void **state)
{
	struct opts_client c;
	struct t_args a;
	char err[512];

	(void)state;
	opts_client_init(&c);
	/* The TLS and WebSocket lists name what the subcommand has. */
	assert_int_equal(RUN(&all, true, "--insecure"), PG_EXIT_USAGE);
	assert_non_null(strstr(err, "--ca, --insecure, --sni, --cert and --key need "
				    "--transport tls or wss"));
	assert_int_equal(RUN(&few, true, "--sni", "x"), PG_EXIT_USAGE);
	assert_non_null(strstr(err, "--ca, --insecure and --sni need --transport tls or wss"));
	assert_int_equal(RUN(&all, true, "--subprotocol", "x"), PG_EXIT_USAGE);
	assert_non_null(strstr(err, "--path and --subprotocol need --transport ws or wss"));
	assert_int_equal(RUN(&few, true, "--path", "/x", "--transport", "tls"), PG_EXIT_USAGE);
	assert_non_null(strstr(err, "--path needs --transport ws or wss"));
	assert_int_equal(RUN(&all, true, "--path", "/x", "--transport", "wss"), 0);
	assert_int_equal(RUN(&all, true, "--transport", "tls", "--ca", "x", "--insecure"),
			 PG_EXIT_USAGE);
	assert_non_null(strstr(err, "--ca and --insecure exclude each other"));
	assert_int_equal(RUN(&all, true, "--transport", "tls", "--cert", "x"), PG_EXIT_USAGE);
	assert_non_null(strstr(err, "--cert and --key go together"));
	/* The header options, unless --no-header. */
	assert_int_equal(RUN(&all, true, "--v1", "--local"), PG_EXIT_USAGE);
	assert_non_null(strstr(err, "--local is a v2 command"));
	assert_int_equal(RUN(&all, true, "--transport", "ssl", "--insecure", "--no-header"), 0);
	assert_int_equal(c.o.transport, CLIENT_TLS);
	opts_client_free(&c);
}

static void test_longopts(void **state)
{
	struct option out[128], tiny[8];
	bool cert = false, client_id = false, target = false, authority = false;

	(void)state;
	assert_int_equal(opts_client_longopts(out, 128, own, &few), 0);
	for (size_t i = 0; out[i].name; i++) {
		cert = cert || strcmp(out[i].name, "cert") == 0;
		client_id = client_id || strcmp(out[i].name, "client-id") == 0;
		target = target || strcmp(out[i].name, "target") == 0;
		authority = authority || strcmp(out[i].name, "authority") == 0;
		/* --transport is the client's; the header's field is --proto. */
		if (strcmp(out[i].name, "transport") == 0)
			assert_int_equal(out[i].val, OPT_CL_TRANSPORT);
	}
	assert_false(cert);
	assert_false(client_id);
	assert_true(target);
	assert_true(authority);
	assert_int_equal(opts_client_longopts(tiny, 8, own, &few), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fills_cl_opts),
		cmocka_unit_test(test_subcommand_takes_its_own),
		cmocka_unit_test(test_value_errors),
		cmocka_unit_test(test_checks),
		cmocka_unit_test(test_longopts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
