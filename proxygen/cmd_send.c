/* cmd_send.c - `proxygen send`: one connection made by lib/client (header,
 * TLS, WebSocket upgrade, MQTT CONNECT), its outcome in words and as the
 * exit status. */
#include "cmd_send.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "dump.h"
#include "net.h"
#include "opts.h"

enum {
	OPT_HELP = 'h',
	OPT_VERBOSE = 'v',
	OPT_TARGET = 0x100,
	OPT_CL_TRANSPORT,
	OPT_CA,
	OPT_INSECURE,
	OPT_SNI,
	OPT_CERT,
	OPT_KEY,
	OPT_PATH,
	OPT_SUBPROTO,
	OPT_BIND,
	OPT_NO_HEADER,
	OPT_RAW_HEX,
	OPT_SPLIT,
	OPT_DELAY,
	OPT_SEND_ONLY,
	OPT_STALL,
	OPT_CLOSE_AFTER,
	OPT_COALESCE,
	OPT_CLIENT_ID,
	OPT_USERNAME,
	OPT_PASSWORD,
	OPT_MQTT,
	OPT_KEEPALIVE,
	OPT_NO_CONNECT,
	OPT_TIMEOUT,
	OPT_HOLD,
};

static const struct option own_opts[] = {
	{ "target", required_argument, NULL, OPT_TARGET },
	{ "transport", required_argument, NULL, OPT_CL_TRANSPORT },
	{ "ca", required_argument, NULL, OPT_CA },
	{ "insecure", no_argument, NULL, OPT_INSECURE },
	{ "sni", required_argument, NULL, OPT_SNI },
	{ "cert", required_argument, NULL, OPT_CERT },
	{ "key", required_argument, NULL, OPT_KEY },
	{ "path", required_argument, NULL, OPT_PATH },
	{ "subprotocol", required_argument, NULL, OPT_SUBPROTO },
	{ "bind", required_argument, NULL, OPT_BIND },
	{ "no-header", no_argument, NULL, OPT_NO_HEADER },
	{ "raw-hex", required_argument, NULL, OPT_RAW_HEX },
	{ "split", required_argument, NULL, OPT_SPLIT },
	{ "delay", required_argument, NULL, OPT_DELAY },
	{ "send-only", required_argument, NULL, OPT_SEND_ONLY },
	{ "stall", required_argument, NULL, OPT_STALL },
	{ "close-after-header", no_argument, NULL, OPT_CLOSE_AFTER },
	{ "coalesce", no_argument, NULL, OPT_COALESCE },
	{ "client-id", required_argument, NULL, OPT_CLIENT_ID },
	{ "username", required_argument, NULL, OPT_USERNAME },
	{ "password", required_argument, NULL, OPT_PASSWORD },
	{ "mqtt", required_argument, NULL, OPT_MQTT },
	{ "keepalive", required_argument, NULL, OPT_KEEPALIVE },
	{ "no-connect", no_argument, NULL, OPT_NO_CONNECT },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
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

static bool is_ip_literal(const char *s)
{
	struct in6_addr a6;
	struct in_addr a4;

	return inet_pton(AF_INET, s, &a4) == 1 || inet_pton(AF_INET6, s, &a6) == 1;
}

struct send_args {
	struct cl_opts cl;
	struct opts_hdr hdr;
	char host[256];
	bool have_target;
	bool no_header;
	uint8_t *raw;
	size_t raw_len;
	bool have_raw;
	bool delay_given;
	int hold_ms;
	bool verbose;
	bool done;   /* --help printed */
};

/* Parse argv into a. Returns 0, or an exit status (usage error, or
 * PG_EXIT_OK after --help) with a->done set for --help. */
static int parse_args(int argc, char **argv, struct send_args *a)
{
	struct option longopts[96];
	struct perr e;
	int c, rc;

	if (opts_longopts(longopts, 96, own_opts) < 0)
		return opts_usage_error("send", "internal error: option table too small");
	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, ":hv", longopts, NULL)) != -1) {
		rc = 0;
		switch (c) {
		case OPT_HELP:
			usage(stdout);
			a->done = true;
			return PG_EXIT_OK;
		case OPT_VERBOSE:
			a->verbose = true;
			break;
		case OPT_TARGET:
			if (opts_parse_hostport(optarg, a->host, sizeof(a->host), &a->cl.port, &e) < 0)
				return opts_usage_error("send", "--target '%s': %s", optarg, e.msg);
			a->cl.host = a->host;
			a->have_target = true;
			break;
		case OPT_CL_TRANSPORT:
			if (cl_transport_parse(optarg, &a->cl.transport) < 0)
				return opts_usage_error("send", "--transport '%s': expected tcp, tls, "
							"ws or wss (the header's transport field is --proto)",
							optarg);
			break;
		case OPT_CA:
			a->cl.ca_file = optarg;
			break;
		case OPT_INSECURE:
			a->cl.insecure = true;
			break;
		case OPT_SNI:
			a->cl.sni = optarg;
			break;
		case OPT_CERT:
			a->cl.cert_file = optarg;
			break;
		case OPT_KEY:
			a->cl.key_file = optarg;
			break;
		case OPT_PATH:
			if (optarg[0] != '/')
				return opts_usage_error("send", "--path '%s': must start with '/'", optarg);
			a->cl.ws_path = optarg;
			break;
		case OPT_SUBPROTO:
			a->cl.ws_subprotocol = optarg;
			break;
		case OPT_BIND:
			if (!is_ip_literal(optarg))
				return opts_usage_error("send", "--bind '%s': not an IPv4 or IPv6 address",
							optarg);
			a->cl.bind_addr = optarg;
			break;
		case OPT_NO_HEADER:
			a->no_header = true;
			break;
		case OPT_RAW_HEX:
			free(a->raw);
			a->raw = NULL;
			if (opts_parse_hex(optarg, &a->raw, &a->raw_len, &e) < 0)
				return opts_usage_error("send", "--raw-hex '%s': %s", optarg, e.msg);
			if (a->raw_len == 0)
				return opts_usage_error("send", "--raw-hex: empty (use --no-header)");
			a->have_raw = true;
			break;
		case OPT_SPLIT:
			rc = parse_size("split", optarg, 1, 65535, &a->cl.split);
			break;
		case OPT_DELAY:
			rc = parse_ms("delay", optarg, 0, &a->cl.delay_ms);
			a->delay_given = true;
			break;
		case OPT_SEND_ONLY:
			rc = parse_size("send-only", optarg, 0, PP_V2_MAX_LEN, &a->cl.send_only);
			if (!rc && a->cl.send_only == 0)
				return opts_usage_error("send", "--send-only '%s': must be at least 1 "
							"(use --no-header for none)", optarg);
			break;
		case OPT_STALL:
			rc = parse_ms("stall", optarg, 0, &a->cl.stall_ms);
			break;
		case OPT_CLOSE_AFTER:
			a->cl.close_after_header = true;
			break;
		case OPT_COALESCE:
			a->cl.coalesce = true;
			break;
		case OPT_CLIENT_ID:
			a->cl.client_id = optarg;
			break;
		case OPT_USERNAME:
			a->cl.username = optarg;
			break;
		case OPT_PASSWORD:
			a->cl.password = optarg;
			break;
		case OPT_MQTT:
			if (opts_parse_mqtt(optarg, &a->cl.mqtt_version, &e) < 0)
				return opts_usage_error("send", "--mqtt '%s': %s", optarg, e.msg);
			break;
		case OPT_KEEPALIVE:
			rc = opts_int_arg("send", "keepalive", optarg, 0, 65535, &a->cl.keepalive);
			break;
		case OPT_NO_CONNECT:
			a->cl.no_connect = true;
			break;
		case OPT_TIMEOUT:
			rc = parse_ms("timeout", optarg, 1, &a->cl.timeout_ms);
			break;
		case OPT_HOLD:
			rc = parse_ms("hold", optarg, 0, &a->hold_ms);
			break;
		case '?':
		case ':':
			opts_getopt_error(c, optopt, argv[optind - 1], longopts, &e);
			return opts_usage_error("send", "%s", e.msg);
		default:
			if (opts_hdr_apply(&a->hdr, c, optarg, &e) <= 0)
				return opts_usage_error("send", "%s", e.msg);
		}
		if (rc)
			return rc;
	}
	if (optind < argc)
		return opts_usage_error("send", "unexpected argument '%s'", argv[optind]);
	return 0;
}

/* Options that only make sense together. */
static int check_args(struct send_args *a)
{
	struct cl_opts *o = &a->cl;
	bool tls = o->transport == CL_TLS || o->transport == CL_WSS;
	bool ws = o->transport == CL_WS || o->transport == CL_WSS;
	bool hdr_opts = a->hdr.touched || a->hdr.mutate[0];
	struct perr e;

	if (!a->have_target)
		return opts_usage_error("send", "--target HOST:PORT is required");
	if (a->no_header + a->have_raw + hdr_opts > 1)
		return opts_usage_error("send", "choose one of --no-header, --raw-hex and the "
					"header options");
	if (hdr_opts && opts_hdr_check(&a->hdr, &e) < 0)
		return opts_usage_error("send", "%s", e.msg);
	if (o->ca_file && o->insecure)
		return opts_usage_error("send", "--ca and --insecure exclude each other");
	if (!tls && (o->ca_file || o->insecure || o->sni || o->cert_file || o->key_file))
		return opts_usage_error("send", "--ca, --insecure, --sni, --cert and --key need "
					"--transport tls or wss");
	if (!o->cert_file != !o->key_file)
		return opts_usage_error("send", "--cert and --key go together");
	if (!ws && (o->ws_path || o->ws_subprotocol))
		return opts_usage_error("send", "--path and --subprotocol need --transport ws or wss");
	if (o->coalesce && (o->split || o->send_only || o->stall_ms || o->close_after_header))
		return opts_usage_error("send", "--coalesce cannot be combined with --split, "
					"--send-only, --stall or --close-after-header");
	if (a->no_header && (o->split || a->delay_given || o->send_only || o->coalesce ||
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

static void print_verbose_result(const struct cl_result *r)
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
static bool hold_session(struct cl_conn *conn, int hold_ms)
{
	int64_t end = net_now_ms() + hold_ms;

	while (net_now_ms() < end) {
		if (!cl_alive(conn))
			return false;
		int64_t left = end - net_now_ms();

		net_sleep_ms(left > 100 ? 100 : (int)(left > 0 ? left : 0));
	}
	return cl_alive(conn);
}

int cmd_send(int argc, char **argv)
{
	struct send_args a;
	struct cl_result res;
	struct cl_conn *conn = NULL;
	struct perr e;
	uint8_t *hdr = NULL;
	int n, rc;

	memset(&a, 0, sizeof(a));
	cl_opts_init(&a.cl);
	opts_hdr_init(&a.hdr);
	rc = parse_args(argc, argv, &a);
	if (rc || a.done)
		goto out;
	rc = check_args(&a);
	if (rc)
		goto out;

	if (a.have_raw) {
		a.cl.header = a.raw;
		a.cl.header_len = a.raw_len;
	} else if (!a.no_header) {
		hdr = malloc(PP_V2_MAX_LEN + 1024);
		if (!hdr) {
			fprintf(stderr, "proxygen send: out of memory\n");
			rc = PG_EXIT_FAIL;
			goto out;
		}
		n = opts_hdr_build(&a.hdr, hdr, PP_V2_MAX_LEN + 1024, &e);
		if (n < 0) {
			rc = opts_usage_error("send", "%s", e.msg);
			goto out;
		}
		a.cl.header = hdr;
		a.cl.header_len = (size_t)n;
	}
	if (a.cl.send_only > a.cl.header_len) {
		rc = opts_usage_error("send", "--send-only %zu: the header has only %zu bytes",
				      a.cl.send_only, a.cl.header_len);
		goto out;
	}
	if (a.verbose)
		print_verbose_header(a.cl.header, a.cl.header_len);

	memset(&res, 0, sizeof(res));
	cl_run(&a.cl, &res, &conn);
	cl_result_print(&res, stdout);
	if (a.verbose)
		print_verbose_result(&res);

	if (res.outcome == CL_CONNACK && res.connack_rc == 0)
		rc = PG_EXIT_OK;
	else if ((a.cl.no_connect || a.cl.close_after_header) && res.outcome == CL_SENT)
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
	cl_close(conn, rc == PG_EXIT_OK);
	fflush(stdout);
out:
	free(hdr);
	free(a.raw);
	opts_hdr_free(&a.hdr);
	return rc;
}
