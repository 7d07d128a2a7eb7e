/* expect.c - see expect.h. */
#include "expect.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool closed_like(enum client_outcome o)
{
	return o == CLIENT_CLOSED || o == CLIENT_RESET || o == CLIENT_TLS_FAIL || o == CLIENT_WS_FAIL;
}

static bool has_code(const struct sc_expect *x, int rc)
{
	size_t i;

	for (i = 0; i < x->ncodes; i++)
		if (x->codes[i] == rc)
			return true;
	return false;
}

/* "after the header timeout": half of it, for a timer that fires early. */
static int after_ms(const struct sc_expect *x, int header_wait_ms)
{
	return x->after_ms == SC_WAIT_HEADER_TIMEOUT ? (header_wait_ms - 1000) / 2 : x->after_ms;
}

bool expect_matches(const struct sc_expect *x, const struct expect_actual *a, int header_wait_ms)
{
	bool ok;
	int within = x->within_ms == SC_WAIT_HEADER_TIMEOUT ? header_wait_ms : x->within_ms;

	switch (x->outcome) {
	case SC_O_ACCEPTED:
		ok = a->outcome == CLIENT_CONNACK && a->connack_rc == 0;
		break;
	case SC_O_REFUSED:
		ok = a->outcome == CLIENT_CONNACK && a->connack_rc != 0 &&
		     (x->ncodes == 0 || has_code(x, a->connack_rc));
		break;
	case SC_O_CONNACK:
		ok = a->outcome == CLIENT_CONNACK && has_code(x, a->connack_rc);
		break;
	case SC_O_REJECTED:
		ok = closed_like(a->outcome) && !a->any_byte;
		break;
	case SC_O_CLOSED:
		ok = closed_like(a->outcome);
		break;
	case SC_O_TIMEOUT:
		ok = a->outcome == CLIENT_TIMEOUT || a->outcome == CLIENT_SENT;
		break;
	case SC_O_TLS_FAIL:
		ok = a->outcome == CLIENT_TLS_FAIL;
		break;
	case SC_O_WS_FAIL:
		ok = a->outcome == CLIENT_WS_FAIL;
		break;
	case SC_O_PROTOCOL:
		ok = a->outcome == CLIENT_PROTOCOL;
		break;
	case SC_O_NOT_ACCEPTED:
		/* A refused TCP connect or a local error says nothing about
		 * the broker's PROXY handling: never "as expected". */
		ok = !(a->outcome == CLIENT_CONNACK && a->connack_rc == 0) &&
		     a->outcome != CLIENT_REFUSED && a->outcome != CLIENT_ERROR;
		break;
	case SC_O_ANY:
		ok = a->outcome != CLIENT_REFUSED && a->outcome != CLIENT_ERROR;
		break;
	default:
		ok = false;
		break;
	}
	if (ok && within > 0 && a->elapsed_ms > within)
		ok = false;
	if (ok && x->after_ms && a->elapsed_ms < after_ms(x, header_wait_ms))
		ok = false;
	return ok;
}

int expect_grade(const struct sc_step *st, const struct expect_actual *a, int header_wait_ms,
	     enum rpt_grade *grade, const char **note)
{
	size_t i;

	for (i = 0; i < st->nexpect; i++)
		if (expect_matches(&st->expect[i], a, header_wait_ms)) {
			*grade = st->expect[i].grade;
			*note = st->expect[i].note;
			return (int)i;
		}
	*grade = RPT_FAIL;
	if (a->outcome == CLIENT_REFUSED) {
		*note = "the listener refused the TCP connection";
	} else if (a->outcome == CLIENT_ERROR) {
		*note = "local error: the exchange could not be run";
	} else {
		/* Breaking the step's sentence weighs what its level says. */
		if (st->clause)
			*grade = sc_level_grade(st->clause->level);
		*note = "outcome is none of the acceptable ones";
	}
	return -1;
}

static int severity(enum rpt_grade g)
{
	switch (g) {
	case RPT_PASS: return 0;
	case RPT_INFO: return 1;
	case RPT_NON_STRICT: return 2;
	case RPT_UNSUPPORTED: return 3;
	case RPT_FAIL: return 4;
	case RPT_SKIP: return 5;
	default: return 4;
	}
}

enum rpt_grade expect_worst(enum rpt_grade a, enum rpt_grade b)
{
	return severity(a) >= severity(b) ? a : b;
}

static const char *outcome_phrase(enum sc_outcome o)
{
	switch (o) {
	case SC_O_ACCEPTED: return "accepted (CONNACK 0)";
	case SC_O_REFUSED: return "refused (CONNACK != 0)";
	case SC_O_CONNACK: return "CONNACK";
	case SC_O_REJECTED: return "rejected (closed with no byte from the broker)";
	case SC_O_CLOSED: return "closed";
	case SC_O_TIMEOUT: return "no answer, connection still open";
	case SC_O_TLS_FAIL: return "TLS handshake failed";
	case SC_O_WS_FAIL: return "WebSocket upgrade failed";
	case SC_O_PROTOCOL: return "answered something other than a CONNACK";
	case SC_O_NOT_ACCEPTED: return "anything but CONNACK 0";
	case SC_O_ANY: return "any outcome";
	default: return "?";
	}
}

const char *expect_text(const struct sc_expect *x, int header_wait_ms, char *buf, size_t cap)
{
	char codes[64] = "";
	char within[48] = "";
	size_t i, n = 0;
	int w = x->within_ms == SC_WAIT_HEADER_TIMEOUT ? header_wait_ms : x->within_ms;
	const char *phrase = outcome_phrase(x->outcome);

	for (i = 0; i < x->ncodes && n < sizeof(codes); i++)
		n += (size_t)snprintf(codes + n, sizeof(codes) - n, "%s%d", i ? "," : "", x->codes[i]);
	if (w > 0 && x->after_ms)
		snprintf(within, sizeof(within), " after %d to %d ms", after_ms(x, header_wait_ms), w);
	else if (w > 0)
		snprintf(within, sizeof(within), " within %d ms", w);
	else if (x->after_ms)
		snprintf(within, sizeof(within), " after %d ms or later", after_ms(x, header_wait_ms));
	if (x->ncodes && (x->outcome == SC_O_REFUSED || x->outcome == SC_O_CONNACK))
		snprintf(buf, cap, "%s (CONNACK %s)%s => %s",
			 x->outcome == SC_O_REFUSED ? "refused" : "answered", codes, within,
			 rpt_grade_name(x->grade));
	else
		snprintf(buf, cap, "%s%s => %s", phrase, within, rpt_grade_name(x->grade));
	return buf;
}

const char *expect_actual_text(const struct expect_actual *a, const char *detail, char *buf, size_t cap)
{
	const char *d = detail && *detail ? detail : NULL;

	if (a->outcome == CLIENT_CONNACK)
		snprintf(buf, cap, "CONNACK %d after %.0f ms", a->connack_rc, a->elapsed_ms);
	else
		snprintf(buf, cap, "%s after %.0f ms, %s%s%s", client_outcome_name(a->outcome), a->elapsed_ms,
			 a->any_byte ? "the broker wrote bytes" : "no byte received",
			 d ? ": " : "", d ? d : "");
	return buf;
}

/* Parse an IP literal, unmapping ::ffff:a.b.c.d, into 16 bytes + family. */
static bool ip_parse(const char *s, int *fam, unsigned char out[16])
{
	char tmp[80];
	size_t n = strlen(s);
	struct in6_addr a6;
	struct in_addr a4;

	if (n >= sizeof(tmp))
		return false;
	/* "[::1]" as some brokers print it. */
	if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
		memcpy(tmp, s + 1, n - 2);
		tmp[n - 2] = '\0';
	} else {
		memcpy(tmp, s, n + 1);
	}
	memset(out, 0, 16);
	if (inet_pton(AF_INET, tmp, &a4) == 1) {
		*fam = AF_INET;
		memcpy(out, &a4, 4);
		return true;
	}
	if (inet_pton(AF_INET6, tmp, &a6) == 1) {
		if (IN6_IS_ADDR_V4MAPPED(&a6)) {
			*fam = AF_INET;
			memcpy(out, a6.s6_addr + 12, 4);
		} else {
			*fam = AF_INET6;
			memcpy(out, a6.s6_addr, 16);
		}
		return true;
	}
	return false;
}

bool expect_ip_equal(const char *a, const char *b)
{
	int fa, fb;
	unsigned char ba[16], bb[16];

	if (!a || !b)
		return false;
	if (ip_parse(a, &fa, ba) && ip_parse(b, &fb, bb))
		return fa == fb && !memcmp(ba, bb, 16);
	return !strcasecmp(a, b);
}

/* Resolve what an address check expects (the IP, or the port, as the
 * check is on one or the other). Returns what that is ("header source"),
 * or NULL when it cannot be checked (unchecked). */
static const char *want(const struct sc_addr_check *c, const struct expect_addrs *ad,
			const char **ip, long *port)
{
	switch (c->src) {
	case SC_ADDR_HEADER_SRC:
		*ip = ad->header_ip;
		*port = ad->header_port;
		return "header source";
	case SC_ADDR_SOCKET_PEER:
		*ip = ad->peer_ip;
		*port = ad->peer_port;
		return "socket peer";
	case SC_ADDR_LITERAL:
		*ip = c->literal;
		*port = c->literal ? strtol(c->literal, NULL, 10) : 0;
		return "literal";
	default:
		return NULL;
	}
}

/* Name what a wrong value is, to make the failure obvious. */
static const char *which(const char *got, const struct expect_addrs *ad)
{
	if (ad->peer_ip && expect_ip_equal(got, ad->peer_ip))
		return " (the socket peer)";
	if (ad->header_ip && expect_ip_equal(got, ad->header_ip))
		return " (the header source)";
	return "";
}

enum rpt_grade expect_check_record(const struct sc_record *r, const struct expect_record *rec,
			       const struct expect_addrs *addrs, bool need_connected,
			       char *why, size_t cap)
{
	const char *ip, *label;
	long port;

	why[0] = '\0';
	if (!rec->found) {
		snprintf(why, cap, "no record found for this client");
		return RPT_FAIL;
	}
	if (need_connected && rec->connected == 0) {
		snprintf(why, cap, "record says not connected while the session is open");
		return RPT_FAIL;
	}
	label = want(&r->ip, addrs, &ip, &port);
	if (label) {
		if (!rec->ip[0]) {
			snprintf(why, cap, "record has no client IP");
			return RPT_FAIL;
		}
		if (!ip || !expect_ip_equal(rec->ip, ip)) {
			snprintf(why, cap, "recorded client IP %s%s, expected %s (%s)", rec->ip,
				 which(rec->ip, addrs), ip ? ip : "-", label);
			return RPT_FAIL;
		}
	}
	label = want(&r->port, addrs, &ip, &port);
	if (label && !rec->port_hidden) {
		if (!rec->has_port) {
			snprintf(why, cap, "record has no client port");
			return RPT_FAIL;
		}
		if (rec->port != port) {
			snprintf(why, cap, "recorded client port %ld, expected %ld (%s)", rec->port, port, label);
			return RPT_FAIL;
		}
	}
	label = want(&r->peer_ip, addrs, &ip, &port);
	if (label && !rec->peer_ip_hidden) {
		if (!rec->has_peer_ip) {
			snprintf(why, cap, "record has no peer (proxy) IP");
			return RPT_FAIL;
		}
		if (!ip || !expect_ip_equal(rec->peer_ip, ip)) {
			snprintf(why, cap, "recorded peer IP %s%s, expected %s (%s)", rec->peer_ip,
				 which(rec->peer_ip, addrs), ip ? ip : "-", label);
			return RPT_FAIL;
		}
	}
	if (r->identity != SC_ID_UNCHECKED && !rec->username_hidden && addrs->cert_cn) {
		bool same = rec->has_username && !strcmp(rec->username, addrs->cert_cn);

		if (r->identity == SC_ID_CERT && !same) {
			snprintf(why, cap, "recorded user %s%s%s, expected the certificate's CN '%s' as identity",
				 rec->has_username ? "'" : "(none)", rec->has_username ? rec->username : "",
				 rec->has_username ? "'" : "", addrs->cert_cn);
			return RPT_FAIL;
		}
		if (r->identity == SC_ID_NOT_CERT && same) {
			snprintf(why, cap, "the certificate's CN '%s' became the identity, though the header does not vouch for it",
				 addrs->cert_cn);
			return RPT_FAIL;
		}
	}
	label = want(&r->peer_port, addrs, &ip, &port);
	if (label && !rec->peer_port_hidden) {
		if (!rec->has_peer_port) {
			snprintf(why, cap, "record has no peer (proxy) port");
			return RPT_FAIL;
		}
		if (rec->peer_port != port) {
			snprintf(why, cap, "recorded peer port %ld, expected %ld (%s)", rec->peer_port, port,
				 label);
			return RPT_FAIL;
		}
	}
	return RPT_PASS;
}

const char *expect_record_unchecked(const struct sc_record *r, const struct expect_record *rec, char *buf,
				size_t cap)
{
	size_t n = 0;

	buf[0] = '\0';
#define UNCHECKED(part, hidden, text) \
	if (r->part.src != SC_ADDR_UNCHECKED && rec->hidden) \
		n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0, "%s%s", n ? ", " : "", text);
	UNCHECKED(port, port_hidden, "port")
	UNCHECKED(peer_ip, peer_ip_hidden, "peer IP")
	UNCHECKED(peer_port, peer_port_hidden, "peer port")
#undef UNCHECKED
	if (r->identity != SC_ID_UNCHECKED && rec->username_hidden)
		n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0, "%suser name", n ? ", " : "");
	return buf;
}
