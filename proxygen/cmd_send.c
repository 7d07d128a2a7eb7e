/* cmd_send.c - `proxygen send`: one connection made by lib/client (header,
 * TLS, WebSocket upgrade, MQTT CONNECT), its outcome in words and as the
 * exit status. */
#include "cmd_send.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "dump.h"
#include "net.h"
#include "opts.h"
#include "opts_client.h"

enum {
	OPT_HELP = 'h',
	OPT_VERBOSE = 'v',
	OPT_RAW_HEX = 0x100,
	OPT_SPLIT,
	OPT_DELAY,
	OPT_SEND_ONLY,
	OPT_STALL,
	OPT_CLOSE_AFTER,
	OPT_COALESCE,
	OPT_NO_CONNECT,
	OPT_HOLD,
};

static const struct option own_opts[] = {
	{ "raw-hex", required_argument, NULL, OPT_RAW_HEX },
	{ "split", required_argument, NULL, OPT_SPLIT },
	{ "delay", required_argument, NULL, OPT_DELAY },
	{ "send-only", required_argument, NULL, OPT_SEND_ONLY },
	{ "stall", required_argument, NULL, OPT_STALL },
	{ "close-after-header", no_argument, NULL, OPT_CLOSE_AFTER },
	{ "coalesce", no_argument, NULL, OPT_COALESCE },
	{ "no-connect", no_argument, NULL, OPT_NO_CONNECT },
	{ "hold", required_argument, NULL, OPT_HOLD },
	{ "verbose", no_argument, NULL, OPT_VERBOSE },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 }
};

/* Longest value of a millisecond option: one day. */
#define MS_MAX 86400000u

static void usage(FILE *f)
{
	fputs("Usage: proxygen send --target HOST:PORT [OPTIONS]\n"
	      "Open one connection: PROXY header, then TLS and/or the WebSocket upgrade,\n"
	      "then an MQTT CONNECT; print the outcome.\n"
	      "\n"
	      "Connection:\n"
	      "  --target HOST:PORT       where to connect (IPv6 in brackets)\n"
	      "  --transport T            tcp | tls | ws | wss (default tcp)\n"
	      "  --ca FILE | --insecure   verify the server against FILE, or not at all\n"
	      "  --sni NAME               TLS server name (default: the target host name)\n"
	      "  --cert FILE --key FILE   TLS client certificate\n"
	      "  --path PATH              WebSocket path (default /mqtt)\n"
	      "  --subprotocol NAME       WebSocket subprotocol (default mqtt)\n"
	      "  --bind IP                local source address (e.g. 127.0.0.7)\n"
	      "  --timeout MS             limit of each step (default 5000)\n"
	      "Header delivery:\n"
	      "  --no-header              send no header at all\n"
	      "  --raw-hex HEX            send exactly these bytes as the header\n"
	      "  --split N --delay MS     write the header in N-byte chunks, MS apart\n"
	      "  --send-only N            send only the first N bytes of the header\n"
	      "  --stall MS               pause after the header (or its first bytes)\n"
	      "  --close-after-header     close right after the header part\n"
	      "  --coalesce               header and the next bytes (CONNECT, ClientHello or\n"
	      "                           the upgrade request) in one write\n"
	      "MQTT:\n"
	      "  --client-id ID, --username NAME, --password SECRET\n"
	      "  --mqtt V                 3.1.1 | 5 (default 3.1.1)\n"
	      "  --keepalive S            CONNECT keep-alive (default 60)\n"
	      "  --no-connect             send no CONNECT; wait --timeout for the peer to act\n"
	      "                           (success: the connection is still open then)\n"
	      "  --hold MS                keep the session open MS after the CONNACK\n"
	      "Output:\n"
	      "  -v, --verbose            also the header in hex and the bytes received\n"
	      "  -h, --help               this text\n"
	      "\n", f);
	opts_hdr_help(f);
	fputs("\nExit status: 0 CONNACK with success (with --no-connect or\n"
	      "--close-after-header: sent, and no failure), 1 any other outcome, 2 usage error.\n"
	      "\nExamples:\n"
	      "  proxygen send --target 127.0.0.1:1883 --v1 --src 203.0.113.7:5555\n"
	      "  proxygen send --target broker:8883 --transport tls --ca ca.pem --authority broker\n"
	      "  proxygen send --target 127.0.0.1:1883 --mutate v2-version-0 -v\n", f);
}

static int parse_ms(const char *opt, const char *arg, uint64_t min, int *out)
{
	return opts_int_arg("send", opt, arg, min, MS_MAX, out);
}

static int parse_size(const char *opt, const char *arg, uint64_t min, uint64_t max,
		      size_t *out)
{
	uint64_t v;
	int rc = opts_uint_arg("send", opt, arg, min, max, &v);

	if (rc == 0)
		*out = (size_t)v;
	return rc;
}

struct send_args {
	struct opts_client cl;
	uint8_t *raw;
	size_t raw_len;
	bool have_raw;
	bool delay_given;
	int hold_ms;
	bool verbose;
};

/* One of send's own options (opts_client_parse takes the others). */
static int apply_own(void *ctx, int c, const char *arg)
{
	struct send_args *a = ctx;
	struct client_opts *o = &a->cl.o;
	struct perr e;
	int rc = 0;

	switch (c) {
	case OPT_VERBOSE:
		a->verbose = true;
		return 0;
	case OPT_RAW_HEX:
		free(a->raw);
		a->raw = NULL;
		if (opts_parse_hex(arg, &a->raw, &a->raw_len, &e) < 0)
			return opts_usage_error("send", "--raw-hex '%s': %s", arg, e.msg);
		if (a->raw_len == 0)
			return opts_usage_error("send", "--raw-hex: empty (use --no-header)");
		a->have_raw = true;
		return 0;
	case OPT_SPLIT:
		return parse_size("split", arg, 1, 65535, &o->split);
	case OPT_DELAY:
		a->delay_given = true;
		return parse_ms("delay", arg, 0, &o->delay_ms);
	case OPT_SEND_ONLY:
		rc = parse_size("send-only", arg, 0, PP_V2_MAX_LEN, &o->send_only);
		if (!rc && o->send_only == 0)
			return opts_usage_error("send", "--send-only '%s': must be at least 1 "
						"(use --no-header for none)", arg);
		return rc;
	case OPT_STALL:
		return parse_ms("stall", arg, 0, &o->stall_ms);
	case OPT_CLOSE_AFTER:
		o->close_after_header = true;
		return 0;
	case OPT_COALESCE:
		o->coalesce = true;
		return 0;
	case OPT_NO_CONNECT:
		o->no_connect = true;
		return 0;
	case OPT_HOLD:
		return parse_ms("hold", arg, 0, &a->hold_ms);
	}
	return 0;
}

/* send takes every client option. */
static const struct opts_cl_spec spec = {
	.cmd = "send", .opts = OPTS_CL_ALL, .timeout_max = MS_MAX,
	.shortopts = ":hv", .own = own_opts, .usage = usage, .apply = apply_own,
};

/* Options that only make sense together. */
static int check_args(struct send_args *a)
{
	struct client_opts *o = &a->cl.o;
	bool hdr_opts = a->cl.hdr.touched || a->cl.hdr.mutate[0];
	int rc;

	if (!a->cl.have_target)
		return opts_usage_error("send", "--target HOST:PORT is required");
	if (a->cl.no_header + a->have_raw + hdr_opts > 1)
		return opts_usage_error("send", "choose one of --no-header, --raw-hex and the "
					"header options");
	rc = opts_client_check(&a->cl, &spec);
	if (rc)
		return rc;
	if (o->coalesce && (o->split || o->send_only || o->stall_ms || o->close_after_header))
		return opts_usage_error("send", "--coalesce cannot be combined with --split, "
					"--send-only, --stall or --close-after-header");
	if (a->cl.no_header && (o->split || a->delay_given || o->send_only || o->coalesce ||
				o->close_after_header))
		return opts_usage_error("send", "--no-header leaves nothing to split, cut or "
					"coalesce");
	if (a->delay_given && !o->split)
		return opts_usage_error("send", "--delay needs --split");
	if (a->hold_ms && (o->no_connect || o->close_after_header))
		return opts_usage_error("send", "--hold needs a CONNECT (not --no-connect or "
					"--close-after-header)");
	if (o->no_connect && (o->client_id || o->username || o->password))
		return opts_usage_error("send", "--no-connect sends no CONNECT: --client-id, "
					"--username and --password are unused");
	return 0;
}

static void print_verbose_header(const uint8_t *h, size_t n)
{
	char hex[2 * 512 + 1];

	if (!h) {
		printf("header: none\n");
		return;
	}
	dump_hex_str(h, n, hex, sizeof(hex));
	printf("header: %zu bytes: %s%s\n", n, hex, n > 512 ? "..." : "");
}

static void print_verbose_result(const struct client_result *r)
{
	char hex[2 * sizeof(r->rx) + 1];
	char local[NET_ADDR_STRLEN];

	dump_hex_str(r->rx, r->rx_len, hex, sizeof(hex));
	printf("received: %zu bytes%s%s%s\n", r->rx_len, r->rx_len ? ": " : "", hex,
	       r->any_byte_received && !r->rx_len ? " (before TLS/WebSocket only)" : "");
	if (r->local.ss_family != AF_UNSPEC)
		printf("local: %s\n", net_addr_str(&r->local, local, sizeof(local)));
	if (r->tls_version[0])
		printf("tls: %s %s\n", r->tls_version, r->tls_cipher);
	printf("elapsed: %.1f ms\n", r->elapsed_ms);
}

/* Keep the session open for hold_ms; false when the peer closed it. */
static bool hold_session(struct client_conn *conn, int hold_ms)
{
	int64_t end = net_now_ms() + hold_ms;

	while (net_now_ms() < end) {
		if (!client_alive(conn))
			return false;
		int64_t left = end - net_now_ms();

		net_sleep_ms(left > 100 ? 100 : (int)(left > 0 ? left : 0));
	}
	return client_alive(conn);
}

int cmd_send(int argc, char **argv)
{
	struct send_args a;
	struct client_result res;
	struct client_conn *conn = NULL;
	struct perr e;
	uint8_t *hdr = NULL;
	int n, rc;

	memset(&a, 0, sizeof(a));
	opts_client_init(&a.cl);
	rc = opts_client_parse(argc, argv, &spec, &a.cl, &a);
	if (rc || a.cl.help)
		goto out;
	rc = check_args(&a);
	if (rc)
		goto out;

	if (a.have_raw) {
		a.cl.o.header = a.raw;
		a.cl.o.header_len = a.raw_len;
	} else if (!a.cl.no_header) {
		hdr = malloc(PP_V2_MAX_LEN + 1024);
		if (!hdr) {
			fprintf(stderr, "proxygen send: out of memory\n");
			rc = PG_EXIT_FAIL;
			goto out;
		}
		n = opts_hdr_build(&a.cl.hdr, hdr, PP_V2_MAX_LEN + 1024, &e);
		if (n < 0) {
			rc = opts_usage_error("send", "%s", e.msg);
			goto out;
		}
		a.cl.o.header = hdr;
		a.cl.o.header_len = (size_t)n;
	}
	if (a.cl.o.send_only > a.cl.o.header_len) {
		rc = opts_usage_error("send", "--send-only %zu: the header has only %zu bytes",
				      a.cl.o.send_only, a.cl.o.header_len);
		goto out;
	}
	if (a.verbose)
		print_verbose_header(a.cl.o.header, a.cl.o.header_len);

	memset(&res, 0, sizeof(res));
	if (client_run(&a.cl.o, &res, &conn, &e) < 0)
		fprintf(stderr, "proxygen send: %s\n", e.msg);
	client_result_print(&res, stdout);
	if (a.verbose)
		print_verbose_result(&res);

	if (res.outcome == CLIENT_CONNACK && res.connack_rc == 0)
		rc = PG_EXIT_OK;
	else if ((a.cl.o.no_connect || a.cl.o.close_after_header) && res.outcome == CLIENT_SENT)
		rc = PG_EXIT_OK; /* nothing asked, and nothing went wrong */
	else
		rc = PG_EXIT_FAIL;

	if (conn && rc == PG_EXIT_OK && a.hold_ms > 0) {
		if (hold_session(conn, a.hold_ms)) {
			if (a.verbose)
				printf("held the session for %d ms\n", a.hold_ms);
		} else {
			printf("the peer closed the session during --hold\n");
			rc = PG_EXIT_FAIL;
		}
	}
	/* DISCONNECT only a session the broker accepted. */
	client_close(conn, rc == PG_EXIT_OK);
	fflush(stdout);
out:
	free(hdr);
	free(a.raw);
	opts_client_free(&a.cl);
	return rc;
}
