/* cmd_mutations.c - `proxygen mutations`: the malformation catalog of
 * lib/pp, as aligned text, TSV or JSON. */
#include "cmd_mutations.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opts.h"
#include "pp.h"

enum { OPT_FORMAT = 'f', OPT_HELP = 'h', OPT_ONLY_V1 = 0x100, OPT_ONLY_V2 };

static const struct option longopts[] = {
	{ "format", required_argument, NULL, OPT_FORMAT },
	{ "v1", no_argument, NULL, OPT_ONLY_V1 },
	{ "v2", no_argument, NULL, OPT_ONLY_V2 },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 }
};

enum list_fmt { FMT_TEXT, FMT_TSV, FMT_JSON };

static void usage(FILE *f)
{
	fputs("Usage: proxygen mutations [OPTIONS]\n"
	      "List every malformation `proxygen header --mutate NAME` can produce:\n"
	      "name, damaged version, the verdict a strict receiver must reach\n"
	      "(reject, incomplete, not-proxy; limit: valid per the spec, beyond a limit of\n"
	      "ppmq's own parser), the parser's reason, a description.\n"
	      "\n"
	      "  -f, --format F   text (aligned, with a title line) | tsv (no title) | json\n"
	      "  --v1, --v2       only the malformations of that version\n"
	      "  -h, --help       this text\n", f);
}

static int print_json(const struct pp_mutation *m, size_t n, int only)
{
	json_t *arr = json_array();
	char *s;

	if (!arr)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (only && m[i].version != only)
			continue;
		json_array_append_new(arr, json_pack("{s:s, s:i, s:s, s:s, s:s}",
			"name", m[i].name, "version", m[i].version,
			"verdict", pp_verdict_name(m[i].verdict),
			"reason", pp_reason_name(m[i].reason),
			"description", m[i].desc));
	}
	s = json_dumps(arr, JSON_INDENT(2));
	json_decref(arr);
	if (!s)
		return -1;
	puts(s);
	free(s);
	return 0;
}

int cmd_mutations(int argc, char **argv)
{
	const struct pp_mutation *m;
	enum list_fmt fmt = FMT_TEXT;
	size_t n, wn = 4, wv = 7, wr = 6;
	int c, only = 0;
	struct perr e;

	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, ":f:h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_HELP:
			usage(stdout);
			return PG_EXIT_OK;
		case OPT_FORMAT:
			if (strcmp(optarg, "text") == 0)
				fmt = FMT_TEXT;
			else if (strcmp(optarg, "tsv") == 0)
				fmt = FMT_TSV;
			else if (strcmp(optarg, "json") == 0)
				fmt = FMT_JSON;
			else
				return opts_usage_error("mutations", "--format '%s': expected "
							"text, tsv or json", optarg);
			break;
		case OPT_ONLY_V1:
		case OPT_ONLY_V2:
			only = c == OPT_ONLY_V1 ? 1 : 2;
			break;
		default:
			opts_getopt_error(c, optopt, argv[optind - 1], longopts, &e);
			return opts_usage_error("mutations", "%s", e.msg);
		}
	}
	if (optind < argc)
		return opts_usage_error("mutations", "unexpected argument '%s'", argv[optind]);

	m = pp_mutations(&n);
	if (fmt == FMT_JSON)
		return print_json(m, n, only) < 0 ? PG_EXIT_FAIL : PG_EXIT_OK;
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(m[i].name), lv = strlen(pp_verdict_name(m[i].verdict));
		size_t lr = strlen(pp_reason_name(m[i].reason));

		wn = l > wn ? l : wn;
		wv = lv > wv ? lv : wv;
		wr = lr > wr ? lr : wr;
	}
	if (fmt == FMT_TEXT)
		printf("%-*s  %-3s  %-*s  %-*s  %s\n", (int)wn, "NAME", "VER", (int)wv,
		       "VERDICT", (int)wr, "REASON", "DESCRIPTION");
	for (size_t i = 0; i < n; i++) {
		if (only && m[i].version != only)
			continue;
		if (fmt == FMT_TSV)
			printf("%s\t%d\t%s\t%s\t%s\n", m[i].name, m[i].version,
			       pp_verdict_name(m[i].verdict), pp_reason_name(m[i].reason),
			       m[i].desc);
		else
			printf("%-*s  v%-2d  %-*s  %-*s  %s\n", (int)wn, m[i].name,
			       m[i].version, (int)wv, pp_verdict_name(m[i].verdict), (int)wr,
			       pp_reason_name(m[i].reason), m[i].desc);
	}
	return fflush(stdout) == EOF ? PG_EXIT_FAIL : PG_EXIT_OK;
}
