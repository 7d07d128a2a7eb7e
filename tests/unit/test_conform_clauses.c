/* test_conform_clauses.c - grades from the spec's own words: clauses and
 * their levels, the check that every grade matches its clause, the
 * clauses of generated scenarios, conditional clauses, "after" bounds,
 * the split sweep's key, what an observer cannot show, and the shipped
 * catalog against its audit table (docs/conformance-audit.md). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "expect.h"
#include "pp.h"
#include "scenario.h"

static const char clauses_yaml[] =
	"clauses:\n"
	"  - {id: c/must, source: \"doc 1\", level: must, quote: \"The receiver must do it.\"}\n"
	"  - {id: c/should, source: \"doc 2\", level: SHOULD NOT, quote: \"It should not.\"}\n"
	"  - {id: c/may, source: \"doc 3\", level: may, quote: \"It may.\"}\n"
	"  - {id: c/rule, source: \"doc 4\", level: RULE, quote: \"A product rule.\"}\n"
	"  - {id: c/crc, source: \"doc 5\", level: MUST, when: crc32c, quote: \"If supported, MUST.\"}\n";

static void load(struct sc_catalog *cat, const char *yaml)
{
	struct perr e;

	memset(cat, 0, sizeof(*cat));
	if (sc_load_string(cat, "clauses.yml", clauses_yaml, &e) < 0)
		fail_msg("%s", e.msg);
	if (sc_load_string(cat, "s.yml", yaml, &e) < 0)
		fail_msg("%s", e.msg);
}

/* The error text of loading yaml after the clauses ("" when it loads). */
static const char *load_err(const char *yaml, struct perr *e)
{
	struct sc_catalog cat;
	int rc;

	memset(&cat, 0, sizeof(cat));
	assert_int_equal(sc_load_string(&cat, "clauses.yml", clauses_yaml, e), 0);
	rc = sc_load_string(&cat, "s.yml", yaml, e);
	sc_catalog_free(&cat);
	return rc < 0 ? e->msg : "";
}

static void test_levels(void **state)
{
	enum sc_level l;
	(void)state;

	assert_int_equal(sc_level_parse("MUST NOT", &l), 0);
	assert_int_equal(l, SC_LEVEL_MUST);
	assert_int_equal(sc_level_parse("recommended", &l), 0);
	assert_int_equal(l, SC_LEVEL_SHOULD);
	assert_int_equal(sc_level_parse("May", &l), 0);
	assert_int_equal(l, SC_LEVEL_MAY);
	assert_int_equal(sc_level_parse("rule", &l), 0);
	assert_int_equal(l, SC_LEVEL_RULE);
	assert_int_equal(sc_level_parse("could", &l), -1);
	assert_int_equal(sc_level_grade(SC_LEVEL_MUST), RPT_FAIL);
	assert_int_equal(sc_level_grade(SC_LEVEL_RULE), RPT_FAIL);
	assert_int_equal(sc_level_grade(SC_LEVEL_SHOULD), RPT_NON_STRICT);
	assert_int_equal(sc_level_grade(SC_LEVEL_MAY), RPT_INFO);
}

static void test_clauses_flow_down(void **state)
{
	struct sc_catalog cat;
	const struct scenario *s;
	struct perr e;
	(void)state;

	load(&cat,
	     "defaults: {clause: c/must, expect: [accepted]}\n"
	     "scenarios:\n"
	     "  - {id: a, title: t}\n"
	     "  - id: b\n"
	     "    title: t\n"
	     "    clause: c/should\n"
	     "    expect: [accepted, {outcome: rejected, grade: info, clause: c/may}]\n"
	     "    record: {where: sessions, ip: socket-peer, clause: c/rule}\n"
	     "  - id: c\n"
	     "    title: t\n"
	     "    steps:\n"
	     "      - {send: {none: true}, expect: [rejected]}\n"
	     "      - {send: {none: true}, expect: [accepted], clause: c/may}\n");
	s = sc_find(&cat, "a");
	assert_string_equal(s->steps[0].clause->id, "c/must");
	assert_ptr_equal(s->steps[0].record.clause, s->steps[0].clause);
	s = sc_find(&cat, "b");
	assert_string_equal(s->steps[0].clause->id, "c/should");
	assert_string_equal(sc_expect_clause(&s->steps[0], &s->steps[0].expect[0])->id, "c/should");
	assert_string_equal(sc_expect_clause(&s->steps[0], &s->steps[0].expect[1])->id, "c/may");
	assert_string_equal(s->steps[0].record.clause->id, "c/rule");
	s = sc_find(&cat, "c");
	assert_string_equal(s->steps[0].clause->id, "c/must");
	assert_string_equal(s->steps[1].clause->id, "c/may");
	assert_int_equal(sc_catalog_check(&cat, &e), 0);
	assert_string_equal(sc_clause_find(&cat, "c/crc")->when, "crc32c");
	assert_null(sc_clause_find(&cat, "c/none"));
	sc_catalog_free(&cat);
}

/* Each grade must be the one its clause's level gives: a SHOULD cannot
 * FAIL, a MAY cannot be NON-STRICT, a MUST cannot be INFO. */
static void test_grade_must_match_level(void **state)
{
	struct perr e;
	(void)state;

	assert_string_equal(load_err("scenarios:\n  - {id: a, title: t, clause: c/should, expect: [accepted, {outcome: rejected, grade: non-strict}]}\n", &e), "");
	assert_non_null(strstr(load_err("scenarios:\n  - {id: a, title: t, clause: c/should,\n     expect: [accepted, {outcome: rejected, grade: fail}]}\n", &e),
			       "s.yml:3: scenario 'a': expect: grade FAIL, but clause 'c/should' is SHOULD (\"SHOULD NOT\"): breaking it is NON-STRICT"));
	assert_non_null(strstr(load_err("scenarios:\n  - {id: a, title: t, clause: c/must, expect: [{outcome: rejected, grade: info}]}\n", &e),
			       "breaking it is FAIL"));
	assert_non_null(strstr(load_err("scenarios:\n  - {id: a, title: t, clause: c/may, expect: [{outcome: rejected, grade: non-strict}]}\n", &e),
			       "breaking it is INFO"));
	/* pass and unsupported are free */
	assert_string_equal(load_err("scenarios:\n  - {id: a, title: t, clause: c/may, expect: [{outcome: rejected, grade: unsupported}, accepted]}\n", &e), "");
	/* an item's own clause decides its grade */
	assert_string_equal(load_err("scenarios:\n  - {id: a, title: t, clause: c/must, expect: [accepted, {outcome: rejected, grade: info, clause: c/may}]}\n", &e), "");
	assert_non_null(strstr(load_err("scenarios:\n  - {id: a, title: t, clause: c/nope, expect: [accepted]}\n", &e),
			       "'c/nope' is not a known clause"));
}

static void test_clause_errors(void **state)
{
	struct sc_catalog cat;
	struct perr e;
	(void)state;

	memset(&cat, 0, sizeof(cat));
	assert_int_equal(sc_load_string(&cat, "c.yml", "clauses:\n  - {id: x, source: s, level: must}\n", &e), -1);
	assert_non_null(strstr(e.msg, "missing 'quote'"));
	assert_int_equal(sc_load_string(&cat, "c.yml", "clauses:\n  - {id: x, source: s, level: could, quote: q}\n", &e), -1);
	assert_non_null(strstr(e.msg, "'could' is not MUST"));
	assert_int_equal(sc_load_string(&cat, "c.yml", "clauses:\n  - {id: x, source: s, level: may, quote: q, when: tls}\n", &e), -1);
	assert_non_null(strstr(e.msg, "'tls' is not a feature"));
	assert_int_equal(sc_load_string(&cat, "c.yml", "clauses:\n  - {id: x, source: s, level: may, quote: q}\n  - {id: x, source: s, level: may, quote: q}\n", &e), -1);
	assert_non_null(strstr(e.msg, "clause 'x' already defined at c.yml:2"));
	sc_catalog_free(&cat);
	/* a catalog whose scenario names no clause does not hold together */
	load(&cat, "scenarios:\n  - {id: a, title: t, expect: [accepted]}\n");
	assert_int_equal(sc_catalog_check(&cat, &e), -1);
	assert_non_null(strstr(e.msg, "s.yml:2: scenario 'a' names no clause"));
	sc_catalog_free(&cat);
}

/* Generated scenarios take their clause from mutation_clauses, and their
 * "broken" grade from its level. */
static void test_mutation_clauses(void **state)
{
	struct sc_catalog cat;
	const struct scenario *s;
	struct perr e;
	(void)state;

	load(&cat,
	     "defaults: {clause: c/must}\n"
	     "mutations: [v1-double-space, v2-tlv-value-cut, v2-too-many-tlvs, v2-crc-wrong, v1-no-eol]\n"
	     "mutation_clauses:\n"
	     "  v1: c/must\n"
	     "  v2-tlv-truncated: c/may\n"
	     "  limit: c/may\n"
	     "  v2-crc-wrong: c/crc\n");
	s = sc_find(&cat, "mal/v1-double-space");
	assert_string_equal(s->clause->id, "c/must");
	assert_int_equal(s->steps[0].expect[1].grade, RPT_FAIL);
	s = sc_find(&cat, "mal/v2-tlv-value-cut"); /* by parser reason */
	assert_string_equal(s->clause->id, "c/may");
	assert_int_equal(s->steps[0].expect[1].outcome, SC_O_ACCEPTED);
	assert_int_equal(s->steps[0].expect[1].grade, RPT_INFO);
	s = sc_find(&cat, "mal/v2-too-many-tlvs"); /* by verdict: ppmq's own limit */
	assert_string_equal(s->verdict, "limit");
	assert_int_equal(s->steps[0].expect[0].outcome, SC_O_ACCEPTED);
	assert_int_equal(s->steps[0].expect[0].grade, RPT_PASS);
	assert_int_equal(s->steps[0].expect[1].grade, RPT_INFO);
	s = sc_find(&cat, "mal/v2-crc-wrong"); /* by name */
	assert_string_equal(s->clause->id, "c/crc");
	s = sc_find(&cat, "mal/v1-no-eol"); /* incomplete: accepting it breaks the clause */
	assert_int_equal(s->steps[0].expect[2].outcome, SC_O_ACCEPTED);
	assert_int_equal(s->steps[0].expect[2].grade, RPT_FAIL);
	sc_catalog_free(&cat);

	memset(&cat, 0, sizeof(cat));
	assert_int_equal(sc_load_string(&cat, "clauses.yml", clauses_yaml, &e), 0);
	assert_int_equal(sc_load_string(&cat, "s.yml", "mutations: all\nmutation_clauses: {v3-nothing: c/may}\n", &e), -1);
	assert_non_null(strstr(e.msg, "'v3-nothing' is no mutation, parser reason or verdict"));
	sc_catalog_free(&cat);
}

static void test_after_and_sweep(void **state)
{
	struct sc_catalog cat;
	const struct scenario *s;
	struct expect_actual a = { .outcome = CLIENT_CLOSED, .connack_rc = -1, .elapsed_ms = 10 };
	char buf[256];
	struct perr e;
	(void)state;

	load(&cat,
	     "defaults: {clause: c/may}\n"
	     "scenarios:\n"
	     "  - id: a\n"
	     "    title: t\n"
	     "    send: {header: {version: 1, family: tcp4}, split_sweep: 3}\n"
	     "    expect: [{outcome: rejected, after_ms: header-timeout, within_ms: header-timeout}, {outcome: rejected, after_ms: 5, grade: info}]\n");
	s = sc_find(&cat, "a");
	assert_int_equal(s->steps[0].send.sweep, 3);
	/* header wait 3000 ms: "after the header timeout" is from 1000 ms */
	assert_false(expect_matches(&s->steps[0].expect[0], &a, 3000));
	assert_true(expect_matches(&s->steps[0].expect[1], &a, 3000));
	a.elapsed_ms = 1500;
	assert_true(expect_matches(&s->steps[0].expect[0], &a, 3000));
	a.elapsed_ms = 3500;
	assert_false(expect_matches(&s->steps[0].expect[0], &a, 3000));
	expect_text(&s->steps[0].expect[0], 3000, buf, sizeof(buf));
	assert_non_null(strstr(buf, "after 1000 to 3000 ms"));
	sc_catalog_free(&cat);
	assert_non_null(strstr(load_err("scenarios:\n  - {id: a, title: t, clause: c/may, send: {none: true, split_sweep: 2}, expect: [accepted]}\n", &e),
			       "split_sweep needs a header"));
	assert_non_null(strstr(load_err("scenarios:\n  - {id: a, title: t, clause: c/may, send: {header: {version: 2}, split_sweep: 4}, expect: [accepted]}\n", &e),
			       "split_sweep"));
}

/* Unmatched outcomes weigh what the step's clause says. */
static void test_unmatched_grade(void **state)
{
	struct sc_catalog cat;
	const struct scenario *s;
	struct expect_actual a = { .outcome = CLIENT_PROTOCOL, .connack_rc = -1, .elapsed_ms = 3 };
	enum rpt_grade g;
	const char *note;
	(void)state;

	load(&cat, "scenarios:\n"
		   "  - {id: s, title: t, clause: c/should, expect: [accepted]}\n"
		   "  - {id: m, title: t, clause: c/may, expect: [accepted]}\n"
		   "  - {id: r, title: t, clause: c/rule, expect: [accepted]}\n");
	assert_int_equal(expect_grade(&sc_find(&cat, "s")->steps[0], &a, 3000, &g, &note), -1);
	assert_int_equal(g, RPT_NON_STRICT);
	assert_int_equal(expect_grade(&sc_find(&cat, "m")->steps[0], &a, 3000, &g, &note), -1);
	assert_int_equal(g, RPT_INFO);
	s = sc_find(&cat, "r");
	assert_int_equal(expect_grade(&s->steps[0], &a, 3000, &g, &note), -1);
	assert_int_equal(g, RPT_FAIL);
	/* a refused connect is never a matter of levels */
	a.outcome = CLIENT_REFUSED;
	assert_int_equal(expect_grade(&sc_find(&cat, "m")->steps[0], &a, 3000, &g, &note), -1);
	assert_int_equal(g, RPT_FAIL);
	sc_catalog_free(&cat);
}

/* What an observer cannot show is not checked, and said so. */
static void test_hidden_parts(void **state)
{
	struct sc_record r = { .where = SC_REC_SESSIONS };
	struct expect_record rec = { .found = true, .ip = "192.0.2.1", .connected = -1 };
	struct expect_addrs ad = { .header_ip = "192.0.2.1", .header_port = 40000, .peer_ip = "127.0.0.7",
			       .peer_port = 5000 };
	char why[256], un[64];
	(void)state;

	r.ip.src = r.port.src = SC_ADDR_HEADER_SRC;
	r.peer_ip.src = SC_ADDR_SOCKET_PEER;
	assert_int_equal(expect_check_record(&r, &rec, &ad, true, why, sizeof(why)), RPT_FAIL);
	assert_string_equal(why, "record has no client port");
	rec.port_hidden = rec.peer_ip_hidden = rec.peer_port_hidden = true;
	assert_int_equal(expect_check_record(&r, &rec, &ad, true, why, sizeof(why)), RPT_PASS);
	assert_string_equal(expect_record_unchecked(&r, &rec, un, sizeof(un)), "port, peer IP");
	/* the IP is checked all the same */
	strcpy(rec.ip, "127.0.0.7");
	assert_int_equal(expect_check_record(&r, &rec, &ad, true, why, sizeof(why)), RPT_FAIL);
	assert_non_null(strstr(why, "recorded client IP 127.0.0.7 (the socket peer), expected 192.0.2.1"));
}

/* The shipped catalog holds together, and its audit table is the one in
 * docs/ (regenerate: bin/ppmq-conform --audit > docs/conformance-audit.md). */
static void test_shipped_audit(void **state)
{
	struct sc_catalog cat;
	struct perr e;
	char *mem = NULL, *doc = NULL;
	size_t mlen = 0, dlen = 0;
	FILE *f;
	(void)state;

	memset(&cat, 0, sizeof(cat));
	if (sc_load_dir(&cat, "scenarios", &e) < 0)
		fail_msg("%s", e.msg);
	if (sc_catalog_check(&cat, &e) < 0)
		fail_msg("%s", e.msg);
	f = open_memstream(&mem, &mlen);
	assert_non_null(f);
	audit_table(f, &cat);
	fclose(f);
	f = fopen("docs/conformance-audit.md", "r");
	assert_non_null(f);
	assert_true(getdelim(&doc, &dlen, '\0', f) > 0);
	fclose(f);
	if (strcmp(mem, doc))
		fail_msg("docs/conformance-audit.md is not what `ppmq-conform --audit` writes now: regenerate it");
	free(mem);
	free(doc);
	sc_catalog_free(&cat);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_levels),
		cmocka_unit_test(test_clauses_flow_down),
		cmocka_unit_test(test_grade_must_match_level),
		cmocka_unit_test(test_clause_errors),
		cmocka_unit_test(test_mutation_clauses),
		cmocka_unit_test(test_after_and_sweep),
		cmocka_unit_test(test_unmatched_grade),
		cmocka_unit_test(test_hidden_parts),
		cmocka_unit_test(test_shipped_audit),
	};

	return cmocka_run_group_tests_name("conform_clauses", tests, NULL, NULL);
}
