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
#ifndef PPMQ_DATADIR
#define PPMQ_DATADIR "/usr/local/share/ppmq"
#endif

#define EXIT_FAILED 1
#define EXIT_USAGE 2
#define EXIT_UNREACHABLE 3

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ppmq-conform --target PROFILE [options]\n"
		"       ppmq-conform --list [--scenarios DIR] [--only GLOB]\n"
		"       ppmq-conform --explain ID | --audit [--scenarios DIR]\n"
		"       ppmq-conform report --html DIR RESULT.json...\n"
		"\n"
		"Runs the PROXY protocol scenario catalog against an MQTT broker described by\n"
		"a target profile; TAP on stdout, one test point per scenario x listener.\n"
		"\n"
		"  -t, --target PROFILE   target profile (YAML, see conformance/targets/README.md)\n"
		"  -s, --scenarios DIR    scenario catalog (default ./scenarios, else\n"
		"                         " PPMQ_DATADIR "/scenarios); a single file works too\n"
		"  -o, --only GLOB        run scenarios whose id or a tag matches (repeatable,\n"
		"                         comma lists; 'pp2/tlv' selects pp2/tlv/...)\n"
		"  -l, --listener LIST    listeners to test: tcp,ssl,ws,wss (default all)\n"
		"  -j, --jobs N           connections run in parallel (default 1)\n"
		"      --timeout MS       per-step timeout (default: the profile's timeout_ms)\n"
		"      --strict           NON-STRICT grades count as failures\n"
		"      --no-preflight     do not check first that each listener and observer\n"
		"                         behaves as the profile declares\n"
		"      --list             list the selected scenarios and exit (with --target:\n"
		"                         after checking that the profile loads)\n"
		"      --explain ID       the sentence scenario ID checks (source, level, quote)\n"
		"                         and how each outcome is graded, then exit\n"
		"      --audit            every clause and every scenario as a Markdown table\n"
		"                         (docs/conformance-audit.md), then exit\n"
		"      --junit FILE       write JUnit XML\n"
		"      --json FILE        write JSON results (input of `report`)\n"
		"      --html DIR         write DIR/index.html\n"
		"  -v, --verbose          diagnostics for every non-PASS point; progress on stderr\n"
		"  -h, --help             this text\n"
		"  -V, --version          version\n"
		"\n"
		"Exit status: 0 every required scenario passed, 1 some failed, 2 usage or\n"
		"configuration error, 3 the target cannot be reached.\n");
}

static void on_signal(int sig)
{
	(void)sig;
	ln_kill_from_signal();
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

static const char *default_scenarios(void)
{
	struct stat st;

	if (stat("scenarios", &st) == 0 && S_ISDIR(st.st_mode))
		return "scenarios";
	return PPMQ_DATADIR "/scenarios";
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

static void list_scenarios(const struct rn_config *c)
{
	const struct scenario **v;
	size_t n, i, j;

	v = rn_select(c, &n);
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
       OPT_AUDIT, OPT_NO_PREFLIGHT };

int main(int argc, char **argv)
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
		{ "list", no_argument, NULL, OPT_LIST },
		{ "explain", required_argument, NULL, OPT_EXPLAIN },
		{ "audit", no_argument, NULL, OPT_AUDIT },
		{ "no-preflight", no_argument, NULL, OPT_NO_PREFLIGHT },
		{ "junit", required_argument, NULL, OPT_JUNIT },
		{ "json", required_argument, NULL, OPT_JSON },
		{ "html", required_argument, NULL, OPT_HTML },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *target = NULL, *scen = NULL, *junit = NULL, *json = NULL, *html = NULL;
	const char *explain = NULL;
	bool audit = false;
	struct rn_config cfg;
	struct sc_catalog cat;
	struct profile prof;
	struct rpt_run *run = NULL;
	struct perr e;
	bool list = false, have_prof = false;
	int c, rc = 0;
	long v;
	size_t i;
	int64_t t0;

	if (argc > 1 && !strcmp(argv[1], "report"))
		return cmd_report(argc - 1, argv + 1);

	memset(&cfg, 0, sizeof(cfg));
	memset(&cat, 0, sizeof(cat));
	cfg.jobs = 1;
	while ((c = getopt_long(argc, argv, "t:s:o:l:j:vhV", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			target = optarg;
			break;
		case 's':
			scen = optarg;
			break;
		case 'o':
			if (add_only(&cfg.only, &cfg.nonly, optarg) < 0)
				return EXIT_USAGE;
			break;
		case 'l':
			if (parse_listeners(optarg, &cfg.listeners) < 0)
				return EXIT_USAGE;
			break;
		case 'j':
			if ((v = parse_num("-j", optarg, 1, 256)) < 0)
				return EXIT_USAGE;
			cfg.jobs = (int)v;
			break;
		case OPT_TIMEOUT:
			if ((v = parse_num("--timeout", optarg, 50, 600000)) < 0)
				return EXIT_USAGE;
			cfg.timeout_ms = (int)v;
			break;
		case OPT_STRICT:
			cfg.strict = true;
			break;
		case OPT_LIST:
			list = true;
			break;
		case OPT_EXPLAIN:
			explain = optarg;
			break;
		case OPT_AUDIT:
			audit = true;
			break;
		case OPT_NO_PREFLIGHT:
			cfg.no_preflight = true;
			break;
		case OPT_JUNIT:
			junit = optarg;
			break;
		case OPT_JSON:
			json = optarg;
			break;
		case OPT_HTML:
			html = optarg;
			break;
		case 'v':
			cfg.verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("ppmq-conform %s\n", PPMQ_VERSION);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ppmq-conform: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!target && !list && !explain && !audit) {
		fprintf(stderr, "ppmq-conform: --target PROFILE is required (see --help)\n");
		return EXIT_USAGE;
	}
	log_init("ppmq-conform", cfg.verbose ? LOG_INFO : LOG_WARN);
	if (!scen)
		scen = default_scenarios();

	if (sc_load_dir(&cat, scen, &e) < 0) {
		fprintf(stderr, "ppmq-conform: %s\n", e.msg);
		rc = EXIT_USAGE;
		goto out;
	}
	cfg.catalog = &cat;
	if (sc_catalog_check(&cat, &e) < 0) {
		fprintf(stderr, "ppmq-conform: %s\n", e.msg);
		rc = EXIT_USAGE;
		goto out;
	}
	if (explain || audit) {
		if (audit)
			audit_table(stdout, &cat);
		else if (audit_explain(stdout, &cat, explain, 4000, &e) < 0) {
			fprintf(stderr, "ppmq-conform: %s\n", e.msg);
			rc = EXIT_USAGE;
		}
		goto out;
	}
	if (target) {
		/* With --list too: a quick check that a profile loads. */
		if (pf_load(&prof, target, &e) < 0) {
			fprintf(stderr, "ppmq-conform: %s\n", e.msg);
			rc = EXIT_USAGE;
			pf_free(&prof);
			goto out;
		}
		have_prof = true;
	}
	if (list) {
		list_scenarios(&cfg);
		goto out;
	}
	cfg.profile = &prof;
	cfg.tap = stdout;

	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	curl_global_init(CURL_GLOBAL_DEFAULT);

	run = rpt_run_new(PPMQ_VERSION, prof.name, target, &e);
	if (!run) {
		fprintf(stderr, "ppmq-conform: %s\n", e.msg);
		rc = EXIT_USAGE;
		goto out_curl;
	}
	run->strict = cfg.strict;
	t0 = net_now_ms();
	rc = rn_run(&cfg, run, &e);
	run->duration_ms = net_now_ms() - t0;
	if (rc == RN_UNREACHABLE) {
		fprintf(stderr, "ppmq-conform: %s\n", e.msg);
		rc = EXIT_UNREACHABLE;
		goto out_curl;
	}
	if (rc < 0) {
		fprintf(stderr, "ppmq-conform: %s\n", e.msg);
		rc = EXIT_USAGE;
		goto out_curl;
	}
	rpt_tap_summary(stdout, run);
	fflush(stdout);
	rc = rpt_run_failures(run) ? EXIT_FAILED : 0;
	if (junit && rpt_write_junit(junit, run, &e) < 0) {
		fprintf(stderr, "ppmq-conform: --junit: %s\n", e.msg);
		rc = EXIT_USAGE;
	}
	if (json && rpt_write_json(json, run, &e) < 0) {
		fprintf(stderr, "ppmq-conform: --json: %s\n", e.msg);
		rc = EXIT_USAGE;
	}
	if (html) {
		const struct rpt_run *runs[1] = { run };

		if (rpt_write_html(html, runs, 1, &e) < 0) {
			fprintf(stderr, "ppmq-conform: --html: %s\n", e.msg);
			rc = EXIT_USAGE;
		}
	}
out_curl:
	curl_global_cleanup();
out:
	rpt_run_free(run);
	if (have_prof)
		pf_free(&prof);
	sc_catalog_free(&cat);
	for (i = 0; i < cfg.nonly; i++)
		free(cfg.only[i]);
	free(cfg.only);
	return rc;
}
