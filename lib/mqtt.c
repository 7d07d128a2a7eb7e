/* mqtt.c - see mqtt.h. */
#include "mqtt.h"

#include <string.h>

/* ---- names ------------------------------------------------------------- */

const char *mqtt_type_name(int type)
{
	static const char *const names[] = {
		"RESERVED", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC",
		"PUBREL", "PUBCOMP", "SUBSCRIBE", "SUBACK", "UNSUBSCRIBE",
		"UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT", "AUTH",
	};

	if (type < 0 || type > 15)
		return "RESERVED";
	return names[type];
}

const char *mqtt_reason_name(uint8_t rc)
{
	switch (rc) {
	case 0x00: return "Success";
	case 0x01: return "Granted QoS 1";
	case 0x02: return "Granted QoS 2";
	case 0x04: return "Disconnect with Will Message";
	case 0x10: return "No matching subscribers";
	case 0x11: return "No subscription existed";
	case 0x18: return "Continue authentication";
	case 0x19: return "Re-authenticate";
	case 0x80: return "Unspecified error";
	case 0x81: return "Malformed Packet";
	case 0x82: return "Protocol Error";
	case 0x83: return "Implementation specific error";
	case 0x84: return "Unsupported Protocol Version";
	case 0x85: return "Client Identifier not valid";
	case 0x86: return "Bad User Name or Password";
	case 0x87: return "Not authorized";
	case 0x88: return "Server unavailable";
	case 0x89: return "Server busy";
	case 0x8A: return "Banned";
	case 0x8B: return "Server shutting down";
	case 0x8C: return "Bad authentication method";
	case 0x8D: return "Keep Alive timeout";
	case 0x8E: return "Session taken over";
	case 0x8F: return "Topic Filter invalid";
	case 0x90: return "Topic Name invalid";
	case 0x91: return "Packet Identifier in use";
	case 0x92: return "Packet Identifier not found";
	case 0x93: return "Receive Maximum exceeded";
	case 0x94: return "Topic Alias invalid";
	case 0x95: return "Packet too large";
	case 0x96: return "Message rate too high";
	case 0x97: return "Quota exceeded";
	case 0x98: return "Administrative action";
	case 0x99: return "Payload format invalid";
	case 0x9A: return "Retain not supported";
	case 0x9B: return "QoS not supported";
	case 0x9C: return "Use another server";
	case 0x9D: return "Server moved";
	case 0x9E: return "Shared Subscriptions not supported";
	case 0x9F: return "Connection rate exceeded";
	case 0xA0: return "Maximum connect time";
	case 0xA1: return "Subscription Identifiers not supported";
	case 0xA2: return "Wildcard Subscriptions not supported";
	default: return "unknown";
	}
}

const char *mqtt_connack_name(uint8_t version, uint8_t rc)
{
	if (version >= MQTT_V5)
		return mqtt_reason_name(rc);
	switch (rc) {
	case 0: return "Connection Accepted";
	case 1: return "Connection Refused, unacceptable protocol version";
	case 2: return "Connection Refused, identifier rejected";
	case 3: return "Connection Refused, Server unavailable";
	case 4: return "Connection Refused, bad user name or password";
	case 5: return "Connection Refused, not authorized";
	default: return "unknown";
	}
}

/* ---- framing ----------------------------------------------------------- */

long mqtt_frame_size(const uint8_t *buf, size_t len)
{
	uint32_t rl = 0;
	size_t i;

	if (len < 2)
		return MQTT_NEED_MORE;
	for (i = 1; i <= 4; i++) {
		if (i >= len)
			return MQTT_NEED_MORE;
		rl |= (uint32_t)(buf[i] & 0x7F) << (7 * (i - 1));
		if (!(buf[i] & 0x80))
			break;
	}
	if (i > 4)
		return MQTT_FRAME_MALFORMED;
	return (long)(1 + i + rl);
}

long mqtt_frame(const uint8_t *buf, size_t len, size_t max_packet)
{
	long n = mqtt_frame_size(buf, len);

	if (max_packet == 0 || max_packet > MQTT_MAX_PACKET)
		max_packet = MQTT_MAX_PACKET;
	if (n <= 0)
		return n;
	if ((size_t)n > max_packet)
		return MQTT_FRAME_TOO_LARGE;
	if (len < (size_t)n)
		return MQTT_NEED_MORE;
	return n;
}

uint8_t mqtt_connect_level(const uint8_t *buf, size_t len)
{
	long n = mqtt_frame_size(buf, len);
	size_t h, name;

	if (n <= 0 || buf[0] != (MQTT_CONNECT << 4))
		return 0;
	/* the fixed header's length: 1 + Remaining Length bytes */
	for (h = 1; buf[h] & 0x80; h++)
		;
	h++;
	if (len < h + 2)
		return 0;
	name = (size_t)buf[h] << 8 | buf[h + 1];
	if (len <= h + 2 + name)
		return 0;
	if ((name == 4 && memcmp(buf + h + 2, "MQTT", 4) == 0) ||
	    (name == 6 && memcmp(buf + h + 2, "MQIsdp", 6) == 0))
		return buf[h + 2 + name];
	return 0;
}

/* ---- values ------------------------------------------------------------ */

struct mqtt_str mqtt_cstr(const char *s)
{
	struct mqtt_str r = { s, s ? strlen(s) : 0 };

	return r;
}

bool mqtt_str_eq(struct mqtt_str a, const char *s)
{
	size_t n = strlen(s);

	return a.len == n && (n == 0 || memcmp(a.p, s, n) == 0);
}

bool mqtt_utf8_valid(const void *sv, size_t len)
{
	const uint8_t *s = sv;
	size_t i = 0;

	while (i < len) {
		uint8_t c = s[i];
		uint32_t cp;
		size_t n;

		if (c == 0)
			return false;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF) {
			n = 1;
			cp = c & 0x1F;
		} else if (c >= 0xE0 && c <= 0xEF) {
			n = 2;
			cp = c & 0x0F;
		} else if (c >= 0xF0 && c <= 0xF4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return false;   /* continuation byte, 0xC0/0xC1, > 0xF4 */
		}
		if (len - i - 1 < n)
			return false;
		for (size_t k = 1; k <= n; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3F);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000))
			return false;   /* overlong */
		if (cp >= 0xD800 && cp <= 0xDFFF)
			return false;   /* surrogate */
		if (cp > 0x10FFFF)
			return false;
		i += n + 1;
	}
	return true;
}

bool mqtt_topic_name_valid(const char *s, size_t len)
{
	if (len == 0 || len > MQTT_MAX_STR)
		return false;
	if (memchr(s, '+', len) || memchr(s, '#', len))
		return false;
	return mqtt_utf8_valid(s, len);
}

bool mqtt_topic_filter_valid(const char *s, size_t len)
{
	size_t start = 0;

	if (len == 0 || len > MQTT_MAX_STR)
		return false;
	if (!mqtt_utf8_valid(s, len))
		return false;
	while (start <= len) {
		const char *slash = memchr(s + start, '/', len - start);
		size_t end = slash ? (size_t)(slash - s) : len;
		size_t ll = end - start;
		bool has_plus = memchr(s + start, '+', ll) != NULL;
		bool has_hash = memchr(s + start, '#', ll) != NULL;

		if (has_plus && ll != 1)
			return false;
		if (has_hash && (ll != 1 || end != len))
			return false;
		start = end + 1;
	}
	return true;
}

bool mqtt_topic_match(const char *filter, const char *topic)
{
	const char *fp = filter, *tp = topic;
	bool t_done = false;

	/* Wildcards at the first level never match $-topics ($SYS ...). */
	if ((filter[0] == '+' || filter[0] == '#') && topic[0] == '$')
		return false;
	for (;;) {
		size_t fl = strcspn(fp, "/");
		size_t tl;
		bool f_end, t_end;

		if (fl == 1 && fp[0] == '#')
			return true;            /* also matches the parent level */
		if (t_done)
			return false;
		tl = strcspn(tp, "/");
		if (!(fl == 1 && fp[0] == '+') &&
		    (fl != tl || memcmp(fp, tp, fl) != 0))
			return false;
		f_end = fp[fl] == '\0';
		t_end = tp[tl] == '\0';
		if (f_end)
			return t_end;
		fp += fl + 1;
		if (t_end)
			t_done = true;
		else
			tp += tl + 1;
	}
}

/* ---- reading ----------------------------------------------------------- */

#define RC_MALFORMED MQTT_RC_MALFORMED_PACKET
#define RC_PROTOCOL  MQTT_RC_PROTOCOL_ERROR

struct rd {
	const uint8_t *p;
	size_t len, pos;
	const char **why;
};

static int fail(struct rd *r, int rc, const char *why)
{
	if (r->why)
		*r->why = why;
	return rc;
}

static size_t rd_left(const struct rd *r)
{
	return r->len - r->pos;
}

static int rd_u8(struct rd *r, uint8_t *v)
{
	if (rd_left(r) < 1)
		return fail(r, RC_MALFORMED, "truncated packet");
	*v = r->p[r->pos++];
	return 0;
}

static int rd_u16(struct rd *r, uint16_t *v)
{
	if (rd_left(r) < 2)
		return fail(r, RC_MALFORMED, "truncated packet");
	*v = (uint16_t)(r->p[r->pos] << 8 | r->p[r->pos + 1]);
	r->pos += 2;
	return 0;
}

/* A packet identifier: present and non-zero wherever one is read. */
static int rd_id(struct rd *r, uint16_t *id)
{
	int rc = rd_u16(r, id);

	if (!rc && *id == 0)
		rc = fail(r, RC_PROTOCOL, "packet identifier 0");
	return rc;
}

static int rd_u32(struct rd *r, uint32_t *v)
{
	if (rd_left(r) < 4)
		return fail(r, RC_MALFORMED, "truncated packet");
	*v = (uint32_t)r->p[r->pos] << 24 | (uint32_t)r->p[r->pos + 1] << 16 |
	     (uint32_t)r->p[r->pos + 2] << 8 | r->p[r->pos + 3];
	r->pos += 4;
	return 0;
}

static int rd_varint(struct rd *r, uint32_t *v)
{
	uint32_t val = 0;

	for (int i = 0; i < 4; i++) {
		uint8_t b;

		if (rd_left(r) < 1)
			return fail(r, RC_MALFORMED, "truncated variable byte integer");
		b = r->p[r->pos++];
		val |= (uint32_t)(b & 0x7F) << (7 * i);
		if (!(b & 0x80)) {
			*v = val;
			return 0;
		}
	}
	return fail(r, RC_MALFORMED, "variable byte integer longer than 4 bytes");
}

/* Binary data: 2-byte length then bytes. */
static int rd_bin(struct rd *r, struct mqtt_str *s)
{
	uint16_t n;
	int rc = rd_u16(r, &n);

	if (rc)
		return rc;
	if (rd_left(r) < n)
		return fail(r, RC_MALFORMED, "string runs past the packet");
	s->p = (const char *)r->p + r->pos;
	s->len = n;
	r->pos += n;
	return 0;
}

static int rd_utf8(struct rd *r, struct mqtt_str *s)
{
	int rc = rd_bin(r, s);

	if (rc)
		return rc;
	if (!mqtt_utf8_valid(s->p, s->len))
		return fail(r, RC_MALFORMED, "invalid UTF-8 string");
	return 0;
}

/* ---- properties -------------------------------------------------------- */

enum ptype { PT_NONE = 0, PT_BYTE, PT_U16, PT_U32, PT_VARINT, PT_STR, PT_BIN, PT_PAIR };

#define CTX(t) (1u << (t))
#define C_WILL CTX(MQTT_PROPS_WILL)
#define C_ALL  (CTX(MQTT_CONNECT) | CTX(MQTT_CONNACK) | CTX(MQTT_PUBLISH) | C_WILL | \
		CTX(MQTT_PUBACK) | CTX(MQTT_PUBREC) | CTX(MQTT_PUBREL) | CTX(MQTT_PUBCOMP) | \
		CTX(MQTT_SUBSCRIBE) | CTX(MQTT_SUBACK) | CTX(MQTT_UNSUBSCRIBE) | \
		CTX(MQTT_UNSUBACK) | CTX(MQTT_DISCONNECT) | CTX(MQTT_AUTH))

struct pdef {
	uint8_t type;
	uint32_t ctx;     /* where the property is allowed */
};

static const struct pdef pdefs[0x2B] = {
	[0x01] = { PT_BYTE, CTX(MQTT_PUBLISH) | C_WILL },
	[0x02] = { PT_U32, CTX(MQTT_PUBLISH) | C_WILL },
	[0x03] = { PT_STR, CTX(MQTT_PUBLISH) | C_WILL },
	[0x08] = { PT_STR, CTX(MQTT_PUBLISH) | C_WILL },
	[0x09] = { PT_BIN, CTX(MQTT_PUBLISH) | C_WILL },
	[0x0B] = { PT_VARINT, CTX(MQTT_PUBLISH) | CTX(MQTT_SUBSCRIBE) },
	[0x11] = { PT_U32, CTX(MQTT_CONNECT) | CTX(MQTT_CONNACK) | CTX(MQTT_DISCONNECT) },
	[0x12] = { PT_STR, CTX(MQTT_CONNACK) },
	[0x13] = { PT_U16, CTX(MQTT_CONNACK) },
	[0x15] = { PT_STR, CTX(MQTT_CONNECT) | CTX(MQTT_CONNACK) | CTX(MQTT_AUTH) },
	[0x16] = { PT_BIN, CTX(MQTT_CONNECT) | CTX(MQTT_CONNACK) | CTX(MQTT_AUTH) },
	[0x17] = { PT_BYTE, CTX(MQTT_CONNECT) },
	[0x18] = { PT_U32, C_WILL },
	[0x19] = { PT_BYTE, CTX(MQTT_CONNECT) },
	[0x1A] = { PT_STR, CTX(MQTT_CONNACK) },
	[0x1C] = { PT_STR, CTX(MQTT_CONNACK) | CTX(MQTT_DISCONNECT) },
	[0x1F] = { PT_STR, CTX(MQTT_CONNACK) | CTX(MQTT_PUBACK) | CTX(MQTT_PUBREC) |
		   CTX(MQTT_PUBREL) | CTX(MQTT_PUBCOMP) | CTX(MQTT_SUBACK) |
		   CTX(MQTT_UNSUBACK) | CTX(MQTT_DISCONNECT) | CTX(MQTT_AUTH) },
	[0x21] = { PT_U16, CTX(MQTT_CONNECT) | CTX(MQTT_CONNACK) },
	[0x22] = { PT_U16, CTX(MQTT_CONNECT) | CTX(MQTT_CONNACK) },
	[0x23] = { PT_U16, CTX(MQTT_PUBLISH) },
	[0x24] = { PT_BYTE, CTX(MQTT_CONNACK) },
	[0x25] = { PT_BYTE, CTX(MQTT_CONNACK) },
	[0x26] = { PT_PAIR, C_ALL },
	[0x27] = { PT_U32, CTX(MQTT_CONNECT) | CTX(MQTT_CONNACK) },
	[0x28] = { PT_BYTE, CTX(MQTT_CONNACK) },
	[0x29] = { PT_BYTE, CTX(MQTT_CONNACK) },
	[0x2A] = { PT_BYTE, CTX(MQTT_CONNACK) },
};

static const struct pdef *pdef_get(uint32_t id)
{
	if (id >= sizeof(pdefs) / sizeof(pdefs[0]) || pdefs[id].type == PT_NONE)
		return NULL;
	return &pdefs[id];
}

/* Store a decoded scalar / string into its field. */
static int prop_store(struct rd *r, struct mqtt_props *pr, uint32_t id,
		      uint32_t num, struct mqtt_str s)
{
	switch (id) {
	case 0x01: pr->payload_format = (uint8_t)num; break;
	case 0x02: pr->message_expiry = num; break;
	case 0x03: pr->content_type = s; break;
	case 0x08: pr->response_topic = s; break;
	case 0x09: pr->correlation_data = s; break;
	case 0x11: pr->session_expiry = num; break;
	case 0x12: pr->assigned_client_id = s; break;
	case 0x13: pr->server_keepalive = (uint16_t)num; break;
	case 0x15: pr->auth_method = s; break;
	case 0x16: pr->auth_data = s; break;
	case 0x17: pr->request_problem_info = (uint8_t)num; break;
	case 0x18: pr->will_delay = num; break;
	case 0x19: pr->request_response_info = (uint8_t)num; break;
	case 0x1A: pr->response_info = s; break;
	case 0x1C: pr->server_reference = s; break;
	case 0x1F: pr->reason_string = s; break;
	case 0x21: pr->receive_maximum = (uint16_t)num; break;
	case 0x22: pr->topic_alias_maximum = (uint16_t)num; break;
	case 0x23: pr->topic_alias = (uint16_t)num; break;
	case 0x24: pr->maximum_qos = (uint8_t)num; break;
	case 0x25: pr->retain_available = (uint8_t)num; break;
	case 0x27: pr->maximum_packet_size = num; break;
	case 0x28: pr->wildcard_sub_available = (uint8_t)num; break;
	case 0x29: pr->sub_id_available = (uint8_t)num; break;
	case 0x2A: pr->shared_sub_available = (uint8_t)num; break;
	default: break;
	}
	/* Value ranges the spec calls a Protocol Error. */
	switch (id) {
	case 0x01: case 0x17: case 0x19: case 0x24: case 0x25:
	case 0x28: case 0x29: case 0x2A:
		if (num > 1)
			return fail(r, RC_PROTOCOL, "property value must be 0 or 1");
		break;
	case 0x21:
		if (num == 0)
			return fail(r, RC_PROTOCOL, "Receive Maximum of 0");
		break;
	case 0x27:
		if (num == 0)
			return fail(r, RC_PROTOCOL, "Maximum Packet Size of 0");
		break;
	case 0x23:
		if (num == 0)
			return fail(r, MQTT_RC_TOPIC_ALIAS_INVALID, "Topic Alias of 0");
		break;
	default:
		break;
	}
	return 0;
}

static int props_read_block(struct rd *r, int ctx, struct mqtt_props *pr)
{
	while (rd_left(r) > 0) {
		uint32_t id, num = 0;
		struct mqtt_str s = { NULL, 0 };
		const struct pdef *d;
		int rc = rd_varint(r, &id);

		if (rc)
			return rc;
		d = pdef_get(id);
		if (!d)
			return fail(r, RC_MALFORMED, "unknown property identifier");
		if (!(d->ctx & CTX(ctx)))
			return fail(r, RC_MALFORMED, "property not allowed in this packet");
		if (id != MQTT_PROP_USER_PROPERTY &&
		    !(id == MQTT_PROP_SUBSCRIPTION_IDENTIFIER && ctx == MQTT_PUBLISH) &&
		    MQTT_HAS(pr, id))
			return fail(r, RC_PROTOCOL, "property included more than once");
		switch (d->type) {
		case PT_BYTE: {
			uint8_t b;

			rc = rd_u8(r, &b);
			num = b;
			break;
		}
		case PT_U16: {
			uint16_t w;

			rc = rd_u16(r, &w);
			num = w;
			break;
		}
		case PT_U32:
			rc = rd_u32(r, &num);
			break;
		case PT_VARINT:
			rc = rd_varint(r, &num);
			if (!rc && num == 0)
				rc = fail(r, RC_PROTOCOL, "Subscription Identifier of 0");
			break;
		case PT_STR:
			rc = rd_utf8(r, &s);
			break;
		case PT_BIN:
			rc = rd_bin(r, &s);
			break;
		case PT_PAIR: {
			struct mqtt_str v;

			rc = rd_utf8(r, &s);
			if (!rc)
				rc = rd_utf8(r, &v);
			if (!rc)
				pr->n_user++;
			break;
		}
		default:
			break;
		}
		if (rc)
			return rc;
		if (id == MQTT_PROP_SUBSCRIPTION_IDENTIFIER) {
			if (pr->n_sub_ids < MQTT_MAX_SUB_IDS)
				pr->sub_ids[pr->n_sub_ids++] = num;
		} else if (id != MQTT_PROP_USER_PROPERTY) {
			rc = prop_store(r, pr, id, num, s);
			if (rc)
				return rc;
		}
		MQTT_PROP_SET(pr, id);
	}
	return 0;
}

int mqtt_props_decode(const uint8_t *raw, size_t len, int ctx,
		      struct mqtt_props *out, const char **why)
{
	struct rd r = { raw, len, 0, why };
	int rc;

	memset(out, 0, sizeof(*out));
	out->raw = raw;
	out->raw_len = len;
	rc = props_read_block(&r, ctx, out);
	if (!rc && MQTT_HAS(out, MQTT_PROP_AUTHENTICATION_DATA) &&
	    !MQTT_HAS(out, MQTT_PROP_AUTHENTICATION_METHOD))
		rc = fail(&r, RC_PROTOCOL, "Authentication Data without Authentication Method");
	return rc;
}

/* Read a length-prefixed property block at the reader's position. */
static int rd_props(struct rd *r, int ctx, struct mqtt_props *pr)
{
	uint32_t plen;
	int rc = rd_varint(r, &plen);

	if (rc)
		return rc;
	if (rd_left(r) < plen)
		return fail(r, RC_MALFORMED, "properties run past the packet");
	rc = mqtt_props_decode(r->p + r->pos, plen, ctx, pr, r->why);
	r->pos += plen;
	return rc;
}

bool mqtt_props_user_next(const struct mqtt_props *pr, size_t *pos,
			  struct mqtt_user_prop *out)
{
	struct rd r = { pr->raw, pr->raw_len, *pos, NULL };

	if (!pr->raw)
		return false;
	/* The block was validated by mqtt_props_decode: skip what is not a
	 * user property, stop defensively on anything odd. */
	while (rd_left(&r) > 0) {
		uint32_t id, num;
		uint8_t b;
		uint16_t w;
		struct mqtt_str s;
		const struct pdef *d;

		if (rd_varint(&r, &id) || !(d = pdef_get(id)))
			return false;
		switch (d->type) {
		case PT_BYTE: if (rd_u8(&r, &b)) return false; break;
		case PT_U16: if (rd_u16(&r, &w)) return false; break;
		case PT_U32: if (rd_u32(&r, &num)) return false; break;
		case PT_VARINT: if (rd_varint(&r, &num)) return false; break;
		case PT_STR: case PT_BIN: if (rd_bin(&r, &s)) return false; break;
		case PT_PAIR:
			if (rd_bin(&r, &out->key) || rd_bin(&r, &out->val))
				return false;
			*pos = r.pos;
			return true;
		default:
			return false;
		}
	}
	*pos = r.pos;
	return false;
}

/* ---- decoding ---------------------------------------------------------- */

static bool rc_allowed(const uint8_t *set, size_t n, uint8_t rc)
{
	return memchr(set, rc, n) != NULL;
}

static const uint8_t rc_connack[] = { 0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85,
	0x86, 0x87, 0x88, 0x89, 0x8A, 0x8C, 0x90, 0x95, 0x97, 0x99, 0x9A, 0x9B,
	0x9C, 0x9D, 0x9F };
static const uint8_t rc_puback[] = { 0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91,
	0x97, 0x99 };
static const uint8_t rc_pubrel[] = { 0x00, 0x92 };
static const uint8_t rc_suback[] = { 0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F,
	0x91, 0x97, 0x9E, 0xA1, 0xA2 };
static const uint8_t rc_suback_v3[] = { 0x00, 0x01, 0x02, 0x80 };
static const uint8_t rc_unsuback[] = { 0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91 };
static const uint8_t rc_disconnect[] = { 0x00, 0x04, 0x80, 0x81, 0x82, 0x83,
	0x87, 0x89, 0x8B, 0x8D, 0x8E, 0x8F, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97,
	0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2 };
static const uint8_t rc_auth[] = { 0x00, 0x18, 0x19 };

#define RCSET(a) (a), sizeof(a)

static int dec_connect(struct rd *r, struct mqtt_connect *c)
{
	uint8_t flags;
	int rc;

	c->version = 0;
	rc = rd_utf8(r, &c->protocol_name);
	if (!rc)
		rc = rd_u8(r, &c->version);
	if (rc) {
		c->version = 0;
		return rc;
	}
	if (mqtt_str_eq(c->protocol_name, "MQIsdp")) {
		if (c->version == MQTT_V31)
			return fail(r, MQTT_RC_UNSUPPORTED_PROTOCOL_VERSION,
				    "MQTT 3.1 (MQIsdp) is not supported");
		c->version = 0;
		return fail(r, RC_MALFORMED, "protocol name MQIsdp with a level other than 3");
	}
	if (!mqtt_str_eq(c->protocol_name, "MQTT")) {
		c->version = 0;
		return fail(r, RC_MALFORMED, "protocol name is not MQTT");
	}
	if (c->version != MQTT_V311 && c->version != MQTT_V5)
		return fail(r, MQTT_RC_UNSUPPORTED_PROTOCOL_VERSION,
			    "unsupported protocol level");
	rc = rd_u8(r, &flags);
	if (rc)
		return rc;
	if (flags & 0x01)
		return fail(r, RC_MALFORMED, "CONNECT reserved flag is set");
	c->clean = flags & 0x02;
	c->will = flags & 0x04;
	c->will_qos = (flags >> 3) & 0x03;
	c->will_retain = flags & 0x20;
	c->has_password = flags & 0x40;
	c->has_username = flags & 0x80;
	if (c->will_qos == 3)
		return fail(r, RC_MALFORMED, "will QoS 3");
	if (!c->will && (c->will_qos || c->will_retain))
		return fail(r, RC_MALFORMED, "will QoS or retain set without will flag");
	if (c->version == MQTT_V311 && c->has_password && !c->has_username)
		return fail(r, RC_PROTOCOL, "password flag without user name flag");
	rc = rd_u16(r, &c->keepalive);
	if (!rc && c->version == MQTT_V5)
		rc = rd_props(r, MQTT_CONNECT, &c->props);
	if (!rc)
		rc = rd_utf8(r, &c->client_id);
	if (rc)
		return rc;
	if (c->will) {
		if (c->version == MQTT_V5)
			rc = rd_props(r, MQTT_PROPS_WILL, &c->will_props);
		if (!rc)
			rc = rd_utf8(r, &c->will_topic);
		if (!rc)
			rc = rd_bin(r, &c->will_payload);
		if (rc)
			return rc;
		if (!mqtt_topic_name_valid(c->will_topic.p, c->will_topic.len))
			return fail(r, MQTT_RC_TOPIC_NAME_INVALID, "invalid will topic");
	}
	if (c->has_username) {
		rc = rd_utf8(r, &c->username);
		if (rc)
			return rc;
	}
	if (c->has_password) {
		rc = rd_bin(r, &c->password);
		if (rc)
			return rc;
	}
	if (rd_left(r))
		return fail(r, RC_MALFORMED, "bytes after the CONNECT payload");
	return 0;
}

static int dec_connack(struct rd *r, uint8_t version, struct mqtt_connack *c)
{
	uint8_t flags;
	int rc = rd_u8(r, &flags);

	if (!rc)
		rc = rd_u8(r, &c->rc);
	if (rc)
		return rc;
	if (flags & 0xFE)
		return fail(r, RC_MALFORMED, "CONNACK reserved flags set");
	c->session_present = flags & 1;
	if (version < MQTT_V5) {
		if (rd_left(r))
			return fail(r, RC_MALFORMED, "CONNACK remaining length is not 2");
		if (c->rc > 5)
			return fail(r, RC_MALFORMED, "unknown CONNACK return code");
		return 0;
	}
	if (!rc_allowed(RCSET(rc_connack), c->rc))
		return fail(r, RC_MALFORMED, "reason code not allowed in CONNACK");
	rc = rd_props(r, MQTT_CONNACK, &c->props);
	if (!rc && rd_left(r))
		rc = fail(r, RC_MALFORMED, "bytes after the CONNACK properties");
	return rc;
}

static int dec_publish(struct rd *r, uint8_t version, uint8_t flags, struct mqtt_publish *p)
{
	int rc;

	p->qos = (flags >> 1) & 3;
	p->dup = flags & 8;
	p->retain = flags & 1;
	if (p->qos == 3)
		return fail(r, RC_MALFORMED, "PUBLISH with QoS 3");
	if (p->dup && p->qos == 0)
		return fail(r, RC_PROTOCOL, "DUP flag set on a QoS 0 PUBLISH");
	rc = rd_utf8(r, &p->topic);
	if (rc)
		return rc;
	if (p->qos > 0) {
		rc = rd_id(r, &p->id);
		if (rc)
			return rc;
	}
	if (version >= MQTT_V5) {
		rc = rd_props(r, MQTT_PUBLISH, &p->props);
		if (rc)
			return rc;
	}
	if (p->topic.len == 0) {
		if (version < MQTT_V5)
			return fail(r, MQTT_RC_TOPIC_NAME_INVALID, "empty topic name");
		if (!MQTT_HAS(&p->props, MQTT_PROP_TOPIC_ALIAS))
			return fail(r, RC_PROTOCOL, "empty topic name without Topic Alias");
	} else if (!mqtt_topic_name_valid(p->topic.p, p->topic.len)) {
		return fail(r, MQTT_RC_TOPIC_NAME_INVALID, "wildcard in topic name");
	}
	p->payload = r->p + r->pos;
	p->payload_len = rd_left(r);
	r->pos = r->len;
	return 0;
}

static int dec_ack(struct rd *r, uint8_t version, enum mqtt_type t, struct mqtt_ack *a)
{
	int rc = rd_id(r, &a->id);

	if (rc)
		return rc;
	if (version < MQTT_V5) {
		if (rd_left(r))
			return fail(r, RC_MALFORMED, "remaining length is not 2");
		return 0;
	}
	if (!rd_left(r))
		return 0;
	rc = rd_u8(r, &a->rc);
	if (rc)
		return rc;
	if ((t == MQTT_PUBACK || t == MQTT_PUBREC) ? !rc_allowed(RCSET(rc_puback), a->rc)
						   : !rc_allowed(RCSET(rc_pubrel), a->rc))
		return fail(r, RC_MALFORMED, "reason code not allowed in this packet");
	if (!rd_left(r))
		return 0;
	rc = rd_props(r, t, &a->props);
	if (!rc && rd_left(r))
		rc = fail(r, RC_MALFORMED, "bytes after the properties");
	return rc;
}

static int dec_sub_entry(struct rd *r, uint8_t version, struct mqtt_sub *s)
{
	uint8_t o;
	int rc = rd_utf8(r, &s->filter);

	if (!rc)
		rc = rd_u8(r, &o);
	if (rc)
		return rc;
	s->qos = o & 3;
	s->no_local = o & 4;
	s->retain_as_published = o & 8;
	s->retain_handling = (o >> 4) & 3;
	if (s->qos == 3)
		return fail(r, RC_MALFORMED, "subscription QoS 3");
	if (version < MQTT_V5) {
		if (o & 0xFC)
			return fail(r, RC_MALFORMED, "subscription options reserved bits set");
		s->no_local = s->retain_as_published = false;
		s->retain_handling = 0;
		return 0;
	}
	if (o & 0xC0)
		return fail(r, RC_MALFORMED, "subscription options reserved bits set");
	if (s->retain_handling == 3)
		return fail(r, RC_PROTOCOL, "retain handling 3");
	return 0;
}

static int dec_subscribe(struct rd *r, uint8_t version, struct mqtt_subscribe *s)
{
	int rc = rd_id(r, &s->id);

	if (rc)
		return rc;
	if (version >= MQTT_V5) {
		rc = rd_props(r, MQTT_SUBSCRIBE, &s->props);
		if (rc)
			return rc;
	}
	s->raw = r->p + r->pos;
	s->raw_len = rd_left(r);
	while (rd_left(r)) {
		struct mqtt_sub e;

		rc = dec_sub_entry(r, version, &e);
		if (rc)
			return rc;
		s->n++;
	}
	if (s->n == 0)
		return fail(r, RC_PROTOCOL, "SUBSCRIBE without any topic filter");
	return 0;
}

static int dec_unsubscribe(struct rd *r, uint8_t version, struct mqtt_unsubscribe *u)
{
	int rc = rd_id(r, &u->id);

	if (rc)
		return rc;
	if (version >= MQTT_V5) {
		rc = rd_props(r, MQTT_UNSUBSCRIBE, &u->props);
		if (rc)
			return rc;
	}
	u->raw = r->p + r->pos;
	u->raw_len = rd_left(r);
	while (rd_left(r)) {
		struct mqtt_str f;

		rc = rd_utf8(r, &f);
		if (rc)
			return rc;
		u->n++;
	}
	if (u->n == 0)
		return fail(r, RC_PROTOCOL, "UNSUBSCRIBE without any topic filter");
	return 0;
}

static int dec_suback(struct rd *r, uint8_t version, enum mqtt_type t, struct mqtt_suback *s)
{
	int rc = rd_id(r, &s->id);

	if (rc)
		return rc;
	if (t == MQTT_UNSUBACK && version < MQTT_V5) {
		if (rd_left(r))
			return fail(r, RC_MALFORMED, "UNSUBACK remaining length is not 2");
		return 0;
	}
	if (version >= MQTT_V5) {
		rc = rd_props(r, t, &s->props);
		if (rc)
			return rc;
	}
	s->rcs = r->p + r->pos;
	s->n = rd_left(r);
	if (s->n == 0)
		return fail(r, RC_PROTOCOL, "acknowledgement without any code");
	for (size_t i = 0; i < s->n; i++) {
		bool ok;

		if (t == MQTT_UNSUBACK)
			ok = rc_allowed(RCSET(rc_unsuback), s->rcs[i]);
		else if (version < MQTT_V5)
			ok = rc_allowed(RCSET(rc_suback_v3), s->rcs[i]);
		else
			ok = rc_allowed(RCSET(rc_suback), s->rcs[i]);
		if (!ok)
			return fail(r, RC_MALFORMED, "return code not allowed in this packet");
	}
	r->pos = r->len;
	return 0;
}

static int dec_disconnect(struct rd *r, uint8_t version, enum mqtt_type t,
			  struct mqtt_disconnect *d)
{
	int rc;

	if (version < MQTT_V5) {
		if (t == MQTT_AUTH)
			return fail(r, RC_MALFORMED, "reserved packet type 15");
		if (rd_left(r))
			return fail(r, RC_MALFORMED, "DISCONNECT remaining length is not 0");
		return 0;
	}
	if (!rd_left(r))
		return 0;
	rc = rd_u8(r, &d->rc);
	if (rc)
		return rc;
	if (t == MQTT_AUTH ? !rc_allowed(RCSET(rc_auth), d->rc)
			   : !rc_allowed(RCSET(rc_disconnect), d->rc))
		return fail(r, RC_MALFORMED, "reason code not allowed in this packet");
	if (!rd_left(r))
		return 0;
	rc = rd_props(r, t, &d->props);
	if (!rc && rd_left(r))
		rc = fail(r, RC_MALFORMED, "bytes after the properties");
	return rc;
}

int mqtt_decode(const uint8_t *buf, size_t len, uint8_t version,
		struct mqtt_pkt *p, const char **why)
{
	struct rd r = { buf, len, 0, why };
	uint32_t rl;
	uint8_t b0;
	int rc;

	memset(p, 0, sizeof(*p));
	if (why)
		*why = NULL;
	rc = rd_u8(&r, &b0);
	if (!rc)
		rc = rd_varint(&r, &rl);
	if (rc)
		return rc;
	if (rl != rd_left(&r))
		return fail(&r, RC_MALFORMED, "remaining length does not match the packet");
	p->type = (enum mqtt_type)(b0 >> 4);
	p->flags = b0 & 0x0F;

	switch (p->type) {
	case MQTT_PUBLISH:
		break;
	case MQTT_PUBREL:
	case MQTT_SUBSCRIBE:
	case MQTT_UNSUBSCRIBE:
		if (p->flags != 0x02)
			return fail(&r, RC_MALFORMED, "fixed header flags must be 0010");
		break;
	case MQTT_CONNECT: case MQTT_CONNACK: case MQTT_PUBACK: case MQTT_PUBREC:
	case MQTT_PUBCOMP: case MQTT_SUBACK: case MQTT_UNSUBACK: case MQTT_PINGREQ:
	case MQTT_PINGRESP: case MQTT_DISCONNECT: case MQTT_AUTH:
		if (p->flags != 0)
			return fail(&r, RC_MALFORMED, "fixed header flags must be 0000");
		break;
	default:
		return fail(&r, RC_MALFORMED, "reserved packet type 0");
	}

	switch (p->type) {
	case MQTT_CONNECT:
		return dec_connect(&r, &p->connect);
	case MQTT_CONNACK:
		return dec_connack(&r, version, &p->connack);
	case MQTT_PUBLISH:
		return dec_publish(&r, version, p->flags, &p->publish);
	case MQTT_PUBACK: case MQTT_PUBREC: case MQTT_PUBREL: case MQTT_PUBCOMP:
		return dec_ack(&r, version, p->type, &p->ack);
	case MQTT_SUBSCRIBE:
		return dec_subscribe(&r, version, &p->subscribe);
	case MQTT_UNSUBSCRIBE:
		return dec_unsubscribe(&r, version, &p->unsubscribe);
	case MQTT_SUBACK: case MQTT_UNSUBACK:
		return dec_suback(&r, version, p->type, &p->suback);
	case MQTT_PINGREQ: case MQTT_PINGRESP:
		if (rl != 0)
			return fail(&r, RC_MALFORMED, "PINGREQ/PINGRESP remaining length is not 0");
		return 0;
	case MQTT_DISCONNECT: case MQTT_AUTH:
		return dec_disconnect(&r, version, p->type, &p->disconnect);
	}
	return fail(&r, RC_MALFORMED, "reserved packet type");
}

bool mqtt_subscribe_next(const struct mqtt_subscribe *s, size_t *pos, struct mqtt_sub *out)
{
	struct rd r = { s->raw, s->raw_len, *pos, NULL };

	if (!s->raw || rd_left(&r) == 0)
		return false;
	/* Validated by mqtt_decode; the version only changes which bits are
	 * kept, and 3.1.1 entries have the 5.0-only bits at zero. */
	if (dec_sub_entry(&r, MQTT_V5, out))
		return false;
	*pos = r.pos;
	return true;
}

bool mqtt_unsubscribe_next(const struct mqtt_unsubscribe *u, size_t *pos, struct mqtt_str *out)
{
	struct rd r = { u->raw, u->raw_len, *pos, NULL };

	if (!u->raw || rd_left(&r) == 0)
		return false;
	if (rd_bin(&r, out))
		return false;
	*pos = r.pos;
	return true;
}

/* ---- encoding ---------------------------------------------------------- */

/* Writes while there is room, always counts: a NULL buffer measures. */
struct wr {
	uint8_t *buf;
	size_t cap, pos;
	bool bad;
};

static void wr_bytes(struct wr *w, const void *p, size_t n)
{
	if (n && w->buf && w->pos <= w->cap && n <= w->cap - w->pos)
		memcpy(w->buf + w->pos, p, n);
	w->pos += n;
}

static void wr_u8(struct wr *w, uint8_t v)
{
	wr_bytes(w, &v, 1);
}

static void wr_u16(struct wr *w, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	wr_bytes(w, b, 2);
}

static void wr_u32(struct wr *w, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };

	wr_bytes(w, b, 4);
}

static void wr_varint(struct wr *w, size_t v)
{
	if (v > MQTT_MAX_REMAINING) {
		w->bad = true;
		return;
	}
	do {
		uint8_t b = v & 0x7F;

		v >>= 7;
		if (v)
			b |= 0x80;
		wr_u8(w, b);
	} while (v);
}

static size_t varint_len(size_t v)
{
	return v < 128 ? 1 : v < 16384 ? 2 : v < 2097152 ? 3 : 4;
}

static void wr_str(struct wr *w, struct mqtt_str s)
{
	if (s.len > MQTT_MAX_STR) {
		w->bad = true;
		return;
	}
	wr_u16(w, (uint16_t)s.len);
	wr_bytes(w, s.p, s.len);
}

static void wr_props_body(struct wr *w, const struct mqtt_props *pr)
{
	for (uint32_t id = 1; id < sizeof(pdefs) / sizeof(pdefs[0]); id++) {
		const struct pdef *d = pdef_get(id);
		struct mqtt_str s = { NULL, 0 };
		uint32_t num = 0;

		if (!d)
			continue;
		if (id == MQTT_PROP_SUBSCRIPTION_IDENTIFIER) {
			unsigned n = pr->n_sub_ids > MQTT_MAX_SUB_IDS ? MQTT_MAX_SUB_IDS : pr->n_sub_ids;

			for (unsigned i = 0; i < n; i++) {
				wr_u8(w, (uint8_t)id);
				wr_varint(w, pr->sub_ids[i]);
			}
			continue;
		}
		if (id == MQTT_PROP_USER_PROPERTY) {
			if (pr->user) {
				for (size_t i = 0; i < pr->n_user; i++) {
					wr_u8(w, (uint8_t)id);
					wr_str(w, pr->user[i].key);
					wr_str(w, pr->user[i].val);
				}
			} else {
				struct mqtt_user_prop up;
				size_t pos = 0;

				while (mqtt_props_user_next(pr, &pos, &up)) {
					wr_u8(w, (uint8_t)id);
					wr_str(w, up.key);
					wr_str(w, up.val);
				}
			}
			continue;
		}
		if (!MQTT_HAS(pr, id))
			continue;
		switch (id) {
		case 0x01: num = pr->payload_format; break;
		case 0x02: num = pr->message_expiry; break;
		case 0x03: s = pr->content_type; break;
		case 0x08: s = pr->response_topic; break;
		case 0x09: s = pr->correlation_data; break;
		case 0x11: num = pr->session_expiry; break;
		case 0x12: s = pr->assigned_client_id; break;
		case 0x13: num = pr->server_keepalive; break;
		case 0x15: s = pr->auth_method; break;
		case 0x16: s = pr->auth_data; break;
		case 0x17: num = pr->request_problem_info; break;
		case 0x18: num = pr->will_delay; break;
		case 0x19: num = pr->request_response_info; break;
		case 0x1A: s = pr->response_info; break;
		case 0x1C: s = pr->server_reference; break;
		case 0x1F: s = pr->reason_string; break;
		case 0x21: num = pr->receive_maximum; break;
		case 0x22: num = pr->topic_alias_maximum; break;
		case 0x23: num = pr->topic_alias; break;
		case 0x24: num = pr->maximum_qos; break;
		case 0x25: num = pr->retain_available; break;
		case 0x27: num = pr->maximum_packet_size; break;
		case 0x28: num = pr->wildcard_sub_available; break;
		case 0x29: num = pr->sub_id_available; break;
		case 0x2A: num = pr->shared_sub_available; break;
		default: break;
		}
		wr_u8(w, (uint8_t)id);
		switch (d->type) {
		case PT_BYTE: wr_u8(w, (uint8_t)num); break;
		case PT_U16: wr_u16(w, (uint16_t)num); break;
		case PT_U32: wr_u32(w, num); break;
		case PT_VARINT: wr_varint(w, num); break;
		default: wr_str(w, s); break;
		}
	}
}

static size_t props_len(const struct mqtt_props *pr, bool *bad)
{
	struct wr m = { NULL, 0, 0, false };

	wr_props_body(&m, pr);
	if (m.bad)
		*bad = true;
	return m.pos;
}

static bool props_empty(const struct mqtt_props *pr)
{
	bool bad = false;

	return props_len(pr, &bad) == 0;
}

static void wr_props(struct wr *w, const struct mqtt_props *pr)
{
	wr_varint(w, props_len(pr, &w->bad));
	wr_props_body(w, pr);
}

static void enc_connect(struct wr *w, const struct mqtt_connect *c)
{
	struct mqtt_str name = c->protocol_name;
	uint8_t flags = 0;
	bool v5 = c->version >= MQTT_V5;

	if (!name.p)
		name = mqtt_cstr(c->version == MQTT_V31 ? "MQIsdp" : "MQTT");
	if (c->will_qos > 2)
		w->bad = true;
	flags |= c->clean ? 0x02 : 0;
	if (c->will) {
		flags |= 0x04 | (uint8_t)((c->will_qos & 3) << 3);
		flags |= c->will_retain ? 0x20 : 0;
	}
	flags |= c->has_password ? 0x40 : 0;
	flags |= c->has_username ? 0x80 : 0;
	wr_str(w, name);
	wr_u8(w, c->version);
	wr_u8(w, flags);
	wr_u16(w, c->keepalive);
	if (v5)
		wr_props(w, &c->props);
	wr_str(w, c->client_id);
	if (c->will) {
		if (v5)
			wr_props(w, &c->will_props);
		wr_str(w, c->will_topic);
		wr_str(w, c->will_payload);
	}
	if (c->has_username)
		wr_str(w, c->username);
	if (c->has_password)
		wr_str(w, c->password);
}

/* 5.0 acks / DISCONNECT / AUTH: code and properties only when needed. */
static void wr_rc_props(struct wr *w, uint8_t version, uint8_t rc, const struct mqtt_props *pr)
{
	if (version < MQTT_V5)
		return;
	bool empty = props_empty(pr);

	if (rc == 0 && empty)
		return;
	wr_u8(w, rc);
	if (!empty)
		wr_props(w, pr);
}

static void enc_body(struct wr *w, const struct mqtt_pkt *p, uint8_t version, uint8_t *flags)
{
	bool v5 = version >= MQTT_V5;

	*flags = 0;
	switch (p->type) {
	case MQTT_CONNECT:
		enc_connect(w, &p->connect);
		break;
	case MQTT_CONNACK:
		wr_u8(w, p->connack.session_present ? 1 : 0);
		wr_u8(w, p->connack.rc);
		if (v5)
			wr_props(w, &p->connack.props);
		break;
	case MQTT_PUBLISH: {
		const struct mqtt_publish *pb = &p->publish;

		if (pb->qos > 2)
			w->bad = true;
		*flags = (uint8_t)((pb->dup ? 8 : 0) | (pb->qos & 3) << 1 | (pb->retain ? 1 : 0));
		wr_str(w, pb->topic);
		if (pb->qos > 0)
			wr_u16(w, pb->id);
		if (v5)
			wr_props(w, &pb->props);
		wr_bytes(w, pb->payload, pb->payload_len);
		break;
	}
	case MQTT_PUBREL:
		*flags = 2;
		/* fall through */
	case MQTT_PUBACK: case MQTT_PUBREC: case MQTT_PUBCOMP:
		wr_u16(w, p->ack.id);
		wr_rc_props(w, version, p->ack.rc, &p->ack.props);
		break;
	case MQTT_SUBSCRIBE: {
		const struct mqtt_subscribe *s = &p->subscribe;

		*flags = 2;
		wr_u16(w, s->id);
		if (v5)
			wr_props(w, &s->props);
		for (size_t i = 0, pos = 0; i < s->n; i++) {
			struct mqtt_sub dec;
			const struct mqtt_sub *e = &dec;
			uint8_t o;

			if (s->subs)
				e = &s->subs[i];
			else if (!mqtt_subscribe_next(s, &pos, &dec))
				break;
			o = e->qos & 3;

			if (v5)
				o |= (uint8_t)((e->no_local ? 4 : 0) | (e->retain_as_published ? 8 : 0) |
					       (e->retain_handling & 3) << 4);
			wr_str(w, e->filter);
			wr_u8(w, o);
		}
		break;
	}
	case MQTT_UNSUBSCRIBE: {
		const struct mqtt_unsubscribe *u = &p->unsubscribe;

		*flags = 2;
		wr_u16(w, u->id);
		if (v5)
			wr_props(w, &u->props);
		for (size_t i = 0, pos = 0; i < u->n; i++) {
			struct mqtt_str f;

			if (u->filters)
				f = u->filters[i];
			else if (!mqtt_unsubscribe_next(u, &pos, &f))
				break;
			wr_str(w, f);
		}
		break;
	}
	case MQTT_SUBACK: case MQTT_UNSUBACK:
		wr_u16(w, p->suback.id);
		if (p->type == MQTT_UNSUBACK && !v5)
			break;
		if (v5)
			wr_props(w, &p->suback.props);
		wr_bytes(w, p->suback.rcs, p->suback.n);
		break;
	case MQTT_PINGREQ: case MQTT_PINGRESP:
		break;
	case MQTT_DISCONNECT: case MQTT_AUTH:
		wr_rc_props(w, version, p->disconnect.rc, &p->disconnect.props);
		break;
	default:
		w->bad = true;
		break;
	}
}

long mqtt_encode(const struct mqtt_pkt *p, uint8_t version, uint8_t *buf, size_t cap)
{
	struct wr m = { NULL, 0, 0, false };
	struct wr w = { buf, cap, 0, false };
	uint8_t flags;
	size_t total;

	if (p->type == MQTT_CONNECT)
		version = p->connect.version;
	enc_body(&m, p, version, &flags);
	if (m.bad || m.pos > MQTT_MAX_REMAINING)
		return -1;
	total = 1 + varint_len(m.pos) + m.pos;
	if (total > cap || !buf)
		return (long)total;
	wr_u8(&w, (uint8_t)(p->type << 4 | flags));
	wr_varint(&w, m.pos);
	enc_body(&w, p, version, &flags);
	return (long)total;
}

/* ---- client helpers ---------------------------------------------------- */

long mqtt_build_connect(uint8_t *buf, size_t cap, uint8_t version,
			const char *client_id, const char *username,
			const char *password, uint16_t keepalive, bool clean)
{
	struct mqtt_pkt p;

	if (version != MQTT_V311 && version != MQTT_V5)
		return -1;
	memset(&p, 0, sizeof(p));
	p.type = MQTT_CONNECT;
	p.connect.version = version;
	p.connect.clean = clean;
	p.connect.keepalive = keepalive;
	p.connect.client_id = mqtt_cstr(client_id ? client_id : "");
	if (username) {
		p.connect.has_username = true;
		p.connect.username = mqtt_cstr(username);
	}
	if (password) {
		p.connect.has_password = true;
		p.connect.password = mqtt_cstr(password);
	}
	return mqtt_encode(&p, version, buf, cap);
}

long mqtt_parse_connack(const uint8_t *buf, size_t len, uint8_t version,
			bool *session_present, uint8_t *rc)
{
	struct mqtt_pkt p;
	long n = mqtt_frame(buf, len, 0);

	if (n == MQTT_NEED_MORE && len >= 1 && buf[0] != (MQTT_CONNACK << 4))
		return -1;      /* decided by the first byte already */
	if (n <= 0)
		return n == MQTT_NEED_MORE ? MQTT_NEED_MORE : -1;
	if (buf[0] != (MQTT_CONNACK << 4))
		return -1;
	if (mqtt_decode(buf, (size_t)n, version, &p, NULL) != 0)
		return -1;
	if (session_present)
		*session_present = p.connack.session_present;
	if (rc)
		*rc = p.connack.rc;
	return n;
}

long mqtt_build_publish(uint8_t *buf, size_t cap, uint8_t version,
			const char *topic, const void *payload, size_t len,
			uint8_t qos, bool retain, uint16_t id)
{
	struct mqtt_pkt p;

	memset(&p, 0, sizeof(p));
	p.type = MQTT_PUBLISH;
	p.publish.topic = mqtt_cstr(topic);
	p.publish.payload = payload;
	p.publish.payload_len = len;
	p.publish.qos = qos;
	p.publish.retain = retain;
	p.publish.id = id;
	return mqtt_encode(&p, version, buf, cap);
}

long mqtt_build_disconnect(uint8_t *buf, size_t cap, uint8_t version, uint8_t reason)
{
	struct mqtt_pkt p;

	memset(&p, 0, sizeof(p));
	p.type = MQTT_DISCONNECT;
	p.disconnect.rc = reason;
	return mqtt_encode(&p, version, buf, cap);
}

long mqtt_build_pingreq(uint8_t *buf, size_t cap)
{
	struct mqtt_pkt p;

	memset(&p, 0, sizeof(p));
	p.type = MQTT_PINGREQ;
	return mqtt_encode(&p, MQTT_V311, buf, cap);
}

long mqtt_build_subscribe(uint8_t *buf, size_t cap, uint8_t version, uint16_t id,
			  const char *filter, uint8_t qos)
{
	struct mqtt_pkt p;
	struct mqtt_sub sub;

	memset(&p, 0, sizeof(p));
	memset(&sub, 0, sizeof(sub));
	sub.filter = mqtt_cstr(filter);
	sub.qos = qos;
	p.type = MQTT_SUBSCRIBE;
	p.subscribe.id = id;
	p.subscribe.n = 1;
	p.subscribe.subs = &sub;
	return mqtt_encode(&p, version, buf, cap);
}

long mqtt_build_ack(uint8_t *buf, size_t cap, uint8_t version, enum mqtt_type type,
		    uint16_t id)
{
	struct mqtt_pkt p;

	if (type < MQTT_PUBACK || type > MQTT_PUBCOMP)
		return -1;
	memset(&p, 0, sizeof(p));
	p.type = type;
	p.ack.id = id;
	return mqtt_encode(&p, version, buf, cap);
}
