/* cmd_header.c - `proxygen header`: build one header from the options and
 * write it to stdout in the chosen format. */
#include "cmd_header.h"

#include <stdio.h>
#include <stdlib.h>

#include "dump.h"
#include "opts.h"

enum { OPT_FORMAT = 'f', OPT_HELP = 'h' };

static const struct option own_opts[] = {
	{ "format", required_argument, NULL, OPT_FORMAT },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 }
};

static void usage(FILE *f)
{
	fputs("Usage: proxygen header [OPTIONS]\n"
	      "Write one PROXY protocol header to stdout.\n"
	      "\n"
	      "  -f, --format F           raw | hex | c | base64 (default raw)\n"
	      "  -h, --help               this text\n", f);
	opts_hdr_help(f);
	fputs("\nExamples:\n"
	      "  proxygen header --v1 --format raw\n"
	      "  proxygen header --src [2001:db8::7]:5000 --dst [2001:db8::1]:1883 --format hex\n"
	      "  proxygen header --authority mqtt.example.com --crc32c --format c\n"
	      "  proxygen header --mutate v2-version-0 --format hex\n", f);
}

int cmd_header(int argc, char **argv)
{
	struct option longopts[64];
	struct opts_hdr h;
	enum dump_fmt fmt = DUMP_RAW;
	struct perr e;
	uint8_t *buf = NULL;
	size_t cap = PP_V2_MAX_LEN + 1024;
	int c, n, rc = PG_EXIT_USAGE;

	if (opts_longopts(longopts, 64, own_opts) < 0)
		return opts_usage_error("header", "internal error: option table too small");
	opts_hdr_init(&h);
	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, ":f:h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_HELP:
			usage(stdout);
			rc = PG_EXIT_OK;
			goto out;
		case OPT_FORMAT:
			if (dump_fmt_parse(optarg, &fmt, &e) < 0) {
				opts_usage_error("header", "--format '%s': %s", optarg, e.msg);
				goto out;
			}
			break;
		case '?':
		case ':':
			opts_getopt_error(c, optopt, argv[optind - 1], longopts, &e);
			opts_usage_error("header", "%s", e.msg);
			goto out;
		default:
			if (opts_hdr_apply(&h, c, optarg, &e) <= 0) {
				opts_usage_error("header", "%s", e.msg);
				goto out;
			}
		}
	}
	if (optind < argc) {
		opts_usage_error("header", "unexpected argument '%s'", argv[optind]);
		goto out;
	}
	if (opts_hdr_check(&h, &e) < 0) {
		opts_usage_error("header", "%s", e.msg);
		goto out;
	}
	buf = malloc(cap);
	if (!buf) {
		fprintf(stderr, "proxygen header: out of memory\n");
		rc = PG_EXIT_FAIL;
		goto out;
	}
	n = opts_hdr_build(&h, buf, cap, &e);
	if (n < 0) {
		/* The options passed their checks; the codec refused them. */
		opts_usage_error("header", "%s", e.msg);
		goto out;
	}
	if (dump_write(stdout, fmt, buf, (size_t)n) < 0) {
		perror("proxygen header: write");
		rc = PG_EXIT_FAIL;
		goto out;
	}
	rc = PG_EXIT_OK;
out:
	free(buf);
	opts_hdr_free(&h);
	return rc;
}
