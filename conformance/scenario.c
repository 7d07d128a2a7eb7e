/* scenario.c - see scenario.h. Format: scenarios/README.md. */
#include "scenario.h"

#include <dirent.h>
#include <stdarg.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "hex.h"
#include "pp_desc.h"

/* ---- names -------------------------------------------------------------- */

static const char *const listener_names[SC_NLISTENERS] = { "tcp", "ssl", "ws", "wss" };
static const char *const mode_names[SC_NMODES] = { "enabled", "disabled", "optional", "absent" };
static const char *const outcome_names[SC_NOUTCOMES] = {
	"accepted", "refused", "connack", "rejected", "closed", "timeout",
	"tls-fail", "ws-fail", "protocol", "not-accepted", "any",
};

const char *sc_listener_name(enum sc_listener l)
{
	return (unsigned)l < SC_NLISTENERS ? listener_names[l] : "?";
}

int sc_listener_parse(const char *s, enum sc_listener *l)
{
	int i;

	if (!strcmp(s, "tls")) {
		*l = SC_SSL;
		return 0;
	}
	for (i = 0; i < SC_NLISTENERS; i++)
		if (!strcmp(s, listener_names[i])) {
			*l = (enum sc_listener)i;
			return 0;
		}
	return -1;
}

const char *sc_mode_name(enum sc_mode m)
{
	return (unsigned)m < SC_NMODES ? mode_names[m] : "?";
}

int sc_mode_parse(const char *s, enum sc_mode *m)
{
	int i;

	if (!strcmp(s, "strict")) {
		*m = SC_MODE_ENABLED;
		return 0;
	}
	for (i = 0; i < SC_NMODES; i++)
		if (!strcmp(s, mode_names[i])) {
			*m = (enum sc_mode)i;
			return 0;
		}
	return -1;
}

const char *sc_outcome_name(enum sc_outcome o)
{
	return (unsigned)o < SC_NOUTCOMES ? outcome_names[o] : "?";
}

int sc_outcome_parse(const char *s, enum sc_outcome *o)
{
	int i;

	if (!strcmp(s, "rejected-before-any-byte")) {
		*o = SC_O_REJECTED;
		return 0;
	}
	if (!strcmp(s, "closed-within") || !strcmp(s, "closed_within")) {
		*o = SC_O_CLOSED;
		return 0;
	}
	for (i = 0; i < SC_NOUTCOMES; i++)
		if (!strcmp(s, outcome_names[i])) {
			*o = (enum sc_outcome)i;
			return 0;
		}
	return -1;
}

static const char *const level_names[SC_NLEVELS] = { "MUST", "RULE", "SHOULD", "MAY" };

const char *sc_level_name(enum sc_level l)
{
	return (unsigned)l < SC_NLEVELS ? level_names[l] : "?";
}

int sc_level_parse(const char *s, enum sc_level *l)
{
	static const struct { const char *word; enum sc_level level; } words[] = {
		{ "must", SC_LEVEL_MUST }, { "must not", SC_LEVEL_MUST },
		{ "required", SC_LEVEL_MUST }, { "shall", SC_LEVEL_MUST },
		{ "rule", SC_LEVEL_RULE },
		{ "should", SC_LEVEL_SHOULD }, { "should not", SC_LEVEL_SHOULD },
		{ "recommended", SC_LEVEL_SHOULD }, { "not recommended", SC_LEVEL_SHOULD },
		{ "may", SC_LEVEL_MAY }, { "optional", SC_LEVEL_MAY },
	};
	size_t i;

	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (!strcasecmp(s, words[i].word)) {
			*l = words[i].level;
			return 0;
		}
	return -1;
}

enum rpt_grade sc_level_grade(enum sc_level l)
{
	switch (l) {
	case SC_LEVEL_MUST:
	case SC_LEVEL_RULE:
		return RPT_FAIL;
	case SC_LEVEL_SHOULD:
		return RPT_NON_STRICT;
	default:
		return RPT_INFO;
	}
}

/* ---- loader state ------------------------------------------------------- */

struct ld {
	struct sc_catalog *cat;
	struct yx_doc *d;
	struct yx_arena *a;
	struct perr *e;
	const char *sid;     /* scenario id for messages */
	char ctx[160];
};

static const char *ctx(struct ld *l, const char *what)
{
	if (l->sid)
		snprintf(l->ctx, sizeof(l->ctx), "scenario '%s': %s", l->sid, what);
	else
		snprintf(l->ctx, sizeof(l->ctx), "%s", what);
	return l->ctx;
}

static int get_str(struct ld *l, yaml_node_t *n, const char *what, char **out)
{
	return yx_str(l->d, n, l->a, ctx(l, what), out, NULL, l->e);
}

static int get_int(struct ld *l, yaml_node_t *n, const char *what, long min, long max, long *out)
{
	return yx_long(l->d, n, l->a, min, max, ctx(l, what), out, l->e);
}

static int get_bool(struct ld *l, yaml_node_t *n, const char *what, bool *out)
{
	return yx_bool(l->d, n, l->a, ctx(l, what), out, l->e);
}

static int err_at(struct ld *l, yaml_node_t *n, const char *what, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int err_at(struct ld *l, yaml_node_t *n, const char *what, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return yx_err(l->d, n, l->e, "%s: %s", ctx(l, what), msg);
}

/* Hex text, whitespace and ':' separators allowed. */
static int get_hex(struct ld *l, yaml_node_t *n, const char *what, uint8_t **out, size_t *len)
{
	char *s;
	uint8_t *buf;
	size_t k = 0;
	int hi = -1;
	const char *p;

	if (get_str(l, n, what, &s) < 0)
		return -1;
	buf = yx_alloc(l->a, strlen(s) / 2 + 1);
	if (!buf)
		return perr_set(l->e, "out of memory");
	for (p = s; *p; p++) {
		int v;

		if (*p == ' ' || *p == '\t' || *p == '\n' || *p == ':')
			continue;
		v = hex_digit((unsigned char)*p);
		if (v < 0)
			return err_at(l, n, what, "'%s' is not hex", s);
		if (hi < 0) {
			hi = v;
		} else {
			buf[k++] = (uint8_t)(hi << 4 | v);
			hi = -1;
		}
	}
	if (hi >= 0)
		return err_at(l, n, what, "'%s' has an odd number of hex digits", s);
	*out = buf;
	*len = k;
	return 0;
}

/* A clause named at node n, which must be known by now (clauses are
 * loaded before the scenarios that cite them: 00-clauses.yml). */
static int get_clause(struct ld *l, yaml_node_t *n, const char *what, const struct sc_clause **out)
{
	char *id;
	const struct sc_clause *c;

	if (get_str(l, n, what, &id) < 0)
		return -1;
	c = sc_clause_find(l->cat, id);
	if (!c)
		return err_at(l, n, what, "'%s' is not a known clause (scenarios/00-clauses.yml)", id);
	*out = c;
	return 0;
}

/* ---- header ------------------------------------------------------------- */

static int tlv_type_parse(struct ld *l, yaml_node_t *n, int *type)
{
	uint8_t t;
	char *s;

	if (get_str(l, n, "tlv type", &s) < 0)
		return -1;
	if (pp_tlv_type_parse(s, &t) < 0)
		return err_at(l, n, "tlv type", "'%s' is not a TLV name or a number 0..255", s);
	*type = t;
	return 0;
}

/* Room for a value of cap bytes in the arena; NULL (and the error) when
 * memory runs out. */
static uint8_t *tlv_room(struct ld *l, struct sc_tlv *t, size_t cap)
{
	t->value = yx_alloc(l->a, cap);
	if (!t->value)
		perr_set(l->e, "out of memory");
	return t->value;
}

static int tlv_ssl(struct ld *l, yaml_node_t *n, struct sc_tlv *t)
{
	const char *keys[PP_SSL_NSUBS + 3] = { "client", "verify" };
	struct pp_ssl ssl;
	uint8_t buf[1024];
	char what[32];
	yaml_node_t *v;
	char *s;
	long num;
	int len;

	for (size_t i = 0; i < PP_SSL_NSUBS; i++)
		keys[2 + i] = pp_ssl_subs[i].name;
	if (yx_check_keys(l->d, n, keys, ctx(l, "tlv ssl"), l->e) < 0)
		return -1;
	memset(&ssl, 0, sizeof(ssl));
	ssl.present = true;
	ssl.client = PP2_CLIENT_SSL;
	if ((v = yx_get(l->d, n, "client"))) {
		if (get_int(l, v, "tlv ssl.client", 0, 255, &num) < 0)
			return -1;
		ssl.client = (uint8_t)num;
	}
	if ((v = yx_get(l->d, n, "verify"))) {
		if (get_int(l, v, "tlv ssl.verify", 0, 0xffffffffL, &num) < 0)
			return -1;
		ssl.verify = (uint32_t)num;
	}
	for (size_t i = 0; i < PP_SSL_NSUBS; i++) {
		if (!(v = yx_get(l->d, n, pp_ssl_subs[i].name)))
			continue;
		snprintf(what, sizeof(what), "tlv ssl.%s", pp_ssl_subs[i].name);
		if (get_str(l, v, what, &s) < 0)
			return -1;
		pp_ssl_field(&ssl, i)->ptr = (const uint8_t *)s;
		pp_ssl_field(&ssl, i)->len = strlen(s);
	}
	len = pp_ssl_encode(&ssl, buf, sizeof(buf));
	if (len < 0)
		return err_at(l, n, "tlv ssl", "%s", "does not fit");
	t->value = (uint8_t *)yx_memdup(l->a, buf, (size_t)len);
	t->len = (size_t)len;
	return t->value ? 0 : perr_set(l->e, "out of memory");
}

static int tlv_text(struct ld *l, yaml_node_t *v, struct sc_tlv *t)
{
	char *s;

	if (yx_str(l->d, v, l->a, ctx(l, "tlv value"), &s, &t->len, l->e) < 0)
		return -1;
	t->value = (uint8_t *)s;
	return 0;
}

static int tlv_hex(struct ld *l, yaml_node_t *v, struct sc_tlv *t)
{
	return get_hex(l, v, "tlv hex", &t->value, &t->len);
}

/* A value of this many 'x' bytes: long TLVs without long files. */
static int tlv_len(struct ld *l, yaml_node_t *v, struct sc_tlv *t)
{
	long num;

	if (get_int(l, v, "tlv len", 0, 65000, &num) < 0 || !tlv_room(l, t, (size_t)num + 1))
		return -1;
	memset(t->value, 'x', (size_t)num);
	t->len = (size_t)num;
	return 0;
}

static int tlv_vpce(struct ld *l, yaml_node_t *v, struct sc_tlv *t)
{
	char *s;

	if (get_str(l, v, "tlv vpce", &s) < 0 || !tlv_room(l, t, strlen(s) + 1))
		return -1;
	t->len = (size_t)pp_tlv_aws_vpce(s, t->value, strlen(s) + 1);
	return 0;
}

static int tlv_linkid(struct ld *l, yaml_node_t *v, struct sc_tlv *t)
{
	long num;

	if (get_int(l, v, "tlv linkid", 0, 0xffffffffL, &num) < 0 || !tlv_room(l, t, 5))
		return -1;
	t->len = (size_t)pp_tlv_azure_linkid((uint32_t)num, t->value, 5);
	return 0;
}

static int tlv_psc_id(struct ld *l, yaml_node_t *v, struct sc_tlv *t)
{
	unsigned long long id;
	char *s, *end;

	if (get_str(l, v, "tlv psc_id", &s) < 0)
		return -1;
	id = strtoull(s, &end, 0);
	if (!*s || *end)
		return err_at(l, v, "tlv psc_id", "'%s' is not a number", s);
	if (!tlv_room(l, t, 9))
		return -1;
	t->len = (size_t)pp_tlv_gcp_psc(id, t->value, 9);
	return 0;
}

/* The keys of a TLV that give its value (one at most), and how each is
 * written: as it is, or by one of lib/pp_desc's encoders. */
static const struct {
	const char *key;
	int (*fn)(struct ld *l, yaml_node_t *v, struct sc_tlv *t);
} tlv_values[] = {
	{ "value", tlv_text }, { "hex", tlv_hex }, { "len", tlv_len }, { "ssl", tlv_ssl },
	{ "vpce", tlv_vpce }, { "linkid", tlv_linkid }, { "psc_id", tlv_psc_id },
};

#define NTLV_VALUES (sizeof(tlv_values) / sizeof(tlv_values[0]))

static int parse_tlv(struct ld *l, yaml_node_t *n, struct sc_tlv *t)
{
	const char *keys[NTLV_VALUES + 2] = { "type" };
	yaml_node_t *v;
	int given = 0;

	for (size_t i = 0; i < NTLV_VALUES; i++)
		keys[1 + i] = tlv_values[i].key;
	if (yx_check_keys(l->d, n, keys, ctx(l, "tlv"), l->e) < 0)
		return -1;
	if (!yx_get(l->d, n, "type"))
		return yx_err(l->d, n, l->e, "%s: missing 'type'", ctx(l, "tlv"));
	if (tlv_type_parse(l, yx_get(l->d, n, "type"), &t->type) < 0)
		return -1;
	for (size_t i = 0; i < NTLV_VALUES; i++) {
		if (!(v = yx_get(l->d, n, tlv_values[i].key)))
			continue;
		if (tlv_values[i].fn(l, v, t) < 0)
			return -1;
		given++;
	}
	if (given > 1)
		return yx_err(l->d, n, l->e, "%s: give one of value, hex, len, ssl, vpce, linkid, psc_id",
			      ctx(l, "tlv"));
	if (!t->value && !tlv_room(l, t, 1))
		return -1;
	return 0;
}

static int parse_family(struct ld *l, yaml_node_t *n, struct sc_header *h)
{
	enum pp_fam f;
	char *s;

	if (get_str(l, n, "header.family", &s) < 0)
		return -1;
	if (pp_fam_parse(s, &f) < 0)
		return err_at(l, n, "header.family",
			      "'%s' is not tcp4, tcp6, unknown, inet, inet6, unix or unspec", s);
	h->family = f;
	return 0;
}

static int parse_header(struct ld *l, yaml_node_t *n, struct sc_header *h)
{
	static const char *const keys[] = { "version", "command", "family", "transport", "src",
					    "dst", "unknown_long", "tlvs", "crc32c", "noop", NULL };
	yaml_node_t *v;
	long num;
	char *s;

	if (yx_check_keys(l->d, n, keys, ctx(l, "send.header"), l->e) < 0)
		return -1;
	if ((v = yx_get(l->d, n, "version"))) {
		if (get_int(l, v, "header.version", 1, 2, &num) < 0)
			return -1;
		h->version = (int)num;
	}
	if ((v = yx_get(l->d, n, "command"))) {
		enum pp_cmd c;

		if (get_str(l, v, "header.command", &s) < 0)
			return -1;
		if (pp_cmd_parse(s, &c) < 0)
			return err_at(l, v, "header.command", "'%s' is not proxy or local", s);
		h->command = c;
	}
	if ((v = yx_get(l->d, n, "family")) && parse_family(l, v, h) < 0)
		return -1;
	if ((v = yx_get(l->d, n, "transport"))) {
		enum pp_proto p;

		if (get_str(l, v, "header.transport", &s) < 0)
			return -1;
		if (pp_proto_parse(s, &p) < 0)
			return err_at(l, v, "header.transport", "'%s' is not stream, dgram or unspec", s);
		h->transport = p;
	}
	if ((v = yx_get(l->d, n, "src")) && get_str(l, v, "header.src", &h->src) < 0)
		return -1;
	if ((v = yx_get(l->d, n, "dst")) && get_str(l, v, "header.dst", &h->dst) < 0)
		return -1;
	if ((v = yx_get(l->d, n, "unknown_long")) && get_bool(l, v, "header.unknown_long", &h->unknown_long) < 0)
		return -1;
	if ((v = yx_get(l->d, n, "crc32c")) && get_bool(l, v, "header.crc32c", &h->crc32c) < 0)
		return -1;
	if ((v = yx_get(l->d, n, "noop"))) {
		if (get_int(l, v, "header.noop", 0, 60000, &num) < 0)
			return -1;
		h->noop = (size_t)num;
	}
	if ((v = yx_get(l->d, n, "tlvs"))) {
		size_t i;

		if (yx_want_seq(l->d, v, ctx(l, "header.tlvs"), l->e) < 0)
			return -1;
		h->ntlvs = yx_count(v);
		h->tlvs = yx_alloc(l->a, (h->ntlvs + 1) * sizeof(*h->tlvs));
		if (!h->tlvs)
			return perr_set(l->e, "out of memory");
		for (i = 0; i < h->ntlvs; i++)
			if (parse_tlv(l, yx_item(l->d, v, i), &h->tlvs[i]) < 0)
				return -1;
	}
	return 0;
}

int sc_expand_addr(const char *src, const char *blocked, const char *allowed, char *out, size_t cap)
{
	static const char *const names[] = { "{blocked}", "{allowed}" };
	const char *with[] = { blocked, allowed };
	size_t n = 0;
	int found = 0;

	while (*src) {
		const char *put = NULL;
		size_t skip = 1;

		for (size_t i = 0; i < 2; i++)
			if (!strncmp(src, names[i], strlen(names[i]))) {
				put = with[i];
				skip = strlen(names[i]);
				found = 1;
			}
		if (!put) {
			if (n + 1 >= cap)
				return -1;
			out[n++] = *src;
		} else {
			if (n + strlen(put) >= cap)
				return -1;
			memcpy(out + n, put, strlen(put));
			n += strlen(put);
		}
		src += skip;
	}
	if (n >= cap)
		return -1;
	out[n] = '\0';
	return found;
}

/* Fill defaults and check what the header can be built from. */
static int finish_header(struct ld *l, yaml_node_t *at, struct sc_header *h)
{
	struct sockaddr_storage ss;
	char a[128];

	if (h->version == 0)
		h->version = 1;
	if (h->version == 1) {
		if (h->family == PP_FAM_UNIX)
			return yx_err(l->d, at, l->e, "%s: v1 has no UNIX family", ctx(l, "send.header"));
		if (h->ntlvs || h->crc32c || h->noop)
			return yx_err(l->d, at, l->e, "%s: TLVs, crc32c and noop are v2 only",
				      ctx(l, "send.header"));
		if (h->command == PP_CMD_LOCAL)
			return yx_err(l->d, at, l->e, "%s: v1 has no LOCAL command", ctx(l, "send.header"));
	}
	if (!h->src || !h->dst) {
		/* The family's defaults; UNKNOWN with addresses writes IPv4 ones. */
		int fam = h->family == PP_FAM_UNSPEC && h->unknown_long ? PP_FAM_INET : h->family;
		const char *src = fam >= 0 && fam <= PP_FAM_UNIX ? pp_defaults.src[fam] : NULL;
		const char *dst = fam >= 0 && fam <= PP_FAM_UNIX ? pp_defaults.dst[fam] : NULL;

		if (!h->src && src)
			h->src = yx_strdup(l->a, src);
		if (!h->dst && dst)
			h->dst = yx_strdup(l->a, dst);
	}
	/* The policy's addresses are known with the profile: any IPv4 one
	 * stands in for them here. */
	if (h->src && (sc_expand_addr(h->src, "192.0.2.1", "192.0.2.2", a, sizeof(a)) < 0 ||
		       pp_sockaddr_parse(a, &ss) < 0))
		return err_at(l, at, "header.src", "'%s' is not IP:PORT, [IPv6]:PORT or unix:/path "
			      "({blocked} and {allowed} standing for the profile's policy addresses)", h->src);
	if (h->dst && pp_sockaddr_parse(h->dst, &ss) < 0)
		return err_at(l, at, "header.dst", "'%s' is not IP:PORT, [IPv6]:PORT or unix:/path", h->dst);
	return 0;
}

/* ---- send --------------------------------------------------------------- */

static int parse_wait(struct ld *l, yaml_node_t *n, const char *what, int *out)
{
	long v;

	if (yx_is_scalar(n) && !strcmp((const char *)n->data.scalar.value, "header-timeout")) {
		*out = SC_WAIT_HEADER_TIMEOUT;
		return 0;
	}
	if (get_int(l, n, what, 1, 60000, &v) < 0)
		return -1;
	*out = (int)v;
	return 0;
}

static int parse_connect(struct ld *l, yaml_node_t *n, struct sc_send *s)
{
	static const char *const keys[] = { "mqtt", "credentials", "client_id", NULL };
	yaml_node_t *v;
	long num;
	char *str;

	if (yx_check_keys(l->d, n, keys, ctx(l, "send.connect"), l->e) < 0)
		return -1;
	s->no_connect = false;
	if ((v = yx_get(l->d, n, "mqtt"))) {
		if (get_str(l, v, "connect.mqtt", &str) < 0)
			return -1;
		if (!strcmp(str, "4") || !strcmp(str, "3.1.1"))
			num = 4;
		else if (!strcmp(str, "5") || !strcmp(str, "5.0"))
			num = 5;
		else
			return err_at(l, v, "connect.mqtt", "'%s' is not 4 (3.1.1) or 5", str);
		s->mqtt = (int)num;
	}
	if ((v = yx_get(l->d, n, "credentials"))) {
		if (get_str(l, v, "connect.credentials", &str) < 0)
			return -1;
		if (!strcmp(str, "valid"))
			s->cred = SC_CRED_VALID;
		else if (!strcmp(str, "invalid"))
			s->cred = SC_CRED_INVALID;
		else if (!strcmp(str, "none"))
			s->cred = SC_CRED_NONE;
		else
			return err_at(l, v, "connect.credentials", "'%s' is not valid, invalid or none", str);
	}
	if ((v = yx_get(l->d, n, "client_id")) && get_str(l, v, "connect.client_id", &s->client_id) < 0)
		return -1;
	return 0;
}

/* What a send step writes: one of header, mutation, raw_hex, raw, none,
 * auto. */
static int parse_send_payload(struct ld *l, yaml_node_t *n, struct sc_send *s)
{
	yaml_node_t *v;
	char *str;
	int payloads = 0;
	bool b;

	if ((v = yx_get(l->d, n, "header"))) {
		payloads++;
		s->payload = SC_PAY_HEADER;
		if (parse_header(l, v, &s->header) < 0)
			return -1;
	}
	if ((v = yx_get(l->d, n, "mutation"))) {
		payloads++;
		s->payload = SC_PAY_MUTATION;
		if (get_str(l, v, "send.mutation", &s->mutation) < 0)
			return -1;
		if (!pp_mutation_find(s->mutation))
			return err_at(l, v, "send.mutation", "'%s' is not in the malformation catalog (proxygen mutations)",
				      s->mutation);
	}
	if ((v = yx_get(l->d, n, "raw_hex"))) {
		payloads++;
		s->payload = SC_PAY_RAW;
		if (get_hex(l, v, "send.raw_hex", &s->raw, &s->raw_len) < 0)
			return -1;
	}
	if ((v = yx_get(l->d, n, "raw"))) {
		payloads++;
		s->payload = SC_PAY_RAW;
		if (yx_str(l->d, v, l->a, ctx(l, "send.raw"), &str, &s->raw_len, l->e) < 0)
			return -1;
		s->raw = (uint8_t *)str;
	}
	if ((v = yx_get(l->d, n, "none"))) {
		payloads++;
		if (get_bool(l, v, "send.none", &b) < 0)
			return -1;
		if (!b)
			return yx_err(l->d, v, l->e, "%s: only 'none: true' makes sense", ctx(l, "send.none"));
		s->payload = SC_PAY_NONE;
	}
	if ((v = yx_get(l->d, n, "auto"))) {
		payloads++;
		if (get_bool(l, v, "send.auto", &b) < 0)
			return -1;
		if (!b)
			return yx_err(l->d, v, l->e, "%s: only 'auto: true' makes sense", ctx(l, "send.auto"));
		s->payload = SC_PAY_AUTO;
	}
	if (payloads > 1)
		return yx_err(l->d, n, l->e, "%s: give one of header, mutation, raw_hex, raw, none, auto",
			      ctx(l, "send"));
	return 0;
}

/* How a send step writes it: pieces, pauses, a part only, stalls. */
static int parse_send_pacing(struct ld *l, yaml_node_t *n, struct sc_send *s)
{
	yaml_node_t *v;
	long num;

	if ((v = yx_get(l->d, n, "split"))) {
		if (yx_is_scalar(v) && !strcmp((const char *)v->data.scalar.value, "half")) {
			s->split_half = true;
			s->split = 0;
		} else {
			if (get_int(l, v, "send.split", 0, 65535, &num) < 0)
				return -1;
			s->split = (size_t)num;
			s->split_half = false;
		}
	}
	if ((v = yx_get(l->d, n, "split_sweep"))) {
		if (get_int(l, v, "send.split_sweep", 2, 3, &num) < 0)
			return -1;
		s->sweep = (int)num;
	}
	if ((v = yx_get(l->d, n, "delay_ms"))) {
		if (get_int(l, v, "send.delay_ms", 0, 10000, &num) < 0)
			return -1;
		s->delay_ms = (int)num;
	}
	if ((v = yx_get(l->d, n, "send_only"))) {
		if (get_int(l, v, "send.send_only", 1, 65535, &num) < 0)
			return -1;
		s->send_only = (size_t)num;
	}
	if ((v = yx_get(l->d, n, "stall_ms")) && parse_wait(l, v, "send.stall_ms", &s->stall_ms) < 0)
		return -1;
	if ((v = yx_get(l->d, n, "stall_before_ms")) &&
	    parse_wait(l, v, "send.stall_before_ms", &s->stall_before_ms) < 0)
		return -1;
	if ((v = yx_get(l->d, n, "coalesce")) && get_bool(l, v, "send.coalesce", &s->coalesce) < 0)
		return -1;
	return 0;
}

static int parse_send(struct ld *l, yaml_node_t *n, struct sc_send *s)
{
	static const char *const keys[] = {
		"header", "mutation", "raw_hex", "raw", "none", "auto", "split", "delay_ms",
		"send_only", "stall_ms", "stall_before_ms", "close_after_header", "coalesce", "from", "connect",
		"no_connect", "wait_ms", "split_sweep", NULL };
	yaml_node_t *v;
	char *str;

	if (yx_check_keys(l->d, n, keys, ctx(l, "send"), l->e) < 0 ||
	    parse_send_payload(l, n, s) < 0 || parse_send_pacing(l, n, s) < 0)
		return -1;
	if ((v = yx_get(l->d, n, "close_after_header")) &&
	    get_bool(l, v, "send.close_after_header", &s->close_after_header) < 0)
		return -1;
	if ((v = yx_get(l->d, n, "from"))) {
		if (get_str(l, v, "send.from", &str) < 0)
			return -1;
		if (!strcmp(str, "client"))
			s->bind = SC_BIND_CLIENT;
		else if (!strcmp(str, "untrusted"))
			s->bind = SC_BIND_UNTRUSTED;
		else if (!strcmp(str, "blocked-proxy"))
			s->bind = SC_BIND_BLOCKED_PROXY;
		else
			return err_at(l, v, "send.from", "'%s' is not client, untrusted or blocked-proxy", str);
	}
	if ((v = yx_get(l->d, n, "connect")) && parse_connect(l, v, s) < 0)
		return -1;
	if ((v = yx_get(l->d, n, "no_connect")) && get_bool(l, v, "send.no_connect", &s->no_connect) < 0)
		return -1;
	if ((v = yx_get(l->d, n, "wait_ms")) && parse_wait(l, v, "send.wait_ms", &s->wait_ms) < 0)
		return -1;
	return 0;
}

/* ---- expect and record -------------------------------------------------- */

static int parse_expect_item(struct ld *l, yaml_node_t *n, struct sc_expect *x)
{
	static const char *const keys[] = { "outcome", "code", "codes", "within_ms", "after_ms",
					    "grade", "note", "clause", NULL };
	yaml_node_t *v;
	char *str;
	long num;

	x->grade = RPT_PASS;
	x->line = yx_line(n);
	if (yx_is_scalar(n)) {
		/* Shorthand: "- rejected" = {outcome: rejected, grade: pass}. */
		if (get_str(l, n, "expect", &str) < 0)
			return -1;
		if (sc_outcome_parse(str, &x->outcome) < 0)
			return err_at(l, n, "expect", "'%s' is not an outcome", str);
		return 0;
	}
	if (yx_check_keys(l->d, n, keys, ctx(l, "expect"), l->e) < 0)
		return -1;
	if (!(v = yx_get(l->d, n, "outcome")))
		return yx_err(l->d, n, l->e, "%s: missing 'outcome'", ctx(l, "expect"));
	if (get_str(l, v, "expect.outcome", &str) < 0)
		return -1;
	if (sc_outcome_parse(str, &x->outcome) < 0)
		return err_at(l, v, "expect.outcome", "'%s' is not one of accepted, refused, connack, rejected, closed, timeout, tls-fail, ws-fail, protocol, not-accepted, any",
			      str);
	if ((v = yx_get(l->d, n, "code"))) {
		if (get_int(l, v, "expect.code", 0, 255, &num) < 0)
			return -1;
		x->codes[x->ncodes++] = (int)num;
	}
	if ((v = yx_get(l->d, n, "codes"))) {
		size_t i;

		if (yx_want_seq(l->d, v, ctx(l, "expect.codes"), l->e) < 0)
			return -1;
		if (yx_count(v) > SC_MAX_CODES - x->ncodes)
			return yx_err(l->d, v, l->e, "%s: at most %d codes", ctx(l, "expect.codes"), SC_MAX_CODES);
		for (i = 0; i < yx_count(v); i++) {
			if (get_int(l, yx_item(l->d, v, i), "expect.codes", 0, 255, &num) < 0)
				return -1;
			x->codes[x->ncodes++] = (int)num;
		}
	}
	if (x->outcome == SC_O_CONNACK && x->ncodes == 0)
		return yx_err(l->d, n, l->e, "%s: outcome connack needs code or codes", ctx(l, "expect"));
	if ((v = yx_get(l->d, n, "within_ms")) && parse_wait(l, v, "expect.within_ms", &x->within_ms) < 0)
		return -1;
	if ((v = yx_get(l->d, n, "after_ms")) && parse_wait(l, v, "expect.after_ms", &x->after_ms) < 0)
		return -1;
	if ((v = yx_get(l->d, n, "grade"))) {
		if (get_str(l, v, "expect.grade", &str) < 0)
			return -1;
		if (rpt_grade_parse(str, &x->grade) < 0 || x->grade == RPT_SKIP)
			return err_at(l, v, "expect.grade", "'%s' is not pass, non-strict, info, fail or unsupported", str);
	}
	if ((v = yx_get(l->d, n, "note")) && get_str(l, v, "expect.note", &x->note) < 0)
		return -1;
	if ((v = yx_get(l->d, n, "clause")) && get_clause(l, v, "expect.clause", &x->clause) < 0)
		return -1;
	return 0;
}

static int parse_expect(struct ld *l, yaml_node_t *n, struct sc_step *st)
{
	size_t i;

	if (yx_is_scalar(n) || yx_is_map(n)) {
		st->nexpect = 1;
		st->expect = yx_alloc(l->a, sizeof(*st->expect));
		if (!st->expect)
			return perr_set(l->e, "out of memory");
		return parse_expect_item(l, n, st->expect);
	}
	if (yx_want_seq(l->d, n, ctx(l, "expect"), l->e) < 0)
		return -1;
	if (yx_count(n) == 0)
		return yx_err(l->d, n, l->e, "%s: empty list", ctx(l, "expect"));
	st->nexpect = yx_count(n);
	st->expect = yx_alloc(l->a, st->nexpect * sizeof(*st->expect));
	if (!st->expect)
		return perr_set(l->e, "out of memory");
	for (i = 0; i < st->nexpect; i++)
		if (parse_expect_item(l, yx_item(l->d, n, i), &st->expect[i]) < 0)
			return -1;
	return 0;
}

static int parse_addr_check(struct ld *l, yaml_node_t *n, const char *what, struct sc_addr_check *c)
{
	char *s;

	if (get_str(l, n, what, &s) < 0)
		return -1;
	if (!strcmp(s, "header-src"))
		c->src = SC_ADDR_HEADER_SRC;
	else if (!strcmp(s, "socket-peer"))
		c->src = SC_ADDR_SOCKET_PEER;
	else if (!strcmp(s, "any"))
		c->src = SC_ADDR_UNCHECKED;
	else {
		c->src = SC_ADDR_LITERAL;
		c->literal = s;
	}
	return 0;
}

static int parse_record(struct ld *l, yaml_node_t *n, struct sc_record *r)
{
	static const char *const keys[] = { "where", "ip", "port", "peer_ip", "peer_port", "clause",
					    "identity", NULL };
	yaml_node_t *v;
	char *s;

	memset(r, 0, sizeof(*r));
	if (yx_is_scalar(n)) {
		/* `record: none`: the step checks no address at all. */
		if (get_str(l, n, "record", &s) < 0)
			return -1;
		if (strcmp(s, "none"))
			return err_at(l, n, "record", "'%s': a record is a mapping, or 'none'", s);
		r->none = true;
		return 0;
	}
	if (yx_check_keys(l->d, n, keys, ctx(l, "record"), l->e) < 0)
		return -1;
	if ((v = yx_get(l->d, n, "clause")) && get_clause(l, v, "record.clause", &r->clause) < 0)
		return -1;
	if ((v = yx_get(l->d, n, "identity"))) {
		if (get_str(l, v, "record.identity", &s) < 0)
			return -1;
		if (!strcmp(s, "cert"))
			r->identity = SC_ID_CERT;
		else if (!strcmp(s, "not-cert"))
			r->identity = SC_ID_NOT_CERT;
		else
			return err_at(l, v, "record.identity", "'%s' is not cert or not-cert", s);
	}
	if ((v = yx_get(l->d, n, "where"))) {
		if (get_str(l, v, "record.where", &s) < 0)
			return -1;
		if (!strcmp(s, "sessions"))
			r->where = SC_REC_SESSIONS;
		else if (!strcmp(s, "unauthorized"))
			r->where = SC_REC_UNAUTHORIZED;
		else
			return err_at(l, v, "record.where", "'%s' is not sessions or unauthorized", s);
	}
	if ((v = yx_get(l->d, n, "ip")) && parse_addr_check(l, v, "record.ip", &r->ip) < 0)
		return -1;
	if ((v = yx_get(l->d, n, "port")) && parse_addr_check(l, v, "record.port", &r->port) < 0)
		return -1;
	if ((v = yx_get(l->d, n, "peer_ip")) && parse_addr_check(l, v, "record.peer_ip", &r->peer_ip) < 0)
		return -1;
	if ((v = yx_get(l->d, n, "peer_port")) && parse_addr_check(l, v, "record.peer_port", &r->peer_port) < 0)
		return -1;
	if (r->where == SC_REC_NONE)
		return yx_err(l->d, n, l->e, "%s: missing 'where'", ctx(l, "record"));
	return 0;
}

/* A header-src check needs a header with a source address. */
static int check_record(struct ld *l, yaml_node_t *at, const struct sc_step *st)
{
	const struct sc_record *r = &st->record;
	bool needs = r->ip.src == SC_ADDR_HEADER_SRC || r->port.src == SC_ADDR_HEADER_SRC;
	const struct sc_header *h = &st->send.header;

	if (!needs)
		return 0;
	if (st->send.payload == SC_PAY_AUTO)
		return 0; /* decided per listener mode by the runner */
	if (st->send.payload != SC_PAY_HEADER || h->command == PP_CMD_LOCAL ||
	    (h->family != PP_FAM_INET && h->family != PP_FAM_INET6))
		return yx_err(l->d, at, l->e, "%s: 'header-src' needs a PROXY header with INET/INET6 addresses",
			      ctx(l, "record"));
	return 0;
}

/* ---- applies, configuration --------------------------------------------- */

static int parse_applies(struct ld *l, yaml_node_t *n, struct scenario *s)
{
	static const char *const keys[] = { "listeners", "modes", NULL };
	yaml_node_t *v;
	char **list;
	size_t cnt, i;

	if (yx_check_keys(l->d, n, keys, ctx(l, "applies"), l->e) < 0)
		return -1;
	if ((v = yx_get(l->d, n, "listeners"))) {
		if (yx_strlist(l->d, v, l->a, ctx(l, "applies.listeners"), &list, &cnt, l->e) < 0)
			return -1;
		s->listeners = 0;
		for (i = 0; i < cnt; i++) {
			enum sc_listener li;

			if (sc_listener_parse(list[i], &li) < 0)
				return err_at(l, v, "applies.listeners", "'%s' is not tcp, ssl, ws or wss", list[i]);
			s->listeners |= 1u << li;
		}
		if (!s->listeners)
			return yx_err(l->d, v, l->e, "%s: empty", ctx(l, "applies.listeners"));
	}
	if ((v = yx_get(l->d, n, "modes"))) {
		if (yx_strlist(l->d, v, l->a, ctx(l, "applies.modes"), &list, &cnt, l->e) < 0)
			return -1;
		s->modes = 0;
		for (i = 0; i < cnt; i++) {
			enum sc_mode m;

			if (sc_mode_parse(list[i], &m) < 0 || m == SC_MODE_ABSENT)
				return err_at(l, v, "applies.modes", "'%s' is not enabled, disabled or optional", list[i]);
			s->modes |= 1u << m;
		}
		if (!s->modes)
			return yx_err(l->d, v, l->e, "%s: empty", ctx(l, "applies.modes"));
	}
	return 0;
}

static int check_configuration(struct ld *l, yaml_node_t *n, const char *conf)
{
	char buf[256], *tok, *save = NULL;

	if (strlen(conf) >= sizeof(buf))
		return err_at(l, n, "configuration", "%s", "too long");
	strcpy(buf, conf);
	for (tok = strtok_r(buf, " \t,", &save); tok; tok = strtok_r(NULL, " \t,", &save)) {
		char *eq = strchr(tok, '=');

		if (!eq || eq == tok || !eq[1])
			return err_at(l, n, "configuration", "'%s' is not name=value", tok);
	}
	return 0;
}

/* ---- scenarios ---------------------------------------------------------- */

static const char *const scenario_keys[] = {
	"id", "title", "ref", "clause", "tags", "family", "applies", "configuration", "send", "expect",
	"record", "steps", "probe_after", "needs", NULL };
static const char *const defaults_keys[] = {
	"ref", "clause", "tags", "family", "applies", "configuration", "send", "expect", "record",
	"probe_after", "needs", NULL };
static const char *const step_keys[] = { "send", "expect", "record", "clause", NULL };

static int add_tags(struct ld *l, yaml_node_t *n, struct scenario *s)
{
	char **list, **all;
	size_t cnt;

	if (yx_strlist(l->d, n, l->a, ctx(l, "tags"), &list, &cnt, l->e) < 0)
		return -1;
	all = yx_alloc(l->a, (s->ntags + cnt + 1) * sizeof(*all));
	if (!all)
		return perr_set(l->e, "out of memory");
	if (s->ntags)
		memcpy(all, s->tags, s->ntags * sizeof(*all));
	memcpy(all + s->ntags, list, cnt * sizeof(*all));
	s->tags = all;
	s->ntags += cnt;
	return 0;
}

static void send_init(struct sc_send *s)
{
	memset(s, 0, sizeof(*s));
	s->payload = SC_PAY_AUTO;
	s->header.command = PP_CMD_PROXY;
	s->header.family = PP_FAM_INET;
	s->header.transport = -1;
}

/* Apply one mapping (file defaults, then the scenario) onto s. */
static int apply_common(struct ld *l, yaml_node_t *n, struct scenario *s, struct sc_step *st)
{
	yaml_node_t *v;

	if ((v = yx_get(l->d, n, "ref")) && get_str(l, v, "ref", &s->ref) < 0)
		return -1;
	if ((v = yx_get(l->d, n, "clause")) && get_clause(l, v, "clause", &s->clause) < 0)
		return -1;
	if ((v = yx_get(l->d, n, "family")) && get_str(l, v, "family", &s->family) < 0)
		return -1;
	if ((v = yx_get(l->d, n, "tags")) && add_tags(l, v, s) < 0)
		return -1;
	if ((v = yx_get(l->d, n, "applies")) && parse_applies(l, v, s) < 0)
		return -1;
	if ((v = yx_get(l->d, n, "configuration"))) {
		if (yx_is_null(v)) {
			s->configuration = NULL;
		} else {
			if (get_str(l, v, "configuration", &s->configuration) < 0)
				return -1;
			if (check_configuration(l, v, s->configuration) < 0)
				return -1;
		}
	}
	if ((v = yx_get(l->d, n, "probe_after")) && get_bool(l, v, "probe_after", &s->probe_after) < 0)
		return -1;
	if ((v = yx_get(l->d, n, "needs"))) {
		char **list;
		size_t cnt, i;

		if (yx_strlist(l->d, v, l->a, ctx(l, "needs"), &list, &cnt, l->e) < 0)
			return -1;
		for (i = 0; i < cnt; i++) {
			if (!strcmp(list[i], "identity"))
				s->needs |= SC_NEEDS_IDENTITY;
			else if (!strcmp(list[i], "policy"))
				s->needs |= SC_NEEDS_POLICY;
			else
				return err_at(l, v, "needs", "'%s' is not identity or policy", list[i]);
		}
	}
	if ((v = yx_get(l->d, n, "send")) && parse_send(l, v, &st->send) < 0)
		return -1;
	if ((v = yx_get(l->d, n, "expect")) && parse_expect(l, v, st) < 0)
		return -1;
	if ((v = yx_get(l->d, n, "record")) && parse_record(l, v, &st->record) < 0)
		return -1;
	return 0;
}

static struct scenario *cat_new(struct sc_catalog *cat, struct perr *e)
{
	if (cat->n == cat->cap) {
		size_t cap = cat->cap ? cat->cap * 2 : 64;
		struct scenario *v = realloc(cat->v, cap * sizeof(*v));

		if (!v) {
			perr_set(e, "out of memory");
			return NULL;
		}
		cat->v = v;
		cat->cap = cap;
	}
	memset(&cat->v[cat->n], 0, sizeof(cat->v[0]));
	return &cat->v[cat->n];
}

/* A graded deviation must carry the grade its sentence's level gives:
 * the catalog cannot make a SHOULD a FAIL, nor ppmq's own limit a FAIL of
 * another broker. PASS and UNSUPPORTED are free. */
static int check_grade(struct ld *l, const struct sc_step *st, const struct sc_expect *x)
{
	const struct sc_clause *c = sc_expect_clause(st, x);
	enum rpt_grade want;

	if (!c || x->grade == RPT_PASS || x->grade == RPT_UNSUPPORTED)
		return 0;
	want = sc_level_grade(c->level);
	if (x->grade == want)
		return 0;
	return perr_set(l->e, "%s:%d: %s: grade %s, but clause '%s' is %s (\"%s\"): breaking it is %s",
			l->d->file, x->line, ctx(l, "expect"), rpt_grade_name(x->grade), c->id,
			sc_level_name(c->level), c->level_text, rpt_grade_name(want));
}

const struct sc_clause *sc_expect_clause(const struct sc_step *st, const struct sc_expect *x)
{
	return x && x->clause ? x->clause : st->clause;
}

/* Clauses flow down: scenario -> step -> each expectation and the record. */
static int resolve_clauses(struct ld *l, const struct scenario *s, struct sc_step *st)
{
	size_t i;

	if (!st->clause)
		st->clause = s->clause;
	if (!st->record.clause)
		st->record.clause = st->clause;
	for (i = 0; i < st->nexpect; i++)
		if (check_grade(l, st, &st->expect[i]) < 0)
			return -1;
	return 0;
}

static int finish_step(struct ld *l, yaml_node_t *at, const struct scenario *s, struct sc_step *st)
{
	if (st->send.payload == SC_PAY_HEADER && finish_header(l, at, &st->send.header) < 0)
		return -1;
	if (st->send.sweep && (st->send.payload != SC_PAY_HEADER || st->send.split || st->send.split_half ||
			       st->send.send_only || st->send.coalesce || st->send.no_connect))
		return yx_err(l->d, at, l->e, "%s: split_sweep needs a header built from parameters, a CONNECT, and no split, send_only or coalesce",
			      ctx(l, "send"));
	if (!st->nexpect)
		return yx_err(l->d, at, l->e, "%s: missing 'expect'", ctx(l, "scenario"));
	if (resolve_clauses(l, s, st) < 0)
		return -1;
	return check_record(l, at, st);
}

static int check_id(struct ld *l, yaml_node_t *at, const char *id)
{
	const struct scenario *old = sc_find(l->cat, id);
	const char *p;

	for (p = id; *p; p++)
		if (*p <= ' ' || *p == '#' || *p == '"' || *p == '\'' || *p == '\\')
			return err_at(l, at, "id", "'%s': ids are made of visible characters without quotes or '#'", id);
	if (!*id)
		return yx_err(l->d, at, l->e, "%s: empty id", ctx(l, "id"));
	if (old)
		return yx_err(l->d, at, l->e, "scenario id '%s' already defined at %s:%d", id, old->file,
			      old->line);
	return 0;
}

static int parse_scenario(struct ld *l, yaml_node_t *defaults, yaml_node_t *n, const char *family)
{
	struct scenario *s;
	yaml_node_t *v, *steps;
	struct sc_step base;
	char *id;

	l->sid = NULL;
	if (yx_want_map(l->d, n, "scenario", l->e) < 0)
		return -1;
	if (!(v = yx_get(l->d, n, "id")))
		return yx_err(l->d, n, l->e, "scenario without 'id'");
	if (get_str(l, v, "id", &id) < 0)
		return -1;
	l->sid = id;
	if (yx_check_keys(l->d, n, scenario_keys, ctx(l, "scenario"), l->e) < 0)
		return -1;
	if (check_id(l, v, id) < 0)
		return -1;
	s = cat_new(l->cat, l->e);
	if (!s)
		return -1;
	s->id = id;
	s->file = (char *)l->d->file;
	s->line = yx_line(n);
	s->listeners = SC_ALL_LISTENERS;
	s->modes = SC_ALL_MODES;
	s->family = family ? yx_strdup(l->a, family) : NULL;
	if (!(v = yx_get(l->d, n, "title")))
		return yx_err(l->d, n, l->e, "%s: missing 'title'", ctx(l, "scenario"));
	if (get_str(l, v, "title", &s->title) < 0)
		return -1;

	memset(&base, 0, sizeof(base));
	send_init(&base.send);
	base.line = s->line;
	if (defaults && apply_common(l, defaults, s, &base) < 0)
		return -1;
	steps = yx_get(l->d, n, "steps");
	if (steps && (yx_get(l->d, n, "send") || yx_get(l->d, n, "expect") || yx_get(l->d, n, "record")))
		return yx_err(l->d, steps, l->e, "%s: give either steps or send/expect/record",
			      ctx(l, "scenario"));
	if (!steps) {
		if (apply_common(l, n, s, &base) < 0)
			return -1;
		s->steps = yx_alloc(l->a, sizeof(*s->steps));
		if (!s->steps)
			return perr_set(l->e, "out of memory");
		s->steps[0] = base;
		s->nsteps = 1;
		if (finish_step(l, n, s, &s->steps[0]) < 0)
			return -1;
	} else {
		size_t i;

		if (apply_common(l, n, s, &base) < 0)
			return -1;
		if (yx_want_seq(l->d, steps, ctx(l, "steps"), l->e) < 0)
			return -1;
		if (yx_count(steps) == 0)
			return yx_err(l->d, steps, l->e, "%s: empty list", ctx(l, "steps"));
		s->nsteps = yx_count(steps);
		s->steps = yx_alloc(l->a, s->nsteps * sizeof(*s->steps));
		if (!s->steps)
			return perr_set(l->e, "out of memory");
		for (i = 0; i < s->nsteps; i++) {
			yaml_node_t *sn = yx_item(l->d, steps, i);
			struct sc_step *st = &s->steps[i];

			if (yx_check_keys(l->d, sn, step_keys, ctx(l, "step"), l->e) < 0)
				return -1;
			*st = base;
			st->line = yx_line(sn);
			if ((v = yx_get(l->d, sn, "send")) && parse_send(l, v, &st->send) < 0)
				return -1;
			if ((v = yx_get(l->d, sn, "expect")) && parse_expect(l, v, st) < 0)
				return -1;
			if ((v = yx_get(l->d, sn, "record")) && parse_record(l, v, &st->record) < 0)
				return -1;
			if ((v = yx_get(l->d, sn, "clause")) && get_clause(l, v, "step.clause", &st->clause) < 0)
				return -1;
			if (finish_step(l, sn, s, st) < 0)
				return -1;
		}
	}
	l->cat->n++;
	return 0;
}

/* ---- mutations ---------------------------------------------------------- */

static int add_expect(struct sc_catalog *cat, struct sc_step *st, enum sc_outcome o,
		      int within, enum rpt_grade g, const char *note, struct perr *e)
{
	struct sc_expect *x = yx_alloc(&cat->arena, (st->nexpect + 1) * sizeof(*x));

	if (!x)
		return perr_set(e, "out of memory");
	if (st->nexpect)
		memcpy(x, st->expect, st->nexpect * sizeof(*x));
	x[st->nexpect].outcome = o;
	x[st->nexpect].within_ms = within;
	x[st->nexpect].grade = g;
	x[st->nexpect].note = note ? yx_strdup(&cat->arena, note) : NULL;
	st->expect = x;
	st->nexpect++;
	return 0;
}

/* The grade of breaking the scenario's clause (FAIL without one). */
static enum rpt_grade clause_grade(const struct scenario *s)
{
	return s->clause ? sc_level_grade(s->clause->level) : RPT_FAIL;
}

int sc_expand_mutation(struct sc_catalog *cat, struct scenario *s, const char *name, struct perr *e)
{
	const struct pp_mutation *m = pp_mutation_find(name);
	struct sc_step *st;
	enum rpt_grade broken;

	if (!m)
		return perr_set(e, "mutation '%s' is not in the catalog", name);
	if (!s->nsteps) {
		s->steps = yx_alloc(&cat->arena, sizeof(*s->steps));
		if (!s->steps)
			return perr_set(e, "out of memory");
		s->nsteps = 1;
		send_init(&s->steps[0].send);
	}
	st = &s->steps[0];
	st->clause = s->clause;
	st->record.clause = s->clause;
	st->send.payload = SC_PAY_MUTATION;
	st->send.mutation = yx_strdup(&cat->arena, m->name);
	st->nexpect = 0;
	st->expect = NULL;
	s->verdict = yx_strdup(&cat->arena, pp_verdict_name(m->verdict));
	broken = clause_grade(s);
	switch (m->verdict) {
	case PP_VERDICT_REJECT:
		/* Wait up to the header timeout: a broker that only closes when
		 * its timer fires still rejected without answering. */
		st->send.wait_ms = SC_WAIT_HEADER_TIMEOUT;
		if (add_expect(cat, st, SC_O_REJECTED, 0, RPT_PASS, NULL, e) < 0 ||
		    add_expect(cat, st, SC_O_ACCEPTED, 0, broken,
			       "accepted a malformed header", e) < 0)
			return -1;
		break;
	case PP_VERDICT_LIMIT:
		/* Valid as the spec words it; refusing it is the receiver's
		 * own limit, which the spec neither asks for nor forbids. */
		st->send.wait_ms = SC_WAIT_HEADER_TIMEOUT;
		if (add_expect(cat, st, SC_O_ACCEPTED, 0, RPT_PASS, NULL, e) < 0 ||
		    add_expect(cat, st, SC_O_NOT_ACCEPTED, 0, broken,
			       "refused: a limit of this receiver, not a rule of the spec", e) < 0)
			return -1;
		break;
	case PP_VERDICT_INCOMPLETE:
		/* Send the incomplete header, watch for the header timeout,
		 * then go on with the CONNECT: a receiver still waiting reads
		 * its first bytes as the rest of the header, which is right. */
		st->send.stall_ms = SC_WAIT_HEADER_TIMEOUT;
		if (add_expect(cat, st, SC_O_REJECTED, 0, RPT_PASS,
			       "closed before the rest of the header came", e) < 0 ||
		    add_expect(cat, st, SC_O_TIMEOUT, 0, RPT_PASS,
			       "still waiting for the rest of the header", e) < 0 ||
		    add_expect(cat, st, SC_O_ACCEPTED, 0, broken,
			       "accepted: the incomplete header was taken as complete", e) < 0 ||
		    add_expect(cat, st, SC_O_ANY, 0, RPT_PASS,
			       "the bytes sent later were read as the rest of the header", e) < 0)
			return -1;
		break;
	case PP_VERDICT_NOT_PROXY:
		st->send.wait_ms = SC_WAIT_HEADER_TIMEOUT;
		if (add_expect(cat, st, SC_O_REJECTED, 0, RPT_PASS, NULL, e) < 0 ||
		    add_expect(cat, st, SC_O_ACCEPTED, 0, broken,
			       "accepted a connection without a valid header on a PROXY listener", e) < 0)
			return -1;
		break;
	}
	return 0;
}

/* The clause of a generated scenario: `mutation_clauses` keyed by the
 * mutation's name, else its parser reason, else its verdict, else "v1" /
 * "v2"; NULL when none of them is there. */
static int mutation_clause(struct ld *l, yaml_node_t *map, const struct pp_mutation *m,
			   const struct sc_clause **out)
{
	const char *keys[4];
	size_t i;
	yaml_node_t *v;

	*out = NULL;
	if (!map)
		return 0;
	keys[0] = m->name;
	keys[1] = m->reason != PP_R_OK ? pp_reason_name(m->reason) : "";
	keys[2] = pp_verdict_name(m->verdict);
	keys[3] = m->version == 1 ? "v1" : "v2";
	for (i = 0; i < 4; i++)
		if (*keys[i] && (v = yx_get(l->d, map, keys[i])))
			return get_clause(l, v, "mutation_clauses", out);
	return 0;
}

/* Every key of `mutation_clauses` must name something in the catalog. */
static int check_mutation_clauses(struct ld *l, yaml_node_t *map)
{
	size_t i, count, k;
	const struct pp_mutation *all = pp_mutations(&count);

	if (yx_want_map(l->d, map, "mutation_clauses", l->e) < 0)
		return -1;
	for (i = 0; i < yx_count(map); i++) {
		yaml_node_t *v;
		const char *key = yx_pair(l->d, map, i, &v);
		const struct sc_clause *c;
		bool known = !strcmp(key, "v1") || !strcmp(key, "v2");

		for (k = 0; !known && k < count; k++)
			known = !strcmp(key, all[k].name) || !strcmp(key, pp_verdict_name(all[k].verdict)) ||
				(all[k].reason != PP_R_OK && !strcmp(key, pp_reason_name(all[k].reason)));
		if (!known)
			return err_at(l, v, "mutation_clauses",
				      "'%s' is no mutation, parser reason or verdict of the catalog", key);
		if (get_clause(l, v, "mutation_clauses", &c) < 0)
			return -1;
	}
	return 0;
}

static int expand_mutations(struct ld *l, yaml_node_t *defaults, yaml_node_t *n,
			    yaml_node_t *clauses, const char *family, const char *prefix)
{
	const struct pp_mutation *all;
	size_t count, i, k;
	char **names = NULL;
	size_t nnames = 0;
	bool every = false;

	l->sid = NULL;
	if (yx_is_scalar(n) && !strcmp((const char *)n->data.scalar.value, "all")) {
		every = true;
	} else if (yx_strlist(l->d, n, l->a, "mutations", &names, &nnames, l->e) < 0) {
		return -1;
	}
	all = pp_mutations(&count);
	if (!every)
		for (k = 0; k < nnames; k++)
			if (!pp_mutation_find(names[k]))
				return err_at(l, n, "mutations", "'%s' is not in the malformation catalog", names[k]);
	for (i = 0; i < count; i++) {
		const struct pp_mutation *m = &all[i];
		struct scenario *s;
		struct sc_step base;
		char id[160], tag[64];
		bool want = every;

		for (k = 0; !every && k < nnames; k++)
			if (!strcmp(names[k], m->name))
				want = true;
		if (!want)
			continue;
		snprintf(id, sizeof(id), "%s%s", prefix, m->name);
		/* A hand-written scenario with the same id refines the generated one. */
		if (sc_find(l->cat, id))
			continue;
		s = cat_new(l->cat, l->e);
		if (!s)
			return -1;
		s->id = yx_strdup(l->a, id);
		l->sid = s->id;
		s->title = yx_strdup(l->a, m->desc);
		s->file = (char *)l->d->file;
		s->line = yx_line(n);
		s->listeners = SC_ALL_LISTENERS;
		s->modes = 1u << SC_MODE_ENABLED;
		s->family = family ? yx_strdup(l->a, family) : NULL;
		s->generated = true;
		memset(&base, 0, sizeof(base));
		send_init(&base.send);
		if (defaults && apply_common(l, defaults, s, &base) < 0)
			return -1;
		{
			const struct sc_clause *c;

			if (mutation_clause(l, clauses, m, &c) < 0)
				return -1;
			if (c)
				s->clause = c;
		}
		if (!s->ref)
			s->ref = s->clause ? yx_strdup(l->a, s->clause->source)
				: yx_strdup(l->a, m->version == 1 ? "proxy-protocol.txt 2.1"
								  : "proxy-protocol.txt 2.2");
		s->steps = yx_alloc(l->a, sizeof(*s->steps));
		if (!s->steps)
			return perr_set(l->e, "out of memory");
		s->steps[0] = base;
		s->steps[0].line = s->line;
		s->nsteps = 1;
		if (sc_expand_mutation(l->cat, s, m->name, l->e) < 0)
			return -1;
		{
			const char *tags[] = { "malformed", m->version == 1 ? "v1" : "v2",
					       pp_verdict_name(m->verdict), NULL, NULL };
			char **tv;
			size_t nt = 3, j;

			if (m->reason != PP_R_OK) {
				snprintf(tag, sizeof(tag), "%s", pp_reason_name(m->reason));
				tags[nt++] = tag;
			}
			tv = yx_alloc(l->a, (s->ntags + nt + 1) * sizeof(*tv));
			if (!tv)
				return perr_set(l->e, "out of memory");
			if (s->ntags)
				memcpy(tv, s->tags, s->ntags * sizeof(*tv));
			for (j = 0; j < nt; j++)
				tv[s->ntags + j] = yx_strdup(l->a, tags[j]);
			s->tags = tv;
			s->ntags += nt;
		}
		l->cat->n++;
		l->cat->ngenerated++;
	}
	return 0;
}

/* ---- clauses ------------------------------------------------------------ */

static int load_clause(struct ld *l, yaml_node_t *n)
{
	static const char *const keys[] = { "id", "source", "level", "quote", "when", NULL };
	static const char *const features[] = { "crc32c", NULL };
	struct sc_clause *c;
	const struct sc_clause *old;
	yaml_node_t *v;

	if (yx_want_map(l->d, n, "clause", l->e) < 0 ||
	    yx_check_keys(l->d, n, keys, "clause", l->e) < 0)
		return -1;
	c = yx_alloc(l->a, sizeof(*c));
	if (!c)
		return perr_set(l->e, "out of memory");
	for (size_t i = 0; i < 4; i++)
		if (!yx_get(l->d, n, keys[i]))
			return yx_err(l->d, n, l->e, "clause: missing '%s'", keys[i]);
	if ((v = yx_get(l->d, n, "when"))) {
		size_t i;

		if (get_str(l, v, "clause.when", &c->when) < 0)
			return -1;
		for (i = 0; features[i] && strcmp(features[i], c->when); i++)
			;
		if (!features[i])
			return err_at(l, v, "clause.when", "'%s' is not a feature a profile declares (crc32c)", c->when);
	}
	if (get_str(l, yx_get(l->d, n, "id"), "clause.id", &c->id) < 0 ||
	    get_str(l, yx_get(l->d, n, "source"), "clause.source", &c->source) < 0 ||
	    get_str(l, yx_get(l->d, n, "quote"), "clause.quote", &c->quote) < 0 ||
	    get_str(l, v = yx_get(l->d, n, "level"), "clause.level", &c->level_text) < 0)
		return -1;
	if (sc_level_parse(c->level_text, &c->level) < 0)
		return err_at(l, v, "clause.level", "'%s' is not MUST, MUST NOT, SHOULD, SHOULD NOT, RECOMMENDED, MAY or RULE",
			      c->level_text);
	if ((old = sc_clause_find(l->cat, c->id)))
		return yx_err(l->d, n, l->e, "clause '%s' already defined at %s:%d", c->id, old->file,
			      old->line);
	c->file = (char *)l->d->file;
	c->line = yx_line(n);
	if (l->cat->nclauses == l->cat->clauses_cap) {
		size_t cap = l->cat->clauses_cap ? l->cat->clauses_cap * 2 : 32;
		struct sc_clause **nv = realloc(l->cat->clauses, cap * sizeof(*nv));

		if (!nv)
			return perr_set(l->e, "out of memory");
		l->cat->clauses = nv;
		l->cat->clauses_cap = cap;
	}
	l->cat->clauses[l->cat->nclauses++] = c;
	return 0;
}

static int load_clauses(struct ld *l, yaml_node_t *list)
{
	size_t i;

	if (yx_want_seq(l->d, list, "clauses", l->e) < 0)
		return -1;
	for (i = 0; i < yx_count(list); i++)
		if (load_clause(l, yx_item(l->d, list, i)) < 0)
			return -1;
	return 0;
}

const struct sc_clause *sc_clause_find(const struct sc_catalog *cat, const char *id)
{
	size_t i;

	for (i = 0; i < cat->nclauses; i++)
		if (!strcmp(cat->clauses[i]->id, id))
			return cat->clauses[i];
	return NULL;
}

int sc_catalog_check(const struct sc_catalog *cat, struct perr *e)
{
	size_t i, j;

	for (i = 0; i < cat->n; i++) {
		const struct scenario *s = &cat->v[i];

		for (j = 0; j < s->nsteps; j++) {
			const struct sc_send *sd = &s->steps[j].send;
			char a[128];

			if (!s->steps[j].clause)
				return perr_set(e, "%s:%d: scenario '%s'%s names no clause: every scenario says which sentence of which document it checks (scenarios/00-clauses.yml)",
						s->file, s->steps[j].line ? s->steps[j].line : s->line, s->id,
						s->nsteps > 1 ? " (a step)" : "");
			if (!(s->needs & SC_NEEDS_POLICY) &&
			    (sd->bind == SC_BIND_BLOCKED_PROXY ||
			     (sd->payload == SC_PAY_HEADER && sd->header.src &&
			      sc_expand_addr(sd->header.src, "", "", a, sizeof(a)) != 0)))
				return perr_set(e, "%s:%d: scenario '%s' uses the profile's policy ({blocked}, {allowed} or from: blocked-proxy) without 'needs: [policy]'",
						s->file, s->steps[j].line ? s->steps[j].line : s->line, s->id);
		}
	}
	return 0;
}

/* ---- files -------------------------------------------------------------- */

static int load_doc(struct sc_catalog *cat, struct yx_doc *d, struct perr *e)
{
	static const char *const file_keys[] = { "family", "description", "defaults", "scenarios",
						 "mutations", "mutation_prefix", "mutation_clauses",
						 "clauses", NULL };
	struct ld l = { .cat = cat, .d = d, .a = &cat->arena, .e = e };
	yaml_node_t *root = yx_root(d), *v, *defaults, *list;
	char *family = NULL, *prefix = "mal/";
	size_t i;

	if (yx_check_keys(d, root, file_keys, "scenario file", e) < 0)
		return -1;
	if ((v = yx_get(d, root, "family")) && get_str(&l, v, "family", &family) < 0)
		return -1;
	if ((v = yx_get(d, root, "mutation_prefix")) && get_str(&l, v, "mutation_prefix", &prefix) < 0)
		return -1;
	defaults = yx_get(d, root, "defaults");
	if (defaults && yx_check_keys(d, defaults, defaults_keys, "defaults", e) < 0)
		return -1;
	if ((v = yx_get(d, root, "clauses")) && load_clauses(&l, v) < 0)
		return -1;
	list = yx_get(d, root, "scenarios");
	if (!list && !yx_get(d, root, "mutations") && !yx_get(d, root, "clauses"))
		return yx_err(d, root, e, "a scenario file needs 'scenarios', 'mutations' or 'clauses'");
	if ((v = yx_get(d, root, "mutation_clauses")) && check_mutation_clauses(&l, v) < 0)
		return -1;
	if (list) {
		if (yx_want_seq(d, list, "scenarios", e) < 0)
			return -1;
		for (i = 0; i < yx_count(list); i++)
			if (parse_scenario(&l, defaults, yx_item(d, list, i), family) < 0)
				return -1;
	}
	if ((v = yx_get(d, root, "mutations")) &&
	    expand_mutations(&l, defaults, v, yx_get(d, root, "mutation_clauses"), family, prefix) < 0)
		return -1;
	return 0;
}

int sc_load_file(struct sc_catalog *cat, const char *path, struct perr *e)
{
	struct yx_doc d;
	int rc;

	rc = yx_load(&d, path, &cat->arena, 0, e);
	if (rc == 0)
		rc = load_doc(cat, &d, e);
	yx_free(&d);
	return rc;
}

int sc_load_string(struct sc_catalog *cat, const char *name, const char *yaml, struct perr *e)
{
	struct yx_doc d;
	int rc;

	rc = yx_load_string(&d, name, yaml, &cat->arena, 0, e);
	if (rc == 0)
		rc = load_doc(cat, &d, e);
	yx_free(&d);
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int sc_load_dir(struct sc_catalog *cat, const char *dir, struct perr *e)
{
	struct stat st;
	DIR *dh;
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0, i;
	int rc = 0;

	if (stat(dir, &st) < 0)
		return perr_errno(e, "%s", dir);
	if (!S_ISDIR(st.st_mode))
		return sc_load_file(cat, dir, e);
	dh = opendir(dir);
	if (!dh)
		return perr_errno(e, "%s", dir);
	while ((de = readdir(dh))) {
		size_t len = strlen(de->d_name);

		if (len < 5 || strcmp(de->d_name + len - 4, ".yml") || de->d_name[0] == '.')
			continue;
		if (n == cap) {
			char **nv = realloc(names, (cap = cap ? cap * 2 : 16) * sizeof(*nv));

			if (!nv) {
				rc = perr_set(e, "out of memory");
				break;
			}
			names = nv;
		}
		if (asprintf(&names[n], "%s/%s", dir, de->d_name) < 0) {
			rc = perr_set(e, "out of memory");
			break;
		}
		n++;
	}
	closedir(dh);
	if (rc == 0) {
		qsort(names, n, sizeof(*names), cmp_str);
		if (n == 0)
			rc = perr_set(e, "%s: no scenario files (*.yml)", dir);
	}
	for (i = 0; i < n; i++) {
		if (rc == 0)
			rc = sc_load_file(cat, names[i], e);
		free(names[i]);
	}
	free(names);
	return rc;
}

void sc_catalog_free(struct sc_catalog *cat)
{
	free(cat->v);
	free(cat->clauses);
	yx_arena_free(&cat->arena);
	memset(cat, 0, sizeof(*cat));
}

const struct scenario *sc_find(const struct sc_catalog *cat, const char *id)
{
	size_t i;

	for (i = 0; i < cat->n; i++)
		if (cat->v[i].id && !strcmp(cat->v[i].id, id))
			return &cat->v[i];
	return NULL;
}

bool sc_matches(const struct scenario *s, const char *pattern)
{
	size_t i, pl = strlen(pattern);

	if (!fnmatch(pattern, s->id, 0))
		return true;
	/* "pp2/tlv" selects "pp2/tlv/..." as h2spec's section ids do. */
	if (pl && !strncmp(s->id, pattern, pl) && (pattern[pl - 1] == '/' || s->id[pl] == '/'))
		return true;
	for (i = 0; i < s->ntags; i++)
		if (!fnmatch(pattern, s->tags[i], 0))
			return true;
	return false;
}
