/* pp_capture.c - a receiver for interop tests: listen, accept connections
 * one at a time, read until lib/pp's parser has a verdict on the PROXY
 * header, print what the header said as key=value lines, then everything
 * the peer sent after the header until it closes.
 *
 *   pp_capture [-l ADDR] [-p PORT] [-P PORTFILE] [-n CONNS] [-t MS]
 *
 * -p 0 (default) lets the kernel pick the port; -P writes it to PORTFILE
 * (written to a temporary name, then renamed: a reader never sees half).
 * Output of each connection, in this order:
 *   conn=N peer_ip= peer_port=
 *   result=ok | invalid | closed | timeout
 *   ok:      version= command= family= transport= src_ip= src_port= dst_ip=
 *            dst_port= len= tlvs= tlv=0xTT:HEX ... and the decoded TLVs
 *   invalid: reason= error_offset= error=
 *   payload_len= payload_hex= (bytes after the header, until EOF/timeout)
 *   end=N
 * Exit status: 0 when every header parsed, 1 otherwise, 2 usage.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net.h"
#include "pp.h"

#define CAP_BUF (PP_V2_MAX_LEN + 4096)

static const char *cmd_name(enum pp_cmd c)
{
	return c == PP_CMD_LOCAL ? "local" : "proxy";
}

static const char *fam_name(enum pp_fam f)
{
	switch (f) {
	case PP_FAM_INET: return "inet";
	case PP_FAM_INET6: return "inet6";
	case PP_FAM_UNIX: return "unix";
	default: return "unspec";
	}
}

static const char *proto_name(enum pp_proto p)
{
	switch (p) {
	case PP_PROTO_STREAM: return "stream";
	case PP_PROTO_DGRAM: return "dgram";
	default: return "unspec";
	}
}

static void print_hex(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		printf("%02x", p[i]);
}

/* Text as is when printable, else "hex:..." so that a line stays a line. */
static void print_bytes(const char *key, struct pp_bytes b)
{
	bool text = true;

	if (!b.ptr)
		return;
	for (size_t i = 0; i < b.len; i++)
		if (b.ptr[i] < 0x20 || b.ptr[i] > 0x7e)
			text = false;
	printf("%s=", key);
	if (text) {
		fwrite(b.ptr, 1, b.len, stdout);
	} else {
		printf("hex:");
		print_hex(b.ptr, b.len);
	}
	putchar('\n');
}

static void print_header(const struct pp_header *h)
{
	char a[PP_UNIX_PATH_LEN + 64];

	printf("version=%d\ncommand=%s\nfamily=%s\ntransport=%s\n", h->version,
	       cmd_name(h->command), fam_name(h->family), proto_name(h->transport));
	printf("src_ip=%s\n", pp_addr_str(&h->src, a, sizeof(a)));
	printf("src_port=%u\n", (unsigned)pp_addr_port(&h->src));
	printf("dst_ip=%s\n", pp_addr_str(&h->dst, a, sizeof(a)));
	printf("dst_port=%u\n", (unsigned)pp_addr_port(&h->dst));
	printf("len=%zu\ntlvs=%zu\n", h->len, h->ntlv);
	for (size_t i = 0; i < h->ntlv; i++) {
		printf("tlv=0x%02x:", h->tlv[i].type);
		print_hex(h->tlv[i].value.ptr, h->tlv[i].value.len);
		putchar('\n');
	}
	print_bytes("alpn", h->alpn);
	print_bytes("authority", h->authority);
	print_bytes("unique_id", h->unique_id);
	print_bytes("netns", h->netns);
	print_bytes("aws_vpce", h->aws_vpce_id);
	if (h->has_azure_linkid)
		printf("azure_linkid=%" PRIu32 "\n", h->azure_linkid);
	if (h->has_gcp_psc_id)
		printf("gcp_psc=%" PRIu64 "\n", h->gcp_psc_id);
	if (h->has_crc32c)
		printf("crc32c=0x%08" PRIx32 "\n", h->crc32c);
	if (h->noop_bytes)
		printf("noop_bytes=%zu\n", h->noop_bytes);
	if (h->ssl.present) {
		printf("ssl_client=0x%02x\nssl_verify=%" PRIu32 "\n", h->ssl.client, h->ssl.verify);
		print_bytes("ssl_version", h->ssl.version);
		print_bytes("ssl_cn", h->ssl.cn);
		print_bytes("ssl_cipher", h->ssl.cipher);
		print_bytes("ssl_sig_alg", h->ssl.sig_alg);
		print_bytes("ssl_key_alg", h->ssl.key_alg);
	}
}

/* One connection: returns 0 when the header parsed. */
static int capture_one(int fd, int64_t deadline, const struct pp_parse_opts *po)
{
	uint8_t *buf = malloc(CAP_BUF);
	struct pp_header *h = malloc(sizeof(*h));
	struct pp_error err;
	struct perr e;
	size_t len = 0, hlen = 0;
	int r = PP_NEED_MORE, rc = 1;
	const char *result = NULL;

	if (!buf || !h) {
		printf("result=error\nerror=out of memory\n");
		goto out;
	}
	memset(&err, 0, sizeof(err));
	while (len < CAP_BUF) {
		ssize_t n = net_read_some(fd, buf + len, CAP_BUF - len, deadline, &e);

		if (n < 0) {
			result = errno == ETIMEDOUT ? "timeout" : "closed";
			break;
		}
		if (n == 0) {
			result = "closed";
			break;
		}
		len += (size_t)n;
		r = pp_parse(buf, len, po, h, &err);
		if (r != PP_NEED_MORE)
			break;
	}
	if (r > 0) {
		printf("result=ok\n");
		print_header(h);
		hlen = (size_t)r;
		rc = 0;
	} else if (r == PP_INVALID) {
		printf("result=invalid\nreason=%s\nerror_offset=%zu\nerror=%s\n",
		       pp_reason_name(err.reason), err.offset, err.msg);
		hlen = len; /* nothing after an invalid header is payload */
	} else {
		printf("result=%s\nreceived_hex=", result ? result : "too-large");
		print_hex(buf, len);
		putchar('\n');
		hlen = len;
	}
	/* The rest of the stream: what the sender relayed after the header. */
	if (r > 0) {
		while (len < CAP_BUF) {
			ssize_t n = net_read_some(fd, buf + len, CAP_BUF - len, deadline, &e);

			if (n <= 0)
				break;
			len += (size_t)n;
		}
		printf("payload_len=%zu\npayload_hex=", len - hlen);
		print_hex(buf + hlen, len - hlen);
		putchar('\n');
	}
out:
	free(buf);
	free(h);
	return rc;
}

static void usage(void)
{
	fprintf(stderr, "usage: pp_capture [-l ADDR] [-p PORT] [-P PORTFILE] [-n CONNS] [-t MS]\n");
}

int main(int argc, char **argv)
{
	const char *addr = "127.0.0.1", *portfile = NULL;
	long port = 0, conns = 1, timeout = 10000;
	struct pp_parse_opts po;
	struct perr e;
	int c, lfd, rc = 0;
	int64_t deadline;

	while ((c = getopt(argc, argv, "l:p:P:n:t:")) != -1) {
		char *end = NULL;

		switch (c) {
		case 'l': addr = optarg; break;
		case 'P': portfile = optarg; break;
		case 'p': port = strtol(optarg, &end, 10); break;
		case 'n': conns = strtol(optarg, &end, 10); break;
		case 't': timeout = strtol(optarg, &end, 10); break;
		default: usage(); return 2;
		}
		if (end && (*end || port < 0 || port > 65535 || conns < 1 || timeout < 1)) {
			usage();
			return 2;
		}
	}
	if (optind != argc) {
		usage();
		return 2;
	}
	lfd = net_listen(addr, (uint16_t)port, 16, &e);
	if (lfd < 0) {
		fprintf(stderr, "pp_capture: %s\n", e.msg);
		return 1;
	}
	if (portfile) {
		char tmp[4096];
		FILE *f;

		snprintf(tmp, sizeof(tmp), "%s.tmp", portfile);
		f = fopen(tmp, "w");
		if (!f || fprintf(f, "%u\n", (unsigned)net_local_port(lfd)) < 0 || fclose(f) != 0 ||
		    rename(tmp, portfile) != 0) {
			perror("pp_capture: port file");
			close(lfd);
			return 1;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	pp_parse_opts_init(&po);
	po.max_len = PP_V2_MAX_LEN;
	deadline = net_now_ms() + timeout;
	for (long i = 1; i <= conns; i++) {
		struct sockaddr_storage peer;
		char ip[NET_IP_STRLEN];
		socklen_t sl;
		int w, fd;

		w = net_wait(lfd, POLLIN, deadline, &e);
		if (w <= 0) {
			printf("conn=%ld\nresult=no-connection\nend=%ld\n", i, i);
			rc = 1;
			break;
		}
		sl = sizeof(peer);
		memset(&peer, 0, sizeof(peer));
		fd = accept(lfd, (struct sockaddr *)&peer, &sl);
		if (fd < 0) {
			i--;
			continue;
		}
		net_addr_unmap(&peer);
		printf("conn=%ld\npeer_ip=%s\npeer_port=%u\n", i, net_ip_str(&peer, ip, sizeof(ip)),
		       (unsigned)net_addr_port(&peer));
		if (capture_one(fd, deadline, &po) != 0)
			rc = 1;
		printf("end=%ld\n", i);
		close(fd);
	}
	close(lfd);
	return rc;
}
