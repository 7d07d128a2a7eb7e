/* main.c - ppmq-conform: command line, then the runner and the report
 * writers; `ppmq-conform report` merges JSON results into one HTML page.
 */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit.h"
#include "check.h"
#include "home.h"
#include "err.h"
#include "launch.h"
#include "log.h"
#include "net.h"
#include "profile.h"
#include "../reports/report.h"
#include "runner.h"
#include "scenario.h"

#ifndef PPMQ_VERSION
#define PPMQ_VERSION "0"
#endif

#define EXIT_FAILED 1
#define EXIT_USAGE 2
#define EXIT_UNREACHABLE 3

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ppmq-conform --target PROFILE [options]\n"
		"       ppmq-conform --list [--scenarios DIR] [--only GLOB]\n"
		"       ppmq-conform --check-profile --target PROFILE [--only GLOB] [--listener LIST]\n"
		"       ppmq-conform --explain ID | --audit [--scenarios DIR]\n"
		"       ppmq-conform report --html DIR RESULT.json...\n"
		"\n"
		"Runs the PROXY protocol scenario catalog against an MQTT broker described by\n"
		"a target profile; TAP on stdout, one test point per scenario x listener.\n"
		"\n"
		"  -t, --target PROFILE   target profile (YAML, see conformance/targets/README.md),\n"
		"                         or the name of a shipped one (ppmq-broker, mosquitto, ...)\n"
		"  -s, --scenarios DIR    scenario catalog (default ./scenarios, else the one\n"
		"                         installed beside the program); a single file works too\n"
		"  -o, --only GLOB        run scenarios whose id or a tag matches (repeatable,\n"
		"                         comma lists; 'pp2/tlv' selects pp2/tlv/...)\n"
		"  -l, --listener LIST    listeners to test: tcp,ssl,ws,wss (default all)\n"
		"  -j, --jobs N           points run at once (default: the profile's jobs, else 8)\n"
		"      --timeout MS       per-step timeout (default: the profile's timeout_ms)\n"
		"      --strict           NON-STRICT grades count as failures\n"
		"      --wait SECONDS     give a running target that long to accept connections\n"
		"                         on every listener before it counts as unreachable\n"
		"      --no-preflight     do not check first that each listener and observer\n"
		"                         behaves as the profile declares\n"
		"      --list             list the selected scenarios and exit (with --target:\n"
		"                         after checking that the profile loads)\n"
		"      --check-profile    with --target: what the run would do (listeners,\n"
		"                         observers, launch, points that run or SKIP and why)\n"
		"                         and what in the profile cannot work; exit 2 if any\n"
		"      --explain ID       the sentence scenario ID checks (source, level, quote)\n"
		"                         and how each outcome is graded, then exit\n"
		"      --audit            every clause and every scenario as a Markdown table\n"
		"                         (docs/conformance-audit.md), then exit\n"
		"      --junit FILE       write JUnit XML\n"
		"      --json FILE        write JSON results (input of `report`)\n"
		"      --html DIR         write DIR/index.html\n"
		"      --tap-file FILE    write the TAP to FILE too (stdout has it anyway)\n"
		"  -v, --verbose          diagnostics for every non-PASS point; progress on stderr\n"
		"  -h, --help             this text\n"
		"  -V, --version          version\n"
		"\n"
		"Exit status: 0 every required scenario passed, 1 some failed, 2 usage or\n"
		"configuration error, 3 the target cannot be reached. Report paths are\n"
		"checked before the first point; on 2 and 3 each report asked for is still\n"
		"written, with one failed test case that names the problem.\n");
}

static void on_signal(int sig)
{
	(void)sig;
	launch_kill_from_signal();
	_exit(130);
}

static int add_only(char ***only, size_t *n, const char *arg)
{
	char *copy = strdup(arg), *tok, *save = NULL;

	if (!copy)
		return -1;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char **nv = realloc(*only, (*n + 1) * sizeof(*nv));

		if (!nv) {
			free(copy);
			return -1;
		}
		*only = nv;
		(*only)[*n] = strdup(tok);
		if (!(*only)[*n]) {
			free(copy);
			return -1;
		}
		(*n)++;
	}
	free(copy);
	return 0;
}

static int parse_listeners(const char *arg, unsigned *mask)
{
	char *copy = strdup(arg), *tok, *save = NULL;

	if (!copy)
		return -1;
	for (tok = strtok_r(copy, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
		enum sc_listener l;

		if (sc_listener_parse(tok, &l) < 0) {
			fprintf(stderr, "ppmq-conform: --listener: '%s' is not tcp, ssl, ws or wss\n", tok);
			free(copy);
			return -1;
		}
		*mask |= 1u << l;
	}
	free(copy);
	return *mask ? 0 : -1;
}

static long parse_num(const char *opt, const char *arg, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (!*arg || *end || errno || v < min || v > max) {
		fprintf(stderr, "ppmq-conform: %s: '%s' is not a number in %ld..%ld\n", opt, arg, min, max);
		return -1;
	}
	return v;
}

static int cmd_report(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "html", required_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *html = NULL;
	struct rpt_run **runs;
	struct perr e;
	int c, i, n, rc = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'H':
			html = optarg;
			break;
		case 'h':
			printf("usage: ppmq-conform report --html DIR RESULT.json...\n"
			       "Writes DIR/index.html with every run side by side.\n");
			return 0;
		default:
			fprintf(stderr, "usage: ppmq-conform report --html DIR RESULT.json...\n");
			return EXIT_USAGE;
		}
	}
	n = argc - optind;
	if (!html || n < 1) {
		fprintf(stderr, "ppmq-conform report: need --html DIR and at least one RESULT.json\n");
		return EXIT_USAGE;
	}
	runs = calloc((size_t)n, sizeof(*runs));
	if (!runs)
		return EXIT_USAGE;
	for (i = 0; i < n; i++)
		if (rpt_read_json(argv[optind + i], &runs[i], &e) < 0) {
			fprintf(stderr, "ppmq-conform report: %s\n", e.msg);
			rc = EXIT_USAGE;
			break;
		}
	if (rc == 0 && rpt_write_html(html, (const struct rpt_run *const *)runs, (size_t)n, &e) < 0) {
		fprintf(stderr, "ppmq-conform report: %s\n", e.msg);
		rc = EXIT_USAGE;
	}
	for (i = 0; i < n; i++)
		rpt_run_free(runs[i]);
	free(runs);
	return rc;
}

static void list_scenarios(const struct runner_config *c)
{
	const struct scenario **v;
	size_t n, i, j;

	v = runner_select(c, &n);
	if (!v)
		return;
	for (i = 0; i < n; i++) {
		printf("%-44s %s", v[i]->id, v[i]->title);
		if (v[i]->ntags) {
			printf("  [");
			for (j = 0; j < v[i]->ntags; j++)
				printf("%s%s", j ? "," : "", v[i]->tags[j]);
			printf("]");
		}
		printf("\n");
	}
	fprintf(stderr, "%zu scenarios (%zu generated from the malformation catalog)\n", n,
		c->catalog->ngenerated);
	free(v);
}

enum { OPT_TIMEOUT = 1000, OPT_STRICT, OPT_LIST, OPT_JUNIT, OPT_JSON, OPT_HTML, OPT_EXPLAIN,
       OPT_AUDIT, OPT_NO_PREFLIGHT, OPT_TAP_FILE, OPT_CHECK_PROFILE, OPT_WAIT };

/* The report files asked for on the command line. */
struct outputs {
	const char *junit, *json, *html, *tap;
};

/* Everything the command line says. */
struct cli {
	struct runner_config cfg;
	const char *target, *scen, *explain;
	bool list, audit, check;
	struct outputs out;
};

/* One option into o: 0, or EXIT_USAGE (message printed). */
static int take_option(struct cli *o, int c, const char *arg)
{
	long v;

	switch (c) {
	case 't': o->target = arg; break;
	case 's': o->scen = arg; break;
	case 'o': return add_only(&o->cfg.only, &o->cfg.nonly, arg) < 0 ? EXIT_USAGE : 0;
	case 'l': return parse_listeners(arg, &o->cfg.listeners) < 0 ? EXIT_USAGE : 0;
	case 'j':
		if ((v = parse_num("-j", arg, 1, 256)) < 0)
			return EXIT_USAGE;
		o->cfg.jobs = (int)v;
		break;
	case OPT_TIMEOUT:
		if ((v = parse_num("--timeout", arg, 50, 600000)) < 0)
			return EXIT_USAGE;
		o->cfg.timeout_ms = (int)v;
		break;
	case OPT_WAIT:
		if ((v = parse_num("--wait", arg, 0, 3600)) < 0)
			return EXIT_USAGE;
		o->cfg.wait_s = (int)v;
		break;
	case OPT_STRICT: o->cfg.strict = true; break;
	case OPT_LIST: o->list = true; break;
	case OPT_CHECK_PROFILE: o->check = true; break;
	case OPT_EXPLAIN: o->explain = arg; break;
	case OPT_AUDIT: o->audit = true; break;
	case OPT_NO_PREFLIGHT: o->cfg.no_preflight = true; break;
	case OPT_JUNIT: o->out.junit = arg; break;
	case OPT_JSON: o->out.json = arg; break;
	case OPT_HTML: o->out.html = arg; break;
	case OPT_TAP_FILE: o->out.tap = arg; break;
	case 'v': o->cfg.verbose = true; break;
	default:
		usage(stderr);
		return EXIT_USAGE;
	}
	return 0;
}

/* The command line into o: -1 to go on, else the exit status (--help,
 * --version: 0; a usage error: EXIT_USAGE, message printed). */
static int parse_args(int argc, char **argv, struct cli *o)
{
	static const struct option opts[] = {
		{ "target", required_argument, NULL, 't' },
		{ "scenarios", required_argument, NULL, 's' },
		{ "only", required_argument, NULL, 'o' },
		{ "listener", required_argument, NULL, 'l' },
		{ "listeners", required_argument, NULL, 'l' },
		{ "jobs", required_argument, NULL, 'j' },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "strict", no_argument, NULL, OPT_STRICT },
		{ "wait", required_argument, NULL, OPT_WAIT },
		{ "list", no_argument, NULL, OPT_LIST },
		{ "check-profile", no_argument, NULL, OPT_CHECK_PROFILE },
		{ "explain", required_argument, NULL, OPT_EXPLAIN },
		{ "audit", no_argument, NULL, OPT_AUDIT },
		{ "no-preflight", no_argument, NULL, OPT_NO_PREFLIGHT },
		{ "junit", required_argument, NULL, OPT_JUNIT },
		{ "json", required_argument, NULL, OPT_JSON },
		{ "html", required_argument, NULL, OPT_HTML },
		{ "tap-file", required_argument, NULL, OPT_TAP_FILE },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c, rc;

	o->cfg.jobs = 0; /* the profile's */
	while ((c = getopt_long(argc, argv, "t:s:o:l:j:vhV", opts, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			return 0;
		}
		if (c == 'V') {
			printf("ppmq-conform %s\n", PPMQ_VERSION);
			return 0;
		}
		if ((rc = take_option(o, c, optarg)) != 0)
			return rc;
	}
	if (optind < argc) {
		fprintf(stderr, "ppmq-conform: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (o->check && !o->target) {
		fprintf(stderr, "ppmq-conform: --check-profile needs --target PROFILE\n");
		return EXIT_USAGE;
	}
	if (!o->target && !o->list && !o->explain && !o->audit) {
		fprintf(stderr, "ppmq-conform: --target PROFILE is required (see --help)\n");
		return EXIT_USAGE;
	}
	if (!o->scen)
		o->scen = home_scenarios();
	return -1;
}

/* "ppmq-conform: OPT: why" on stderr; returns status. */
static int complain(const char *opt, const char *why, int status)
{
	fprintf(stderr, "ppmq-conform: %s%s%s\n", opt ? opt : "", opt ? ": " : "", why);
	return status;
}

/* Every report path can be written: 0, or EXIT_USAGE (message printed). */
static int check_outputs(const struct outputs *out)
{
	const struct { const char *opt, *path; bool dir; } v[] = {
		{ "--junit", out->junit, false }, { "--json", out->json, false },
		{ "--html", out->html, true }, { "--tap-file", out->tap, false },
	};
	struct perr e;
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		if (v[i].path && rpt_out_check(v[i].path, v[i].dir, &e) < 0)
			return complain(v[i].opt, e.msg, EXIT_USAGE);
	return 0;
}

/* Every report asked for: 0, or -1 (each failure printed). */
static int write_outputs(const struct outputs *out, const struct rpt_run *run, bool verbose)
{
	const struct rpt_run *runs[1] = { run };
	struct perr e;
	FILE *f;
	int rc = 0;

	if (out->junit && rpt_write_junit(out->junit, run, &e) < 0)
		rc = complain("--junit", e.msg, -1);
	if (out->json && rpt_write_json(out->json, run, &e) < 0)
		rc = complain("--json", e.msg, -1);
	if (out->html && rpt_write_html(out->html, runs, 1, &e) < 0)
		rc = complain("--html", e.msg, -1);
	if (out->tap) {
		if (!(f = rpt_out_open(out->tap, &e)) ||
		    rpt_out_close(f, out->tap, rpt_write_tap(f, run, verbose, &e) < 0, &e) < 0)
			rc = complain("--tap-file", e.msg, -1);
	}
	return rc;
}

/* The run ends before its verdicts (exit 2 or 3): say why on stderr and,
 * in every report asked for, as one failed test case, so that a CI job
 * shows the cause in its test tab. run: the points so far, or NULL. */
static int end_early(const struct cli *o, struct rpt_run *run, const char *target, int status,
		     const char *why)
{
	const char *expected;
	struct rpt_result r = {
		.listener = "setup",
		.family = "ppmq-conform",
		.grade = RPT_FAIL,
		.reason = why,
		.expected = &expected,
		.nexpected = 1,
	};
	struct rpt_run *own = NULL;
	struct perr e;

	complain(NULL, why, 0);
	if (status == EXIT_UNREACHABLE) {
		r.id = "ppmq-conform/target";
		r.title = "the target is reachable and behaves as its profile declares";
		expected = "a target that answers as its profile declares";
		r.actual = "the run stopped (exit 3): the target cannot be tested";
	} else {
		r.id = "ppmq-conform/configuration";
		r.title = "the profile and the scenario catalog load";
		expected = "a profile and a catalog that load";
		r.actual = "the run stopped (exit 2) before its first point";
	}
	if (!run)
		run = own = rpt_run_new(PPMQ_VERSION, target, o->target, &e);
	if (run && rpt_run_add(run, &r, &e) == 0)
		write_outputs(&o->out, run, o->cfg.verbose);
	rpt_run_free(own);
	return status;
}

/* Run the catalog against the loaded profile, write the reports. */
static int run_target(struct cli *o, struct profile *prof)
{
	struct rpt_run *run;
	struct perr e;
	int64_t t0;
	int rc;

	o->cfg.profile = prof;
	o->cfg.tap = stdout;
	if (o->cfg.jobs == 0)
		o->cfg.jobs = prof->jobs;
	run = rpt_run_new(PPMQ_VERSION, prof->name, o->target, &e);
	if (!run)
		return end_early(o, NULL, prof->name, EXIT_USAGE, e.msg);
	run->strict = o->cfg.strict;
	t0 = net_now_ms();
	rc = runner_run(&o->cfg, run, &e);
	run->duration_ms = net_now_ms() - t0;
	if (rc == RUNNER_UNREACHABLE || rc < 0)
		rc = end_early(o, run, prof->name, rc == RUNNER_UNREACHABLE ? EXIT_UNREACHABLE : EXIT_USAGE,
			       e.msg);
	else {
		rpt_tap_summary(stdout, run);
		fflush(stdout);
		rc = rpt_run_failures(run) ? EXIT_FAILED : 0;
		/* A report that cannot be written turns a pass into an error;
		 * a failed run stays failed. */
		if (write_outputs(&o->out, run, o->cfg.verbose) < 0 && rc == 0)
			rc = EXIT_USAGE;
	}
	rpt_run_free(run);
	return rc;
}

/* After the catalog loads: --explain / --audit, --list, or the run. */
static int with_catalog(struct cli *o)
{
	struct profile prof;
	struct perr e;
	int rc = 0;

	if (o->explain || o->audit) {
		if (o->audit)
			audit_table(stdout, o->cfg.catalog);
		else if (audit_explain(stdout, o->cfg.catalog, o->explain, 4000, &e) < 0)
			rc = complain(NULL, e.msg, EXIT_USAGE);
		return rc;
	}
	if (o->target && profile_load(&prof, o->target, &e) < 0) {
		/* with --list too: a quick check that the profile loads */
		profile_free(&prof);
		return o->list || o->check ? complain(NULL, e.msg, EXIT_USAGE)
			       : end_early(o, NULL, o->target, EXIT_USAGE, e.msg);
	}
	if (o->check) {
		size_t problems;

		o->cfg.profile = &prof;
		if (check_profile(stdout, &o->cfg, &problems, &e) < 0)
			rc = complain(NULL, e.msg, EXIT_USAGE);
		else
			rc = problems ? EXIT_USAGE : 0;
	} else if (o->list)
		list_scenarios(&o->cfg);
	else {
		signal(SIGPIPE, SIG_IGN);
		signal(SIGINT, on_signal);
		signal(SIGTERM, on_signal);
		curl_global_init(CURL_GLOBAL_DEFAULT);
		rc = run_target(o, &prof);
		curl_global_cleanup();
	}
	if (o->target)
		profile_free(&prof);
	return rc;
}

int main(int argc, char **argv)
{
	char target[4096];
	struct sc_catalog cat;
	struct cli o;
	struct perr e;
	bool quiet;
	size_t i;
	int rc;

	if (argc > 1 && !strcmp(argv[1], "report"))
		return cmd_report(argc - 1, argv + 1);
	memset(&o, 0, sizeof(o));
	memset(&cat, 0, sizeof(cat));
	home_init();
	rc = parse_args(argc, argv, &o);
	if (o.target)
		o.target = home_target(o.target, target, sizeof(target));
	if (rc < 0 && (rc = check_outputs(&o.out)) == 0) {
		log_init("ppmq-conform", o.cfg.verbose ? LOG_INFO : LOG_WARN);
		/* --list, --check-profile, --explain and --audit write no report */
		quiet = o.list || o.check || o.explain || o.audit;
		if (sc_load_dir(&cat, o.scen, &e) < 0 || sc_catalog_check(&cat, &e) < 0)
			rc = quiet ? complain(NULL, e.msg, EXIT_USAGE)
				   : end_early(&o, NULL, o.target, EXIT_USAGE, e.msg);
		else {
			o.cfg.catalog = &cat;
			rc = with_catalog(&o);
		}
	}
	sc_catalog_free(&cat);
	for (i = 0; i < o.cfg.nonly; i++)
		free(o.cfg.only[i]);
	free(o.cfg.only);
	return rc;
}
