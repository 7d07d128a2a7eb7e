/* test_conform_report.c - the report writers: TAP, JUnit XML, JSON, HTML.
 *
 * A run with every grade and hostile strings (quotes, markup, '#',
 * control bytes, UTF-8, invalid UTF-8) goes through each writer; each
 * output is checked by a reader of its own format where one exists on
 * the system (prove, xmllint, python3), and by line/byte checks here. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "report.h"

#define HOSTILE "q\"uote a'pos <b>bold</b> &amp; \x01\x1b[31m ctl\r\nnew line " \
		"# SKIP not really \\ back \xc3\xa9t\xc3\xa9 \xe2\x9c\x93 </script>"
#define INVALID_UTF8 "bad \xff\xfe bytes \xc3"

static char tmpdir[64];

static int have(const char *prog)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", prog);
	return system(cmd) == 0;
}

static char *path_in(const char *name)
{
	static char buf[4][128];
	static int k;

	k = (k + 1) % 4;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s", tmpdir, name);
	return buf[k];
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	if (len)
		*len = (size_t)n;
	return buf;
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

static const unsigned char header_v2[] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
	0x21, 0x11, 0x00, 0x0c, 0xc0, 0x00, 0x02, 0x01, 0xc6, 0x33, 0x64, 0x01,
	0x30, 0x39, 0x07, 0x5b, '<', '&', '>', 0x00, 0xff,
};
static const unsigned char connack[] = { 0x20, 0x02, 0x00, 0x00 };

/* Every grade on tcp and ws, plus hostile text in every string field. */
static struct rpt_run *sample_run(const char *target, bool strict)
{
	static const char *tags[] = { "v2", "valid", HOSTILE };
	static const char *expected[] = { "accepted", "CONNACK 0x00 <ok> & \"fine\"" };
	static const struct { enum rpt_grade g; const char *reason; } rows[] = {
		{ RPT_PASS, NULL },
		{ RPT_NON_STRICT, "closed without CONNACK; the spec recommends it" },
		{ RPT_INFO, "records the proxy's address for LOCAL" },
		{ RPT_FAIL, HOSTILE },
		{ RPT_UNSUPPORTED, "no PROXY on WebSocket # listeners" },
		{ RPT_SKIP, "no unauthorized observer" },
	};
	static const char *listeners[] = { "tcp", "ws" };
	struct perr e = { "" };
	struct rpt_run *run = rpt_run_new("0.1.0", target, "conformance/targets/x.yml", &e);

	assert_non_null(run);
	run->strict = strict;
	run->started = 1700000000;
	run->duration_ms = 4321;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		for (size_t l = 0; l < 2; l++) {
			char id[64], title[256];
			struct rpt_result r = {
				.id = id, .title = title,
				.ref = "proxy-protocol.txt 2.2 <&>",
				.family = i < 3 ? "v2-valid" : NULL,
				.tags = tags, .ntags = 3,
				.listener = listeners[l],
				.grade = rows[i].g, .reason = rows[i].reason,
				.expected = expected, .nexpected = 2,
				.actual = i == 3 ? HOSTILE : "accepted",
				.sent = header_v2, .sent_len = sizeof(header_v2),
				.received = i % 2 ? NULL : connack,
				.received_len = i % 2 ? 0 : sizeof(connack),
				.recorded = "{\"clientIp\":\"192.0.2.1\",\"x\":\"</pre><script>x</script>\"}",
				.clause = rows[i].g == RPT_FAIL ? "pp2/local-accept" : NULL,
				.level = rows[i].g == RPT_FAIL ? "MUST" : NULL,
				.quote = rows[i].g == RPT_FAIL ? "proxy-protocol.txt 2.2: \"must <accept> & use\"" : NULL,
				.log = rows[i].g == RPT_FAIL ? "broker: refused <x>\nbroker: closed" : NULL,
				.duration_ms = (long long)(i * 10 + l),
			};

			snprintf(id, sizeof(id), "%s/case-%zu", i < 3 ? "v2" : "malformed", i);
			snprintf(title, sizeof(title), "%s %zu", i == 3 ? HOSTILE : "case", i);
			assert_int_equal(rpt_run_add(run, &r, &e), 0);
		}
	}
	return run;
}

static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/ppmq-report-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* ---- runs, grades, hex -------------------------------------------------- */

static void test_grades(void **state)
{
	enum rpt_grade g;

	(void)state;
	for (int i = 0; i < RPT_NGRADES; i++) {
		assert_int_equal(rpt_grade_parse(rpt_grade_name(i), &g), 0);
		assert_int_equal(g, i);
	}
	assert_int_equal(rpt_grade_parse("non_strict", &g), 0);
	assert_int_equal(g, RPT_NON_STRICT);
	assert_int_equal(rpt_grade_parse("OK", &g), -1);
	assert_int_equal(rpt_grade_parse(NULL, &g), -1);
	assert_true(rpt_grade_fails(RPT_FAIL, false));
	assert_false(rpt_grade_fails(RPT_NON_STRICT, false));
	assert_true(rpt_grade_fails(RPT_NON_STRICT, true));
	assert_false(rpt_grade_fails(RPT_UNSUPPORTED, true));
	assert_false(rpt_grade_fails(RPT_SKIP, true));
	assert_string_equal(rpt_grade_name((enum rpt_grade)99), "?");
}

static void test_run_totals_and_copy(void **state)
{
	struct rpt_run *run = sample_run("t", false);
	struct rpt_result bad = { .id = "x", .grade = (enum rpt_grade)42 };
	struct perr e = { "" };
	size_t flen;
	const char *fam;

	(void)state;
	assert_int_equal(run->nresults, 12);
	for (int g = 0; g < RPT_NGRADES; g++)
		assert_int_equal(run->totals[g], 2);
	assert_int_equal(rpt_run_failures(run), 2);
	run->strict = true;
	assert_int_equal(rpt_run_failures(run), 4);
	/* Deep copy: the run does not point at the caller's buffers. */
	assert_ptr_not_equal(run->results[0].sent, header_v2);
	assert_memory_equal(run->results[0].sent, header_v2, sizeof(header_v2));
	assert_string_equal(run->results[0].id, "v2/case-0");
	fam = rpt_result_family(&run->results[0], &flen);
	assert_int_equal(flen, strlen("v2-valid"));
	assert_memory_equal(fam, "v2-valid", flen);
	fam = rpt_result_family(&run->results[6], &flen);
	assert_int_equal(flen, strlen("malformed"));
	assert_memory_equal(fam, "malformed", flen);
	assert_int_equal(rpt_run_add(run, &bad, &e), -1);
	assert_non_null(strstr(e.msg, "invalid grade"));
	assert_int_equal(run->nresults, 12);
	rpt_run_free(run);
	rpt_run_free(NULL);
}

static void test_hex(void **state)
{
	static const unsigned char b[] = { 0x00, 0x0d, 0xab, 0xff };
	struct perr e = { "" };
	unsigned char *out;
	size_t n;
	char *s;

	(void)state;
	s = rpt_hex(b, 4, 0);
	assert_string_equal(s, "000dabff");
	free(s);
	s = rpt_hex(b, 4, 2);
	assert_string_equal(s, "000d..");
	free(s);
	s = rpt_hex(NULL, 0, 0);
	assert_string_equal(s, "");
	free(s);
	assert_int_equal(rpt_unhex("00 0D\nab FF", &out, &n, &e), 0);
	assert_int_equal(n, 4);
	assert_memory_equal(out, b, 4);
	free(out);
	assert_int_equal(rpt_unhex("0g", &out, &n, &e), -1);
	assert_non_null(strstr(e.msg, "hex digit"));
	assert_int_equal(rpt_unhex("abc", &out, &n, &e), -1);
	assert_non_null(strstr(e.msg, "odd"));
}

/* ---- TAP ---------------------------------------------------------------- */

static char *tap_text(const struct rpt_run *run, bool verbose)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct perr e = { "" };

	assert_non_null(f);
	assert_int_equal(rpt_write_tap(f, run, verbose, &e), 0);
	fclose(f);
	return buf;
}

/* Parse TAP line by line: plan, points numbered 1..N, YAML blocks closed. */
static void check_tap(const char *tap, size_t want_points, size_t want_not_ok,
		      size_t want_yaml)
{
	char *copy = strdup(tap), *save = NULL;
	size_t plan = 0, points = 0, not_ok = 0, yaml = 0, line_no = 0;
	bool in_yaml = false;

	assert_non_null(copy);
	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		line_no++;
		for (const char *c = l; *c; c++)
			assert_false((unsigned char)*c < 0x20 && *c != '\t');
		if (line_no == 1) {
			assert_string_equal(l, "TAP version 13");
			continue;
		}
		if (line_no == 2) {
			assert_int_equal(sscanf(l, "1..%zu", &plan), 1);
			continue;
		}
		if (in_yaml) {
			assert_true(strncmp(l, "  ", 2) == 0);
			if (strcmp(l, "  ...") == 0)
				in_yaml = false;
			continue;
		}
		if (strcmp(l, "  ---") == 0) {
			in_yaml = true;
			yaml++;
			continue;
		}
		if (strncmp(l, "ok ", 3) == 0 || strncmp(l, "not ok ", 7) == 0) {
			size_t num = 0;
			bool bad = l[0] == 'n';

			assert_int_equal(sscanf(l + (bad ? 7 : 3), "%zu", &num), 1);
			assert_int_equal(num, ++points);
			/* A "not ok" without TODO is a failure. */
			if (bad && !strstr(l, "# TODO"))
				not_ok++;
			continue;
		}
		assert_true(l[0] == '#');
	}
	assert_false(in_yaml);
	assert_int_equal(plan, want_points);
	assert_int_equal(points, want_points);
	assert_int_equal(not_ok, want_not_ok);
	assert_int_equal(yaml, want_yaml);
	free(copy);
}

static void test_tap_lines(void **state)
{
	struct rpt_run *run = sample_run("t", false);
	char *tap = tap_text(run, false);

	(void)state;
	check_tap(tap, 12, 2, 2);
	assert_non_null(strstr(tap, "ok 1 - v2/case-0 [tcp] case 0\n"));
	assert_non_null(strstr(tap, "ok 3 - v2/case-1 [tcp] case 1 # NON-STRICT: closed"));
	assert_non_null(strstr(tap, "not ok 9 - malformed/case-4 [tcp] case 4 # TODO unsupported: no PROXY on WebSocket \\# listeners\n"));
	assert_non_null(strstr(tap, "ok 11 - malformed/case-5 [tcp] case 5 # SKIP no unauthorized observer\n"));
	/* The hostile title cannot open a directive nor break the line. */
	{
		const char *l7 = strstr(tap, "not ok 7 - malformed/case-3 [tcp] ");
		const char *end;

		assert_non_null(l7);
		end = strchr(l7, '\n');
		assert_non_null(end);
		assert_non_null(strstr(l7, "\\x0d\\x0anew line \\# SKIP not really \\\\ back"));
		assert_true(strstr(l7, "new line") < end);
		assert_null(memmem(l7, (size_t)(end - l7), "line # SKIP", 11));
	}
	assert_non_null(strstr(tap, "  sent: \"0d0a0d0a000d0a515549540a"));
	assert_non_null(strstr(tap, "  sent_len: 33\n"));
	/* a FAIL names the sentence it breaks, and the broker's own words */
	assert_non_null(strstr(tap, "  clause: \"pp2/local-accept\"\n  level: \"MUST\"\n"
				    "  quote: \"proxy-protocol.txt 2.2: \\\"must <accept> & use\\\"\"\n"));
	assert_non_null(strstr(tap, "  broker_log: \"broker: refused <x>\\nbroker: closed\"\n"));
	/* a FAIL line says what happened; the summary ends with the findings */
	assert_non_null(strstr(tap, "not ok 7 - malformed/case-3 [tcp] q\"uote"));
	assert_non_null(strstr(tap, " # FAIL: q\"uote a'pos"));
	assert_non_null(strstr(tap, "\n# 3 findings (points grouped by what happened, most severe first):\n"
				    "#  1. FAIL tcp, ws: q\"uote"));
	assert_non_null(strstr(tap, "\n#  2. NON-STRICT tcp, ws: closed without CONNACK; the spec "
				    "recommends it: 2 points (v2-valid (2 of 6)); expected accepted; e.g. v2/case-1\n"));
	assert_non_null(strstr(tap, "\n#  3. UNSUPPORTED tcp, ws: no PROXY on WebSocket \\# listeners"));
	free(tap);

	/* Strict: NON-STRICT fails too, with its diagnostics. */
	run->strict = true;
	tap = tap_text(run, false);
	check_tap(tap, 12, 4, 4);
	assert_non_null(strstr(tap, "not ok 3 - v2/case-1 [tcp] case 1 # NON-STRICT"));
	free(tap);

	/* Verbose: diagnostics for every point but PASS and SKIP. */
	run->strict = false;
	tap = tap_text(run, true);
	check_tap(tap, 12, 2, 8);
	free(tap);
	rpt_run_free(run);
}

/* A pass that checked the IP but not the port says which part it left. */
static void test_tap_pass_partly(void **state)
{
	struct rpt_result r = { .id = "record/x", .listener = "tcp", .title = "t", .grade = RPT_PASS,
				.reason = "partly checked: port not checked: the sessions observer does not show it" };
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	assert_non_null(f);
	rpt_tap_point(f, 1, &r, false, true);
	r.reason = NULL;
	rpt_tap_point(f, 2, &r, false, true);
	fclose(f);
	assert_string_equal(buf, "ok 1 - record/x [tcp] t # PASS, partly checked: port not checked: the sessions "
			    "observer does not show it\nok 2 - record/x [tcp] t\n");
	free(buf);
}

static void test_tap_streaming(void **state)
{
	struct rpt_run *run = sample_run("t", false);
	char *whole = tap_text(run, false), *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	assert_non_null(f);
	rpt_tap_plan(f, run->nresults);
	for (size_t i = 0; i < run->nresults; i++)
		rpt_tap_point(f, i + 1, &run->results[i], run->strict, false);
	rpt_tap_summary(f, run);
	fclose(f);
	assert_string_equal(buf, whole);
	free(buf);
	free(whole);

	buf = NULL;
	f = open_memstream(&buf, &len);
	assert_non_null(f);
	rpt_tap_bail(f, "cannot reach 127.0.0.1:1883\n# SKIP");
	fclose(f);
	assert_string_equal(buf, "Bail out! cannot reach 127.0.0.1:1883\\x0a\\# SKIP\n");
	free(buf);
	rpt_run_free(run);
}

/* prove reads the stream: no parse errors, FAIL makes it fail, TODO and
 * SKIP do not, and every YAML block is valid YAMLish. */
static void test_tap_prove(void **state)
{
	struct rpt_run *run = sample_run("t", false);
	char cmd[512], *tap, *out;
	FILE *f;
	int rc;

	(void)state;
	if (!have("prove") || !have("perl")) {
		rpt_run_free(run);
		skip();
	}
	tap = tap_text(run, true);
	f = fopen(path_in("fail.tap"), "w");
	assert_non_null(f);
	fputs(tap, f);
	fclose(f);
	free(tap);
	snprintf(cmd, sizeof(cmd), "cd '%s' && prove -v -e cat fail.tap > prove.out 2>&1",
		 tmpdir);
	rc = system(cmd);
	assert_int_not_equal(rc, 0);
	out = slurp(path_in("prove.out"), NULL);
	assert_null(strstr(out, "Parse errors"));
	assert_non_null(strstr(out, "Failed 2/12 subtests"));
	free(out);

	/* The YAMLish reader of TAP::Parser accepts every block. */
	snprintf(cmd, sizeof(cmd),
		 "perl -MTAP::Parser -e 'local $/;open(F,shift)||die;$t=<F>;"
		 "$p=TAP::Parser->new({tap=>$t});"
		 "$n=0;while($r=$p->next){if($r->is_yaml){$y=$r->data;"
		 "die \"no grade\" unless $y->{grade};$n++}}exit($n==8?0:1)' '%s'",
		 path_in("fail.tap"));
	assert_int_equal(system(cmd), 0);

	/* Without FAIL results, the run passes under prove. */
	for (size_t i = 0; i < run->nresults; i++)
		if (run->results[i].grade == RPT_FAIL)
			run->results[i].grade = RPT_INFO;
	tap = tap_text(run, false);
	f = fopen(path_in("pass.tap"), "w");
	assert_non_null(f);
	fputs(tap, f);
	fclose(f);
	free(tap);
	snprintf(cmd, sizeof(cmd), "cd '%s' && prove -e cat pass.tap > /dev/null 2>&1",
		 tmpdir);
	assert_int_equal(system(cmd), 0);
	rpt_run_free(run);
}

/* ---- JUnit -------------------------------------------------------------- */

static void test_junit(void **state)
{
	struct rpt_run *run = sample_run("tar<get> & \"co\"", false);
	struct perr e = { "" };
	char cmd[1024], *xml;

	(void)state;
	assert_int_equal(rpt_write_junit(path_in("junit.xml"), run, &e), 0);
	xml = slurp(path_in("junit.xml"), NULL);
	assert_true(strncmp(xml, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", 39) == 0);
	assert_int_equal(count(xml, "<testcase "), 12);
	assert_int_equal(count(xml, "<failure "), 2);
	assert_int_equal(count(xml, "<skipped "), 4);
	assert_non_null(strstr(xml, "<testsuite name=\"tar&lt;get&gt; &amp; &quot;co&quot;\" "
				    "tests=\"12\" failures=\"2\" errors=\"0\" skipped=\"4\""));
	assert_non_null(strstr(xml, "classname=\"tcp.v2-valid\" name=\"v2/case-0: case 0\" time=\"0.000\""));
	assert_non_null(strstr(xml, "classname=\"ws.malformed\""));
	/* No raw control byte, no raw markup from the hostile strings. */
	for (const char *c = xml; *c; c++)
		assert_false((unsigned char)*c < 0x20 && *c != '\n' && *c != '\t');
	assert_null(strstr(xml, "<b>"));
	assert_non_null(strstr(xml, "&lt;b&gt;bold&lt;/b&gt;"));
	assert_non_null(strstr(xml, "\\x01\\x1b[31m"));
	/* the findings: as properties, and as the suite's output */
	assert_non_null(strstr(xml, "<property name=\"finding.2\" value=\"NON-STRICT tcp, ws: closed without CONNACK;"));
	assert_non_null(strstr(xml, "<system-out>3 findings (points grouped by what happened, most severe first):\n1. FAIL tcp, ws: "));
	free(xml);

	if (have("xmllint")) {
		snprintf(cmd, sizeof(cmd), "xmllint --noout '%s'", path_in("junit.xml"));
		assert_int_equal(system(cmd), 0);
	}
	if (!have("python3"))
		skip();
	/* A real XML parser reads it back with the same counts and strings. */
	snprintf(cmd, sizeof(cmd),
		 "python3 -c 'import sys,xml.dom.minidom as m\n"
		 "d=m.parse(sys.argv[1])\n"
		 "s=d.getElementsByTagName(\"testsuite\")[0]\n"
		 "assert s.getAttribute(\"name\")==\"tar<get> & \\\"co\\\"\"\n"
		 "c=d.getElementsByTagName(\"testcase\")\n"
		 "assert len(c)==12\n"
		 "f=d.getElementsByTagName(\"failure\")\n"
		 "assert len(f)==2\n"
		 "assert \"<b>bold</b>\" in f[0].getAttribute(\"message\")\n"
		 "assert \"\\r\\nnew line\" in f[0].getAttribute(\"message\")\n"
		 "assert \"\\u00e9t\\u00e9 \\u2713\" in f[0].firstChild.data\n"
		 "assert len(d.getElementsByTagName(\"skipped\"))==4\n"
		 "' '%s'", path_in("junit.xml"));
	assert_int_equal(system(cmd), 0);

	/* Strict: NON-STRICT becomes a failure. */
	run->strict = true;
	assert_int_equal(rpt_write_junit(path_in("junit-strict.xml"), run, &e), 0);
	xml = slurp(path_in("junit-strict.xml"), NULL);
	assert_int_equal(count(xml, "<failure "), 4);
	free(xml);
	assert_int_equal(rpt_write_junit("/nonexistent/dir/junit.xml", run, &e), -1);
	assert_non_null(strstr(e.msg, "/nonexistent/dir/junit.xml"));
	rpt_run_free(run);
}

/* ---- JSON --------------------------------------------------------------- */

static void test_json_roundtrip(void **state)
{
	struct rpt_run *run = sample_run("tbmq", true), *back = NULL;
	struct perr e = { "" };
	char *a, *b;
	size_t alen, blen;

	(void)state;
	assert_int_equal(rpt_write_json(path_in("a.json"), run, &e), 0);
	assert_int_equal(rpt_read_json(path_in("a.json"), &back, &e), 0);
	assert_non_null(back);
	assert_int_equal(rpt_write_json(path_in("b.json"), back, &e), 0);
	a = slurp(path_in("a.json"), &alen);
	b = slurp(path_in("b.json"), &blen);
	assert_int_equal(alen, blen);
	assert_memory_equal(a, b, alen);
	free(a);
	free(b);

	/* Field by field: valid UTF-8 text is exact, NULL stays NULL. */
	assert_string_equal(back->tool_version, "0.1.0");
	assert_string_equal(back->target, "tbmq");
	assert_string_equal(back->profile, "conformance/targets/x.yml");
	assert_int_equal(back->started, 1700000000);
	assert_int_equal(back->duration_ms, 4321);
	assert_true(back->strict);
	assert_int_equal(back->nresults, run->nresults);
	for (int g = 0; g < RPT_NGRADES; g++)
		assert_int_equal(back->totals[g], run->totals[g]);
	for (size_t i = 0; i < run->nresults; i++) {
		const struct rpt_result *x = &run->results[i], *y = &back->results[i];

		assert_string_equal(x->id, y->id);
		assert_string_equal(x->title, y->title);
		assert_string_equal(x->listener, y->listener);
		assert_int_equal(x->grade, y->grade);
		assert_string_equal(x->actual, y->actual);
		assert_string_equal(x->recorded, y->recorded);
		assert_int_equal(x->ntags, y->ntags);
		assert_string_equal(x->tags[2], y->tags[2]);
		assert_int_equal(x->nexpected, y->nexpected);
		assert_string_equal(x->expected[1], y->expected[1]);
		assert_int_equal(x->sent_len, y->sent_len);
		assert_memory_equal(x->sent, y->sent, x->sent_len);
		assert_int_equal(x->received_len, y->received_len);
		assert_int_equal(x->duration_ms, y->duration_ms);
		if (x->family)
			assert_string_equal(x->family, y->family);
		else
			assert_null(y->family);
		if (x->reason)
			assert_string_equal(x->reason, y->reason);
		else
			assert_null(y->reason);
	}
	rpt_run_free(back);
	rpt_run_free(run);
}

static void test_json_invalid_utf8(void **state)
{
	struct rpt_run *run = rpt_run_new("0.1.0", INVALID_UTF8, NULL, NULL), *back = NULL;
	struct rpt_result r = { .id = "x/" INVALID_UTF8, .grade = RPT_INFO };
	struct perr e = { "" };

	(void)state;
	assert_non_null(run);
	assert_int_equal(rpt_run_add(run, &r, &e), 0);
	assert_int_equal(rpt_write_json(path_in("u.json"), run, &e), 0);
	assert_int_equal(rpt_read_json(path_in("u.json"), &back, &e), 0);
	/* Each invalid byte is one U+FFFD. */
	assert_string_equal(back->target, "bad \xef\xbf\xbd\xef\xbf\xbd bytes \xef\xbf\xbd");
	assert_string_equal(back->results[0].id, "x/bad \xef\xbf\xbd\xef\xbf\xbd bytes \xef\xbf\xbd");
	assert_null(back->profile);
	assert_null(back->results[0].title);
	rpt_run_free(back);
	rpt_run_free(run);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_json_bad_input(void **state)
{
	static const struct { const char *json, *msg; } cases[] = {
		{ "", "" },
		{ "{\"format\": ", "" },
		{ "[1,2]", "not a JSON object" },
		{ "{\"format\":\"other\"}", "not a ppmq-conform report" },
		{ "{\"format\":\"ppmq-conform-report\",\"format_version\":2}", "version 2" },
		{ "{\"format\":\"ppmq-conform-report\",\"format_version\":1,\"target\":7}",
		  "report.target: not a string" },
		{ "{\"format\":\"ppmq-conform-report\",\"format_version\":1,\"results\":{}}",
		  "not an array" },
		{ "{\"format\":\"ppmq-conform-report\",\"format_version\":1,\"results\":[3]}",
		  "results[0]: not an object" },
		{ "{\"format\":\"ppmq-conform-report\",\"format_version\":1,\"results\":[{\"id\":\"a\"}]}",
		  "results[0].grade: missing" },
		{ "{\"format\":\"ppmq-conform-report\",\"format_version\":1,\"results\":[{\"grade\":\"GREAT\"}]}",
		  "unknown grade \"GREAT\"" },
		{ "{\"format\":\"ppmq-conform-report\",\"format_version\":1,\"results\":"
		  "[{\"grade\":\"PASS\"},{\"grade\":\"PASS\",\"sent\":\"0x\"}]}",
		  "results[1].sent" },
		{ "{\"format\":\"ppmq-conform-report\",\"format_version\":1,\"results\":"
		  "[{\"grade\":\"PASS\",\"tags\":[\"a\",1]}]}", "results[0].tags[1]" },
		{ "{\"format\":\"ppmq-conform-report\",\"format_version\":1,\"results\":"
		  "[{\"grade\":\"PASS\",\"duration_ms\":\"3\"}]}", "not an integer" },
		{ "{\"format\":\"ppmq-conform-report\",\"format_version\":1,\"started\":\"yesterday\"}",
		  "report.started" },
		{ "{\"format\":\"ppmq-conform-report\",\"format_version\":1,\"strict\":\"yes\"}",
		  "not a boolean" },
	};
	struct rpt_run *run;
	struct perr e;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&e, 0, sizeof(e));
		write_file(path_in("bad.json"), cases[i].json);
		run = (struct rpt_run *)&e; /* must be reset to NULL */
		assert_int_equal(rpt_read_json(path_in("bad.json"), &run, &e), -1);
		assert_null(run);
		if (!strstr(e.msg, cases[i].msg))
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, e.msg, cases[i].msg);
		assert_non_null(strstr(e.msg, "bad.json"));
	}
	assert_int_equal(rpt_read_json(path_in("missing.json"), &run, &e), -1);

	/* Minimal valid document: missing members are NULL / 0. */
	write_file(path_in("min.json"), "{\"format\":\"ppmq-conform-report\",\"format_version\":1,"
		   "\"results\":[{\"grade\":\"skip\",\"extra\":1}]}");
	assert_int_equal(rpt_read_json(path_in("min.json"), &run, &e), 0);
	assert_int_equal(run->nresults, 1);
	assert_int_equal(run->results[0].grade, RPT_SKIP);
	assert_null(run->results[0].id);
	assert_int_equal(run->totals[RPT_SKIP], 1);
	rpt_run_free(run);
}

/* ---- HTML --------------------------------------------------------------- */

static void test_html(void **state)
{
	struct rpt_run *a = sample_run("tbmq", false), *b = sample_run("emqx <5>", true);
	const struct rpt_run *runs[2] = { a, b };
	struct perr e = { "" };
	char *html, cmd[1024];

	(void)state;
	/* Nested directory that does not exist yet. */
	assert_int_equal(rpt_write_html(path_in("html/out"), runs, 2, &e), 0);
	html = slurp(path_in("html/out/index.html"), NULL);
	assert_true(strncmp(html, "<!DOCTYPE html>", 15) == 0);
	assert_non_null(strstr(html, "<table id=\"matrix\""));
	/* Columns: 2 targets x 2 listeners; 12 links per target. */
	assert_int_equal(count(html, "<th class=\"tgt t0\" colspan=\"2\">"), 2);
	assert_int_equal(count(html, "<th class=\"lst"), 4);
	assert_int_equal(count(html, "<tr class=\"row\""), 6);
	assert_int_equal(count(html, "<tr class=\"fam\""), 2);
	assert_int_equal(count(html, "<a class=\"g-"), 24); /* one link per cell result */
	/* Findings first, above the matrix: each run's FAIL, NON-STRICT and
	 * UNSUPPORTED points (strict or not, the grades are the same), each
	 * with up to 3 points to open and a link showing all in the matrix. */
	assert_non_null(strstr(html, "<section id=\"findings\">"));
	assert_true(strstr(html, "<section id=\"findings\">") < strstr(html, "<table id=\"matrix\""));
	assert_int_equal(count(html, "<li class=\"finding\""), 6);
	assert_int_equal(count(html, "<li class=\"finding\" data-grade=\"FAIL\">"), 2);
	assert_true(strstr(html, "<li class=\"finding\" data-grade=\"FAIL\">") <
		    strstr(html, "<li class=\"finding\" data-grade=\"NON-STRICT\">"));
	assert_non_null(strstr(html, "data-ids=\"v2/case-1 \" data-label=\"NON-STRICT: 2 points\""));
	assert_non_null(strstr(html, "<b>tcp, ws</b>: <span class=\"what\">closed without CONNACK; "));
	assert_int_equal(count(html, "<div class=\"detail "), 24);
	assert_int_equal(count(html, "<td class=\"cell g-fail"), 4);
	assert_int_equal(count(html, "<td class=\"cell g-nonstrict"), 4);
	/* Strict run b fails its NON-STRICT rows too. */
	assert_int_equal(count(html, "data-fail=\"1\""), 2);
	assert_non_null(strstr(html, "emqx &lt;5&gt;"));
	assert_non_null(strstr(html, "<dt>clause</dt><dd><code>pp2/local-accept</code> <span class=\"level\">MUST</span>"
				     "<blockquote>proxy-protocol.txt 2.2: &quot;must &lt;accept&gt; &amp; use&quot;</blockquote>"));
	/* Escaping: hostile markup never appears raw. */
	assert_null(strstr(html, "<b>bold"));
	assert_null(strstr(html, "<script>x</script>"));
	assert_int_equal(count(html, "<script>"), 1);
	assert_int_equal(count(html, "</script>"), 1);
	assert_non_null(strstr(html, "&lt;b&gt;bold&lt;/b&gt;"));
	assert_non_null(strstr(html, "<span class=\"ctl\">\\x01</span>"));
	assert_non_null(strstr(html, "\xc3\xa9t\xc3\xa9 \xe2\x9c\x93"));
	/* Hex dump with the ASCII column escaped. */
	assert_non_null(strstr(html, "0000  0d 0a 0d 0a 00 0d 0a 51  55 49 54 0a 21 11 00 0c  |.......QUIT.!...|"));
	assert_non_null(strstr(html, "|.....3d.09.[&lt;&amp;&gt;.|"));
	/* Self-contained: nothing fetched from anywhere. */
	assert_null(strstr(html, "http://"));
	assert_null(strstr(html, "https://"));
	assert_null(strstr(html, " src="));
	assert_null(strstr(html, "<link"));
	assert_null(strstr(html, "@import"));
	free(html);

	if (have("python3")) {
		/* Tags balance: every opened element of the page is closed. */
		snprintf(cmd, sizeof(cmd),
			 "python3 -c 'import sys,html.parser as h\n"
			 "void={\"meta\",\"input\",\"br\",\"hr\",\"img\",\"link\"}\n"
			 "class P(h.HTMLParser):\n"
			 " st=[]\n"
			 " def handle_starttag(s,t,a):\n"
			 "  (t in void) or s.st.append(t)\n"
			 " def handle_endtag(s,t):\n"
			 "  assert s.st and s.st[-1]==t, (t,s.st[-5:],s.getpos())\n"
			 "  s.st.pop()\n"
			 "p=P();p.feed(open(sys.argv[1],encoding=\"utf-8\").read());p.close()\n"
			 "assert not p.st, p.st\n"
			 "' '%s'", path_in("html/out/index.html"));
		assert_int_equal(system(cmd), 0);
	}

	/* A file where the directory should be. */
	write_file(path_in("notadir"), "x");
	assert_int_equal(rpt_write_html(path_in("notadir"), runs, 2, &e), -1);
	assert_non_null(strstr(e.msg, "not a directory"));
	/* No runs at all: still a page, with an empty matrix. */
	assert_int_equal(rpt_write_html(path_in("empty"), NULL, 0, &e), 0);
	html = slurp(path_in("empty/index.html"), NULL);
	assert_non_null(strstr(html, "<table id=\"matrix\""));
	assert_int_equal(count(html, "<tr class=\"row\""), 0);
	free(html);
	rpt_run_free(a);
	rpt_run_free(b);
}

/* Report paths are judged before a run, without creating anything. */
static void test_out_check(void **state)
{
	struct perr e;
	struct stat st;

	(void)state;
	assert_int_equal(rpt_out_check("-", false, &e), 0);
	assert_int_equal(rpt_out_check(path_in("new.xml"), false, &e), 0);
	assert_int_equal(stat(path_in("new.xml"), &st), -1); /* not created */
	/* a file needs its directory; a report directory is made as mkdir -p */
	assert_int_equal(rpt_out_check(path_in("no/such/j.xml"), false, &e), -1);
	assert_non_null(strstr(e.msg, "no/such/j.xml: directory "));
	assert_non_null(strstr(e.msg, "No such file or directory"));
	assert_int_equal(rpt_out_check(path_in("a/b/c"), true, &e), 0);
	assert_int_equal(stat(path_in("a"), &st), -1);
	/* a file where a directory goes, and the other way round */
	write_file(path_in("plain"), "x");
	assert_int_equal(rpt_out_check(path_in("plain"), true, &e), -1);
	assert_non_null(strstr(e.msg, "exists and is not a directory"));
	assert_int_equal(rpt_out_check(path_in("plain/x.xml"), false, &e), -1);
	assert_non_null(strstr(e.msg, "plain/x.xml: Not a directory"));
	assert_int_equal(rpt_out_check(tmpdir, false, &e), -1);
	assert_non_null(strstr(e.msg, "is a directory"));
	assert_int_equal(rpt_out_check("", false, &e), -1);
	assert_string_equal(e.msg, "empty path");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grades),
		cmocka_unit_test(test_run_totals_and_copy),
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_tap_lines),
		cmocka_unit_test(test_tap_streaming),
		cmocka_unit_test(test_tap_pass_partly),
		cmocka_unit_test(test_tap_prove),
		cmocka_unit_test(test_junit),
		cmocka_unit_test(test_json_roundtrip),
		cmocka_unit_test(test_json_invalid_utf8),
		cmocka_unit_test(test_json_bad_input),
		cmocka_unit_test(test_html),
		cmocka_unit_test(test_out_check),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
