/* test_conform_scenario.c - ppmq-conform's loaders and grading: scenario
 * files (good ones and every error with file:line), the expansion of the
 * malformation catalog, target profiles and their configurations, the
 * outcome / record grading tables, and the shipped catalog and profile. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expect.h"
#include "pp.h"
#include "profile.h"
#include "runner.h"
#include "scenario.h"

/* ---- scenario loader: a good file -------------------------------------- */

static const char good_yaml[] =
	"family: demo\n"
	"defaults:\n"
	"  ref: \"proxy-protocol.txt 2.1\"\n"
	"  tags: [v1, valid]\n"
	"  applies: {modes: [enabled]}\n"
	"  send: {connect: {credentials: valid}}\n"
	"  expect: [accepted]\n"
	"scenarios:\n"
	"  - id: demo/tcp4\n"
	"    title: a TCP4 header\n"
	"    tags: extra\n"
	"    send:\n"
	"      header: {version: 1, family: tcp4, src: \"192.0.2.1:40000\", dst: \"198.51.100.1:1883\"}\n"
	"      split: half\n"
	"      delay_ms: 20\n"
	"  - id: demo/v2\n"
	"    title: v2 with TLVs\n"
	"    ref: custom ref\n"
	"    applies: {listeners: [tcp, wss], modes: [enabled, optional]}\n"
	"    send:\n"
	"      header:\n"
	"        version: 2\n"
	"        family: inet6\n"
	"        crc32c: true\n"
	"        noop: 4\n"
	"        tlvs:\n"
	"          - {type: alpn, value: mqtt}\n"
	"          - {type: 0xE5, hex: \"de ad be ef\"}\n"
	"          - {type: aws, vpce: vpce-1}\n"
	"          - {type: azure, linkid: 258}\n"
	"          - {type: unique_id, len: 5}\n"
	"      connect: {mqtt: 5, credentials: invalid, client_id: fixed-id}\n"
	"      from: untrusted\n"
	"      wait_ms: header-timeout\n"
	"    expect:\n"
	"      - {outcome: refused, codes: [4, 5, 134], grade: pass}\n"
	"      - {outcome: rejected, within_ms: 500, grade: non-strict, note: why}\n"
	"      - timeout\n"
	"    record: {where: unauthorized, ip: header-src, peer_ip: socket-peer, port: \"40000\"}\n"
	"  - id: demo/steps\n"
	"    title: two steps\n"
	"    configuration: \"global=true tcp=unset\"\n"
	"    probe_after: true\n"
	"    steps:\n"
	"      - send: {raw: \"PROXY UNKNOWN\\r\\n\"}\n"
	"        expect: [accepted]\n"
	"      - send: {none: true, no_connect: true}\n"
	"        expect: [{outcome: closed, grade: info}]\n";

static void test_load_good(void **state)
{
	struct sc_catalog cat;
	struct perr e;
	const struct scenario *s;
	const struct sc_step *st;

	(void)state;
	memset(&cat, 0, sizeof(cat));
	assert_int_equal(sc_load_string(&cat, "good.yml", good_yaml, &e), 0);
	assert_int_equal(cat.n, 3);
	assert_int_equal(cat.ngenerated, 0);

	s = sc_find(&cat, "demo/tcp4");
	assert_non_null(s);
	assert_string_equal(s->title, "a TCP4 header");
	assert_string_equal(s->ref, "proxy-protocol.txt 2.1");
	assert_string_equal(s->family, "demo");
	assert_int_equal(s->ntags, 3); /* defaults' two, then its own */
	assert_string_equal(s->tags[0], "v1");
	assert_string_equal(s->tags[2], "extra");
	assert_int_equal(s->listeners, SC_ALL_LISTENERS);
	assert_int_equal(s->modes, 1u << SC_MODE_ENABLED);
	assert_int_equal(s->line, 9);
	assert_int_equal(s->nsteps, 1);
	st = &s->steps[0];
	assert_int_equal(st->send.payload, SC_PAY_HEADER);
	assert_int_equal(st->send.header.version, 1);
	assert_int_equal(st->send.header.family, PP_FAM_INET);
	assert_string_equal(st->send.header.src, "192.0.2.1:40000");
	assert_true(st->send.split_half);
	assert_int_equal(st->send.delay_ms, 20);
	assert_int_equal(st->send.cred, SC_CRED_VALID);
	assert_int_equal(st->nexpect, 1); /* from the defaults */
	assert_int_equal(st->expect[0].outcome, SC_O_ACCEPTED);
	assert_int_equal(st->expect[0].grade, RPT_PASS);

	s = sc_find(&cat, "demo/v2");
	assert_non_null(s);
	assert_string_equal(s->ref, "custom ref");
	assert_int_equal(s->listeners, (1u << SC_TCP) | (1u << SC_WSS));
	assert_int_equal(s->modes, (1u << SC_MODE_ENABLED) | (1u << SC_MODE_OPTIONAL));
	st = &s->steps[0];
	assert_int_equal(st->send.header.family, PP_FAM_INET6);
	/* defaults for a family without addresses */
	assert_string_equal(st->send.header.src, "[2001:db8::1]:40000");
	assert_true(st->send.header.crc32c);
	assert_int_equal(st->send.header.noop, 4);
	assert_int_equal(st->send.header.ntlvs, 5);
	assert_int_equal(st->send.header.tlvs[0].type, PP2_TYPE_ALPN);
	assert_int_equal(st->send.header.tlvs[0].len, 4);
	assert_memory_equal(st->send.header.tlvs[0].value, "mqtt", 4);
	assert_int_equal(st->send.header.tlvs[1].type, 0xE5);
	assert_int_equal(st->send.header.tlvs[1].len, 4);
	assert_memory_equal(st->send.header.tlvs[1].value, "\xde\xad\xbe\xef", 4);
	assert_int_equal(st->send.header.tlvs[2].type, PP2_TYPE_AWS);
	assert_memory_equal(st->send.header.tlvs[2].value, "\x01vpce-1", 7);
	assert_int_equal(st->send.header.tlvs[3].len, 5);
	assert_memory_equal(st->send.header.tlvs[3].value, "\x01\x02\x01\x00\x00", 5);
	assert_int_equal(st->send.header.tlvs[4].len, 5);
	assert_int_equal(st->send.mqtt, 5);
	assert_int_equal(st->send.cred, SC_CRED_INVALID);
	assert_string_equal(st->send.client_id, "fixed-id");
	assert_int_equal(st->send.bind, SC_BIND_UNTRUSTED);
	assert_int_equal(st->send.wait_ms, SC_WAIT_HEADER_TIMEOUT);
	assert_int_equal(st->nexpect, 3);
	assert_int_equal(st->expect[0].outcome, SC_O_REFUSED);
	assert_int_equal(st->expect[0].ncodes, 3);
	assert_int_equal(st->expect[0].codes[2], 134);
	assert_int_equal(st->expect[1].within_ms, 500);
	assert_int_equal(st->expect[1].grade, RPT_NON_STRICT);
	assert_string_equal(st->expect[1].note, "why");
	assert_int_equal(st->expect[2].outcome, SC_O_TIMEOUT);
	assert_int_equal(st->record.where, SC_REC_UNAUTHORIZED);
	assert_int_equal(st->record.ip.src, SC_ADDR_HEADER_SRC);
	assert_int_equal(st->record.peer_ip.src, SC_ADDR_SOCKET_PEER);
	assert_int_equal(st->record.port.src, SC_ADDR_LITERAL);
	assert_string_equal(st->record.port.literal, "40000");

	s = sc_find(&cat, "demo/steps");
	assert_non_null(s);
	assert_string_equal(s->configuration, "global=true tcp=unset");
	assert_true(s->probe_after);
	assert_int_equal(s->nsteps, 2);
	assert_int_equal(s->steps[0].send.payload, SC_PAY_RAW);
	assert_int_equal(s->steps[0].send.raw_len, 15);
	assert_memory_equal(s->steps[0].send.raw, "PROXY UNKNOWN\r\n", 15);
	assert_int_equal(s->steps[1].send.payload, SC_PAY_NONE);
	assert_true(s->steps[1].send.no_connect);
	assert_int_equal(s->steps[1].expect[0].grade, RPT_INFO);
	sc_catalog_free(&cat);
}

/* ---- scenario loader: every error, with file:line ---------------------- */

struct bad_case {
	const char *yaml;
	const char *where;   /* "bad.yml:LINE:" prefix */
	const char *what;    /* fragment of the message */
};

#define HEAD "scenarios:\n  - id: x/1\n    title: t\n"

static const struct bad_case bad_cases[] = {
	{ "scenarios: [\n", "bad.yml:2:", "YAML syntax" },
	{ "foo: 1\nscenarios: []\n", "bad.yml:1:1:", "unknown key 'foo'" },
	{ "family: f\n", "bad.yml:1:1:", "needs 'scenarios', 'mutations' or 'clauses'" },
	{ "scenarios:\n  - title: t\n    expect: [accepted]\n", "bad.yml:2:5:", "without 'id'" },
	{ "scenarios:\n  - id: x/1\n    expect: [accepted]\n", "bad.yml:2:5:", "missing 'title'" },
	{ HEAD, "bad.yml:2:5:", "missing 'expect'" },
	{ HEAD "    sned: {}\n    expect: [accepted]\n", "bad.yml:4:5:", "unknown key 'sned' (did you mean 'send'?)" },
	{ HEAD "    expect: [acepted]\n", "bad.yml:4:14:", "'acepted' is not an outcome" },
	{ HEAD "    expect: []\n", "bad.yml:4:13:", "empty list" },
	{ HEAD "    expect: [{outcome: accepted, grade: great}]\n", "bad.yml:4:41:", "'great' is not pass" },
	{ HEAD "    expect: [{outcome: connack}]\n", "bad.yml:4:14:", "needs code or codes" },
	{ HEAD "    expect: [{outcome: refused, code: 300}]\n", "bad.yml:4:39:", "out of range" },
	{ HEAD "    applies: {listeners: [tcp, quic]}\n    expect: [accepted]\n", "bad.yml:4:26:", "'quic' is not tcp" },
	{ HEAD "    applies: {modes: [sometimes]}\n    expect: [accepted]\n", "bad.yml:4:22:", "'sometimes' is not enabled" },
	{ HEAD "    send: {header: {version: 3}}\n    expect: [accepted]\n", "bad.yml:4:30:", "out of range (1..2)" },
	{ HEAD "    send: {header: {version: 1, tlvs: [{type: alpn, value: x}]}}\n    expect: [accepted]\n",
	  "bad.yml:2:5:", "TLVs, crc32c and noop are v2 only" },
	{ HEAD "    send: {header: {version: 1, command: local}}\n    expect: [accepted]\n",
	  "bad.yml:2:5:", "v1 has no LOCAL" },
	{ HEAD "    send: {header: {version: 1, family: tcp4, src: \"300.1.1.1:5\"}}\n    expect: [accepted]\n",
	  "bad.yml:2:5:", "'300.1.1.1:5' is not IP:PORT" },
	{ HEAD "    send: {header: {version: 2, family: ipx}}\n    expect: [accepted]\n", "bad.yml:4:41:", "'ipx' is not tcp4" },
	{ HEAD "    send: {header: {version: 2, tlvs: [{type: bogus}]}}\n    expect: [accepted]\n",
	  "bad.yml:4:47:", "'bogus' is not a TLV name" },
	{ HEAD "    send: {header: {version: 2, tlvs: [{value: x}]}}\n    expect: [accepted]\n",
	  "bad.yml:4:40:", "missing 'type'" },
	{ HEAD "    send: {header: {version: 2, tlvs: [{type: alpn, value: x, hex: \"00\"}]}}\n    expect: [accepted]\n",
	  "bad.yml:4:40:", "give one of value, hex" },
	{ HEAD "    send: {raw_hex: \"0g\"}\n    expect: [accepted]\n", "bad.yml:4:21:", "not hex" },
	{ HEAD "    send: {raw_hex: \"abc\"}\n    expect: [accepted]\n", "bad.yml:4:21:", "odd number of hex digits" },
	{ HEAD "    send: {mutation: no-such-thing}\n    expect: [accepted]\n", "bad.yml:4:22:", "not in the malformation catalog" },
	{ HEAD "    send: {none: true, raw: x}\n    expect: [accepted]\n", "bad.yml:4:11:", "give one of header, mutation" },
	{ HEAD "    send: {split: lots}\n    expect: [accepted]\n", "bad.yml:4:19:", "'lots' is not a number" },
	{ HEAD "    send: {from: anywhere}\n    expect: [accepted]\n", "bad.yml:4:18:", "'anywhere' is not client, untrusted or blocked-proxy" },
	{ HEAD "    needs: [polcy]\n    expect: [accepted]\n", "bad.yml:4:12:", "'polcy' is not identity or policy" },
	{ HEAD "    send: {header: {src: \"{blocked}x:1\"}}\n    expect: [accepted]\n", "bad.yml:2:5:", "({blocked} and {allowed} standing for" },
	{ HEAD "    send: {connect: {mqtt: 6}}\n    expect: [accepted]\n", "bad.yml:4:28:", "'6' is not 4 (3.1.1) or 5" },
	{ HEAD "    send: {connect: {credentials: maybe}}\n    expect: [accepted]\n", "bad.yml:4:35:", "'maybe' is not valid" },
	{ HEAD "    send: {wait_ms: forever}\n    expect: [accepted]\n", "bad.yml:4:21:", "'forever' is not a number" },
	{ HEAD "    expect: [accepted]\n    record: {ip: header-src}\n", "bad.yml:5:13:", "missing 'where'" },
	{ HEAD "    expect: [accepted]\n    record: {where: logs}\n", "bad.yml:5:21:", "'logs' is not sessions" },
	{ HEAD "    send: {none: true}\n    expect: [accepted]\n    record: {where: sessions, ip: header-src}\n",
	  "bad.yml:2:5:", "'header-src' needs a PROXY header" },
	{ HEAD "    send: {header: {version: 2, command: local}}\n    expect: [accepted]\n    record: {where: sessions, ip: header-src}\n",
	  "bad.yml:2:5:", "'header-src' needs a PROXY header" },
	{ HEAD "    configuration: \"global\"\n    expect: [accepted]\n", "bad.yml:4:20:", "'global' is not name=value" },
	{ HEAD "    steps: [{expect: [accepted]}]\n    send: {none: true}\n", "bad.yml:4:12:", "either steps or send" },
	{ HEAD "    steps: [{send: {none: true}, expext: [x]}]\n", "bad.yml:4:34:", "unknown key 'expext'" },
	{ HEAD "    steps: []\n", "bad.yml:4:12:", "empty list" },
	{ HEAD "    expect: [accepted]\n  - id: x/1\n    title: again\n    expect: [accepted]\n",
	  "bad.yml:5:9:", "'x/1' already defined at bad.yml:2" },
	{ "scenarios:\n  - id: \"has space\"\n    title: t\n    expect: [accepted]\n", "bad.yml:2:9:", "ids are made of visible" },
	{ "defaults: {id: x}\nscenarios: []\n", "bad.yml:1:12:", "unknown key 'id'" },
	{ "mutations: [v2-version-3, not-a-mutation]\n", "bad.yml:1:12:", "'not-a-mutation' is not in the malformation catalog" },
};

static void test_load_errors(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		struct sc_catalog cat;
		struct perr e;
		int rc;

		memset(&cat, 0, sizeof(cat));
		memset(&e, 0, sizeof(e));
		rc = sc_load_string(&cat, "bad.yml", bad_cases[i].yaml, &e);
		if (rc != -1 || strncmp(e.msg, bad_cases[i].where, strlen(bad_cases[i].where)) ||
		    !strstr(e.msg, bad_cases[i].what))
			fail_msg("case %zu: rc %d, message '%s'; wanted '%s...%s'", i, rc, e.msg,
				 bad_cases[i].where, bad_cases[i].what);
		sc_catalog_free(&cat);
	}
}

static void test_load_missing_dir(void **state)
{
	struct sc_catalog cat;
	struct perr e;

	(void)state;
	memset(&cat, 0, sizeof(cat));
	assert_int_equal(sc_load_dir(&cat, "/nonexistent/ppmq-scenarios", &e), -1);
	assert_non_null(strstr(e.msg, "/nonexistent/ppmq-scenarios"));
	sc_catalog_free(&cat);
}

/* ---- mutation expansion ------------------------------------------------- */

static void test_mutations_all(void **state)
{
	struct sc_catalog cat;
	struct perr e;
	const struct pp_mutation *m;
	size_t count, i, seen[4] = { 0, 0, 0, 0 };

	(void)state;
	m = pp_mutations(&count);
	assert_true(count > 0);
	memset(&cat, 0, sizeof(cat));
	assert_int_equal(sc_load_string(&cat, "mal.yml", "mutations: all\n", &e), 0);
	assert_int_equal(cat.n, count);
	assert_int_equal(cat.ngenerated, count);
	for (i = 0; i < count; i++) {
		char id[128];
		const struct scenario *s;
		const struct sc_step *st;

		snprintf(id, sizeof(id), "mal/%s", m[i].name);
		s = sc_find(&cat, id);
		assert_non_null(s);
		assert_ptr_equal(s, &cat.v[i]); /* catalog order */
		assert_true(s->generated);
		assert_string_equal(s->title, m[i].desc);
		assert_string_equal(s->verdict, pp_verdict_name(m[i].verdict));
		assert_int_equal(s->modes, 1u << SC_MODE_ENABLED);
		st = &s->steps[0];
		assert_int_equal(st->send.payload, SC_PAY_MUTATION);
		assert_string_equal(st->send.mutation, m[i].name);
		assert_int_equal(st->expect[0].outcome,
				 m[i].verdict == PP_VERDICT_LIMIT ? SC_O_ACCEPTED : SC_O_REJECTED);
		assert_int_equal(st->expect[0].grade, RPT_PASS);
		switch (m[i].verdict) {
		case PP_VERDICT_REJECT:
		case PP_VERDICT_NOT_PROXY:
			assert_int_equal(st->nexpect, 2);
			assert_int_equal(st->expect[1].outcome, SC_O_ACCEPTED);
			assert_int_equal(st->expect[1].grade, RPT_FAIL); /* no clause: FAIL */
			break;
		case PP_VERDICT_LIMIT:
			/* ppmq's own limit: taking the header is right */
			assert_int_equal(st->nexpect, 2);
			assert_int_equal(st->expect[1].outcome, SC_O_NOT_ACCEPTED);
			break;
		case PP_VERDICT_INCOMPLETE:
			assert_int_equal(st->send.stall_ms, SC_WAIT_HEADER_TIMEOUT);
			assert_int_equal(st->expect[1].outcome, SC_O_TIMEOUT);
			assert_int_equal(st->expect[1].grade, RPT_PASS);
			assert_int_equal(st->expect[2].outcome, SC_O_ACCEPTED);
			assert_int_equal(st->expect[2].grade, RPT_FAIL);
			break;
		}
		seen[m[i].verdict]++;
	}
	/* The catalog has all four kinds; each must expand. */
	assert_true(seen[PP_VERDICT_LIMIT] > 0);
	assert_true(seen[PP_VERDICT_REJECT] > 0);
	assert_true(seen[PP_VERDICT_INCOMPLETE] > 0);
	assert_true(seen[PP_VERDICT_NOT_PROXY] > 0);
	sc_catalog_free(&cat);
}

static void test_mutations_override_and_list(void **state)
{
	struct sc_catalog cat;
	struct perr e;
	size_t count;
	const struct scenario *s;
	static const char yaml[] =
		"mutation_prefix: m/\n"
		"defaults: {tags: [mine]}\n"
		"mutations: all\n"
		"scenarios:\n"
		"  - id: m/v2-version-3\n"
		"    title: hand-written\n"
		"    send: {mutation: v2-version-3}\n"
		"    expect: [not-accepted]\n";

	(void)state;
	pp_mutations(&count);
	memset(&cat, 0, sizeof(cat));
	assert_int_equal(sc_load_string(&cat, "m.yml", yaml, &e), 0);
	/* the hand-written one replaces its generated twin */
	assert_int_equal(cat.n, count);
	assert_int_equal(cat.ngenerated, count - 1);
	s = sc_find(&cat, "m/v2-version-3");
	assert_non_null(s);
	assert_false(s->generated);
	assert_string_equal(s->title, "hand-written");
	s = sc_find(&cat, "m/v1-lf-only");
	assert_non_null(s);
	assert_string_equal(s->tags[0], "mine");
	sc_catalog_free(&cat);

	memset(&cat, 0, sizeof(cat));
	assert_int_equal(sc_load_string(&cat, "l.yml", "mutations: [v1-lf-only, v2-crc-wrong]\n", &e), 0);
	assert_int_equal(cat.n, 2);
	assert_non_null(sc_find(&cat, "mal/v2-crc-wrong"));
	sc_catalog_free(&cat);
}

/* ---- the shipped catalog ------------------------------------------------ */

static void test_shipped_catalog(void **state)
{
	struct sc_catalog cat;
	struct perr e;
	size_t count, i, hand = 0, conf = 0;

	(void)state;
	pp_mutations(&count);
	memset(&cat, 0, sizeof(cat));
	if (sc_load_dir(&cat, "scenarios", &e) < 0)
		fail_msg("%s", e.msg);
	assert_true(cat.n >= 120);
	for (i = 0; i < cat.n; i++) {
		if (!cat.v[i].generated)
			hand++;
		if (cat.v[i].configuration)
			conf++;
	}
	assert_true(hand - conf >= 70);
	assert_int_equal(conf, 36); /* 4 listeners x 9 combinations */
	/* Every malformation of the catalog has a scenario: generated, or
	 * written by hand under the same id. */
	{
		const struct pp_mutation *m = pp_mutations(&count);
		size_t by_hand = 0;

		for (i = 0; i < count; i++) {
			char id[128];
			const struct scenario *s;

			snprintf(id, sizeof(id), "mal/%s", m[i].name);
			s = sc_find(&cat, id);
			if (!s)
				fail_msg("no scenario for mutation %s", m[i].name);
			if (!s->generated)
				by_hand++;
		}
		assert_int_equal(cat.ngenerated + by_hand, count);
	}
	sc_catalog_free(&cat);
}

/* ---- selection and client ids ------------------------------------------- */

static void test_matches(void **state)
{
	struct sc_catalog cat;
	struct perr e;
	const struct scenario *s;

	(void)state;
	memset(&cat, 0, sizeof(cat));
	assert_int_equal(sc_load_string(&cat, "good.yml", good_yaml, &e), 0);
	s = sc_find(&cat, "demo/tcp4");
	assert_true(sc_matches(s, "demo/tcp4"));
	assert_true(sc_matches(s, "demo"));        /* section prefix */
	assert_true(sc_matches(s, "demo/"));
	assert_true(sc_matches(s, "demo/*"));
	assert_true(sc_matches(s, "*tcp?"));
	assert_true(sc_matches(s, "extra"));       /* a tag */
	assert_true(sc_matches(s, "v*"));
	assert_false(sc_matches(s, "dem"));        /* not at a '/' */
	assert_false(sc_matches(s, "demo/v2"));
	assert_false(sc_matches(s, "malformed"));
	sc_catalog_free(&cat);
}

static void test_client_id(void **state)
{
	char a[64], b[64], c[64];

	(void)state;
	runner_client_id("pp1/tcp4/basic", SC_WSS, 0xfffff, a, sizeof(a));
	assert_true(strlen(a) <= 23);
	assert_int_equal(strncmp(a, "ppmq-", 5), 0);
	assert_non_null(strstr(a, "-wss-"));
	runner_client_id("pp1/tcp4/basic", SC_WSS, 7, b, sizeof(b));
	runner_client_id("pp1/tcp6/basic", SC_WSS, 7, c, sizeof(c));
	assert_string_not_equal(a, b);
	assert_string_not_equal(b, c);
	assert_int_equal(strncmp(a, b, 12), 0); /* same scenario, same hash */
}

/* ---- grading ------------------------------------------------------------- */

struct match_case {
	enum sc_outcome want;
	int code;            /* -1: none */
	int within;
	enum client_outcome got;
	int rc;
	bool any_byte;
	double ms;
	bool match;
};

static const struct match_case match_cases[] = {
	{ SC_O_ACCEPTED, -1, 0, CLIENT_CONNACK, 0, true, 3, true },
	{ SC_O_ACCEPTED, -1, 0, CLIENT_CONNACK, 5, true, 3, false },
	{ SC_O_ACCEPTED, -1, 0, CLIENT_CLOSED, -1, false, 3, false },
	{ SC_O_REFUSED, -1, 0, CLIENT_CONNACK, 5, true, 3, true },
	{ SC_O_REFUSED, -1, 0, CLIENT_CONNACK, 0, true, 3, false },
	{ SC_O_REFUSED, 4, 0, CLIENT_CONNACK, 5, true, 3, false },
	{ SC_O_REFUSED, 5, 0, CLIENT_CONNACK, 5, true, 3, true },
	{ SC_O_CONNACK, 0, 0, CLIENT_CONNACK, 0, true, 3, true },
	{ SC_O_CONNACK, 135, 0, CLIENT_CONNACK, 134, true, 3, false },
	{ SC_O_REJECTED, -1, 0, CLIENT_CLOSED, -1, false, 3, true },
	{ SC_O_REJECTED, -1, 0, CLIENT_RESET, -1, false, 3, true },
	{ SC_O_REJECTED, -1, 0, CLIENT_TLS_FAIL, -1, false, 3, true },
	{ SC_O_REJECTED, -1, 0, CLIENT_WS_FAIL, -1, false, 3, true },
	{ SC_O_REJECTED, -1, 0, CLIENT_CLOSED, -1, true, 3, false },   /* wrote first */
	{ SC_O_REJECTED, -1, 0, CLIENT_TIMEOUT, -1, false, 3, false },
	{ SC_O_REJECTED, -1, 0, CLIENT_CONNACK, 0, true, 3, false },
	{ SC_O_REJECTED, -1, 100, CLIENT_CLOSED, -1, false, 99, true },
	{ SC_O_REJECTED, -1, 100, CLIENT_CLOSED, -1, false, 101, false },
	{ SC_O_REJECTED, -1, SC_WAIT_HEADER_TIMEOUT, CLIENT_CLOSED, -1, false, 1999, true },
	{ SC_O_REJECTED, -1, SC_WAIT_HEADER_TIMEOUT, CLIENT_CLOSED, -1, false, 2001, false },
	{ SC_O_CLOSED, -1, 0, CLIENT_CLOSED, -1, true, 3, true },
	{ SC_O_CLOSED, -1, 0, CLIENT_PROTOCOL, -1, true, 3, false },
	{ SC_O_TIMEOUT, -1, 0, CLIENT_TIMEOUT, -1, false, 3, true },
	{ SC_O_TIMEOUT, -1, 0, CLIENT_SENT, -1, false, 3, true },
	{ SC_O_TIMEOUT, -1, 0, CLIENT_CLOSED, -1, false, 3, false },
	{ SC_O_TLS_FAIL, -1, 0, CLIENT_TLS_FAIL, -1, true, 3, true },
	{ SC_O_WS_FAIL, -1, 0, CLIENT_WS_FAIL, -1, true, 3, true },
	{ SC_O_WS_FAIL, -1, 0, CLIENT_TLS_FAIL, -1, true, 3, false },
	{ SC_O_PROTOCOL, -1, 0, CLIENT_PROTOCOL, -1, true, 3, true },
	{ SC_O_NOT_ACCEPTED, -1, 0, CLIENT_CONNACK, 4, true, 3, true },
	{ SC_O_NOT_ACCEPTED, -1, 0, CLIENT_CLOSED, -1, false, 3, true },
	{ SC_O_NOT_ACCEPTED, -1, 0, CLIENT_CONNACK, 0, true, 3, false },
	{ SC_O_NOT_ACCEPTED, -1, 0, CLIENT_REFUSED, -1, false, 3, false },
	{ SC_O_NOT_ACCEPTED, -1, 0, CLIENT_ERROR, -1, false, 3, false },
	{ SC_O_ANY, -1, 0, CLIENT_SENT, -1, false, 3, true },
	{ SC_O_ANY, -1, 0, CLIENT_REFUSED, -1, false, 3, false },
};

static void test_matches_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(match_cases) / sizeof(match_cases[0]); i++) {
		const struct match_case *c = &match_cases[i];
		struct sc_expect x;
		struct expect_actual a;

		memset(&x, 0, sizeof(x));
		x.outcome = c->want;
		x.within_ms = c->within;
		if (c->code >= 0)
			x.codes[x.ncodes++] = c->code;
		a.outcome = c->got;
		a.connack_rc = c->rc;
		a.any_byte = c->any_byte;
		a.elapsed_ms = c->ms;
		if (expect_matches(&x, &a, 2000) != c->match)
			fail_msg("match case %zu: wanted %s", i, c->match ? "a match" : "no match");
	}
}

static void test_grade_first_match(void **state)
{
	struct sc_expect x[3];
	struct sc_step st;
	struct expect_actual a = { CLIENT_CLOSED, -1, false, 10 };
	enum rpt_grade g;
	const char *note;
	char buf[256];

	(void)state;
	memset(x, 0, sizeof(x));
	memset(&st, 0, sizeof(st));
	x[0].outcome = SC_O_ACCEPTED;
	x[0].grade = RPT_PASS;
	x[1].outcome = SC_O_CLOSED;
	x[1].grade = RPT_NON_STRICT;
	x[1].note = "closed, not rejected";
	x[2].outcome = SC_O_REJECTED;  /* would match too: order decides */
	x[2].grade = RPT_PASS;
	st.expect = x;
	st.nexpect = 3;
	assert_int_equal(expect_grade(&st, &a, 2000, &g, &note), 1);
	assert_int_equal(g, RPT_NON_STRICT);
	assert_string_equal(note, "closed, not rejected");

	a.outcome = CLIENT_TIMEOUT;
	assert_int_equal(expect_grade(&st, &a, 2000, &g, &note), -1);
	assert_int_equal(g, RPT_FAIL);
	assert_non_null(strstr(note, "none of the acceptable"));
	a.outcome = CLIENT_REFUSED;
	assert_int_equal(expect_grade(&st, &a, 2000, &g, &note), -1);
	assert_non_null(strstr(note, "refused the TCP connection"));

	assert_int_equal(expect_worst(RPT_PASS, RPT_INFO), RPT_INFO);
	assert_int_equal(expect_worst(RPT_NON_STRICT, RPT_INFO), RPT_NON_STRICT);
	assert_int_equal(expect_worst(RPT_NON_STRICT, RPT_UNSUPPORTED), RPT_UNSUPPORTED);
	assert_int_equal(expect_worst(RPT_FAIL, RPT_UNSUPPORTED), RPT_FAIL);
	assert_int_equal(expect_worst(RPT_PASS, RPT_FAIL), RPT_FAIL);
	assert_int_equal(expect_worst(RPT_FAIL, RPT_SKIP), RPT_SKIP);

	x[0].within_ms = SC_WAIT_HEADER_TIMEOUT;
	x[0].outcome = SC_O_REJECTED;
	expect_text(&x[0], 2000, buf, sizeof(buf));
	assert_string_equal(buf, "rejected (closed with no byte from the broker) within 2000 ms => PASS");
	x[0].outcome = SC_O_REFUSED;
	x[0].within_ms = 0;
	x[0].codes[0] = 4;
	x[0].codes[1] = 5;
	x[0].ncodes = 2;
	expect_text(&x[0], 2000, buf, sizeof(buf));
	assert_string_equal(buf, "refused (CONNACK 4,5) => PASS");
	a.outcome = CLIENT_CONNACK;
	a.connack_rc = 0;
	a.elapsed_ms = 12;
	expect_actual_text(&a, NULL, buf, sizeof(buf));
	assert_string_equal(buf, "CONNACK 0 after 12 ms");
	a.outcome = CLIENT_CLOSED;
	expect_actual_text(&a, "closed by peer", buf, sizeof(buf));
	assert_string_equal(buf, "closed after 12 ms, no byte received: closed by peer");
}

static void test_ip_equal(void **state)
{
	(void)state;
	assert_true(expect_ip_equal("192.0.2.1", "192.0.2.1"));
	assert_true(expect_ip_equal("::ffff:192.0.2.1", "192.0.2.1"));
	assert_true(expect_ip_equal("2001:DB8::1", "2001:db8:0:0::1"));
	assert_true(expect_ip_equal("[2001:db8::1]", "2001:db8::1"));
	assert_false(expect_ip_equal("192.0.2.1", "192.0.2.10"));
	assert_false(expect_ip_equal("::1", "127.0.0.1"));
	assert_false(expect_ip_equal(NULL, "127.0.0.1"));
	assert_true(expect_ip_equal("unix:/x", "UNIX:/x"));
}

static void test_check_record(void **state)
{
	struct sc_record r;
	struct expect_record rec;
	struct expect_addrs ad = { "203.0.113.10", 50010, "127.0.0.7", 41234, NULL };
	char why[256];

	(void)state;
	memset(&r, 0, sizeof(r));
	memset(&rec, 0, sizeof(rec));
	r.where = SC_REC_SESSIONS;
	r.ip.src = SC_ADDR_HEADER_SRC;
	r.port.src = SC_ADDR_HEADER_SRC;
	assert_int_equal(expect_check_record(&r, &rec, &ad, true, why, sizeof(why)), RPT_FAIL);
	assert_non_null(strstr(why, "no record"));

	rec.found = true;
	rec.connected = 1;
	strcpy(rec.ip, "203.0.113.10");
	rec.has_port = true;
	rec.port = 50010;
	assert_int_equal(expect_check_record(&r, &rec, &ad, true, why, sizeof(why)), RPT_PASS);

	/* the proxy's address recorded instead of the client's */
	strcpy(rec.ip, "127.0.0.7");
	assert_int_equal(expect_check_record(&r, &rec, &ad, true, why, sizeof(why)), RPT_FAIL);
	assert_string_equal(why, "recorded client IP 127.0.0.7 (the socket peer), expected 203.0.113.10 (header source)");

	strcpy(rec.ip, "::ffff:203.0.113.10");
	rec.port = 41234;
	assert_int_equal(expect_check_record(&r, &rec, &ad, true, why, sizeof(why)), RPT_FAIL);
	assert_string_equal(why, "recorded client port 41234, expected 50010 (header source)");

	rec.port = 50010;
	rec.connected = 0;
	assert_int_equal(expect_check_record(&r, &rec, &ad, true, why, sizeof(why)), RPT_FAIL);
	assert_non_null(strstr(why, "not connected"));
	assert_int_equal(expect_check_record(&r, &rec, &ad, false, why, sizeof(why)), RPT_PASS);

	/* peer fields */
	r.peer_ip.src = SC_ADDR_SOCKET_PEER;
	r.peer_port.src = SC_ADDR_SOCKET_PEER;
	assert_int_equal(expect_check_record(&r, &rec, &ad, false, why, sizeof(why)), RPT_FAIL);
	assert_non_null(strstr(why, "no peer (proxy) IP"));
	rec.has_peer_ip = rec.has_peer_port = true;
	strcpy(rec.peer_ip, "203.0.113.10");
	rec.peer_port = 41234;
	assert_int_equal(expect_check_record(&r, &rec, &ad, false, why, sizeof(why)), RPT_FAIL);
	assert_string_equal(why, "recorded peer IP 203.0.113.10 (the header source), expected 127.0.0.7 (socket peer)");
	strcpy(rec.peer_ip, "127.0.0.7");
	assert_int_equal(expect_check_record(&r, &rec, &ad, false, why, sizeof(why)), RPT_PASS);

	/* literal and socket-peer checks */
	memset(&r, 0, sizeof(r));
	r.where = SC_REC_UNAUTHORIZED;
	r.ip.src = SC_ADDR_LITERAL;
	r.ip.literal = "203.0.113.10";
	r.port.src = SC_ADDR_LITERAL;
	r.port.literal = "50010";
	assert_int_equal(expect_check_record(&r, &rec, &ad, false, why, sizeof(why)), RPT_PASS);
	r.ip.src = SC_ADDR_SOCKET_PEER;
	assert_int_equal(expect_check_record(&r, &rec, &ad, false, why, sizeof(why)), RPT_FAIL);
	rec.has_port = false;
	r.ip.src = SC_ADDR_UNCHECKED;
	assert_int_equal(expect_check_record(&r, &rec, &ad, false, why, sizeof(why)), RPT_FAIL);
	assert_non_null(strstr(why, "no client port"));
}

/* ---- profiles ------------------------------------------------------------ */

static const char profile_yaml[] =
	"name: demo\n"
	"host: 127.0.0.1\n"
	"client_bind: 127.0.0.7\n"
	"header_timeout_ms: 1500\n"
	"listeners:\n"
	"  tcp: {port: \"${PPMQ_T_PORT}\", proxy: enabled}\n"
	"  ssl: {port: 8883, proxy: optional, tls: {ca: \"${PPMQ_T_DIR:/certs}/ca.pem\", sni: localhost}}\n"
	"  ws: {port: 8084, proxy: disabled, path: /ws}\n"
	"  wss: {proxy: absent}\n"
	"credentials:\n"
	"  valid: {username: u, password: p}\n"
	"  anonymous: false\n"
	"observers:\n"
	"  sessions:\n"
	"    type: http\n"
	"    url: \"http://127.0.0.1:${PPMQ_T_ADMIN}/s/{client_id}\"\n"
	"    auth: {bearer: tok}\n"
	"    select: {array_field: data, match_field: clientId}\n"
	"    ip_field: ip\n"
	"  unauthorized:\n"
	"    type: log\n"
	"    file: /var/log/x.log\n"
	"    regex: 'from (?<ip>[0-9.]+) as {client_id}'\n"
	"launch:\n"
	"  free_ports: [PPMQ_T_PORT, PPMQ_T_ADMIN]\n"
	"  start: exec broker\n"
	"  env: {A: \"1\", B: \"${PPMQ_T_PORT}\"}\n"
	"configurations:\n"
	"  settings: {global: G_ENV, tcp: TCP_ENV, ssl: SSL_ENV, ws: WS_ENV, wss: WSS_ENV, mode: MODE_ENV}\n"
	"  values: {\"true\": \"1\", \"false\": \"0\"}\n"
	"  modes: {optional: \"global=true mode=optional\"}\n";

static void test_profile_good(void **state)
{
	struct profile p;
	struct perr e;
	char want[64];
	const char *port;

	(void)state;
	unsetenv("PPMQ_T_PORT");
	unsetenv("PPMQ_T_ADMIN");
	unsetenv("PPMQ_T_DIR");
	if (profile_load_string(&p, "p.yml", profile_yaml, &e) < 0)
		fail_msg("%s", e.msg);
	port = getenv("PPMQ_T_PORT");
	assert_non_null(port);   /* free_ports exported it */
	assert_non_null(getenv("PPMQ_T_ADMIN"));
	assert_string_not_equal(port, getenv("PPMQ_T_ADMIN"));
	assert_string_equal(p.name, "demo");
	assert_string_equal(p.client_bind, "127.0.0.7");
	assert_int_equal(p.header_timeout_ms, 1500);
	assert_int_equal(runner_header_wait(&p), 2500);
	assert_int_equal(p.timeout_ms, 3000);
	assert_true(p.l[SC_TCP].present);
	assert_int_equal(p.l[SC_TCP].port, atoi(port));
	assert_int_equal(p.l[SC_TCP].mode, SC_MODE_ENABLED);
	assert_int_equal(p.l[SC_SSL].mode, SC_MODE_OPTIONAL);
	assert_string_equal(p.l[SC_SSL].tls.ca, "/certs/ca.pem");
	assert_string_equal(p.l[SC_SSL].host, "127.0.0.1");
	assert_int_equal(p.l[SC_WS].mode, SC_MODE_DISABLED);
	assert_string_equal(p.l[SC_WS].path, "/ws");
	assert_string_equal(p.l[SC_WS].subprotocol, "mqtt");
	assert_false(p.l[SC_WSS].present);
	assert_int_equal(p.l[SC_WSS].mode, SC_MODE_ABSENT);
	assert_true(p.valid.given);
	assert_false(p.invalid.given);
	assert_false(p.anonymous);
	assert_int_equal(p.sessions.type, PROFILE_OBS_HTTP);
	snprintf(want, sizeof(want), "http://127.0.0.1:%s/s/{client_id}", getenv("PPMQ_T_ADMIN"));
	assert_string_equal(p.sessions.url, want);
	assert_string_equal(p.sessions.bearer, "tok");
	assert_string_equal(p.sessions.array_field, "data");
	assert_int_equal(p.unauthorized.type, PROFILE_OBS_LOG);
	assert_true(p.launch.present);
	assert_true(p.launch.ready_listeners);
	assert_int_equal(p.launch.nenv, 2);
	assert_string_equal(p.launch.env[1].value, port);
	assert_true(p.conf.present);
	assert_string_equal(p.conf.modes[SC_MODE_OPTIONAL], "global=true mode=optional");
	profile_free(&p);
	unsetenv("PPMQ_T_PORT");
	unsetenv("PPMQ_T_ADMIN");
}

/* The inheritance rule, through the profile's mapping. */
static void test_profile_configurations(void **state)
{
	struct profile p;
	struct perr e;
	struct profile_kv *env;
	size_t n, i;
	enum sc_mode m[SC_NLISTENERS];
	static const struct { const char *conf; enum sc_mode tcp, ssl, ws; } table[] = {
		{ "global=true tcp=unset", SC_MODE_ENABLED, SC_MODE_ENABLED, SC_MODE_ENABLED },
		{ "global=true tcp=false", SC_MODE_DISABLED, SC_MODE_ENABLED, SC_MODE_ENABLED },
		{ "global=true tcp=true", SC_MODE_ENABLED, SC_MODE_ENABLED, SC_MODE_ENABLED },
		{ "global=false tcp=true", SC_MODE_ENABLED, SC_MODE_DISABLED, SC_MODE_DISABLED },
		{ "global=false tcp=unset", SC_MODE_DISABLED, SC_MODE_DISABLED, SC_MODE_DISABLED },
		{ "global=unset tcp=true", SC_MODE_ENABLED, SC_MODE_DISABLED, SC_MODE_DISABLED },
		{ "global=unset tcp=unset", SC_MODE_DISABLED, SC_MODE_DISABLED, SC_MODE_DISABLED },
		{ "ws=true", SC_MODE_DISABLED, SC_MODE_DISABLED, SC_MODE_ENABLED },
		{ "global=true mode=optional ssl=false", SC_MODE_OPTIONAL, SC_MODE_DISABLED, SC_MODE_OPTIONAL },
	};

	(void)state;
	if (profile_load_string(&p, "p.yml", profile_yaml, &e) < 0)
		fail_msg("%s", e.msg);
	for (i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		if (profile_config_resolve(&p, table[i].conf, &env, &n, m, &e) < 0)
			fail_msg("%s: %s", table[i].conf, e.msg);
		if (m[SC_TCP] != table[i].tcp || m[SC_SSL] != table[i].ssl || m[SC_WS] != table[i].ws)
			fail_msg("%s: tcp %s ssl %s ws %s", table[i].conf, sc_mode_name(m[SC_TCP]),
				 sc_mode_name(m[SC_SSL]), sc_mode_name(m[SC_WS]));
		assert_int_equal(m[SC_WSS], SC_MODE_ABSENT);
		assert_int_equal(n, 6);
	}
	/* The environment: every mapped variable, translated or removed. */
	assert_int_equal(profile_config_resolve(&p, "global=true tcp=false", &env, &n, m, &e), 0);
	assert_string_equal(env[0].key, "G_ENV");
	assert_string_equal(env[0].value, "1");
	assert_string_equal(env[1].key, "TCP_ENV");
	assert_string_equal(env[1].value, "0");
	assert_null(env[2].value); /* ssl: not named, removed */
	assert_null(env[5].value);

	assert_int_equal(profile_config_resolve(&p, "global=maybe", &env, &n, m, &e), -1);
	assert_non_null(strstr(e.msg, "must be true, false or unset"));
	assert_int_equal(profile_config_resolve(&p, "colour=blue", &env, &n, m, &e), -1);
	assert_non_null(strstr(e.msg, "needs the setting 'colour', which the profile does not map"));
	assert_int_equal(profile_config_resolve(&p, "mode=sometimes", &env, &n, m, &e), -1);
	profile_free(&p);
	unsetenv("PPMQ_T_PORT");
	unsetenv("PPMQ_T_ADMIN");
}

static const struct bad_case bad_profiles[] = {
	{ "host: h\nlisteners: {tcp: {port: 1}}\n", "bp.yml:1:1:", "missing 'name'" },
	{ "name: n\nlisteners: {tcp: {port: 1}}\n", "bp.yml:1:1:", "missing 'host'" },
	{ "name: n\nhost: h\n", "bp.yml:1:1:", "missing 'listeners'" },
	{ "name: n\nhost: ${PPMQ_T_UNSET_HOST}\nlisteners: {tcp: {port: 1}}\n", "bp.yml:2:7:",
	  "host: empty (${PPMQ_T_UNSET_HOST} is unset)" },
	{ "name: ''\nhost: h\nlisteners: {tcp: {port: 1}}\n", "bp.yml:1:7:", "name: empty" },
	{ "name: n\nhost: h\nlisteners: {tcp: {port: 1}}\nhots: x\n", "bp.yml:4:1:", "unknown key 'hots' (did you mean 'host'?)" },
	{ "name: n\nhost: h\nlisteners: {udp: {port: 1}}\n", "bp.yml:3:13:", "unknown key 'udp'" },
	{ "name: n\nhost: h\nlisteners: {tcp: {port: 70000}}\n", "bp.yml:3:25:", "out of range" },
	{ "name: n\nhost: h\nlisteners: {tcp: {proxy: enabled}}\n", "bp.yml:3:18:", "missing 'port'" },
	{ "name: n\nhost: h\nlisteners: {tcp: {port: 1, proxy: maybe}}\n", "bp.yml:3:35:", "'maybe' is not enabled" },
	{ "name: n\nhost: h\nlisteners: {ssl: {port: 1}}\n", "bp.yml:3:18:", "missing 'tls'" },
	{ "name: n\nhost: h\nlisteners: {tcp: {port: 1}}\npolicy: {allowed_source: 192.0.2.1}\n", "bp.yml:4:9:",
	  "profile: missing 'blocked_cidr'" },
	{ "name: n\nhost: h\nlisteners: {tcp: {port: 1}}\npolicy: {blocked_cidr: 2001:db8::/32, allowed_source: 192.0.2.1}\n",
	  "bp.yml:4:24:", "policy.blocked_cidr: '2001:db8::/32' is not an IPv4 network" },
	{ "name: n\nhost: h\nlisteners: {tcp: {port: 1}}\npolicy: {blocked_cidr: 10.0.0.0/8}\n", "bp.yml:4:9:",
	  "policy: missing 'allowed_source'" },
	{ "name: n\nhost: h\nlisteners: {tcp: {port: 1}}\npolicy: {blocked_cidr: 10.0.0.0/8, allowed_source: 10.1.1.1}\n",
	  "bp.yml:4:52:", "policy.allowed_source: 10.1.1.1 is in blocked_cidr 10.0.0.0/8" },
	{ "name: n\nhost: h\nlisteners: {tcp: {port: 1}}\npolicy: {blocked_cidr: 10.0.0.0/8, allowed_source: 1.1.1.1, blocked_source: 11.0.0.1}\n",
	  "bp.yml:4:77:", "policy.blocked_source: 11.0.0.1 is not in blocked_cidr" },
	{ "name: n\nhost: h\nlisteners: {tcp: {port: 1}}\npolicy: {blocked_cidr: 10.0.0.0/8, allowed_source: x}\n",
	  "bp.yml:4:52:", "policy.allowed_source: 'x' is not an IPv4 address" },
	{ "name: n\nhost: h\nlisteners: {tcp: {port: 1}}\npolicy: {blocked_cidr: 10.0.0.0/8, alowed_source: x}\n",
	  "bp.yml:4:", "unknown key 'alowed_source'" },
	{ "name: n\nhost: h\nlisteners: {ssl: {port: 1, tls: {sni: x}}}\n", "bp.yml:3:33:", "give 'ca' or 'insecure: true'" },
	{ "name: n\nhost: h\nlisteners: {tcp: {port: 1, tls: {insecure: true}}}\n", "bp.yml:3:33:", "tls is for ssl and wss" },
	{ "name: n\nhost: h\nlisteners: {tcp: {port: 1, path: /x}}\n", "bp.yml:3:18:", "path and subprotocol are for ws" },
	{ "name: n\nhost: h\nlisteners: {tcp: {proxy: absent}}\n", "bp.yml:3:12:", "no listener present" },
	{ "name: n\nhost: h\nlisteners: {tcp: {port: 1}}\nobservers: {sessions: {type: snmp}}\n",
	  "bp.yml:4:30:", "'snmp' is not http or log" },
	{ "name: n\nhost: h\nlisteners: {tcp: {port: 1}}\nobservers: {sessions: {type: http, url: u}}\n",
	  "bp.yml:4:23:", "missing 'ip_field'" },
	{ "name: n\nhost: h\nlisteners: {tcp: {port: 1}}\nobservers: {sessions: {type: log, file: f, regex: 'x'}}\n",
	  "bp.yml:4:51:", "must contain {client_id}" },
	{ "name: n\nhost: h\nlisteners: {tcp: {port: 1}}\nobservers: {sessions: {type: http, url: u, ip_field: i, select: {array_field: a}}}\n",
	  "bp.yml:4:65:", "missing 'match_field'" },
	{ "name: n\nhost: h\nlisteners: {tcp: {port: 1}}\nconfigurations: {settings: {global: G}}\n",
	  "bp.yml:4:17:", "need 'launch'" },
	{ "name: n\nhost: h\nlisteners: {tcp: {port: 1}}\nlaunch: {stop: x}\n", "bp.yml:4:9:", "missing 'start'" },
	{ "name: \"${UNTERMINATED\"\nhost: h\nlisteners: {tcp: {port: 1}}\n", "bp.yml:1:7:", "unterminated" },
	{ "name: n\nhost: h\nlisteners: {tcp: {port: 1}}\ncredentials: {valid: {user: x}}\n", "bp.yml:4:23:", "unknown key 'user'" },
};

static void test_profile_errors(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad_profiles) / sizeof(bad_profiles[0]); i++) {
		struct profile p;
		struct perr e;
		int rc;

		memset(&e, 0, sizeof(e));
		rc = profile_load_string(&p, "bp.yml", bad_profiles[i].yaml, &e);
		if (rc != -1 || strncmp(e.msg, bad_profiles[i].where, strlen(bad_profiles[i].where)) ||
		    !strstr(e.msg, bad_profiles[i].what))
			fail_msg("profile case %zu: rc %d, message '%s'; wanted '%s...%s'", i, rc, e.msg,
				 bad_profiles[i].where, bad_profiles[i].what);
		profile_free(&p);
	}
}

static void test_shipped_profile(void **state)
{
	struct profile p;
	struct perr e;
	int l;

	(void)state;
	setenv("PPMQ_CERT_DIR", "/tmp/certs-for-test", 1);
	if (profile_load(&p, "conformance/targets/ppmq-broker.yml", &e) < 0)
		fail_msg("%s", e.msg);
	for (l = 0; l < SC_NLISTENERS; l++) {
		assert_true(p.l[l].present);
		assert_int_equal(p.l[l].mode, SC_MODE_ENABLED);
		assert_true(p.l[l].port > 0);
	}
	assert_string_equal(p.l[SC_SSL].tls.ca, "/tmp/certs-for-test/ca.pem");
	assert_true(p.launch.present);
	assert_true(p.conf.present);
	assert_non_null(p.conf.modes[SC_MODE_DISABLED]);
	assert_non_null(p.conf.modes[SC_MODE_OPTIONAL]);
	assert_int_equal(p.sessions.type, PROFILE_OBS_HTTP);
	assert_int_equal(p.unauthorized.type, PROFILE_OBS_HTTP);
	assert_non_null(p.untrusted_bind);
	profile_free(&p);
}

/* ---- skip reasons --------------------------------------------------------- */

static void test_skip_reasons(void **state)
{
	struct profile p;
	struct sc_catalog cat;
	struct perr e;
	const struct scenario *s;
	char buf[256];
	static const char yaml[] =
		"scenarios:\n"
		"  - {id: a, title: t, applies: {listeners: [tcp]}, expect: [accepted]}\n"
		"  - {id: b, title: t, applies: {modes: [optional]}, expect: [accepted]}\n"
		"  - {id: c, title: t, send: {from: untrusted}, expect: [accepted]}\n"
		"  - {id: d, title: t, send: {connect: {credentials: invalid}}, expect: [refused]}\n"
		"  - {id: e, title: t, expect: [accepted], record: {where: sessions, ip: socket-peer}}\n"
		"  - {id: f, title: t, expect: [refused], record: {where: unauthorized, ip: socket-peer}}\n"
		"  - {id: g, title: t, expect: [accepted]}\n"
		"  - {id: h, title: t, needs: [policy], expect: [refused],\n"
		"     send: {header: {version: 1, family: tcp4, src: \"{blocked}:1\", dst: \"192.0.2.1:2\"}}}\n"
		"  - {id: i, title: t, needs: [policy], send: {from: blocked-proxy}, expect: [accepted]}\n";

	(void)state;
	memset(&cat, 0, sizeof(cat));
	assert_int_equal(sc_load_string(&cat, "s.yml", yaml, &e), 0);
	if (profile_load_string(&p, "p.yml", profile_yaml, &e) < 0)
		fail_msg("%s", e.msg);
	s = sc_find(&cat, "a");
	assert_non_null(strstr(runner_skip_reason(&p, s, SC_SSL, SC_MODE_OPTIONAL, buf, sizeof(buf)),
			       "does not apply to ssl"));
	assert_null(runner_skip_reason(&p, s, SC_TCP, SC_MODE_ENABLED, buf, sizeof(buf)));
	assert_non_null(strstr(runner_skip_reason(&p, s, SC_TCP, SC_MODE_ABSENT, buf, sizeof(buf)), "absent"));
	s = sc_find(&cat, "b");
	assert_string_equal(runner_skip_reason(&p, s, SC_TCP, SC_MODE_ENABLED, buf, sizeof(buf)),
			    "listener tcp is PROXY-enabled; scenario is for optional listeners");
	assert_null(runner_skip_reason(&p, s, SC_SSL, SC_MODE_OPTIONAL, buf, sizeof(buf)));
	s = sc_find(&cat, "c");
	assert_non_null(strstr(runner_skip_reason(&p, s, SC_TCP, SC_MODE_ENABLED, buf, sizeof(buf)), "untrusted_bind"));
	s = sc_find(&cat, "d");
	assert_non_null(strstr(runner_skip_reason(&p, s, SC_TCP, SC_MODE_ENABLED, buf, sizeof(buf)), "invalid credentials"));
	s = sc_find(&cat, "e");
	/* sessions is an http observer without peer fields: plain ip check runs */
	assert_null(runner_skip_reason(&p, s, SC_TCP, SC_MODE_ENABLED, buf, sizeof(buf)));
	s = sc_find(&cat, "f");
	assert_null(runner_skip_reason(&p, s, SC_TCP, SC_MODE_ENABLED, buf, sizeof(buf)));
	p.unauthorized.type = PROFILE_OBS_NONE;
	assert_non_null(strstr(runner_skip_reason(&p, s, SC_TCP, SC_MODE_ENABLED, buf, sizeof(buf)),
			       "no unauthorized observer"));
	s = sc_find(&cat, "g");
	assert_null(runner_skip_reason(&p, s, SC_WS, SC_MODE_DISABLED, buf, sizeof(buf)));
	/* The policy family: skipped without the profile's address rule, and
	 * the blocked proxy without its address. */
	s = sc_find(&cat, "h");
	assert_string_equal(runner_skip_reason(&p, s, SC_TCP, SC_MODE_ENABLED, buf, sizeof(buf)),
			    "the profile declares no address rule (policy.blocked_cidr)");
	p.policy.present = true;
	assert_null(runner_skip_reason(&p, s, SC_TCP, SC_MODE_ENABLED, buf, sizeof(buf)));
	s = sc_find(&cat, "i");
	assert_non_null(strstr(runner_skip_reason(&p, s, SC_TCP, SC_MODE_ENABLED, buf, sizeof(buf)),
			       "policy.blocked_proxy"));
	profile_free(&p);
	/* Its addresses: the network's first host unless given. */
	{
		static const char y[] = "name: n\nhost: h\nlisteners: {tcp: {port: 1}}\n"
					"policy: {blocked_cidr: 203.0.113.128/25, allowed_source: 192.0.2.200}\n";

		if (profile_load_string(&p, "p2.yml", y, &e) < 0)
			fail_msg("%s", e.msg);
		assert_true(p.policy.present);
		assert_string_equal(p.policy.blocked_source, "203.0.113.129");
		assert_null(p.policy.blocked_proxy);
		profile_free(&p);
	}
	{
		char out[64];

		assert_int_equal(sc_expand_addr("[::ffff:{blocked}]:1", "1.2.3.4", "5.6.7.8", out, sizeof(out)), 1);
		assert_string_equal(out, "[::ffff:1.2.3.4]:1");
		assert_int_equal(sc_expand_addr("{allowed}:9", "1.2.3.4", "5.6.7.8", out, sizeof(out)), 1);
		assert_string_equal(out, "5.6.7.8:9");
		assert_int_equal(sc_expand_addr("192.0.2.1:9", "x", "y", out, sizeof(out)), 0);
		assert_string_equal(out, "192.0.2.1:9");
		assert_int_equal(sc_expand_addr("{allowed}:9", "1.2.3.4", "5.6.7.8", out, 6), -1);
	}
	sc_catalog_free(&cat);
	unsetenv("PPMQ_T_PORT");
	unsetenv("PPMQ_T_ADMIN");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load_good),
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_load_missing_dir),
		cmocka_unit_test(test_mutations_all),
		cmocka_unit_test(test_mutations_override_and_list),
		cmocka_unit_test(test_shipped_catalog),
		cmocka_unit_test(test_matches),
		cmocka_unit_test(test_client_id),
		cmocka_unit_test(test_matches_table),
		cmocka_unit_test(test_grade_first_match),
		cmocka_unit_test(test_ip_equal),
		cmocka_unit_test(test_check_record),
		cmocka_unit_test(test_profile_good),
		cmocka_unit_test(test_profile_configurations),
		cmocka_unit_test(test_profile_errors),
		cmocka_unit_test(test_shipped_profile),
		cmocka_unit_test(test_skip_reasons),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
