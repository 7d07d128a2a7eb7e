/* ident.c - see ident.h. */
#include "ident.h"

#include <netinet/in.h>
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

static void sa_put(struct ident_addr *a, const struct sockaddr_storage *ss)
{
	memset(a, 0, sizeof(*a));
	a->family = ss->ss_family;
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;

		a->port = in->sin_port;
		memcpy(a->ip, &in->sin_addr, sizeof(in->sin_addr));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;

		a->port = in6->sin6_port;
		memcpy(a->ip, &in6->sin6_addr, sizeof(in6->sin6_addr));
	}
}

static void sa_get(const struct ident_addr *a, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	ss->ss_family = a->family;
	if (a->family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;

		in->sin_port = a->port;
		memcpy(&in->sin_addr, a->ip, sizeof(in->sin_addr));
	} else if (a->family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

		in6->sin6_port = a->port;
		memcpy(&in6->sin6_addr, a->ip, sizeof(in6->sin6_addr));
	}
}

/* One address as text: the records' form (IP and port; unix_text for a
 * UNIX address), and from it the log form ("1.2.3.4:5678",
 * "[2001:db8::1]:5678", "unix:/path"). log may be NULL. */
static void addr_text(const struct ident_addr *a, const char *unix_text,
		      char ip[REC_IP_STRLEN], uint16_t *port, char *log, size_t cap)
{
	struct sockaddr_storage ss;

	sa_get(a, &ss);
	rec_addr_text(&ss, ip, port);
	if (a->family == AF_UNIX && unix_text)
		snprintf(ip, REC_IP_STRLEN, "%s", unix_text);
	if (!log)
		return;
	if (a->family == AF_INET)
		snprintf(log, cap, "%s:%u", ip, (unsigned)*port);
	else if (a->family == AF_INET6)
		snprintf(log, cap, "[%s]:%u", ip, (unsigned)*port);
	else
		snprintf(log, cap, "%s", ip);
}

void ident_accept(struct ident *id, enum cfg_listener_kind listener,
		  const struct sockaddr_storage *peer)
{
	struct sockaddr_storage p = *peer;

	memset(id, 0, sizeof(*id));
	id->listener = (uint8_t)listener;
	net_addr_unmap(&p);
	sa_put(&id->peer, &p);
	id->client = id->peer;
}

void ident_take_client(struct ident *id, const struct sockaddr_storage *ss,
		       const char *unix_text)
{
	struct sockaddr_storage c = *ss;

	net_addr_unmap(&c);
	sa_put(&id->client, &c);
	id->client_unix = c.ss_family == AF_UNIX ? unix_text : NULL;
	id->client_from_header = true;
}

void ident_peer_addr(const struct ident *id, struct sockaddr_storage *ss)
{
	sa_get(&id->peer, ss);
}

void ident_client_addr(const struct ident *id, struct sockaddr_storage *ss)
{
	sa_get(&id->client, ss);
}

bool ident_header_names_client(const struct pp_header *h)
{
	return h->command == PP_CMD_PROXY &&
	       (h->family == PP_FAM_INET || h->family == PP_FAM_INET6 ||
		h->family == PP_FAM_UNIX) && h->src.ss_family != AF_UNSPEC;
}

const char *ident_cert_claim(const struct ident *id)
{
	const struct rec_proxy *p = id->proxy;

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
	const struct rec_proxy *p = id->proxy;
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
	id->client_unix = NULL;
	id->client_from_header = false;
	if (!h)
		return 0;
	id->proxy = rec_proxy_new(h);
	if (!id->proxy)
		return -1;
	if (ident_header_names_client(h))
		ident_take_client(id, &h->src, id->proxy->src_ip);
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

const char *ident_peer_s(const struct ident *id)
{
	static char buf[NET_ADDR_STRLEN];
	char ip[REC_IP_STRLEN];
	uint16_t port;

	addr_text(&id->peer, NULL, ip, &port, buf, sizeof(buf));
	return buf;
}

const char *ident_client_s(const struct ident *id)
{
	static char buf[NET_ADDR_STRLEN];
	char ip[REC_IP_STRLEN];
	uint16_t port;

	if (!id->client_from_header)
		return ident_peer_s(id);
	addr_text(&id->client, id->client_unix, ip, &port, buf, sizeof(buf));
	return buf;
}

const char *ident_who(const struct ident *id)
{
	static char buf[2 * NET_ADDR_STRLEN + 8];
	char client[NET_ADDR_STRLEN];
	const char *peer;

	snprintf(client, sizeof(client), "%s", ident_client_s(id));
	peer = ident_peer_s(id);
	if (id->proxy && strcmp(client, peer) != 0)
		snprintf(buf, sizeof(buf), "%s via %s", client, peer);
	else
		snprintf(buf, sizeof(buf), "%s", peer);
	return buf;
}

const char *ident_desc(const struct ident *id)
{
	static char buf[64];

	proxy_desc(id->proxy, buf, sizeof(buf));
	return buf;
}

void ident_rec_info(const struct ident *id, struct rec_conn_info *ci)
{
	memset(ci, 0, sizeof(*ci));
	ci->listener = id->listener;
	addr_text(&id->peer, NULL, ci->peer_ip, &ci->peer_port, NULL, 0);
	if (id->client_from_header) {
		addr_text(&id->client, id->client_unix, ci->client_ip, &ci->client_port, NULL, 0);
	} else {
		memcpy(ci->client_ip, ci->peer_ip, sizeof(ci->client_ip));
		ci->client_port = ci->peer_port;
	}
	ci->proxy = id->proxy;
	ci->tls_version = "";
	ci->tls_cipher = "";
}

void ident_free(struct ident *id)
{
	rec_proxy_free(id->proxy);
	id->proxy = NULL;
	id->cert_identity = NULL;
	id->client_unix = NULL;
}
