/* ident.c - see ident.h. */
#include "ident.h"

#include <stdio.h>
#include <string.h>

void ident_stage_init(struct ident_stage *st, const struct cfg_listener *lc)
{
	memset(st, 0, sizeof(*st));
	if (lc->proxy_enabled)
		st->header = lc->proxy_mode == CFG_PROXY_OPTIONAL ? IDENT_HEADER_OPTIONAL
								  : IDENT_HEADER_REQUIRED;
	st->timeout = true;
	pp_parse_opts_init(&st->parse);
	if (lc->proxy_max_header)
		st->parse.max_len = lc->proxy_max_header;
}

/* One address as text: the records' form (IP and port), and from it the
 * log form ("1.2.3.4:5678", "[2001:db8::1]:5678", "unix:/path"). */
static void addr_text(const struct sockaddr_storage *ss, char ip[REC_IP_STRLEN],
		      uint16_t *port, char *log, size_t cap)
{
	rec_addr_text(ss, ip, port);
	if (ss->ss_family == AF_INET)
		snprintf(log, cap, "%s:%u", ip, (unsigned)*port);
	else if (ss->ss_family == AF_INET6)
		snprintf(log, cap, "[%s]:%u", ip, (unsigned)*port);
	else
		snprintf(log, cap, "%s", ip);
}

void ident_accept(struct ident *id, enum cfg_listener_kind listener,
		  const struct sockaddr_storage *peer)
{
	memset(id, 0, sizeof(*id));
	id->rec.listener = listener;
	id->peer = *peer;
	net_addr_unmap(&id->peer);
	id->client = id->peer;
	addr_text(&id->peer, id->rec.peer_ip, &id->rec.peer_port, id->peer_s, sizeof(id->peer_s));
	ident_settle(id);
}

bool ident_header_names_client(const struct pp_header *h)
{
	return h->command == PP_CMD_PROXY &&
	       (h->family == PP_FAM_INET || h->family == PP_FAM_INET6 ||
		h->family == PP_FAM_UNIX) && h->src.ss_family != AF_UNSPEC;
}

const char *ident_cert_claim(const struct ident *id)
{
	const struct rec_proxy *p = id->rec.proxy;

	if (!p || p->version != 2 || p->command != PP_CMD_PROXY || !p->ssl_present ||
	    !p->ssl_cn || !*p->ssl_cn)
		return NULL;
	return p->ssl_cn;
}

/* security.proxy_cert_identity: the CN of a client certificate that a
 * trusted proxy says it verified (v2 SSL TLV: SSL and a certificate in
 * the client bits, verify 0). Anything less gives no identity. */
static const char *cert_identity(const struct ident *id, const struct ident_basis *b)
{
	const struct rec_proxy *p = id->rec.proxy;
	const char *cn = ident_cert_claim(id);

	if (!b->cert_identity || !cn)
		return NULL;
	if (p->ssl_verify != 0 || !(p->ssl_client & PP2_CLIENT_SSL) ||
	    !(p->ssl_client & (PP2_CLIENT_CERT_CONN | PP2_CLIENT_CERT_SESS)))
		return NULL;
	return b->trusted_peer ? cn : NULL;
}

int ident_decide(struct ident *id, const struct ident_basis *b)
{
	const struct pp_header *h = b->h;

	id->client = id->peer;
	id->client_from_header = false;
	if (!h)
		return 0;
	id->rec.proxy = rec_proxy_new(h);
	if (!id->rec.proxy)
		return -1;
	if (ident_header_names_client(h)) {
		id->client = h->src;
		net_addr_unmap(&id->client);
		id->client_from_header = true;
	}
	id->cert_identity = cert_identity(id, b);
	return 0;
}

static const char *fam_name(const struct rec_proxy *p)
{
	if (p->version == 1) {
		if (p->family == PP_FAM_INET)
			return "TCP4";
		if (p->family == PP_FAM_INET6)
			return "TCP6";
		return "UNKNOWN";
	}
	switch (p->family) {
	case PP_FAM_INET:
		return p->transport == PP_PROTO_DGRAM ? "UDP4" :
		       p->transport == PP_PROTO_STREAM ? "TCP4" : "INET";
	case PP_FAM_INET6:
		return p->transport == PP_PROTO_DGRAM ? "UDP6" :
		       p->transport == PP_PROTO_STREAM ? "TCP6" : "INET6";
	case PP_FAM_UNIX:
		return p->transport == PP_PROTO_DGRAM ? "UNIX_DGRAM" :
		       p->transport == PP_PROTO_STREAM ? "UNIX_STREAM" : "UNIX";
	default:
		return "UNSPEC";
	}
}

static void proxy_desc(const struct rec_proxy *p, char *buf, size_t cap)
{
	if (!p)
		snprintf(buf, cap, "no PROXY header");
	else if (p->version == 1)
		snprintf(buf, cap, "PROXY v1 %s", fam_name(p));
	else if (p->command == PP_CMD_LOCAL)
		snprintf(buf, cap, "PROXY v2 LOCAL");
	else
		snprintf(buf, cap, "PROXY v2 PROXY %s", fam_name(p));
}

void ident_settle(struct ident *id)
{
	struct rec_conn_info *r = &id->rec;

	if (id->client_from_header) {
		addr_text(&id->client, r->client_ip, &r->client_port, id->client_s,
			  sizeof(id->client_s));
	} else {
		memcpy(r->client_ip, r->peer_ip, sizeof(r->client_ip));
		r->client_port = r->peer_port;
		memcpy(id->client_s, id->peer_s, sizeof(id->client_s));
	}
	if (r->proxy && strcmp(id->client_s, id->peer_s) != 0)
		snprintf(id->who, sizeof(id->who), "%s via %s", id->client_s, id->peer_s);
	else
		snprintf(id->who, sizeof(id->who), "%s", id->peer_s);
	proxy_desc(r->proxy, id->proxy_desc, sizeof(id->proxy_desc));
}

void ident_set_tls(struct ident *id, const char *version, const char *cipher)
{
	id->rec.tls = true;
	snprintf(id->rec.tls_version, sizeof(id->rec.tls_version), "%s", version);
	snprintf(id->rec.tls_cipher, sizeof(id->rec.tls_cipher), "%s", cipher);
}

void ident_free(struct ident *id)
{
	rec_proxy_free(id->rec.proxy);
	id->rec.proxy = NULL;
	id->cert_identity = NULL;
}
