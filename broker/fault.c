/* fault.c - see fault.h. */
#include "fault.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ident.h"
#include "log.h"
#include "net.h"
#include "pp.h"

static const struct {
	const char *name;
	const char *desc;
} fault_tab[FAULT_COUNT] = {
	[FAULT_RECORD_PROXY_IP] = { "record-proxy-ip",
		"record the socket peer (the proxy) instead of the header's source" },
	[FAULT_ACCEPT_MISSING] = { "accept-missing",
		"accept connections without a PROXY header on enabled listeners" },
	[FAULT_REJECT_LOCAL] = { "reject-local",
		"close v2 LOCAL connections (load balancer health checks)" },
	[FAULT_DROP_SPLIT] = { "drop-split",
		"close when the header is not complete in the first read" },
	[FAULT_NO_HEADER_TIMEOUT] = { "no-header-timeout",
		"never time out a connection stalled inside the header" },
	[FAULT_IGNORE_CRC] = { "ignore-crc",
		"do not verify the v2 CRC32C TLV" },
	[FAULT_STRIP_DISABLED] = { "strip-disabled",
		"on a disabled listener, silently skip a PROXY header" },
	[FAULT_HEADER_INSIDE_TLS] = { "header-inside-tls",
		"ssl/wss: read the PROXY header after the TLS handshake" },
	[FAULT_SPLIT_WRONG_ADDRESS] = { "split-wrong-address",
		"a header that came in several reads: record its destination address, not its source" },
	[FAULT_CRASH_UNIQUE_ID] = { "crash-on-unique-id",
		"abort() on a v2 header that carries a UNIQUE_ID TLV" },
	[FAULT_V2_ONLY] = { "v2-only",
		"refuse v1 headers, as a listener configured for one version does" },
	[FAULT_ANY_CERT_IDENTITY] = { "any-cert-identity",
		"security.proxy_cert_identity: take the SSL TLV's CN whether or not the proxy verified a certificate" },
	[FAULT_ACL_JUDGES_PROXY] = { "acl-judges-proxy",
		"security.acl_file: judge the socket peer (the proxy), not the header's source" },
};

static bool fault_bits[FAULT_COUNT];

const char *fault_name(enum fault f)
{
	return (unsigned)f < FAULT_COUNT ? fault_tab[f].name : NULL;
}

const char *fault_desc(enum fault f)
{
	return (unsigned)f < FAULT_COUNT ? fault_tab[f].desc : NULL;
}

static int enable_one(const char *s, size_t len, struct perr *e)
{
	for (int f = 0; f < FAULT_COUNT; f++) {
		if (strlen(fault_tab[f].name) == len &&
		    strncmp(fault_tab[f].name, s, len) == 0) {
			fault_bits[f] = true;
			return 0;
		}
	}
	char known[512];
	size_t n = 0;

	for (int f = 0; f < FAULT_COUNT; f++)
		n += (size_t)snprintf(known + n, n < sizeof(known) ? sizeof(known) - n : 0, "%s%s",
				      f ? ", " : "", fault_tab[f].name);
	return perr_set(e, "unknown fault '%.*s' (known: %s)", (int)len, s, known);
}

int fault_enable_list(const char *list, struct perr *e)
{
	const char *p = list;

	if (!p)
		return 0;
	while (*p) {
		size_t n;

		while (*p == ',' || *p == ' ')
			p++;
		n = strcspn(p, ", ");
		if (n > 0 && enable_one(p, n, e) < 0)
			return -1;
		p += n;
	}
	return 0;
}

bool fault_on(enum fault f)
{
	return (unsigned)f < FAULT_COUNT && fault_bits[f];
}

const char *fault_enabled_str(char *buf, size_t cap)
{
	size_t used = 0;

	if (cap == 0)
		return buf;
	buf[0] = '\0';
	for (int f = 0; f < FAULT_COUNT; f++) {
		int n;

		if (!fault_bits[f])
			continue;
		n = snprintf(buf + used, cap - used, "%s%s", used ? "," : "",
			     fault_tab[f].name);
		if (n < 0 || (size_t)n >= cap - used)
			break;
		used += (size_t)n;
	}
	return buf;
}

/* ---- hooks ------------------------------------------------------------------ */

void fault_adjust_stage(struct ident_stage *st, bool tls)
{
	if (st->header == IDENT_HEADER_REQUIRED && fault_on(FAULT_ACCEPT_MISSING))
		st->header = IDENT_HEADER_OPTIONAL;
	if (st->header == IDENT_HEADER_NONE) {
		if (fault_on(FAULT_STRIP_DISABLED))
			st->header = IDENT_HEADER_IGNORED;
	} else if (tls && fault_on(FAULT_HEADER_INSIDE_TLS)) {
		st->after_tls = true;
	}
	if (fault_on(FAULT_NO_HEADER_TIMEOUT))
		st->timeout = false;
	if (fault_on(FAULT_IGNORE_CRC))
		st->parse.verify_crc32c = false;
	if (fault_on(FAULT_V2_ONLY))
		st->parse.allow_v1 = false;
}

const char *fault_refuse_partial(unsigned reads, const char **why)
{
	if (reads != 1 || !fault_on(FAULT_DROP_SPLIT))
		return NULL;
	*why = "header not complete in the first read (fault drop-split)";
	return "split-header";
}

const char *fault_refuse_header(const struct pp_header *h, const char *listener,
				const struct ident *id, const char **why)
{
	if (h->version == 2 && h->command == PP_CMD_LOCAL && fault_on(FAULT_REJECT_LOCAL)) {
		*why = "v2 LOCAL refused (fault reject-local)";
		return "local";
	}
	if (h->unique_id.ptr && fault_on(FAULT_CRASH_UNIQUE_ID)) {
		log_error("%s: %s: UNIQUE_ID TLV: aborting (fault crash-on-unique-id)", listener,
			  ident_peer_s(id));
		abort();
	}
	return NULL;
}

void fault_rewrite_identity(struct ident *id, const struct ident_basis *b)
{
	if (id->client_from_header && fault_on(FAULT_RECORD_PROXY_IP)) {
		id->client = id->peer;
		id->client_unix = NULL;
		id->client_from_header = false;
	} else if (id->client_from_header && b->reads > 1 &&
		   fault_on(FAULT_SPLIT_WRONG_ADDRESS)) {
		ident_take_client(id, &b->h->dst, id->proxy->dst_ip);
	}
	if (b->cert_identity && fault_on(FAULT_ANY_CERT_IDENTITY))
		id->cert_identity = ident_cert_claim(id);
}

void fault_acl_address(const struct ident *id, struct sockaddr_storage *ss)
{
	if (fault_on(FAULT_ACL_JUDGES_PROXY))
		ident_peer_addr(id, ss);
	else
		ident_client_addr(id, ss);
}
