/* test_yx.c - the YAML document layer (lib/yx): ${ENV} expansion, typed
 * values and their file:line:col messages, key checks and suggestions,
 * loading, and the scalar parsers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "yx.h"

/* Variables the tests set; all unset between tests. */
static const char *const vars[] = { "YX_T_A", "YX_T_B", "YX_T_C", "YX_T_UNSET" };

static int reset(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		unsetenv(vars[i]);
	return 0;
}

/* ---- expansion ------------------------------------------------------------ */

/* One expansion: the variables set (NULL: unset), the text, what it
 * becomes and what it used (set, first, unset). */
struct xcase {
	const char *a, *b, *c;
	const char *in, *out;
	const char *set, *first, *unset;
};

static const struct xcase xcases[] = {
	{ NULL, NULL, NULL, "no references", "no references", "", "", "" },
	{ "alpha", NULL, NULL, "<${YX_T_A}>", "<alpha>", "YX_T_A", "YX_T_A", "" },
	{ "alpha", NULL, NULL, "${YX_T_A:dflt}", "alpha", "YX_T_A", "YX_T_A", "" },
	/* unset and empty both take the default */
	{ NULL, NULL, NULL, "${YX_T_B:dflt}", "dflt", "", "YX_T_B", "" },
	{ NULL, "", NULL, "${YX_T_B:dflt}", "dflt", "", "YX_T_B", "" },
	{ NULL, "", NULL, "${YX_T_B:}", "", "", "YX_T_B", "" },
	/* ${NAME} without a default, NAME unset: empty, and named in the use */
	{ NULL, NULL, NULL, "x${YX_T_UNSET}y${YX_T_B}", "xy", "", "YX_T_UNSET", "YX_T_UNSET" },
	{ "1", NULL, NULL, "${YX_T_UNSET}${YX_T_A}", "1", "YX_T_A", "YX_T_UNSET", "YX_T_UNSET" },
	/* a value from the environment is not expanded again */
	{ "a", NULL, "${YX_T_A}$$", "${YX_T_C}", "${YX_T_A}$$", "YX_T_C", "YX_T_C", "" },
	/* nested defaults */
	{ NULL, NULL, NULL, "${YX_T_A:${YX_T_B:inner}}", "inner", "", "YX_T_A", "" },
	{ NULL, "bee", NULL, "${YX_T_A:<${YX_T_B:inner}>}", "<bee>", "YX_T_B", "YX_T_A", "" },
	{ "ay", "bee", NULL, "${YX_T_A:${YX_T_B:inner}}", "ay", "YX_T_A", "YX_T_A", "" },
	/* $$ is a literal $, also inside a default; a lone $ stays */
	{ NULL, NULL, NULL, "pa$$word", "pa$word", "", "", "" },
	{ "a", NULL, NULL, "$${YX_T_A}", "${YX_T_A}", "", "", "" },
	{ NULL, NULL, NULL, "${YX_T_C:$${x}}", "${x}", "", "YX_T_C", "" },
	{ NULL, NULL, NULL, "5$ and $", "5$ and $", "", "", "" },
};

static void setvar(const char *name, const char *value)
{
	if (value)
		setenv(name, value, 1);
	else
		unsetenv(name);
}

static void test_expand(void **state)
{
	struct yx_arena a = { 0 };

	(void)state;
	for (size_t i = 0; i < sizeof(xcases) / sizeof(xcases[0]); i++) {
		const struct xcase *x = &xcases[i];
		struct yx_env_use use;
		struct perr e = { { 0 } };
		char *r;

		setvar("YX_T_A", x->a);
		setvar("YX_T_B", x->b);
		setvar("YX_T_C", x->c);
		r = yx_expand_env(&a, x->in, &use, &e);
		if (!r || strcmp(r, x->out) || strcmp(use.set, x->set) ||
		    strcmp(use.first, x->first) || strcmp(use.unset, x->unset))
			fail_msg("'%s': got '%s' (set '%s' first '%s' unset '%s') %s", x->in,
				 r ? r : "(error)", use.set, use.first, use.unset, e.msg);
	}
	yx_arena_free(&a);
}

/* The note a message about a value adds, so an empty value says why. */
static void test_env_note(void **state)
{
	struct yx_env_use use = { .set = "" };
	char note[100];

	(void)state;
	assert_string_equal(yx_env_note(&use, note, sizeof(note)), "");
	snprintf(use.unset, sizeof(use.unset), "YX_T_UNSET");
	assert_string_equal(yx_env_note(&use, note, sizeof(note)), " (${YX_T_UNSET} is unset)");
	snprintf(use.set, sizeof(use.set), "YX_T_A");
	assert_string_equal(yx_env_note(&use, note, sizeof(note)), " (from env YX_T_A)");
}

static void expand_fails(const char *s, const char *want)
{
	struct yx_arena a = { 0 };
	struct perr e = { { 0 } };

	assert_null(yx_expand_env(&a, s, NULL, &e));
	assert_string_equal(e.msg, want);
	yx_arena_free(&a);
}

static void test_expand_errors(void **state)
{
	(void)state;
	expand_fails("${YX_T_A", "unterminated placeholder '${YX_T_A'");
	expand_fails("/${YX_T_A:/x", "unterminated placeholder '${YX_T_A:/x'");
	expand_fails("${YX_T_A:${YX_T_B:x}", "unterminated placeholder '${YX_T_A:${YX_T_B:x}'");
	expand_fails("/${}", "bad placeholder '${}': expected ${NAME} or ${NAME:default}");
	expand_fails("${A B}", "bad placeholder '${A B}': expected ${NAME} or ${NAME:default}");
	expand_fails("${:x}", "bad placeholder '${:x}': expected ${NAME} or ${NAME:default}");
	expand_fails("${A:${B:${C:${D:${E:${F:${G:${H:${I:x}}}}}}}}}",
		     "placeholders nested too deep in '${I:x}}}}}}}}}'");
}

/* ---- documents and typed values ------------------------------------------ */

struct fixture {
	struct yx_arena a;
	struct yx_doc d;
	struct perr e;
};

static yaml_node_t *load(struct fixture *f, const char *text)
{
	memset(f, 0, sizeof(*f));
	if (yx_load_string(&f->d, "t.yml", text, &f->a, 0, &f->e) < 0)
		fail_msg("%s", f->e.msg);
	f->d.expand_env = true;
	return yx_root(&f->d);
}

static void done(struct fixture *f)
{
	yx_free(&f->d);
	yx_arena_free(&f->a);
}

static void test_typed_values(void **state)
{
	struct fixture f;
	yaml_node_t *root;
	unsigned long ms;
	char *s, **list;
	size_t n;
	long v;
	bool b;

	(void)state;
	setenv("YX_T_A", "8080", 1);
	root = load(&f, "port: \"${YX_T_A}\"\non: Yes\nwait: 2s\nnames: [a, b]\nwords: \"a, b c\"\nmap: {k: v}\n");
	assert_int_equal(yx_long(&f.d, yx_get(&f.d, root, "port"), &f.a, 1, 65535, "port", &v, &f.e), 0);
	assert_int_equal(v, 8080);
	assert_int_equal(yx_bool(&f.d, yx_get(&f.d, root, "on"), &f.a, "on", &b, &f.e), 0);
	assert_true(b);
	assert_int_equal(yx_duration(&f.d, yx_get(&f.d, root, "wait"), &f.a, 1, 60000, "wait", &ms, &f.e), 0);
	assert_int_equal(ms, 2000);
	assert_int_equal(yx_strlist(&f.d, yx_get(&f.d, root, "names"), &f.a, "names", &list, &n, &f.e), 0);
	assert_int_equal(n, 2);
	assert_string_equal(list[1], "b");
	assert_int_equal(yx_strlist(&f.d, yx_get(&f.d, root, "words"), &f.a, "words", &list, &n, &f.e), 0);
	assert_int_equal(n, 3);
	assert_string_equal(list[2], "c");
	assert_int_equal(yx_str(&f.d, yx_get(&f.d, root, "map"), &f.a, "map", &s, NULL, &f.e), -1);
	assert_string_equal(f.e.msg, "t.yml:6:6: map: expected a single value");
	done(&f);
}

/* Every typed value says where (file:line:col), what (the key) and why;
 * a value from the environment names the variable. */
static void test_typed_value_errors(void **state)
{
	static const struct { const char *yaml; const char *want; } cases[] = {
		{ "v: 70000\n", "t.yml:1:4: v: 70000 is out of range (1..65535)" },
		{ "v: x1\n", "t.yml:1:4: v: 'x1' is not a number" },
		{ "v: \"${YX_T_A}\"\n", "t.yml:1:4: v: 99999 (from env YX_T_A) is out of range (1..65535)" },
		{ "\nv: \"${YX_T_UNSET}\"\n", "t.yml:2:4: v: '' (${YX_T_UNSET} is unset) is not a number" },
		{ "v: \"${YX_T_A:1\"\n", "t.yml:1:4: v: unterminated placeholder '${YX_T_A:1'" },
	};
	struct fixture f;
	long v;

	(void)state;
	setenv("YX_T_A", "99999", 1);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		yaml_node_t *root = load(&f, cases[i].yaml);

		assert_int_equal(yx_long(&f.d, yx_get(&f.d, root, "v"), &f.a, 1, 65535, "v", &v, &f.e), -1);
		assert_string_equal(f.e.msg, cases[i].want);
		done(&f);
	}
}

static void test_bool_and_duration_errors(void **state)
{
	struct fixture f;
	yaml_node_t *root;
	unsigned long ms;
	bool b;

	(void)state;
	root = load(&f, "flag: maybe\nwait: 3x\nlong: 2m\n");
	assert_int_equal(yx_bool(&f.d, yx_get(&f.d, root, "flag"), &f.a, "flag", &b, &f.e), -1);
	assert_string_equal(f.e.msg, "t.yml:1:7: flag: 'maybe' is not a boolean (true/false/yes/no/1/0)");
	assert_int_equal(yx_duration(&f.d, yx_get(&f.d, root, "wait"), &f.a, 1, 3600000, "wait", &ms, &f.e), -1);
	assert_string_equal(f.e.msg, "t.yml:2:7: wait: '3x' is not a duration (e.g. 3s, 500ms, 3000): unknown unit 'x'");
	assert_int_equal(yx_duration(&f.d, yx_get(&f.d, root, "long"), &f.a, 1, 60000, "long", &ms, &f.e), -1);
	assert_string_equal(f.e.msg, "t.yml:3:7: long: '2m' is out of range (1ms..1m)");
	done(&f);
}

static void test_keys_and_suggestions(void **state)
{
	static const char *const allowed[] = { "host", "port", "listeners", NULL };
	static const char *const keys[] = { "listener.tcp.bind_port", "listener.ws.path", NULL };
	static const struct { const char *yaml, *want; } cases[] = {
		{ "host: h\nhots: x\n", "t.yml:2:1: profile: unknown key 'hots' (did you mean 'host'?)" },
		{ "colour: blue\n", "t.yml:1:1: profile: unknown key 'colour'" },
		{ "port: 1\nhost: a\nport: 2\n", "t.yml:3:1: profile: key 'port' given twice" },
		{ "- a\n", "t.yml:1:1: profile: expected a mapping (key: value)" },
	};
	struct fixture f;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		load(&f, cases[i].yaml);
		assert_int_equal(yx_check_keys(&f.d, yx_root(&f.d), allowed, "profile", &f.e), -1);
		assert_string_equal(f.e.msg, cases[i].want);
		done(&f);
	}
	assert_string_equal(yx_closest("listner.ws.path", keys), "listener.ws.path");
	assert_string_equal(yx_closest("LISTENER.TPC.BIND_PORT", keys), "listener.tcp.bind_port");
	assert_null(yx_closest("completely_different", keys));
	assert_null(yx_closest("x", allowed));
}

static void test_load(void **state)
{
	struct yx_arena a = { 0 };
	struct yx_doc d;
	struct perr e;

	(void)state;
	assert_int_equal(yx_load_string(&d, "s.yml", "a: [\n", &a, 0, &e), -1);
	assert_memory_equal(e.msg, "s.yml:2:1: YAML syntax: ", strlen("s.yml:2:1: YAML syntax: "));
	yx_free(&d);
	assert_int_equal(yx_load_string(&d, "s.yml", "# nothing\n", &a, 0, &e), -1);
	assert_string_equal(e.msg, "s.yml: empty document");
	yx_free(&d);
	assert_int_equal(yx_load_string(&d, "s.yml", "~\n", &a, YX_EMPTY_OK, &e), 0);
	assert_null(yx_root(&d));
	yx_free(&d);
	assert_int_equal(yx_load_string(&d, "s.yml", "", &a, YX_EMPTY_OK, &e), 0);
	assert_null(yx_root(&d));
	yx_free(&d);
	assert_int_equal(yx_load_string(&d, "s.yml", "a: 1\n---\nb: 2\n", &a, 0, &e), -1);
	assert_string_equal(e.msg, "s.yml:3:1: only one YAML document is allowed");
	yx_free(&d);
	assert_int_equal(yx_load_string(&d, "s.yml", "a: 1\n---\nb: [\n", &a, 0, &e), -1);
	assert_non_null(strstr(e.msg, "YAML syntax"));
	yx_free(&d);
	assert_int_equal(yx_load(&d, "/nonexistent/x.yml", &a, 0, &e), -1);
	assert_string_equal(e.msg, "/nonexistent/x.yml: No such file or directory");
	yx_free(&d);
	yx_arena_free(&a);
}

/* ---- scalar parsers --------------------------------------------------------- */

static void test_parse_bool(void **state)
{
	static const char *const yes[] = { "true", "TRUE", "yes", "Yes", "1" };
	static const char *const no[] = { "false", "False", "NO", "no", "0" };
	static const char *const bad[] = { "", "2", "on", "off", "truee", "y", " true" };
	bool b = false;

	(void)state;
	for (size_t i = 0; i < 5; i++) {
		assert_int_equal(yx_parse_bool(yes[i], &b), 0);
		assert_true(b);
		assert_int_equal(yx_parse_bool(no[i], &b), 0);
		assert_false(b);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(yx_parse_bool(bad[i], &b), -1);
}

static void test_parse_duration(void **state)
{
	static const struct { const char *s; unsigned long ms; } good[] = {
		{ "3s", 3000 }, { "500ms", 500 }, { "3000", 3000 }, { "2m", 120000 }, { "60m", 3600000 },
	};
	static const char *const bad[] = { "0", "3 s", "-1s", "2h", "61m", "99999999999999999999", "s", "" };
	unsigned long ms = 0;
	struct perr e;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(yx_parse_duration_ms(good[i].s, 1, 3600000, &ms, &e), 0);
		assert_int_equal(ms, good[i].ms);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(yx_parse_duration_ms(bad[i], 1, 3600000, &ms, &e), -1);
	assert_int_equal(yx_parse_duration_ms("0s", 1, 3600000, &ms, &e), -1);
	assert_string_equal(e.msg, "'0s' is out of range (1ms..1h)");
	assert_int_equal(yx_parse_duration_ms("1500ms", 2000, 90000, &ms, &e), -1);
	assert_string_equal(e.msg, "'1500ms' is out of range (2s..90s)");
}

/* Every test starts and ends with the test variables unset. */
#define YX_TEST(f) cmocka_unit_test_setup_teardown(f, reset, reset)

int main(void)
{
	const struct CMUnitTest tests[] = {
		YX_TEST(test_expand), YX_TEST(test_env_note), YX_TEST(test_expand_errors),
		YX_TEST(test_typed_values), YX_TEST(test_typed_value_errors),
		YX_TEST(test_bool_and_duration_errors), YX_TEST(test_keys_and_suggestions),
		YX_TEST(test_load), YX_TEST(test_parse_bool), YX_TEST(test_parse_duration),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
