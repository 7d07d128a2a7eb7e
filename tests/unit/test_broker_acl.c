/* test_broker_acl.c - the access rules of security.acl_file
 * (broker/acl.c): the filter relations against lib/mqtt.c's matcher, the
 * first-match decisions, address rules on the client's address, and
 * every parse error with its file:line:col. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acl.h"
#include "mqtt.h"

static bool covers(const char *r, const char *f)
{
	return acl_filter_covers(r, strlen(r), f, strlen(f));
}

static bool overlap(const char *a, const char *b)
{
	return acl_filter_overlap(a, strlen(a), b, strlen(b)) &&
	       acl_filter_overlap(b, strlen(b), a, strlen(a));
}

static void test_filter_relations(void **state)
{
	static const struct { const char *r, *f; bool covers, overlap; } cases[] = {
		{ "#", "a/b", true, true },
		{ "#", "#", true, true },
		{ "a/#", "a", true, true },
		{ "a/#", "a/+/c", true, true },
		{ "a/+", "a/#", false, true },
		{ "a/+", "a/b", true, true },
		{ "a/+", "a/b/c", false, false },
		{ "a/b", "a/+", false, true },
		{ "a/b", "a/b", true, true },
		{ "a/b", "a/c", false, false },
		{ "+/+", "a/b", true, true },
		{ "+", "", true, true },
		{ "a/", "a/+", false, true },
		{ "secret/#", "#", false, true },
		{ "#", "$SYS/x", false, false },
		{ "+/x", "$SYS/x", false, false },
		{ "$SYS/#", "$SYS/x", true, true },
		{ "#", "+/x", true, true },
		{ "a/b/c", "a/b", false, false },
		{ "a/+/c", "a/#", false, true },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (covers(cases[i].r, cases[i].f) != cases[i].covers)
			fail_msg("covers(%s, %s) != %d", cases[i].r, cases[i].f, cases[i].covers);
		if (overlap(cases[i].r, cases[i].f) != cases[i].overlap)
			fail_msg("overlap(%s, %s) != %d", cases[i].r, cases[i].f, cases[i].overlap);
	}
	/* On topic names, covering is MQTT's matching. */
	{
		static const char *const filters[] = { "#", "+", "a/#", "a/+", "+/b", "a/b", "$SYS/#",
						       "+/+/#", "a/+/c", "/#", "+/" };
		static const char *const names[] = { "a", "a/b", "a/b/c", "$SYS/x", "/a", "a/", "b/b", "" };

		for (size_t i = 0; i < sizeof(filters) / sizeof(filters[0]); i++)
			for (size_t j = 0; j < sizeof(names) / sizeof(names[0]); j++)
				if (covers(filters[i], names[j]) != mqtt_topic_match(filters[i], names[j]))
					fail_msg("covers(%s, %s) is not mqtt_topic_match", filters[i], names[j]);
	}
}

static struct sockaddr_storage v4(const char *ip)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

	memset(&ss, 0, sizeof(ss));
	sin->sin_family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, ip, &sin->sin_addr), 1);
	return ss;
}

static struct sockaddr_storage v6(const char *ip)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 *sin = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	sin->sin6_family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, ip, &sin->sin6_addr), 1);
	return ss;
}

static bool allows(const struct acl *a, const char *user, const char *cid,
		   const struct sockaddr_storage *addr, enum acl_op op, const char *topic)
{
	struct acl_who w = { user, cid, addr };

	return acl_allows(a, &w, op, topic, topic ? strlen(topic) : 0, NULL);
}

static const char RULES[] =
	"# the demo's policy\n"
	"  deny connect from 203.0.113.128/25\n"
	"deny\tconnect client evil-*\n"
	"allow publish  sensors/# user alice\n"
	"deny  publish  sensors/#\n"
	"allow subscribe sensors/+/temp from 10.0.0.0/8\n"
	"deny  subscribe sensors/# anonymous\n"
	"deny  subscribe admin/#\n"
	"allow subscribe # user ops client dash-? from 2001:db8::/32\n"
	"\n";

static void test_decisions(void **state)
{
	struct perr e;
	struct acl *a = acl_parse("acl.rules", RULES, &e);
	struct sockaddr_storage blocked = v4("203.0.113.200"), edge = v4("203.0.113.127"),
		mapped = v6("::ffff:203.0.113.129"), lan = v4("10.1.2.3"), net6 = v6("2001:db8::5");
	const char *rule;
	(void)state;

	assert_non_null(a);
	assert_int_equal(acl_count(a), 8);
	/* Connections: by the address given, mapped IPv4 as IPv4. */
	assert_false(allows(a, NULL, "c", &blocked, ACL_CONNECT, NULL));
	assert_false(allows(a, "alice", "c", &mapped, ACL_CONNECT, NULL));
	assert_true(allows(a, NULL, "c", &edge, ACL_CONNECT, NULL));
	assert_true(allows(a, NULL, "c", NULL, ACL_CONNECT, NULL));
	assert_false(allows(a, NULL, "evil-1", &edge, ACL_CONNECT, NULL));
	{
		struct acl_who w = { NULL, "x", &blocked };

		assert_false(acl_allows(a, &w, ACL_CONNECT, NULL, 0, &rule));
		assert_string_equal(rule, "acl.rules:2: deny connect from 203.0.113.128/25");
		w.addr = &edge;
		assert_true(acl_allows(a, &w, ACL_CONNECT, NULL, 0, &rule));
		assert_string_equal(rule, "default allow");
	}
	/* Publishing: first match wins. */
	assert_true(allows(a, "alice", "c", &edge, ACL_PUBLISH, "sensors/1/temp"));
	assert_false(allows(a, "bob", "c", &edge, ACL_PUBLISH, "sensors/1/temp"));
	assert_false(allows(a, NULL, "c", &edge, ACL_PUBLISH, "sensors"));
	assert_true(allows(a, "bob", "c", &edge, ACL_PUBLISH, "other"));
	/* Subscribing: an allow rule covers the filter, a deny rule overlaps it. */
	assert_true(allows(a, NULL, "c", &lan, ACL_SUBSCRIBE, "sensors/+/temp"));
	assert_true(allows(a, NULL, "c", &lan, ACL_SUBSCRIBE, "sensors/k/temp"));
	assert_false(allows(a, NULL, "c", &lan, ACL_SUBSCRIBE, "sensors/#"));
	assert_true(allows(a, "u", "c", &edge, ACL_SUBSCRIBE, "sensors/#"));
	assert_false(allows(a, "u", "c", &edge, ACL_SUBSCRIBE, "#"));
	assert_false(allows(a, "u", "c", &edge, ACL_SUBSCRIBE, "admin/x"));
	assert_false(allows(a, "ops", "dash-1", &net6, ACL_SUBSCRIBE, "#"));  /* admin/# first */
	assert_true(allows(a, "ops", "dash-1", &net6, ACL_SUBSCRIBE, "logs/#"));
	{
		/* Not that rule (a pattern, an address), so the default. */
		struct acl_who w = { "ops", "dash-10", &net6 };

		acl_allows(a, &w, ACL_SUBSCRIBE, "logs/#", 6, &rule);
		assert_string_equal(rule, "default allow");
		w.client_id = "dash-1";
		w.addr = &lan;
		acl_allows(a, &w, ACL_SUBSCRIBE, "logs/#", 6, &rule);
		assert_string_equal(rule, "default allow");
		w.addr = &net6;
		acl_allows(a, &w, ACL_SUBSCRIBE, "logs/#", 6, &rule);
		assert_string_equal(rule, "acl.rules:9: allow subscribe # user ops client dash-? from 2001:db8::/32");
	}
	acl_free(a);

	/* default deny: what no rule allows. */
	a = acl_parse("d", "default deny\nallow connect\nallow publish a/+ client c1\n", &e);
	assert_non_null(a);
	assert_true(allows(a, NULL, "c", &edge, ACL_CONNECT, NULL));
	assert_true(allows(a, NULL, "c1", &edge, ACL_PUBLISH, "a/b"));
	assert_false(allows(a, NULL, "c2", &edge, ACL_PUBLISH, "a/b"));
	assert_false(allows(a, NULL, "c1", &edge, ACL_SUBSCRIBE, "a/b"));
	acl_free(a);
	/* No ACL: everything. */
	assert_true(allows(NULL, NULL, NULL, NULL, ACL_SUBSCRIBE, "#"));
}

static void test_parse_errors(void **state)
{
	static const struct { const char *text, *want; } cases[] = {
		{ "permit connect\n", "r:1:1: 'permit' is not allow, deny or default" },
		{ "\ndeny\n", "r:2:1: 'deny' needs an operation" },
		{ "deny  connct\n", "r:1:7: 'connct' is not an operation" },
		{ "allow publish\n", "r:1:7: 'publish' needs a topic filter" },
		{ "allow publish a/#/b\n", "r:1:15: 'a/#/b' is not an MQTT topic filter" },
		{ "deny connect from 10.0.0.0/33\n", "r:1:19: '10.0.0.0/33' is not an address or CIDR" },
		{ "deny connect from\n", "r:1:14: 'from' needs a value" },
		{ "deny connect from 10.0.0.1 from 10.0.0.2\n", "r:1:28: 'from' is given twice in the rule" },
		{ "deny connect user a user b\n", "r:1:21: 'user' is given twice in the rule" },
		{ "deny connect user a anonymous\n", "r:1:21: 'anonymous' conflicts with another user condition" },
		{ "deny connect colour red\n", "r:1:14: 'colour' is not a condition" },
		{ "default maybe\n", "r:1:9: 'maybe': default takes allow or deny, alone" },
		{ "default deny\ndefault allow\n", "r:2:1: 'default' is given twice in the file" },
		{ "deny connect a b c d e f g h i j k\n", "r:1:1: too many words for a rule" },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct perr e;
		struct acl *a;

		memset(&e, 0, sizeof(e));
		a = acl_parse("r", cases[i].text, &e);
		if (a || strncmp(e.msg, cases[i].want, strlen(cases[i].want)) != 0)
			fail_msg("case %zu: '%s', want '%s'", i, a ? "(parsed)" : e.msg, cases[i].want);
	}
}

static void test_load_file(void **state)
{
	char path[] = "/tmp/ppmq-acl-XXXXXX";
	int fd = mkstemp(path);
	struct perr e;
	struct acl *a;
	(void)state;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, RULES, strlen(RULES)), (ssize_t)strlen(RULES));
	a = acl_load(path, &e);
	assert_non_null(a);
	assert_int_equal(acl_count(a), 8);
	acl_free(a);
	/* A NUL byte is named by its line. */
	assert_int_equal(write(fd, "deny\0x\n", 7), 7);
	close(fd);
	assert_null(acl_load(path, &e));
	assert_non_null(strstr(e.msg, ":11: a NUL byte"));
	unlink(path);
	assert_null(acl_load(path, &e));
	assert_non_null(strstr(e.msg, "cannot open"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_filter_relations),
		cmocka_unit_test(test_decisions),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_load_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
