/* pp.c - HAProxy PROXY protocol codec: incremental parser, builder and the
 * catalog of deliberate malformations.
 *
 * The parser is stateless: every call rescans the bytes received so far
 * (a header is at most a few hundred bytes in practice, 64 KiB at worst),
 * so a caller only keeps its receive buffer. Each rule is checked on the
 * byte that can break it, which is what lets a prefix be refused as soon
 * as it cannot become a valid header. docs/pp-codec.md lists the choices.
 */
#include "pp.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

const uint8_t pp_v2_sig[PP_V2_SIG_LEN] = {
	0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A,
};

#define PP_DEFAULT_MAX_LEN 4096
#define PP_UNIQUE_ID_MAX   128
#define PP_ADDR_LEN_INET   12
#define PP_ADDR_LEN_INET6  36
#define PP_ADDR_LEN_UNIX   216

/* ---- reasons ------------------------------------------------------------ */

static const struct {
	const char *name;
	const char *text;
} reasons[PP_R_COUNT] = {
	[PP_R_OK] = {"ok", "valid header"},
	[PP_R_NOT_PROXY] = {"not-proxy", "first bytes are neither \"PROXY\" nor the v2 signature"},
	[PP_R_TOO_LARGE] = {"too-large", "header longer than the configured maximum"},
	[PP_R_V1_TOO_LONG] = {"v1-too-long", "v1: no CRLF within 107 bytes"},
	[PP_R_V1_BAD_PROTO] = {"v1-bad-proto", "v1: protocol is not TCP4, TCP6 or UNKNOWN"},
	[PP_R_V1_BAD_SPACING] = {"v1-bad-spacing", "v1: missing, double, leading or trailing space, or a tab"},
	[PP_R_V1_BAD_EOL] = {"v1-bad-eol", "v1: LF without CR, CR without LF, NUL or another control byte"},
	[PP_R_V1_BAD_SRC_ADDR] = {"v1-bad-src-addr", "v1: source address is not a valid address of the family"},
	[PP_R_V1_BAD_DST_ADDR] = {"v1-bad-dst-addr", "v1: destination address is not a valid address of the family"},
	[PP_R_V1_BAD_SRC_PORT] = {"v1-bad-src-port", "v1: source port is not a decimal 0..65535 without leading zeros"},
	[PP_R_V1_BAD_DST_PORT] = {"v1-bad-dst-port", "v1: destination port is not a decimal 0..65535 without leading zeros"},
	[PP_R_V1_FIELD_COUNT] = {"v1-field-count", "v1: too few or too many fields"},
	[PP_R_V1_FAMILY_MISMATCH] = {"v1-family-mismatch", "v1: address of the other family (IPv6 in TCP4 or IPv4 in TCP6)"},
	[PP_R_V2_BAD_SIG] = {"v2-bad-sig", "v2: 12-byte signature damaged"},
	[PP_R_V2_BAD_VERSION] = {"v2-bad-version", "v2: version nibble is not 2"},
	[PP_R_V2_BAD_COMMAND] = {"v2-bad-command", "v2: command is neither LOCAL nor PROXY"},
	[PP_R_V2_BAD_FAMILY] = {"v2-bad-family", "v2: address family above 3"},
	[PP_R_V2_BAD_TRANSPORT] = {"v2-bad-transport", "v2: transport protocol above 2"},
	[PP_R_V2_SHORT_ADDR] = {"v2-short-addr", "v2: length smaller than the family's address block"},
	[PP_R_V2_TLV_TRUNCATED] = {"v2-tlv-truncated", "v2: TLV header or value runs past the header length"},
	[PP_R_V2_SSL_TRUNCATED] = {"v2-ssl-truncated", "v2: SSL TLV too short or a sub-TLV runs past it"},
	[PP_R_V2_BAD_CRC_LEN] = {"v2-bad-crc-len", "v2: CRC32C TLV length is not 4"},
	[PP_R_V2_CRC_MISMATCH] = {"v2-crc-mismatch", "v2: CRC32C does not match the header"},
	[PP_R_V2_DUP_TLV] = {"v2-dup-tlv", "v2: CRC32C TLV given twice"},
	[PP_R_V2_TOO_MANY_TLVS] = {"v2-too-many-tlvs", "v2: more top-level TLVs than the parser keeps (32)"},
	[PP_R_V2_BAD_UNIX_PATH] = {"v2-bad-unix-path", "v2: UNIX address without a NUL terminator"},
	[PP_R_VERSION_DISABLED] = {"version-disabled", "header version not allowed by configuration"},
	[PP_R_V2_BAD_UNIQUE_ID] = {"v2-bad-unique-id", "v2: UNIQUE_ID TLV longer than 128 bytes"},
	[PP_R_BUILD] = {"build-error", "builder: input cannot be encoded or does not fit"},
};

const char *pp_reason_name(enum pp_reason r)
{
	if ((unsigned)r >= PP_R_COUNT)
		return "unknown";
	return reasons[r].name;
}

const char *pp_reason_text(enum pp_reason r)
{
	if ((unsigned)r >= PP_R_COUNT)
		return "unknown reason";
	return reasons[r].text;
}

const char *pp_verdict_name(enum pp_verdict v)
{
	switch (v) {
	case PP_VERDICT_REJECT: return "reject";
	case PP_VERDICT_INCOMPLETE: return "incomplete";
	case PP_VERDICT_NOT_PROXY: return "not-proxy";
	case PP_VERDICT_LIMIT: return "limit";
	}
	return "unknown";
}

int pp_error_set(struct pp_error *e, enum pp_reason r, size_t off, const char *fmt, ...)
{
	va_list ap;

	if (!e)
		return PP_INVALID;
	e->reason = r;
	e->offset = off;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return PP_INVALID;
}

/* No error yet (an entry point starts with it; e may be NULL). */
static void err_clear(struct pp_error *e)
{
	if (e) {
		e->reason = PP_R_OK;
		e->offset = 0;
		e->msg[0] = '\0';
	}
}

/* Printable copy of wire bytes for messages; long fields are cut. */
static const char *esc(const uint8_t *p, size_t n, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 5 < cap; i++) {
		if (i == 24) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		if (p[i] >= 0x20 && p[i] < 0x7F && p[i] != '\'' && p[i] != '\\')
			out[o++] = (char)p[i];
		else
			o += (size_t)snprintf(out + o, cap - o, "\\x%02x", p[i]);
	}
	out[o] = '\0';
	return out;
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static void wr16(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint32_t rd32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* ---- the parsed header --------------------------------------------------- */

/* A parsing step's way of saying "go on with the next one" (its other
 * results are pp_parse's: a length, PP_NEED_MORE, PP_INVALID). */
#define NEXT_STEP (-2)

/* n bytes (a constant) to zero, in 64-byte pieces: a compiler writes each
 * with a few vector stores, where one memset of a few hundred bytes would
 * be a rep stos that costs more than it saves at this size. */
static void zero(void *p, size_t n)
{
	uint8_t *b = p;

#pragma GCC unroll 16
	for (; n >= 64; n -= 64, b += 64)
		memset(b, 0, 64);
	memset(b, 0, n);
}

/* The TLV values decoded into their own fields, and the TLV count. */
static void header_clear_decoded(struct pp_header *h)
{
	zero(&h->alpn, offsetof(struct pp_header, tlv) - offsetof(struct pp_header, alpn));
}

/* Everything but tlv[]: its entries from ntlv on are left as they are
 * (768 bytes that no reader looks at). */
static void header_clear(struct pp_header *h)
{
	zero(h, offsetof(struct pp_header, tlv));
}

/* ---- options, detection -------------------------------------------------- */

static const struct pp_parse_opts opts_default = {
	.max_len = PP_DEFAULT_MAX_LEN,
	.allow_v1 = true,
	.allow_v2 = true,
	.verify_crc32c = true,
};

void pp_parse_opts_init(struct pp_parse_opts *o)
{
	*o = opts_default;
}

enum pp_detect pp_detect(const uint8_t *buf, size_t len)
{
	static const char v1[] = "PROXY";
	size_t n;

	if (len == 0)
		return PP_DETECT_MORE;
	if (buf[0] == 'P') {
		n = len < 5 ? len : 5;
		if (memcmp(buf, v1, n) != 0)
			return PP_DETECT_NONE;
		return len < 5 ? PP_DETECT_MORE : PP_DETECT_V1;
	}
	if (buf[0] == pp_v2_sig[0]) {
		n = len < PP_V2_SIG_LEN ? len : PP_V2_SIG_LEN;
		if (memcmp(buf, pp_v2_sig, n) != 0)
			return PP_DETECT_NONE;
		return len < PP_V2_SIG_LEN ? PP_DETECT_MORE : PP_DETECT_V2;
	}
	return PP_DETECT_NONE;
}

/* ---- v1 ------------------------------------------------------------------ */

/* A v1 line is read in one pass, token by token: "PROXY", the protocol,
 * then each field up to the byte that ends it. Bytes at or below the space
 * and DEL end a token: a space or CR is a separator, anything else is
 * refused on its own (LF, tab, control bytes). Every rule is checked on the
 * byte that can break it, so a prefix is refused as soon as no
 * continuation can make it valid; addresses go straight into the header. */

enum { V1_TCP4, V1_TCP6, V1_UNKNOWN };

static const char *const v1_protos[3] = {"TCP4", "TCP6", "UNKNOWN"};
static const uint8_t v1_proto_len[3] = {4, 4, 7};
static const char *const v1_field_names[4] = {
	"source address", "destination address", "source port", "destination port",
};


struct v1 {
	const uint8_t *b;
	size_t len;    /* bytes received */
	size_t limit;  /* the longest line allowed, CRLF included */
	size_t end;    /* what a token may use: min(len, limit - 1); CR at limit - 2 at the latest */
	int proto;     /* V1_TCP4, V1_TCP6, V1_UNKNOWN */
	struct pp_header *h;
	struct pp_error *e;
};

static bool v1_ends_token(uint8_t c)
{
	return c <= ' ' || c == 0x7F;
}

/* A byte that ends a token and is neither a space nor CR. */
static int v1_bad_byte(const struct v1 *v, size_t i)
{
	uint8_t c = v->b[i];

	if (c == '\n')
		return pp_error_set(v->e, PP_R_V1_BAD_EOL, i, "v1: LF without CR at byte %zu", i);
	if (c == '\t')
		return pp_error_set(v->e, PP_R_V1_BAD_SPACING, i,
				    "v1: tab at byte %zu; fields are separated by one space", i);
	return pp_error_set(v->e, PP_R_V1_BAD_EOL, i, "v1: control byte 0x%02x at byte %zu", c, i);
}

/* A token ran to v->end: wait for more bytes, or, when end is the limit,
 * byte limit - 2 was not CR and no room is left for CRLF. */
static int v1_more(const struct v1 *v)
{
	size_t at = v->limit - 2;

	if (v->end < v->limit - 1)
		return PP_NEED_MORE;
	if (v->limit < PP_V1_MAX_LEN)
		return pp_error_set(v->e, PP_R_TOO_LARGE, at,
				    "v1: no CRLF within the configured maximum of %zu bytes", v->limit);
	return pp_error_set(v->e, PP_R_V1_TOO_LONG, at, "v1: no CRLF within %d bytes", PP_V1_MAX_LEN);
}

/* CR at byte i: LF must follow, and the line is complete. */
static int v1_crlf(const struct v1 *v, size_t i)
{
	char t[16];

	if (i + 1 >= v->len)
		return PP_NEED_MORE;
	if (v->b[i + 1] != '\n')
		return pp_error_set(v->e, PP_R_V1_BAD_EOL, i, "v1: CR at byte %zu followed by '%s', not LF",
				    i, esc(v->b + i + 1, 1, t, sizeof(t)));
	return (int)(i + 2);
}

/* "PROXY" and one space. */
static int v1_start(const struct v1 *v, const struct pp_parse_opts *o)
{
	static const char sig[] = "PROXY";
	char t[16];
	uint8_t c;

	if (v->len >= 6 && memcmp(v->b, "PROXY ", 6) == 0 && o->allow_v1)
		return NEXT_STEP; /* the usual case, decided below as well */
	for (size_t i = 0; i < 5 && i < v->len; i++)
		if (v->b[i] != (uint8_t)sig[i])
			return pp_error_set(v->e, PP_R_NOT_PROXY, i,
					    "not a PROXY header: byte %zu is '%s', \"PROXY\" expected",
					    i, esc(v->b + i, 1, t, sizeof(t)));
	if (v->len < 5)
		return PP_NEED_MORE;
	if (!o->allow_v1)
		return pp_error_set(v->e, PP_R_VERSION_DISABLED, 0, "v1 header while v1 is not allowed");
	if (v->len == 5)
		return PP_NEED_MORE;
	c = v->b[5];
	if (c == ' ')
		return NEXT_STEP;
	if (v1_ends_token(c) && c != '\r')
		return v1_bad_byte(v, 5);
	return pp_error_set(v->e, PP_R_V1_BAD_SPACING, 5,
			    "v1: '%s' after \"PROXY\" at byte 5, one space expected",
			    esc(v->b + 5, 1, t, sizeof(t)));
}

/* "the receiver must ignore anything presented before the CRLF" */
static int v1_unknown_tail(const struct v1 *v, size_t i)
{
	for (; i < v->end; i++) {
		if (v->b[i] == '\r')
			return v1_crlf(v, i);
		if (v->b[i] == '\n')
			return v1_bad_byte(v, i);
	}
	return v1_more(v);
}

/* The protocol word ended at byte i (a space or CR); alive: the names it
 * may still be. TCP4/TCP6 go on with the fields from *pos. */
static int v1_proto_end(struct v1 *v, size_t i, unsigned alive, size_t *pos)
{
	size_t tok = 6, j = i - tok;
	char t[128];

	if (j == 0) {
		if (v->b[i] == ' ')
			return pp_error_set(v->e, PP_R_V1_BAD_SPACING, i,
					    "v1: two spaces after \"PROXY\" (byte %zu)", i);
		return pp_error_set(v->e, PP_R_V1_BAD_PROTO, i, "v1: no protocol before CRLF");
	}
	v->proto = -1;
	for (int k = 0; k < 3; k++)
		if ((alive >> k & 1) && v1_proto_len[k] == j)
			v->proto = k;
	if (v->proto < 0)
		return pp_error_set(v->e, PP_R_V1_BAD_PROTO, tok,
				    "v1: protocol '%s' is not TCP4, TCP6 or UNKNOWN",
				    esc(v->b + tok, j, t, sizeof(t)));
	if (v->proto == V1_UNKNOWN)
		return v->b[i] == '\r' ? v1_crlf(v, i) : v1_unknown_tail(v, i + 1);
	if (v->b[i] == '\r')
		return pp_error_set(v->e, PP_R_V1_FIELD_COUNT, i,
				    "v1: line ends after %s; addresses and ports expected",
				    v1_protos[v->proto]);
	*pos = i + 1;
	return NEXT_STEP;
}

/* The protocol word from byte 6, refused at its first byte that no
 * protocol name goes on with. */
static int v1_proto(struct v1 *v, size_t *pos)
{
	const size_t tok = 6;
	unsigned alive = 7; /* bit k: the word so far begins v1_protos[k] */
	char t[128];

	/* the usual case, decided below as well */
	if (v->end >= tok + 5 && memcmp(v->b + tok, "TCP", 3) == 0 &&
	    (v->b[tok + 3] == '4' || v->b[tok + 3] == '6') && v->b[tok + 4] == ' ') {
		v->proto = v->b[tok + 3] == '4' ? V1_TCP4 : V1_TCP6;
		*pos = tok + 5;
		return NEXT_STEP;
	}
	for (size_t i = tok; i < v->end; i++) {
		uint8_t c = v->b[i];
		size_t j = i - tok;

		if (c == ' ' || c == '\r')
			return v1_proto_end(v, i, alive, pos);
		if (v1_ends_token(c))
			return v1_bad_byte(v, i);
		for (int k = 0; k < 3; k++)
			if (j >= v1_proto_len[k] || (uint8_t)v1_protos[k][j] != c)
				alive &= ~(1u << k);
		if (!alive)
			return pp_error_set(v->e, PP_R_V1_BAD_PROTO, tok,
					    "v1: protocol '%s' is not TCP4, TCP6 or UNKNOWN",
					    esc(v->b + tok, j + 1, t, sizeof(t)));
	}
	return v1_more(v);
}

/* Field f began at start and stopped at byte i: a space or CR ends it,
 * unless it is empty; other bytes are refused. */
static int v1_field_stop(const struct v1 *v, int f, size_t start, size_t i)
{
	uint8_t c = v->b[i];

	if (c != ' ' && c != '\r')
		return v1_bad_byte(v, i);
	if (i > start)
		return NEXT_STEP;
	if (c == ' ')
		return pp_error_set(v->e, PP_R_V1_BAD_SPACING, i, "v1: two spaces before the %s (byte %zu)",
				    v1_field_names[f], i);
	return pp_error_set(v->e, PP_R_V1_BAD_SPACING, i - 1, "v1: space before CRLF (byte %zu)", i - 1);
}

/* The quick way through the usual port: 1-5 digits, no leading zero, at
 * most 65535, then a space or CR. Returns the number of digits (the value
 * in *val), or 0 for any other text, which v1_port_scan then decides.
 * Reads the 6 bytes from p, which the caller has. */
static unsigned port_quick(const uint8_t *p, unsigned *val)
{
	unsigned d0 = p[0] - (unsigned)'0', d1 = p[1] - (unsigned)'0', d2 = p[2] - (unsigned)'0';
	unsigned d3 = p[3] - (unsigned)'0', d4 = p[4] - (unsigned)'0', n, v;

	/* straight-line: a loop costs a third more on the usual line */
	if (d0 > 9 || (d0 == 0 && d1 <= 9))
		return 0;
	if (d1 > 9) {
		n = 1;
		v = d0;
	} else if (d2 > 9) {
		n = 2;
		v = d0 * 10 + d1;
	} else if (d3 > 9) {
		n = 3;
		v = d0 * 100 + d1 * 10 + d2;
	} else if (d4 > 9) {
		n = 4;
		v = d0 * 1000 + d1 * 100 + d2 * 10 + d3;
	} else {
		n = 5;
		v = d0 * 10000 + d1 * 1000 + d2 * 100 + d3 * 10 + d4;
	}
	if (v > 65535 || (p[n] != ' ' && p[n] != '\r'))
		return 0;
	*val = v;
	return n;
}

/* Port field f from start, byte by byte: NEXT_STEP with *end at the space or
 * CR after it and *val, or the verdict. */
static int v1_port_scan(const struct v1 *v, int f, size_t start, size_t *end, unsigned *val)
{
	size_t i;
	uint8_t c;
	char t[128];

	*val = 0;
	for (i = start; i < v->end; i++) {
		unsigned d = v->b[i] - (unsigned)'0';

		if (d > 9)
			break;
		*val = *val * 10 + d;
		/* below 10 after the first digit: the first was a 0 */
		if (*val - 10 > 65535 - 10 && i > start)
			return pp_error_set(v->e, f == 2 ? PP_R_V1_BAD_SRC_PORT : PP_R_V1_BAD_DST_PORT, start,
					    *val < 10 ? "v1: %s '%s' has a leading zero" : "v1: %s '%s' is above 65535",
					    v1_field_names[f], esc(v->b + start, i - start + 1, t, sizeof(t)));
	}
	if (i == v->end)
		return v1_more(v);
	c = v->b[i];
	if (!v1_ends_token(c))
		return pp_error_set(v->e, f == 2 ? PP_R_V1_BAD_SRC_PORT : PP_R_V1_BAD_DST_PORT, i,
				    "v1: %s '%s' has a non-digit at byte %zu", v1_field_names[f],
				    esc(v->b + start, i - start + 1, t, sizeof(t)), i);
	*end = i;
	return v1_field_stop(v, f, start, i);
}

/* Port field f (2 or 3) from *pos: decimal 0..65535, no leading zero. */
static int v1_port(struct v1 *v, int f, size_t *pos)
{
	size_t start = *pos;
	unsigned val = 0, n = 0;
	int r;

	if (v->end - start >= 6)
		n = port_quick(v->b + start, &val);
	if (n) {
		*pos = start + n;
	} else {
		r = v1_port_scan(v, f, start, pos, &val);
		if (r != NEXT_STEP)
			return r;
	}
	/* sin_port and sin6_port share their place */
	((struct sockaddr_in *)(f == 2 ? &v->h->src : &v->h->dst))->sin_port = htons((uint16_t)val);
	return NEXT_STEP;
}

/* Address text, one family at a time. A reader takes bytes up to the end
 * of the token and stops early at the first byte after which the text can
 * no longer be an address of its family, saying why. */

/* IPv4 as inet_pton(AF_INET) takes it: four decimal octets, each 0..255
 * without a leading zero. */
struct v4 {
	unsigned dots, digits;
	unsigned val;  /* the octet being read */
	uint8_t a[4];
};

/* IPv6 as inet_pton(AF_INET6) takes it: 1-4 hex digits per group, one "::"
 * standing for at least one zero group, an optional trailing dotted quad
 * counting for two groups, no zone id. */
struct v6 {
	unsigned groups; /* completed groups, in w[] */
	unsigned hex;    /* digits in the current group */
	unsigned colons; /* colons just seen (0..2) */
	unsigned dbl_at; /* groups before the "::" */
	bool dbl;        /* "::" seen */
	bool lead;       /* the text started with a single ':' so far */
	bool dec;        /* current group is all decimal (may turn into an octet) */
	bool first0;     /* current group starts with '0' */
	bool in4;        /* inside the trailing dotted quad */
	unsigned val, decval;
	uint16_t w[8];
	struct v4 q;     /* the dotted quad */
};

struct addr_text {
	bool six;
	const char *why; /* set once the text cannot be an address of the family */
	size_t at;       /* where the reader stopped: the byte that did it, or the token's end */
	union {
		struct v4 v4;
		struct v6 v6;
	} u;
};

static size_t v4_take(struct v4 *v, const uint8_t *b, size_t i, size_t end, const char **why)
{
	/* in locals: stores to a[] would make the compiler reload the rest */
	unsigned dots = v->dots, digits = v->digits, val = v->val;

	for (; i < end; i++) {
		unsigned c = b[i], d = c - '0';

		if (d <= 9) {
			if (digits && val == 0) {
				*why = "an octet has a leading zero";
				break;
			}
			val = val * 10 + d;
			digits++;
			if (val > 255) {
				*why = "an octet is above 255";
				break;
			}
		} else if (c == '.') {
			if (digits == 0)
				*why = "an octet is empty";
			else if (dots == 3)
				*why = "more than 4 octets";
			if (*why)
				break;
			v->a[dots++] = (uint8_t)val;
			digits = 0;
			val = 0;
		} else {
			if (!v1_ends_token((uint8_t)c))
				*why = "unexpected character in a dotted quad";
			break;
		}
	}
	v->dots = dots;
	v->digits = digits;
	v->val = val;
	return i;
}

/* The quick way through the usual dotted quad: four octets of 1-3 digits,
 * without a leading zero, at most 255, dots between them and a space
 * after. Returns the index of the space, or 0 for any other text, which
 * v4_take then decides. Reads the 16 bytes from i, which the caller has. */
static size_t v4_quick(const uint8_t *b, size_t i, uint8_t a[4])
{
	for (unsigned k = 0; k < 4; k++) {
		unsigned val = b[i] - (unsigned)'0', d;

		if (val > 9)
			return 0;
		d = b[++i] - (unsigned)'0';
		if (d <= 9) {
			if (val == 0)
				return 0;
			val = val * 10 + d;
			d = b[++i] - (unsigned)'0';
			if (d <= 9) {
				val = val * 10 + d;
				if (val > 255)
					return 0;
				i++;
			}
		}
		if (b[i] != (k < 3 ? '.' : ' '))
			return 0;
		a[k] = (uint8_t)val;
		i++;
	}
	return i - 1;
}

static const char *v4_end(struct v4 *v)
{
	if (v->digits == 0)
		return "an octet is empty";
	if (v->dots != 3)
		return "fewer than 4 octets";
	v->a[3] = (uint8_t)v->val;
	return NULL;
}

static int hex_value(unsigned c)
{
	if (c - '0' <= 9)
		return (int)(c - '0');
	c |= 0x20;
	return c - 'a' <= 5 ? (int)(c - 'a' + 10) : -1;
}

/* A hex digit of value d. */
static const char *v6_digit(struct v6 *v, unsigned c, int d)
{
	if (v->hex == 0) {
		if (v->groups + 1 > (v->dbl ? 7 : 8))
			return "more than 8 groups";
		v->dec = true;
		v->first0 = c == '0';
		v->decval = 0;
		v->val = 0;
	}
	if (v->hex == 4)
		return "a group has more than 4 hex digits";
	v->hex++;
	v->colons = 0;
	v->val = v->val << 4 | (unsigned)d;
	if (d <= 9)
		v->decval = v->decval * 10 + (unsigned)d;
	else
		v->dec = false;
	return NULL;
}

static const char *v6_colon(struct v6 *v)
{
	if (v->hex > 0) {
		v->w[v->groups++] = (uint16_t)v->val;
		v->hex = 0;
		v->colons = 1;
		return v->groups >= (v->dbl ? 7 : 8) ? "more than 8 groups" : NULL;
	}
	if (v->colons == 0) {
		v->colons = 1;
		v->lead = true;
		return NULL;
	}
	if (v->colons == 2)
		return "':::'";
	if (v->dbl)
		return "more than one '::'";
	v->dbl = true;
	v->dbl_at = v->groups;
	v->lead = false;
	v->colons = 2;
	return NULL;
}

/* A '.': the current group becomes the first octet of a dotted quad. */
static const char *v6_dot(struct v6 *v)
{
	if (v->hex == 0 || !v->dec || v->hex > 3)
		return "a dotted quad must follow a ':' and start with a decimal octet";
	if (v->first0 && v->hex > 1)
		return "an octet has a leading zero";
	if (v->decval > 255)
		return "an octet is above 255";
	if (v->dbl ? v->groups + 2 > 7 : v->groups + 2 != 8)
		return "a dotted quad in the wrong place";
	v->in4 = true;
	memset(&v->q, 0, sizeof(v->q));
	v->q.dots = 1;
	v->q.a[0] = (uint8_t)v->decval;
	return NULL;
}

static size_t v6_take(struct v6 *v, const uint8_t *b, size_t i, size_t end, const char **why)
{
	for (; i < end; i++) {
		unsigned c = b[i];
		int d;

		if (v->lead && c != ':') {
			if (!v1_ends_token((uint8_t)c))
				*why = "a single leading ':'";
			return i;
		}
		d = hex_value(c);
		if (d >= 0)
			*why = v6_digit(v, c, d);
		else if (c == ':')
			*why = v6_colon(v);
		else if (c == '.') {
			*why = v6_dot(v);
			return *why ? i : v4_take(&v->q, b, i + 1, end, why);
		} else if (v1_ends_token((uint8_t)c))
			return i;
		else
			*why = c == '%' ? "zone ids ('%') are not allowed" : "unexpected character";
		if (*why)
			return i;
	}
	return i;
}

/* n groups into 16 bytes: the first head of them in front, the others at
 * the end, zeros between them ("::"). */
static void v6_place(const uint16_t *w, size_t n, size_t head, uint8_t out[16])
{
	uint16_t x[8] = {0};

	for (size_t k = 0; k < n; k++)
		x[k < head ? k : 8 - n + k] = w[k];
	for (size_t k = 0; k < 8; k++) {
		out[2 * k] = (uint8_t)(x[k] >> 8);
		out[2 * k + 1] = (uint8_t)x[k];
	}
}

/* The text ends: check it, and put the address in out (16 bytes) if any. */
static const char *v6_end(struct v6 *v, uint8_t *out)
{
	size_t n = v->groups;

	if (v->in4) {
		const char *w = v4_end(&v->q);

		if (w)
			return w;
		v->w[n++] = (uint16_t)(v->q.a[0] << 8 | v->q.a[1]);
		v->w[n++] = (uint16_t)(v->q.a[2] << 8 | v->q.a[3]);
	} else if (v->hex > 0) {
		if (v->dbl ? n + 1 > 7 : n + 1 != 8)
			return "fewer than 8 groups and no '::'";
		v->w[n++] = (uint16_t)v->val;
	} else if (v->colons != 2) {
		return v->colons == 0 ? "empty" : "ends with a single ':'";
	}
	if (out)
		v6_place(v->w, n, v->dbl ? v->dbl_at : n, out);
	return NULL;
}

/* The quick way through the usual IPv6 text: groups of 1-4 hex digits,
 * ':' between them, at most one "::", no dotted quad, then a space.
 * Returns the index of the space (the address in out), or 0 for any other
 * text, which v6_take then decides. */
static size_t v6_quick(const uint8_t *b, size_t i, size_t end, uint8_t out[16])
{
	uint16_t w[8];
	size_t n = 0, head = 8; /* groups, groups before "::" (8: none) */

	if (end - i >= 2 && b[i] == ':' && b[i + 1] == ':') {
		head = 0;
		i += 2;
	}
	while (i < end && b[i] != ' ') {
		unsigned val = 0, digits = 0;
		int d = 0;

		for (; i < end && digits < 5; i++, digits++) {
			d = hex_value(b[i]);
			if (d < 0)
				break;
			val = val << 4 | (unsigned)d;
		}
		if (digits == 0 || digits > 4 || n == 8 || i == end)
			return 0;
		w[n++] = (uint16_t)val;
		if (b[i] == ':' && end - i >= 2 && b[i + 1] == ':' && head == 8) {
			head = n;
			i += 2;
		} else if (b[i] == ':' && end - i >= 2 && b[i + 1] != ' ') {
			i++;
		} else if (b[i] != ' ') {
			return 0;
		}
	}
	if (i == end || (head == 8 ? n != 8 : n > 7))
		return 0;
	v6_place(w, n, head < n ? head : n, out);
	return i;
}

/* Read the address text from b[i] as IPv6 (six) or IPv4; returns where
 * the reader stopped (t->at). */
static size_t addr_take(struct addr_text *t, bool six, const uint8_t *b, size_t i, size_t end)
{
	t->six = six;
	t->why = NULL;
	memset(&t->u, 0, sizeof(t->u));
	if (six)
		t->at = v6_take(&t->u.v6, b, i, end, &t->why);
	else
		t->at = v4_take(&t->u.v4, b, i, end, &t->why);
	return t->at;
}

/* The text ended: NULL when it is an address (then in *ss if ss is given),
 * else why not. */
static const char *addr_end(struct addr_text *t, struct sockaddr_storage *ss)
{
	const char *why;

	if (t->why)
		return t->why;
	if (t->six) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		why = v6_end(&t->u.v6, ss ? s6->sin6_addr.s6_addr : NULL);
		if (!why && ss)
			s6->sin6_family = AF_INET6;
		return why;
	}
	why = v4_end(&t->u.v4);
	if (!why && ss) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, t->u.v4.a, 4);
	}
	return why;
}

static int v1_addr_fail(const struct v1 *v, int f, size_t start, size_t n, const struct addr_text *own,
			const char *why, size_t at)
{
	char t[128];

	return pp_error_set(v->e, f == 0 ? PP_R_V1_BAD_SRC_ADDR : PP_R_V1_BAD_DST_ADDR, at,
			    "v1: %s '%s' is not a valid %s address: %s", v1_field_names[f],
			    esc(v->b + start, n, t, sizeof(t)), own->six ? "IPv6" : "IPv4", why);
}

static int v1_mismatch(const struct v1 *v, int f, size_t start, size_t n)
{
	char t[128];

	return pp_error_set(v->e, PP_R_V1_FAMILY_MISMATCH, start, "v1: %s '%s' is %s in a %s line",
			    v1_field_names[f], esc(v->b + start, n, t, sizeof(t)),
			    v->proto == V1_TCP4 ? "IPv6" : "IPv4", v1_protos[v->proto]);
}

/* The text from start stopped being an address of the line's family at
 * own->at. It is refused as soon as it cannot be one of the other family
 * either; else at its end, as that family's address in the wrong line or
 * as no address at all. */
static int v1_addr_dead(struct v1 *v, int f, size_t start, const struct addr_text *own)
{
	struct addr_text other;
	size_t i = addr_take(&other, !own->six, v->b, start, v->end);
	int st;

	if (other.why) {
		size_t last = other.at > own->at ? other.at : own->at;

		return v1_addr_fail(v, f, start, last + 1 - start, own, own->why, own->at);
	}
	if (i == v->end)
		return v1_more(v);
	st = v1_field_stop(v, f, start, i);
	if (st != NEXT_STEP)
		return st;
	if (!addr_end(&other, NULL))
		return v1_mismatch(v, f, start, i - start);
	return v1_addr_fail(v, f, start, i - start, own, own->why, own->at);
}

/* The usual address text of the line's family, read the quick way into
 * the header: the index of the space after it, or 0. */
static size_t addr_quick(const struct v1 *v, int f, size_t start)
{
	struct sockaddr_storage *ss = f == 0 ? &v->h->src : &v->h->dst;
	size_t i = 0;

	if (v->proto == V1_TCP6) {
		i = v6_quick(v->b, start, v->end, ((struct sockaddr_in6 *)ss)->sin6_addr.s6_addr);
		if (i)
			ss->ss_family = AF_INET6;
	} else if (v->end - start >= 16) {
		i = v4_quick(v->b, start, (uint8_t *)&((struct sockaddr_in *)ss)->sin_addr);
		if (i)
			ss->ss_family = AF_INET;
	}
	return i;
}

/* Address field f (0 or 1) from *pos, of the line's family. */
static int v1_addr(struct v1 *v, int f, size_t *pos)
{
	struct addr_text own, other;
	size_t start = *pos, i;
	const char *why;
	int st;

	i = addr_quick(v, f, start);
	if (i) {
		*pos = i;
		return NEXT_STEP;
	}
	i = addr_take(&own, v->proto == V1_TCP6, v->b, start, v->end);
	if (own.why)
		return v1_addr_dead(v, f, start, &own);
	if (i == v->end)
		return v1_more(v);
	st = v1_field_stop(v, f, start, i);
	if (st != NEXT_STEP)
		return st;
	why = addr_end(&own, f == 0 ? &v->h->src : &v->h->dst);
	if (!why) {
		*pos = i;
		return NEXT_STEP;
	}
	addr_take(&other, !own.six, v->b, start, i);
	if (!addr_end(&other, NULL))
		return v1_mismatch(v, f, start, i - start);
	return v1_addr_fail(v, f, start, i - start, &own, why, start);
}

/* The space or CR at *pos after field f. After the destination port the
 * line ends: CRLF, nothing else. */
static int v1_sep(struct v1 *v, int f, size_t *pos)
{
	size_t i = *pos;
	uint8_t c;

	if (v->b[i] == '\r') {
		if (f == 3)
			return v1_crlf(v, i);
		return pp_error_set(v->e, PP_R_V1_FIELD_COUNT, i,
				    "v1: line ends after the %s; 6 fields expected", v1_field_names[f]);
	}
	*pos = ++i;
	if (f < 3)
		return NEXT_STEP;
	if (i >= v->end)
		return v1_more(v);
	c = v->b[i];
	if (c == ' ' || c == '\r')
		return pp_error_set(v->e, PP_R_V1_BAD_SPACING, i - 1,
				    "v1: space after the destination port (byte %zu)", i - 1);
	if (v1_ends_token(c))
		return v1_bad_byte(v, i);
	return pp_error_set(v->e, PP_R_V1_FIELD_COUNT, i,
			    "v1: extra field after the destination port (byte %zu)", i);
}

static int parse_v1(const uint8_t *b, size_t len, const struct pp_parse_opts *o,
		    size_t max_len, struct pp_header *h, struct pp_error *e)
{
	struct v1 v;
	size_t i = 0;
	int r;

	v.b = b;
	v.len = len;
	v.limit = max_len < PP_V1_MAX_LEN ? max_len : PP_V1_MAX_LEN;
	v.end = len < v.limit - 1 ? len : v.limit - 1;
	v.proto = -1;
	v.h = h;
	v.e = e;
	r = v1_start(&v, o);
	if (r == NEXT_STEP)
		r = v1_proto(&v, &i);
	for (int f = 0; f < 4 && r == NEXT_STEP; f++) {
		r = f < 2 ? v1_addr(&v, f, &i) : v1_port(&v, f, &i);
		if (r == NEXT_STEP)
			r = v1_sep(&v, f, &i);
	}
	if (r > 0) {
		h->version = 1;
		h->command = PP_CMD_PROXY;
		h->len = (size_t)r;
		if (v.proto != V1_UNKNOWN) {
			h->family = v.proto == V1_TCP4 ? PP_FAM_INET : PP_FAM_INET6;
			h->transport = PP_PROTO_STREAM;
		}
	}
	return r;
}

/* ---- v2 ------------------------------------------------------------------ */

/* Socket family of a v2 address family (UNIX for anything but INET/INET6). */
static int v2_af(unsigned fam)
{
	return fam == PP_FAM_INET ? AF_INET : fam == PP_FAM_INET6 ? AF_INET6 : AF_UNIX;
}

static size_t v2_block_len(unsigned fam)
{
	switch (fam) {
	case PP_FAM_INET: return PP_ADDR_LEN_INET;
	case PP_FAM_INET6: return PP_ADDR_LEN_INET6;
	case PP_FAM_UNIX: return PP_ADDR_LEN_UNIX;
	default: return 0;
	}
}

/* Layout of an address block, for address k (0 source, 1 destination):
 * INET and INET6 hold both addresses, then both ports; UNIX both paths. */
static void v2_get_addr(const uint8_t *blk, int af, int k, struct sockaddr_storage *ss)
{
	if (af == AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)ss;
		s->sin_family = AF_INET;
		memcpy(&s->sin_addr, blk + 4 * k, 4);
		memcpy(&s->sin_port, blk + 8 + 2 * k, 2);
	} else if (af == AF_INET6) {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)ss;
		s->sin6_family = AF_INET6;
		memcpy(&s->sin6_addr, blk + 16 * k, 16);
		memcpy(&s->sin6_port, blk + 32 + 2 * k, 2);
	} else {
		struct sockaddr_un *s = (struct sockaddr_un *)ss;
		s->sun_family = AF_UNIX;
		memcpy(s->sun_path, blk + PP_UNIX_PATH_LEN * k, PP_UNIX_PATH_LEN);
	}
}

/* The other way (the builder); an AF_UNSPEC address leaves its place as it is. */
static void v2_put_addr(uint8_t *blk, int k, const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)ss;
		memcpy(blk + 4 * k, &s->sin_addr, 4);
		memcpy(blk + 8 + 2 * k, &s->sin_port, 2);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)ss;
		memcpy(blk + 16 * k, &s->sin6_addr, 16);
		memcpy(blk + 32 + 2 * k, &s->sin6_port, 2);
	} else if (ss->ss_family == AF_UNIX) {
		const struct sockaddr_un *s = (const struct sockaddr_un *)ss;
		memcpy(blk + PP_UNIX_PATH_LEN * k, s->sun_path, PP_UNIX_PATH_LEN);
	}
}

static void v2_decode_addrs(const uint8_t *b, unsigned fam, struct pp_header *h)
{
	int af = v2_af(fam);

	v2_get_addr(b + PP_V2_FIXED_LEN, af, 0, &h->src);
	v2_get_addr(b + PP_V2_FIXED_LEN, af, 1, &h->dst);
}

/* SSL TLV value at v (tl bytes, of which avail are received so far): its
 * sub-TLVs are checked as they arrive; the first SSL TLV is decoded. */
static int v2_ssl(const uint8_t *v, size_t tl, size_t avail, size_t off,
		  struct pp_header *h, struct pp_error *e)
{
	struct pp_ssl again, *s = &h->ssl;
	size_t p = 5, have = avail < tl ? avail : tl;

	if (h->ssl.present) {
		/* a second SSL TLV: checked, not kept */
		memset(&again, 0, sizeof(again));
		s = &again;
	}
	while (p < tl) {
		/* one comparison when the value is all here */
		if (p + 3 > have) {
			if (p + 3 > tl)
				return pp_error_set(e, PP_R_V2_SSL_TRUNCATED, off + p,
						    "v2: SSL TLV has %zu byte(s) left at byte %zu, too few for a sub-TLV header",
						    tl - p, off + p);
			return PP_NEED_MORE;
		}
		uint8_t st = v[p];
		size_t sl = rd16(v + p + 1);
		if (p + 3 + sl > tl)
			return pp_error_set(e, PP_R_V2_SSL_TRUNCATED, off + p,
					    "v2: SSL sub-TLV 0x%02x at byte %zu has length %zu, only %zu byte(s) left in the SSL TLV",
					    st, off + p, sl, tl - p - 3);
		struct pp_bytes bs = {v + p + 3, sl};
		switch (st) {
		case PP2_SUBTYPE_SSL_VERSION: if (!s->version.ptr) s->version = bs; break;
		case PP2_SUBTYPE_SSL_CN: if (!s->cn.ptr) s->cn = bs; break;
		case PP2_SUBTYPE_SSL_CIPHER: if (!s->cipher.ptr) s->cipher = bs; break;
		case PP2_SUBTYPE_SSL_SIG_ALG: if (!s->sig_alg.ptr) s->sig_alg = bs; break;
		case PP2_SUBTYPE_SSL_KEY_ALG: if (!s->key_alg.ptr) s->key_alg = bs; break;
		default: break; /* unknown sub-TLVs are skipped */
		}
		p += 3 + sl;
	}
	if (avail < tl)
		return PP_NEED_MORE;
	s->present = true;
	s->client = v[0];
	s->verify = rd32(v + 1);
	return 0;
}

/* The first TLV of a kind is the one decoded. */
static int v2_first(struct pp_bytes *field, const uint8_t *v, size_t tl, size_t have)
{
	if (have < tl)
		return PP_NEED_MORE;
	if (!field->ptr) {
		field->ptr = v;
		field->len = tl;
	}
	return 0;
}

/* The custom TLVs, in their documented shape only. */
static void v2_custom(uint8_t type, const uint8_t *v, size_t tl, struct pp_header *h)
{
	if (tl == 0 || v[0] != 0x01)
		return;
	if (type == PP2_TYPE_AWS && !h->aws_vpce_id.ptr) {
		h->aws_vpce_id.ptr = v + 1;
		h->aws_vpce_id.len = tl - 1;
	} else if (type == PP2_TYPE_AZURE && tl == 5 && !h->has_azure_linkid) {
		h->has_azure_linkid = true;
		h->azure_linkid = (uint32_t)v[1] | ((uint32_t)v[2] << 8) |
				  ((uint32_t)v[3] << 16) | ((uint32_t)v[4] << 24);
	} else if (type == PP2_TYPE_GCP && tl == 9 && !h->has_gcp_psc_id) {
		uint64_t x = 0;

		for (int k = 1; k <= 8; k++)
			x = (x << 8) | v[k];
		h->has_gcp_psc_id = true;
		h->gcp_psc_id = x;
	}
}

/* One TLV whose 3-byte header is at p: its type's rules, decided from the
 * header alone (CRC32C length and uniqueness, UNIQUE_ID and SSL sizes),
 * then its value (tl bytes at v, of which have are here), decoded once
 * complete; SSL sub-TLVs are checked as they arrive. Returns 0 (complete),
 * PP_NEED_MORE or PP_INVALID. */
static int v2_tlv(uint8_t type, const uint8_t *v, size_t tl, size_t have, size_t p,
		  size_t *crc_off, struct pp_header *h, struct pp_error *e)
{
	switch (type) {
	case PP2_TYPE_CRC32C:
		if (tl != 4)
			return pp_error_set(e, PP_R_V2_BAD_CRC_LEN, p,
					    "v2: CRC32C TLV at byte %zu has length %zu, 4 expected", p, tl);
		if (h->has_crc32c)
			return pp_error_set(e, PP_R_V2_DUP_TLV, p,
					    "v2: second CRC32C TLV at byte %zu (first at byte %zu)",
					    p, *crc_off - 3);
		h->has_crc32c = true;
		*crc_off = p + 3;
		if (have < 4)
			return PP_NEED_MORE;
		h->crc32c = rd32(v);
		return 0;
	case PP2_TYPE_UNIQUE_ID:
		if (tl > PP_UNIQUE_ID_MAX)
			return pp_error_set(e, PP_R_V2_BAD_UNIQUE_ID, p,
					    "v2: UNIQUE_ID TLV at byte %zu has %zu bytes, at most 128 allowed", p, tl);
		return v2_first(&h->unique_id, v, tl, have);
	case PP2_TYPE_SSL:
		if (tl < 5)
			return pp_error_set(e, PP_R_V2_SSL_TRUNCATED, p,
					    "v2: SSL TLV at byte %zu has length %zu, at least 5 expected", p, tl);
		return v2_ssl(v, tl, have, p + 3, h, e);
	case PP2_TYPE_ALPN:
		return v2_first(&h->alpn, v, tl, have);
	case PP2_TYPE_AUTHORITY:
		return v2_first(&h->authority, v, tl, have);
	case PP2_TYPE_NETNS:
		return v2_first(&h->netns, v, tl, have);
	default:
		break;
	}
	if (have < tl)
		return PP_NEED_MORE;
	if (type == PP2_TYPE_NOOP)
		h->noop_bytes += tl;
	else
		v2_custom(type, v, tl, h);
	return 0;
}

/* The TLVs of a v2 header, from byte p to total, of which avail are here.
 * Returns 1 (all here and valid), PP_NEED_MORE or PP_INVALID. */
static int v2_tlvs(const uint8_t *b, size_t p, size_t avail, size_t total,
		   size_t *crc_off, struct pp_header *h, struct pp_error *e)
{
	while (p < total) {
		/* avail <= total: the usual case takes one comparison */
		if (p + 3 > avail) {
			if (p + 3 > total)
				return pp_error_set(e, PP_R_V2_TLV_TRUNCATED, p,
						    "v2: %zu byte(s) left at byte %zu, too few for a TLV header (3)",
						    total - p, p);
			break;
		}
		uint8_t type = b[p];
		size_t tl = rd16(b + p + 1);
		if (p + 3 + tl > total)
			return pp_error_set(e, PP_R_V2_TLV_TRUNCATED, p,
					    "v2: TLV 0x%02x at byte %zu has length %zu, only %zu byte(s) left in the header",
					    type, p, tl, total - p - 3);
		if (h->ntlv == PP_MAX_TLVS)
			return pp_error_set(e, PP_R_V2_TOO_MANY_TLVS, p,
					    "v2: TLV number %d at byte %zu; at most %d are accepted",
					    PP_MAX_TLVS + 1, p, PP_MAX_TLVS);
		struct pp_tlv *t = &h->tlv[h->ntlv++];
		t->value.ptr = b + p + 3;
		t->value.len = tl;
		t->type = type;
		int r = v2_tlv(type, b + p + 3, tl, avail - (p + 3), p, crc_off, h, e);
		if (r != 0)
			return r; /* PP_NEED_MORE: the value is still arriving */
		p += 3 + tl;
	}
	return avail < total ? PP_NEED_MORE : 1;
}

/* What the 16-byte fixed part says. */
struct v2_fixed {
	unsigned cmd, fam, proto;
	size_t plen;   /* the length field */
	size_t total;  /* the whole header */
	size_t block;  /* the family's address block */
	bool decode;   /* PROXY with an address family and a transport: addresses to read */
};

/* The 12-byte signature, compared as far as it has arrived. */
static int v2_sig(const uint8_t *b, size_t len, struct pp_error *e)
{
	size_t n = len < PP_V2_SIG_LEN ? len : PP_V2_SIG_LEN;

	if (n == PP_V2_SIG_LEN && memcmp(b, pp_v2_sig, PP_V2_SIG_LEN) == 0)
		return NEXT_STEP;
	for (size_t i = 0; i < n; i++)
		if (b[i] != pp_v2_sig[i])
			return pp_error_set(e, PP_R_V2_BAD_SIG, i,
					    "v2: signature byte %zu is 0x%02x, 0x%02x expected",
					    i, b[i], pp_v2_sig[i]);
	return PP_NEED_MORE;
}

/* Version and command (byte 12), family and transport (byte 13). */
static int v2_ver_fam(const uint8_t *b, size_t len, struct v2_fixed *f, struct pp_error *e)
{
	unsigned ver = b[12] >> 4;

	f->cmd = b[12] & 0x0F;
	if (ver != 2)
		return pp_error_set(e, PP_R_V2_BAD_VERSION, 12,
				    "v2: version %u (byte 12 = 0x%02x), 2 expected", ver, b[12]);
	if (f->cmd > PP_CMD_PROXY)
		return pp_error_set(e, PP_R_V2_BAD_COMMAND, 12,
				    "v2: command %u (byte 12 = 0x%02x) is neither LOCAL (0) nor PROXY (1)",
				    f->cmd, b[12]);
	if (len < 14)
		return PP_NEED_MORE;
	f->fam = b[13] >> 4;
	f->proto = b[13] & 0x0F;
	if (f->cmd == PP_CMD_LOCAL && (f->fam > PP_FAM_UNIX || f->proto > PP_PROTO_DGRAM)) {
		/* LOCAL: "discard the protocol block including the family which
		 * is ignored" - an unassigned family or transport included. */
		f->fam = PP_FAM_UNSPEC;
		f->proto = PP_PROTO_UNSPEC;
	}
	if (f->fam > PP_FAM_UNIX)
		return pp_error_set(e, PP_R_V2_BAD_FAMILY, 13,
				    "v2: address family %u (byte 13 = 0x%02x) is not UNSPEC/INET/INET6/UNIX",
				    f->fam, b[13]);
	if (f->proto > PP_PROTO_DGRAM)
		return pp_error_set(e, PP_R_V2_BAD_TRANSPORT, 13,
				    "v2: transport %u (byte 13 = 0x%02x) is not UNSPEC/STREAM/DGRAM",
				    f->proto, b[13]);
	return NEXT_STEP;
}

/* The fixed part, byte by byte as it arrives; then the length. */
static int v2_fixed(const uint8_t *b, size_t len, const struct pp_parse_opts *o,
		    size_t max_len, struct v2_fixed *f, struct pp_error *e)
{
	int r = v2_sig(b, len, e);

	if (r != NEXT_STEP)
		return r;
	if (!o->allow_v2)
		return pp_error_set(e, PP_R_VERSION_DISABLED, 0, "v2 header while v2 is not allowed");
	if (len < 13)
		return PP_NEED_MORE;
	r = v2_ver_fam(b, len, f, e);
	if (r != NEXT_STEP)
		return r;
	if (len < PP_V2_FIXED_LEN)
		return PP_NEED_MORE;
	f->plen = rd16(b + 14);
	f->total = PP_V2_FIXED_LEN + f->plen;
	if (f->total > max_len)
		return pp_error_set(e, PP_R_TOO_LARGE, 14,
				    "v2: header of %zu bytes (length field %zu) exceeds the maximum of %zu",
				    f->total, f->plen, max_len);
	f->block = v2_block_len(f->fam);
	f->decode = f->cmd == PP_CMD_PROXY && f->fam != PP_FAM_UNSPEC && f->proto != PP_PROTO_UNSPEC;
	if (f->decode && f->plen < f->block)
		return pp_error_set(e, PP_R_V2_SHORT_ADDR, 14,
				    "v2: length %zu is shorter than the %zu-byte address block of family %u",
				    f->plen, f->block, f->fam);
	return NEXT_STEP;
}

/* The address block, looked at only once it is complete. */
static int v2_addrs(const uint8_t *b, size_t avail, const struct v2_fixed *f,
		    struct pp_header *h, struct pp_error *e)
{
	if (!f->decode || avail < PP_V2_FIXED_LEN + f->block)
		return NEXT_STEP;
	if (f->fam == PP_FAM_UNIX) {
		for (int k = 0; k < 2; k++) {
			const uint8_t *pth = b + PP_V2_FIXED_LEN + (size_t)k * PP_UNIX_PATH_LEN;
			if (!memchr(pth, 0, PP_UNIX_PATH_LEN))
				return pp_error_set(e, PP_R_V2_BAD_UNIX_PATH,
						    PP_V2_FIXED_LEN + (size_t)k * PP_UNIX_PATH_LEN,
						    "v2: UNIX %s path has no NUL in its 108 bytes",
						    k ? "destination" : "source");
		}
	}
	v2_decode_addrs(b, f->fam, h);
	return NEXT_STEP;
}

/* The CRC32C TLV's value (at crc_off) against the whole header with that
 * value taken as zero. */
static int v2_crc_check(const uint8_t *b, size_t total, size_t crc_off, const struct pp_header *h,
			struct pp_error *e)
{
	uint32_t c = pp_crc32c_zeroed(b, total, crc_off);

	if (c != h->crc32c)
		return pp_error_set(e, PP_R_V2_CRC_MISMATCH, crc_off,
				    "v2: CRC32C 0x%08x sent, 0x%08x computed over the %zu-byte header",
				    h->crc32c, c, total);
	return NEXT_STEP;
}

static int parse_v2(const uint8_t *b, size_t len, const struct pp_parse_opts *o,
		    size_t max_len, struct pp_header *h, struct pp_error *e)
{
	struct v2_fixed f;
	size_t avail, p, crc_off = 0;
	int r;

	memset(&f, 0, sizeof(f));
	r = v2_fixed(b, len, o, max_len, &f, e);
	if (r != NEXT_STEP)
		return r;
	avail = len < f.total ? len : f.total;
	r = v2_addrs(b, avail, &f, h, e);
	if (r != NEXT_STEP)
		return r;
	/* TLVs follow the address block. A LOCAL or UNSPEC header shorter than
	 * its family's block has no room for TLVs: the payload is skipped. */
	p = f.plen >= f.block ? PP_V2_FIXED_LEN + f.block : f.total;
	r = v2_tlvs(b, p, avail, f.total, &crc_off, h, e);
	if (r == PP_INVALID && f.cmd == PP_CMD_LOCAL) {
		/* The receiver of a LOCAL header (a health check) discards its
		 * block: TLVs that do not parse are dropped, not an error. */
		if (avail < f.total)
			return PP_NEED_MORE;
		header_clear_decoded(h);
		r = 1;
	}
	if (r != 1)
		return r;
	if (h->has_crc32c && o->verify_crc32c && v2_crc_check(b, f.total, crc_off, h, e) != NEXT_STEP)
		return PP_INVALID;
	h->version = 2;
	h->command = (enum pp_cmd)f.cmd;
	h->family = (enum pp_fam)f.fam;
	h->transport = (enum pp_proto)f.proto;
	h->len = f.total;
	return (int)f.total;
}

int pp_parse(const uint8_t *buf, size_t len, const struct pp_parse_opts *o,
	     struct pp_header *h, struct pp_error *err)
{
	struct pp_header scratch;
	size_t max_len;
	char t[16];

	if (!o)
		o = &opts_default;
	if (!h)
		h = &scratch;
	header_clear(h);
	err_clear(err);
	max_len = o->max_len ? o->max_len : PP_DEFAULT_MAX_LEN;
	if (max_len > PP_V2_MAX_LEN)
		max_len = PP_V2_MAX_LEN;
	if (max_len < PP_V2_FIXED_LEN)
		max_len = PP_V2_FIXED_LEN;
	if (len == 0 || !buf)
		return PP_NEED_MORE;
	if (buf[0] == 'P')
		return parse_v1(buf, len, o, max_len, h, err);
	if (buf[0] == pp_v2_sig[0])
		return parse_v2(buf, len, o, max_len, h, err);
	return pp_error_set(err, PP_R_NOT_PROXY, 0,
			    "not a PROXY header: first byte '%s' is neither 'P' (v1) nor 0x0D (v2)",
			    esc(buf, 1, t, sizeof(t)));
}

/* ---- helpers --------------------------------------------------------------- */

void pp_header_init(struct pp_header *h, int version, enum pp_cmd cmd)
{
	memset(h, 0, sizeof(*h));
	h->version = version;
	h->command = cmd;
	h->family = PP_FAM_UNSPEC;
	h->transport = PP_PROTO_UNSPEC;
}

int pp_header_set_addrs(struct pp_header *h, const struct sockaddr_storage *src,
			const struct sockaddr_storage *dst)
{
	if (!h || !src || !dst || src->ss_family != dst->ss_family)
		return -1;
	switch (src->ss_family) {
	case AF_INET: h->family = PP_FAM_INET; break;
	case AF_INET6: h->family = PP_FAM_INET6; break;
	case AF_UNIX: h->family = PP_FAM_UNIX; break;
	default: return -1;
	}
	h->src = *src;
	h->dst = *dst;
	if (h->transport == PP_PROTO_UNSPEC)
		h->transport = PP_PROTO_STREAM;
	return 0;
}

int pp_tlv_append(struct pp_tlv *tlv, size_t *n, uint8_t type, const void *v, size_t len)
{
	if (*n >= PP_MAX_TLVS || len > 65535 || (len && !v))
		return -1;
	tlv[*n].type = type;
	tlv[*n].value.ptr = v;
	tlv[*n].value.len = len;
	(*n)++;
	return 0;
}

int pp_header_add_tlv(struct pp_header *h, uint8_t type, const void *v, size_t len)
{
	return h ? pp_tlv_append(h->tlv, &h->ntlv, type, v, len) : -1;
}

/* ---- builder ------------------------------------------------------------- */

static int build_v1(const struct pp_header *h, const struct pp_build_opts *o,
		    uint8_t *out, size_t cap, struct pp_error *err)
{
	char line[256], a[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];
	const char *proto = "UNKNOWN";
	bool addrs = false;
	int n;

	if (h->command == PP_CMD_PROXY && h->family == PP_FAM_INET) {
		proto = "TCP4";
		addrs = true;
	} else if (h->command == PP_CMD_PROXY && h->family == PP_FAM_INET6) {
		proto = "TCP6";
		addrs = true;
	} else if (o && o->v1_unknown_long && h->src.ss_family == h->dst.ss_family &&
		   (h->src.ss_family == AF_INET || h->src.ss_family == AF_INET6)) {
		addrs = true;
	}
	if (addrs) {
		int af = h->family == PP_FAM_INET ? AF_INET :
			 h->family == PP_FAM_INET6 ? AF_INET6 : h->src.ss_family;
		if (h->src.ss_family != af || h->dst.ss_family != af)
			return pp_error_set(err, PP_R_BUILD, 0,
					    "v1: %s needs source and destination addresses of that family", proto);
		pp_addr_str(&h->src, a, sizeof(a));
		pp_addr_str(&h->dst, d, sizeof(d));
		n = snprintf(line, sizeof(line), "PROXY %s %s %s %u %u\r\n", proto, a, d,
			     pp_addr_port(&h->src), pp_addr_port(&h->dst));
	} else {
		n = snprintf(line, sizeof(line), "PROXY UNKNOWN\r\n");
	}
	if (n < 0 || (size_t)n > PP_V1_MAX_LEN)
		return pp_error_set(err, PP_R_BUILD, 0, "v1: line of %d bytes is longer than 107", n);
	if ((size_t)n > cap)
		return pp_error_set(err, PP_R_BUILD, 0, "v1: %d bytes do not fit in %zu", n, cap);
	memcpy(out, line, (size_t)n);
	return n;
}

static int put_tlv(uint8_t *out, size_t cap, size_t *p, uint8_t type, const void *v,
		   size_t len, struct pp_error *err)
{
	if (len > 65535)
		return pp_error_set(err, PP_R_BUILD, *p, "v2: TLV 0x%02x value of %zu bytes is too long", type, len);
	if (*p + 3 + len > cap)
		return pp_error_set(err, PP_R_BUILD, *p, "v2: header does not fit in %zu bytes", cap);
	out[*p] = type;
	wr16(out + *p + 1, len);
	if (len) {
		if (v)
			memcpy(out + *p + 3, v, len);
		else
			memset(out + *p + 3, 0, len);
	}
	*p += 3 + len;
	return 0;
}

static int build_v2(const struct pp_header *h, const struct pp_build_opts *o,
		    uint8_t *out, size_t cap, struct pp_error *err)
{
	size_t p = PP_V2_FIXED_LEN, crc_at = 0;
	size_t block;
	int af;

	if (h->command != PP_CMD_LOCAL && h->command != PP_CMD_PROXY)
		return pp_error_set(err, PP_R_BUILD, 12, "v2: command %d cannot be encoded", (int)h->command);
	if ((unsigned)h->family > PP_FAM_UNIX || (unsigned)h->transport > PP_PROTO_DGRAM)
		return pp_error_set(err, PP_R_BUILD, 13, "v2: family %d / transport %d cannot be encoded",
				    (int)h->family, (int)h->transport);
	if (cap < PP_V2_FIXED_LEN)
		return pp_error_set(err, PP_R_BUILD, 0, "v2: header does not fit in %zu bytes", cap);
	memcpy(out, pp_v2_sig, PP_V2_SIG_LEN);
	out[12] = (uint8_t)(0x20 | h->command);
	out[13] = (uint8_t)((h->family << 4) | h->transport);

	block = v2_block_len(h->family);
	af = v2_af(h->family);
	if (p + block > cap)
		return pp_error_set(err, PP_R_BUILD, p, "v2: header does not fit in %zu bytes", cap);
	if (block) {
		/* AF_UNSPEC addresses give a zero block (a LOCAL header, say). */
		for (int k = 0; k < 2; k++) {
			const struct sockaddr_storage *ss = k ? &h->dst : &h->src;
			if (ss->ss_family != AF_UNSPEC && ss->ss_family != af)
				return pp_error_set(err, PP_R_BUILD, p,
						    "v2: %s address family does not match the header family",
						    k ? "destination" : "source");
		}
		memset(out + p, 0, block);
		v2_put_addr(out + p, 0, &h->src);
		v2_put_addr(out + p, 1, &h->dst);
		p += block;
	}
	if (h->ntlv > PP_MAX_TLVS)
		return pp_error_set(err, PP_R_BUILD, p, "v2: %zu TLVs, at most %d", h->ntlv, PP_MAX_TLVS);
	for (size_t k = 0; k < h->ntlv; k++) {
		const struct pp_tlv *t = &h->tlv[k];
		if (t->value.len && !t->value.ptr)
			return pp_error_set(err, PP_R_BUILD, p, "v2: TLV %zu has a length but no value", k);
		if (t->type == PP2_TYPE_CRC32C && t->value.len == 4 && !crc_at)
			crc_at = p + 3;
		if (put_tlv(out, cap, &p, t->type, t->value.ptr, t->value.len, err) < 0)
			return PP_INVALID;
	}
	if (o && o->noop_len &&
	    put_tlv(out, cap, &p, PP2_TYPE_NOOP, NULL, o->noop_len, err) < 0)
		return PP_INVALID;
	if (o && o->crc32c && !crc_at) {
		crc_at = p + 3;
		if (put_tlv(out, cap, &p, PP2_TYPE_CRC32C, NULL, 4, err) < 0)
			return PP_INVALID;
	}
	if (p - PP_V2_FIXED_LEN > 65535)
		return pp_error_set(err, PP_R_BUILD, 14, "v2: %zu bytes after the fixed part, at most 65535",
				    p - PP_V2_FIXED_LEN);
	wr16(out + 14, p - PP_V2_FIXED_LEN);
	if (o && o->crc32c) {
		memset(out + crc_at, 0, 4);
		wr32(out + crc_at, pp_crc32c(0, out, p));
	}
	return (int)p;
}

int pp_build(const struct pp_header *h, const struct pp_build_opts *o,
	     uint8_t *out, size_t cap, struct pp_error *err)
{
	err_clear(err);
	if (!h || !out)
		return pp_error_set(err, PP_R_BUILD, 0, "no header or no output buffer");
	if (h->version == 1)
		return build_v1(h, o, out, cap, err);
	if (h->version == 2)
		return build_v2(h, o, out, cap, err);
	return pp_error_set(err, PP_R_BUILD, 0, "version %d is neither 1 nor 2", h->version);
}

/* ---- malformations -------------------------------------------------------- */

enum mut_op {
	M_RAW,        /* exactly s */
	M_V1_SEP,     /* separator a (0: after PROXY ... 5: line end) becomes s */
	M_V1_TOK,     /* token a (0: PROXY, 1: protocol, 2..5: fields) becomes s */
	M_V1_LOWER,   /* token a in lower case */
	M_V1_DROP,    /* token a and the separator before it removed */
	M_V1_EXTRA,   /* s added as a seventh field */
	M_V1_PREFIX,  /* s before the line */
	M_V1_CUT,     /* only the first a bytes */
	M_V1_POKE,    /* byte a becomes b */
	M_V1_THEN,    /* line end becomes s, then an MQTT CONNECT */
	M_V1_PAD,     /* "PROXY UNKNOWN xxx..." of a bytes, CRLF included when b */
	M_V2_BYTE,    /* byte a becomes b */
	M_V2_HI,      /* high nibble of byte a becomes b */
	M_V2_LO,      /* low nibble of byte a becomes b */
	M_V2_CUT,     /* only the first a bytes */
	M_V2_CUT_THEN,/* the first a bytes, then an MQTT CONNECT */
	M_V2_LEN,     /* length field a, payload cut to a bytes */
	M_V2_LEN_RAW, /* length field a, payload unchanged */
	M_V2_LEN_ADD, /* length field + a, payload unchanged */
	M_V2_APPEND,  /* s appended a times (once when a is 0), length adjusted */
	M_V2_APPEND_TLV, /* TLV of type b, a bytes of 'u', appended */
	M_V2_APPEND_CUT, /* s appended, length adjusted, then the last a bytes not sent */
	M_V2_CRC_FLIP,/* built with CRC32C, then one bit of the CRC value flipped */
	M_V2_CRC_POKE,/* built with CRC32C, then byte a changed */
	M_V2_CRC_DUP, /* built with CRC32C, then the CRC32C TLV repeated */
	M_V2_UNIX_NONUL, /* UNIX source path of 108 non-NUL bytes */
};

/* Which header a mutation starts from: the caller's base when it fits
 * (F_BASE), or always a default one of the given shape. */
enum { F_BASE = 0, F_INET = 1, F_INET6 = 2, F_UNIX = 3, F_TCP4 = 4, F_TCP6 = 6 };

#define CONNECT_BYTES "\x10\x0d\x00\x04MQTT\x04\x02\x00\x3c\x00\x01" "a"

#define R PP_VERDICT_REJECT
#define I PP_VERDICT_INCOMPLETE
#define N PP_VERDICT_NOT_PROXY
#define L PP_VERDICT_LIMIT

/* X(name, version, verdict, reason, op, a, b, s, force, description) */
#define PP_MUTATION_LIST(X) \
	X("v1-double-space", 1, R, PP_R_V1_BAD_SPACING, M_V1_SEP, 2, 0, "  ", F_BASE, "two spaces between source and destination address") \
	X("v1-double-space-after-proxy", 1, R, PP_R_V1_BAD_SPACING, M_V1_SEP, 0, 0, "  ", F_BASE, "two spaces after \"PROXY\"") \
	X("v1-leading-space", 1, N, PP_R_NOT_PROXY, M_V1_PREFIX, 0, 0, " ", F_BASE, "a space before \"PROXY\": the line no longer starts like a header") \
	X("v1-trailing-space", 1, R, PP_R_V1_BAD_SPACING, M_V1_SEP, 5, 0, " \r\n", F_BASE, "a space between the destination port and CRLF") \
	X("v1-tab", 1, R, PP_R_V1_BAD_SPACING, M_V1_SEP, 1, 0, "\t", F_BASE, "a tab instead of the space after the protocol") \
	X("v1-proxy-no-space", 1, R, PP_R_V1_BAD_SPACING, M_V1_SEP, 0, 0, "", F_BASE, "\"PROXYTCP4\": no space after \"PROXY\"") \
	X("v1-lowercase-proxy", 1, N, PP_R_NOT_PROXY, M_V1_TOK, 0, 0, "proxy", F_BASE, "\"proxy\" in lower case") \
	X("v1-lowercase-proto", 1, R, PP_R_V1_BAD_PROTO, M_V1_LOWER, 1, 0, "", F_BASE, "protocol in lower case (\"tcp4\")") \
	X("v1-bad-proto-tcp5", 1, R, PP_R_V1_BAD_PROTO, M_V1_TOK, 1, 0, "TCP5", F_BASE, "protocol \"TCP5\": invalid at its fourth letter") \
	X("v1-bad-proto-udp4", 1, R, PP_R_V1_BAD_PROTO, M_V1_TOK, 1, 0, "UDP4", F_BASE, "protocol \"UDP4\": v1 has no UDP") \
	X("v1-bad-proto-tcp", 1, R, PP_R_V1_BAD_PROTO, M_V1_TOK, 1, 0, "TCP", F_BASE, "protocol \"TCP\" without the family digit") \
	X("v1-unknown-lowercase", 1, R, PP_R_V1_BAD_PROTO, M_RAW, 0, 0, "PROXY unknown\r\n", F_BASE, "\"PROXY unknown\" in lower case") \
	X("v1-garbage-after-proxy", 1, R, PP_R_V1_BAD_PROTO, M_RAW, 0, 0, "PROXY garbage\r\n", F_BASE, "\"PROXY\" followed by a word that is no protocol") \
	X("v1-proxy-crlf", 1, R, PP_R_V1_BAD_SPACING, M_RAW, 0, 0, "PROXY\r\n", F_BASE, "\"PROXY\" alone on the line") \
	X("v1-proxy-space-crlf", 1, R, PP_R_V1_BAD_PROTO, M_RAW, 0, 0, "PROXY \r\n", F_BASE, "\"PROXY \" and CRLF: no protocol") \
	X("v1-tcp4-no-addresses", 1, R, PP_R_V1_FIELD_COUNT, M_RAW, 0, 0, "PROXY TCP4\r\n", F_BASE, "\"PROXY TCP4\" without addresses and ports") \
	X("v1-lf-only", 1, R, PP_R_V1_BAD_EOL, M_V1_SEP, 5, 0, "\n", F_BASE, "line ends with LF only") \
	X("v1-unknown-lf-only", 1, R, PP_R_V1_BAD_EOL, M_RAW, 0, 0, "PROXY UNKNOWN\n", F_BASE, "\"PROXY UNKNOWN\" ending with LF only") \
	X("v1-lf-cr", 1, R, PP_R_V1_BAD_EOL, M_V1_SEP, 5, 0, "\n\r", F_BASE, "line ends with LF CR (reversed)") \
	X("v1-cr-then-data", 1, R, PP_R_V1_BAD_EOL, M_V1_THEN, 0, 0, "\r", F_BASE, "CR without LF, then the MQTT CONNECT") \
	X("v1-cr-only-at-end", 1, I, PP_R_OK, M_V1_SEP, 5, 0, "\r", F_BASE, "CR sent, LF never: the receiver waits for it") \
	X("v1-no-eol", 1, I, PP_R_OK, M_V1_SEP, 5, 0, "", F_BASE, "no CRLF at all: the receiver waits for it") \
	X("v1-early-crlf", 1, R, PP_R_V1_FIELD_COUNT, M_V1_SEP, 2, 0, "\r\n", F_BASE, "CRLF right after the source address") \
	X("v1-truncated", 1, I, PP_R_OK, M_V1_CUT, 20, 0, "", F_BASE, "only the first 20 bytes of the line") \
	X("v1-proxy-prefix-only", 1, I, PP_R_OK, M_RAW, 0, 0, "PROXY", F_BASE, "\"PROXY\" and nothing more") \
	X("v1-too-long", 1, R, PP_R_V1_TOO_LONG, M_V1_PAD, 108, 1, "", F_BASE, "UNKNOWN line of 108 bytes, CRLF included (limit 107)") \
	X("v1-no-crlf-in-107", 1, R, PP_R_V1_TOO_LONG, M_V1_PAD, 107, 0, "", F_BASE, "107 bytes without CRLF") \
	X("v1-nul-inside", 1, R, PP_R_V1_BAD_EOL, M_V1_POKE, 13, 0, "", F_BASE, "a NUL byte inside the source address") \
	X("v1-octet-256", 1, R, PP_R_V1_BAD_SRC_ADDR, M_V1_TOK, 2, 0, "256.0.2.1", F_TCP4, "source address with an octet of 256") \
	X("v1-ip-leading-zero", 1, R, PP_R_V1_BAD_SRC_ADDR, M_V1_TOK, 2, 0, "192.0.2.01", F_TCP4, "source address with a leading zero (octal-looking octet)") \
	X("v1-ip-three-octets", 1, R, PP_R_V1_BAD_SRC_ADDR, M_V1_TOK, 2, 0, "192.0.2", F_TCP4, "source address with 3 octets") \
	X("v1-ip-five-octets", 1, R, PP_R_V1_BAD_SRC_ADDR, M_V1_TOK, 2, 0, "192.0.2.1.5", F_TCP4, "source address with 5 octets") \
	X("v1-ip-empty-octet", 1, R, PP_R_V1_BAD_SRC_ADDR, M_V1_TOK, 2, 0, "192..2.1", F_TCP4, "source address with an empty octet") \
	X("v1-hostname", 1, R, PP_R_V1_BAD_SRC_ADDR, M_V1_TOK, 2, 0, "localhost", F_TCP4, "a host name instead of the source address") \
	X("v1-dst-octet-300", 1, R, PP_R_V1_BAD_DST_ADDR, M_V1_TOK, 3, 0, "198.51.100.300", F_TCP4, "destination address with an octet of 300") \
	X("v1-ipv6-in-tcp4", 1, R, PP_R_V1_FAMILY_MISMATCH, M_V1_TOK, 2, 0, "2001:db8::1", F_TCP4, "IPv6 source address in a TCP4 line") \
	X("v1-ipv4-mapped-in-tcp4", 1, R, PP_R_V1_FAMILY_MISMATCH, M_V1_TOK, 2, 0, "::ffff:192.0.2.1", F_TCP4, "IPv4-mapped IPv6 source address in a TCP4 line") \
	X("v1-ipv4-in-tcp6", 1, R, PP_R_V1_FAMILY_MISMATCH, M_V1_TOK, 2, 0, "192.0.2.1", F_TCP6, "IPv4 source address in a TCP6 line") \
	X("v1-ipv6-zone-id", 1, R, PP_R_V1_BAD_SRC_ADDR, M_V1_TOK, 2, 0, "fe80::1%eth0", F_TCP6, "IPv6 source address with a zone id") \
	X("v1-ipv6-triple-colon", 1, R, PP_R_V1_BAD_SRC_ADDR, M_V1_TOK, 2, 0, "2001:db8:::1", F_TCP6, "IPv6 source address with ':::'") \
	X("v1-ipv6-two-double-colons", 1, R, PP_R_V1_BAD_SRC_ADDR, M_V1_TOK, 2, 0, "2001::db8::1", F_TCP6, "IPv6 source address with two '::'") \
	X("v1-ipv6-nine-groups", 1, R, PP_R_V1_BAD_SRC_ADDR, M_V1_TOK, 2, 0, "1:2:3:4:5:6:7:8:9", F_TCP6, "IPv6 source address with 9 groups") \
	X("v1-ipv6-brackets", 1, R, PP_R_V1_BAD_SRC_ADDR, M_V1_TOK, 2, 0, "[2001:db8::1]", F_TCP6, "IPv6 source address in brackets") \
	X("v1-port-65536", 1, R, PP_R_V1_BAD_SRC_PORT, M_V1_TOK, 4, 0, "65536", F_BASE, "source port 65536") \
	X("v1-port-negative", 1, R, PP_R_V1_BAD_SRC_PORT, M_V1_TOK, 4, 0, "-1", F_BASE, "source port -1") \
	X("v1-port-plus-sign", 1, R, PP_R_V1_BAD_SRC_PORT, M_V1_TOK, 4, 0, "+40000", F_BASE, "source port with a '+' sign") \
	X("v1-port-leading-zero", 1, R, PP_R_V1_BAD_DST_PORT, M_V1_TOK, 5, 0, "01883", F_BASE, "destination port with a leading zero") \
	X("v1-port-not-number", 1, R, PP_R_V1_BAD_DST_PORT, M_V1_TOK, 5, 0, "mqtt", F_BASE, "a service name instead of the destination port") \
	X("v1-missing-field", 1, R, PP_R_V1_FIELD_COUNT, M_V1_DROP, 5, 0, "", F_BASE, "destination port missing (5 fields)") \
	X("v1-extra-field", 1, R, PP_R_V1_FIELD_COUNT, M_V1_EXTRA, 0, 0, "42", F_BASE, "a seventh field after the destination port") \
	X("v1-empty-line", 1, R, PP_R_V2_BAD_SIG, M_RAW, 0, 0, "\r\n" CONNECT_BYTES, F_BASE, "an empty line then CONNECT: starts like the v2 signature, fails at byte 2") \
	X("v1-http-get", 1, N, PP_R_NOT_PROXY, M_RAW, 0, 0, "GET /mqtt HTTP/1.1\r\nHost: broker\r\nUpgrade: websocket\r\n\r\n", F_BASE, "a WebSocket upgrade request and no header") \
	X("v1-http-put", 1, N, PP_R_NOT_PROXY, M_RAW, 0, 0, "PUT / HTTP/1.1\r\n\r\n", F_BASE, "an HTTP request starting with 'P', fails at byte 1") \
	X("v1-mqtt-connect", 1, N, PP_R_NOT_PROXY, M_RAW, 0, 0, CONNECT_BYTES, F_BASE, "an MQTT CONNECT and no header") \
	X("v1-tls-client-hello", 1, N, PP_R_NOT_PROXY, M_RAW, 0, 0, "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03", F_BASE, "a TLS ClientHello and no header") \
	X("v2-sig-first-byte", 2, N, PP_R_NOT_PROXY, M_V2_BYTE, 0, 0x0A, "", F_BASE, "signature byte 0 damaged (0x0A): no longer starts like a header") \
	X("v2-sig-first-crlf", 2, R, PP_R_V2_BAD_SIG, M_V2_BYTE, 1, 0x0D, "", F_BASE, "signature byte 1 damaged (first CRLF)") \
	X("v2-sig-second-crlf", 2, R, PP_R_V2_BAD_SIG, M_V2_BYTE, 2, 0x0A, "", F_BASE, "signature byte 2 damaged (second CRLF)") \
	X("v2-sig-nul", 2, R, PP_R_V2_BAD_SIG, M_V2_BYTE, 4, 0x20, "", F_BASE, "signature NUL (byte 4) replaced by a space") \
	X("v2-sig-third-crlf", 2, R, PP_R_V2_BAD_SIG, M_V2_BYTE, 6, 0x0D, "", F_BASE, "signature byte 6 damaged (third CRLF)") \
	X("v2-sig-quit-lowercase", 2, R, PP_R_V2_BAD_SIG, M_V2_BYTE, 7, 'q', "", F_BASE, "signature \"QUIT\" starting with 'q'") \
	X("v2-sig-quit", 2, R, PP_R_V2_BAD_SIG, M_V2_BYTE, 10, 'X', "", F_BASE, "signature \"QUIX\" instead of \"QUIT\"") \
	X("v2-sig-last-lf", 2, R, PP_R_V2_BAD_SIG, M_V2_BYTE, 11, 0x0D, "", F_BASE, "signature byte 11 damaged (final LF)") \
	X("v2-sig-truncated", 2, I, PP_R_OK, M_V2_CUT, 8, 0, "", F_BASE, "only the first 8 signature bytes") \
	X("v2-sig-truncated-then-connect", 2, R, PP_R_V2_BAD_SIG, M_V2_CUT_THEN, 8, 0, "", F_BASE, "8 signature bytes, then an MQTT CONNECT") \
	X("v2-version-0", 2, R, PP_R_V2_BAD_VERSION, M_V2_HI, 12, 0, "", F_BASE, "version 0") \
	X("v2-version-1", 2, R, PP_R_V2_BAD_VERSION, M_V2_HI, 12, 1, "", F_BASE, "version 1 in a binary header") \
	X("v2-version-3", 2, R, PP_R_V2_BAD_VERSION, M_V2_HI, 12, 3, "", F_BASE, "version 3") \
	X("v2-version-15", 2, R, PP_R_V2_BAD_VERSION, M_V2_HI, 12, 15, "", F_BASE, "version 15") \
	X("v2-command-2", 2, R, PP_R_V2_BAD_COMMAND, M_V2_LO, 12, 2, "", F_BASE, "command 2 (only LOCAL 0 and PROXY 1 exist)") \
	X("v2-command-3", 2, R, PP_R_V2_BAD_COMMAND, M_V2_LO, 12, 3, "", F_BASE, "command 3") \
	X("v2-command-8", 2, R, PP_R_V2_BAD_COMMAND, M_V2_LO, 12, 8, "", F_BASE, "command 8") \
	X("v2-command-15", 2, R, PP_R_V2_BAD_COMMAND, M_V2_LO, 12, 15, "", F_BASE, "command 15") \
	X("v2-family-4", 2, R, PP_R_V2_BAD_FAMILY, M_V2_HI, 13, 4, "", F_BASE, "address family 4 (0..3 exist)") \
	X("v2-family-8", 2, R, PP_R_V2_BAD_FAMILY, M_V2_HI, 13, 8, "", F_BASE, "address family 8") \
	X("v2-family-15", 2, R, PP_R_V2_BAD_FAMILY, M_V2_HI, 13, 15, "", F_BASE, "address family 15") \
	X("v2-transport-3", 2, R, PP_R_V2_BAD_TRANSPORT, M_V2_LO, 13, 3, "", F_BASE, "transport 3 (0..2 exist)") \
	X("v2-transport-8", 2, R, PP_R_V2_BAD_TRANSPORT, M_V2_LO, 13, 8, "", F_BASE, "transport 8") \
	X("v2-transport-15", 2, R, PP_R_V2_BAD_TRANSPORT, M_V2_LO, 13, 15, "", F_BASE, "transport 15") \
	X("v2-len-zero-proxy", 2, R, PP_R_V2_SHORT_ADDR, M_V2_LEN, 0, 0, "", F_INET, "PROXY TCP4 with length 0: no address block") \
	X("v2-len-short-inet", 2, R, PP_R_V2_SHORT_ADDR, M_V2_LEN, 8, 0, "", F_INET, "PROXY TCP4 with length 8 (block is 12)") \
	X("v2-len-short-inet6", 2, R, PP_R_V2_SHORT_ADDR, M_V2_LEN, 20, 0, "", F_INET6, "PROXY TCP6 with length 20 (block is 36)") \
	X("v2-len-short-unix", 2, R, PP_R_V2_SHORT_ADDR, M_V2_LEN, 108, 0, "", F_UNIX, "PROXY UNIX with length 108 (block is 216)") \
	X("v2-len-longer-than-sent", 2, I, PP_R_OK, M_V2_LEN_ADD, 10, 0, "", F_BASE, "length says 10 bytes more than are sent") \
	X("v2-len-over-max", 2, R, PP_R_TOO_LARGE, M_V2_LEN_RAW, 65535, 0, "", F_BASE, "length 65535: above the 4096-byte default maximum") \
	X("v2-cut-fixed", 2, I, PP_R_OK, M_V2_CUT, 14, 0, "", F_BASE, "cut inside the length field (14 bytes)") \
	X("v2-cut-address", 2, I, PP_R_OK, M_V2_CUT, 22, 0, "", F_INET, "cut inside the address block") \
	X("v2-cut-tlv", 2, I, PP_R_OK, M_V2_APPEND_CUT, 3, 0, "\x01\x00\x04mqtt", F_BASE, "length covers an ALPN TLV whose last 3 bytes are not sent") \
	X("v2-tlv-header-cut", 2, R, PP_R_V2_TLV_TRUNCATED, M_V2_APPEND, 0, 0, "\x01\x00", F_BASE, "header ends 2 bytes into a TLV header") \
	X("v2-tlv-one-byte", 2, R, PP_R_V2_TLV_TRUNCATED, M_V2_APPEND, 0, 0, "\x04", F_BASE, "header ends 1 byte into a TLV header") \
	X("v2-tlv-value-cut", 2, R, PP_R_V2_TLV_TRUNCATED, M_V2_APPEND, 0, 0, "\x01\x00\x0amqtt", F_BASE, "ALPN TLV of length 10 with 4 bytes left in the header") \
	X("v2-tlv-overflow", 2, R, PP_R_V2_TLV_TRUNCATED, M_V2_APPEND, 0, 0, "\x02\xff\xff" "abcd", F_BASE, "AUTHORITY TLV of length 65535, far beyond the header length") \
	X("v2-ssl-too-short", 2, R, PP_R_V2_SSL_TRUNCATED, M_V2_APPEND, 0, 0, "\x20\x00\x03\x01\x00\x00", F_BASE, "SSL TLV of 3 bytes (client + verify need 5)") \
	X("v2-ssl-empty", 2, R, PP_R_V2_SSL_TRUNCATED, M_V2_APPEND, 0, 0, "\x20\x00\x00", F_BASE, "empty SSL TLV") \
	X("v2-ssl-sub-overflow", 2, R, PP_R_V2_SSL_TRUNCATED, M_V2_APPEND, 0, 0, "\x20\x00\x0a\x01\x00\x00\x00\x00\x22\x00\x32" "ab", F_BASE, "SSL CN sub-TLV of length 50 with 2 bytes left in the SSL TLV") \
	X("v2-ssl-sub-header-cut", 2, R, PP_R_V2_SSL_TRUNCATED, M_V2_APPEND, 0, 0, "\x20\x00\x07\x01\x00\x00\x00\x00\x22\x00", F_BASE, "SSL TLV ending 2 bytes into a sub-TLV header") \
	X("v2-crc-wrong", 2, R, PP_R_V2_CRC_MISMATCH, M_V2_CRC_FLIP, 0, 0, "", F_BASE, "CRC32C with one bit flipped") \
	X("v2-crc-stale", 2, R, PP_R_V2_CRC_MISMATCH, M_V2_CRC_POKE, 16, 0, "", F_INET, "source address changed after the CRC32C was computed") \
	X("v2-crc-zero", 2, R, PP_R_V2_CRC_MISMATCH, M_V2_APPEND, 0, 0, "\x03\x00\x04\x00\x00\x00\x00", F_INET, "CRC32C TLV left at zero") \
	X("v2-crc-len-3", 2, R, PP_R_V2_BAD_CRC_LEN, M_V2_APPEND, 0, 0, "\x03\x00\x03\x00\x00\x00", F_BASE, "CRC32C TLV of length 3") \
	X("v2-crc-len-8", 2, R, PP_R_V2_BAD_CRC_LEN, M_V2_APPEND, 0, 0, "\x03\x00\x08\x00\x00\x00\x00\x00\x00\x00\x00", F_BASE, "CRC32C TLV of length 8") \
	X("v2-crc-dup", 2, R, PP_R_V2_DUP_TLV, M_V2_CRC_DUP, 0, 0, "", F_BASE, "two CRC32C TLVs") \
	X("v2-too-many-tlvs", 2, L, PP_R_V2_TOO_MANY_TLVS, M_V2_APPEND, 33, 0, "\x04\x00\x00", F_INET, "33 empty NOOP TLVs (at most 32 are kept)") \
	X("v2-unix-path-no-nul", 2, L, PP_R_V2_BAD_UNIX_PATH, M_V2_UNIX_NONUL, 0, 0, "", F_UNIX, "UNIX source path of 108 bytes without NUL") \
	X("v2-unique-id-129", 2, L, PP_R_V2_BAD_UNIQUE_ID, M_V2_APPEND_TLV, 129, PP2_TYPE_UNIQUE_ID, "", F_BASE, "UNIQUE_ID TLV of 129 bytes (at most 128)")

struct mut_impl {
	enum mut_op op;
	int a, b;
	const char *s;
	size_t slen;
	int force;
};

#define X_PUB(nm, ver, vd, rs, op, a, b, s, force, desc) {nm, ver, desc, vd, rs},
#define X_IMPL(nm, ver, vd, rs, op, a, b, s, force, desc) {op, a, b, s, sizeof(s) - 1, force},

static const struct pp_mutation mutations[] = {PP_MUTATION_LIST(X_PUB)};
static const struct mut_impl mut_impls[] = {PP_MUTATION_LIST(X_IMPL)};

#undef R
#undef I
#undef N
#undef L

#define NMUT (sizeof(mutations) / sizeof(mutations[0]))

const struct pp_mutation *pp_mutations(size_t *count)
{
	if (count)
		*count = NMUT;
	return mutations;
}

const struct pp_mutation *pp_mutation_find(const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < NMUT; i++)
		if (strcmp(mutations[i].name, name) == 0)
			return &mutations[i];
	return NULL;
}

static const uint8_t mqtt_connect[] = CONNECT_BYTES;

/* Default headers: documentation addresses (RFC 5737, RFC 3849). */
static void default_header(struct pp_header *h, int version, int fam)
{
	struct sockaddr_storage s, d;

	pp_header_init(h, version, PP_CMD_PROXY);
	if (fam == F_INET6 || fam == F_TCP6) {
		pp_sockaddr_parse(PP_DEF_SRC6, &s);
		pp_sockaddr_parse(PP_DEF_DST6, &d);
	} else if (fam == F_UNIX) {
		pp_sockaddr_parse(PP_DEF_SRC_UNIX, &s);
		pp_sockaddr_parse(PP_DEF_DST_UNIX, &d);
	} else {
		pp_sockaddr_parse(PP_DEF_SRC4, &s);
		pp_sockaddr_parse(PP_DEF_DST4, &d);
	}
	pp_header_set_addrs(h, &s, &d);
}

struct v1_line {
	char tok[6][64];
	const char *sep[6];
	size_t seplen[6];
	bool drop[6];
	const char *extra;
};

static int out_put(uint8_t *out, size_t cap, size_t *n, const void *p, size_t len)
{
	if (*n + len > cap)
		return -1;
	memcpy(out + *n, p, len);
	*n += len;
	return 0;
}

static int v1_serialize(const struct v1_line *l, uint8_t *out, size_t cap)
{
	size_t n = 0;

	for (int k = 0; k < 6; k++) {
		if (l->drop[k])
			continue;
		if (k > 0 && out_put(out, cap, &n, l->sep[k - 1], l->seplen[k - 1]) < 0)
			return -1;
		if (out_put(out, cap, &n, l->tok[k], strlen(l->tok[k])) < 0)
			return -1;
	}
	if (l->extra && (out_put(out, cap, &n, " ", 1) < 0 ||
			 out_put(out, cap, &n, l->extra, strlen(l->extra)) < 0))
		return -1;
	if (out_put(out, cap, &n, l->sep[5], l->seplen[5]) < 0)
		return -1;
	return (int)n;
}

static int mut_room(const struct pp_mutation *m, size_t cap, struct pp_error *err)
{
	return pp_error_set(err, PP_R_BUILD, 0, "mutation %s: does not fit in %zu bytes", m->name, cap);
}

/* The v1 mutations that are no TCP4/TCP6 line: raw bytes and padded
 * UNKNOWN lines. */
static int mut_v1_text(const struct pp_mutation *m, const struct mut_impl *mi, uint8_t *out,
		       size_t cap, struct pp_error *err)
{
	static const char pre[] = "PROXY UNKNOWN ";
	size_t n = 0, total = (size_t)mi->a, body = total - (mi->b ? 2 : 0);

	if (mi->op == M_RAW) {
		if (out_put(out, cap, &n, mi->s, mi->slen) < 0)
			return mut_room(m, cap, err);
		return (int)n;
	}
	if (total > cap)
		return mut_room(m, cap, err);
	memcpy(out, pre, sizeof(pre) - 1);
	memset(out + sizeof(pre) - 1, 'x', body - (sizeof(pre) - 1));
	if (mi->b)
		memcpy(out + body, "\r\n", 2);
	return (int)total;
}

/* The tokens of the line to mutate: the base's when it is a TCP4/TCP6 line
 * of the family the mutation needs, else the default line's. */
static void mut_v1_line(const struct pp_header *base, const struct mut_impl *mi, struct v1_line *l)
{
	struct pp_header def;
	const struct pp_header *h = base;
	bool ok = h && h->version == 1 && h->command == PP_CMD_PROXY &&
		  (h->family == PP_FAM_INET || h->family == PP_FAM_INET6);

	if (ok && mi->force == F_TCP4 && h->family != PP_FAM_INET)
		ok = false;
	if (ok && mi->force == F_TCP6 && h->family != PP_FAM_INET6)
		ok = false;
	if (!ok) {
		default_header(&def, 1, mi->force == F_TCP6 ? F_TCP6 : F_TCP4);
		h = &def;
	}
	memset(l, 0, sizeof(*l));
	snprintf(l->tok[0], sizeof(l->tok[0]), "PROXY");
	snprintf(l->tok[1], sizeof(l->tok[1]), "%s", h->family == PP_FAM_INET ? "TCP4" : "TCP6");
	pp_addr_str(&h->src, l->tok[2], sizeof(l->tok[2]));
	pp_addr_str(&h->dst, l->tok[3], sizeof(l->tok[3]));
	snprintf(l->tok[4], sizeof(l->tok[4]), "%u", pp_addr_port(&h->src));
	snprintf(l->tok[5], sizeof(l->tok[5]), "%u", pp_addr_port(&h->dst));
	for (int k = 0; k < 5; k++) {
		l->sep[k] = " ";
		l->seplen[k] = 1;
	}
	l->sep[5] = "\r\n";
	l->seplen[5] = 2;
}

/* The edits made on the tokens before the line is written. */
static void mut_v1_edit(const struct mut_impl *mi, struct v1_line *l)
{
	switch (mi->op) {
	case M_V1_SEP:
		l->sep[mi->a] = mi->s;
		l->seplen[mi->a] = mi->slen;
		break;
	case M_V1_TOK:
		snprintf(l->tok[mi->a], sizeof(l->tok[mi->a]), "%s", mi->s);
		break;
	case M_V1_LOWER:
		for (char *c = l->tok[mi->a]; *c; c++)
			if (*c >= 'A' && *c <= 'Z')
				*c = (char)(*c - 'A' + 'a');
		break;
	case M_V1_DROP:
		l->drop[mi->a] = true;
		break;
	case M_V1_EXTRA:
		l->extra = mi->s;
		break;
	case M_V1_THEN:
		l->sep[5] = mi->s;
		l->seplen[5] = mi->slen;
		break;
	default:
		break;
	}
}

/* The edits made on the written line (n bytes). */
static int mut_v1_after(const struct pp_mutation *m, const struct mut_impl *mi, uint8_t *out,
			size_t cap, size_t n, struct pp_error *err)
{
	switch (mi->op) {
	case M_V1_THEN:
		if (out_put(out, cap, &n, mqtt_connect, sizeof(mqtt_connect) - 1) < 0)
			return mut_room(m, cap, err);
		break;
	case M_V1_CUT:
		if ((size_t)mi->a < n)
			n = (size_t)mi->a;
		else
			n = n - 2;
		break;
	case M_V1_POKE:
		if ((size_t)mi->a < n)
			out[mi->a] = (uint8_t)mi->b;
		break;
	default:
		break;
	}
	return (int)n;
}

static int mutate_v1(const struct pp_mutation *m, const struct mut_impl *mi,
		     const struct pp_header *base, uint8_t *out, size_t cap,
		     struct pp_error *err)
{
	struct v1_line l;
	size_t n = 0;
	int r;

	if (mi->op == M_RAW || mi->op == M_V1_PAD)
		return mut_v1_text(m, mi, out, cap, err);
	mut_v1_line(base, mi, &l);
	mut_v1_edit(mi, &l);
	if (mi->op == M_V1_PREFIX && out_put(out, cap, &n, mi->s, mi->slen) < 0)
		return mut_room(m, cap, err);
	r = v1_serialize(&l, out + n, cap - n);
	if (r < 0)
		return mut_room(m, cap, err);
	return mut_v1_after(m, mi, out, cap, n + (size_t)r, err);
}

/* Bytes of the built header changed in place. */
static void mut_v2_poke(const struct mut_impl *mi, uint8_t *out)
{
	switch (mi->op) {
	case M_V2_BYTE:
		out[mi->a] = (uint8_t)mi->b;
		break;
	case M_V2_HI:
		out[mi->a] = (uint8_t)((out[mi->a] & 0x0F) | (mi->b << 4));
		break;
	case M_V2_LO:
		out[mi->a] = (uint8_t)((out[mi->a] & 0xF0) | mi->b);
		break;
	case M_V2_UNIX_NONUL:
		memset(out + PP_V2_FIXED_LEN, 'a', PP_UNIX_PATH_LEN);
		break;
	default:
		break;
	}
}

/* The length field, and how much of the built header (n bytes) is sent. */
static int mut_v2_length(const struct pp_mutation *m, const struct mut_impl *mi, uint8_t *out,
			 size_t cap, size_t n, struct pp_error *err)
{
	size_t plen = n - PP_V2_FIXED_LEN;

	switch (mi->op) {
	case M_V2_CUT:
	case M_V2_CUT_THEN:
		if ((size_t)mi->a < n)
			n = (size_t)mi->a;
		if (mi->op == M_V2_CUT_THEN &&
		    out_put(out, cap, &n, mqtt_connect, sizeof(mqtt_connect) - 1) < 0)
			return mut_room(m, cap, err);
		break;
	case M_V2_LEN:
		if ((size_t)mi->a < plen)
			n = PP_V2_FIXED_LEN + (size_t)mi->a;
		wr16(out + 14, (size_t)mi->a);
		break;
	case M_V2_LEN_RAW:
		wr16(out + 14, (size_t)mi->a);
		break;
	case M_V2_LEN_ADD:
		if (plen + (size_t)mi->a > 65535)
			return mut_room(m, cap, err);
		wr16(out + 14, plen + (size_t)mi->a);
		break;
	default:
		break;
	}
	return (int)n;
}

/* Bytes appended to the built header (n bytes), the length field counting
 * them. */
static int mut_v2_append(const struct pp_mutation *m, const struct mut_impl *mi, uint8_t *out,
			 size_t cap, size_t n, struct pp_error *err)
{
	size_t p = n;

	if (mi->op == M_V2_APPEND_TLV) {
		if (put_tlv(out, cap, &p, (uint8_t)mi->b, NULL, (size_t)mi->a, err) < 0)
			return PP_INVALID;
		memset(out + n + 3, 'u', (size_t)mi->a);
	} else {
		int times = mi->op == M_V2_APPEND && mi->a > 0 ? mi->a : 1;

		for (int k = 0; k < times; k++)
			if (out_put(out, cap, &p, mi->s, mi->slen) < 0)
				return mut_room(m, cap, err);
	}
	if (p - PP_V2_FIXED_LEN > 65535)
		return mut_room(m, cap, err);
	wr16(out + 14, p - PP_V2_FIXED_LEN);
	if (mi->op == M_V2_APPEND_CUT)
		p -= (size_t)mi->a;
	return (int)p;
}

/* The header (n bytes) was built with a CRC32C TLV: one bit of its value
 * or of byte a flipped, or the TLV given twice. */
static int mut_v2_crc(const struct pp_mutation *m, const struct mut_impl *mi, uint8_t *out,
		      size_t cap, size_t n, struct pp_error *err)
{
	struct pp_header ph;
	struct pp_parse_opts po;
	size_t crc_at = 0;
	uint8_t t[7] = {PP2_TYPE_CRC32C, 0, 4};

	pp_parse_opts_init(&po);
	po.max_len = PP_V2_MAX_LEN;
	if (pp_parse(out, n, &po, &ph, NULL) != (int)n)
		return mut_room(m, cap, err);
	for (size_t k = 0; k < ph.ntlv; k++)
		if (ph.tlv[k].type == PP2_TYPE_CRC32C)
			crc_at = (size_t)(ph.tlv[k].value.ptr - out);
	if (mi->op == M_V2_CRC_FLIP) {
		out[crc_at + 3] ^= 0x01;
	} else if (mi->op == M_V2_CRC_POKE) {
		out[mi->a] ^= 0x01;
	} else {
		memcpy(t + 3, out + crc_at, 4);
		if (out_put(out, cap, &n, t, sizeof(t)) < 0 || n - PP_V2_FIXED_LEN > 65535)
			return mut_room(m, cap, err);
		wr16(out + 14, n - PP_V2_FIXED_LEN);
	}
	return (int)n;
}

static int mutate_v2(const struct pp_mutation *m, const struct mut_impl *mi,
		     const struct pp_header *base, uint8_t *out, size_t cap,
		     struct pp_error *err)
{
	struct pp_header def;
	const struct pp_header *h = base;
	struct pp_build_opts bo;
	bool crc = mi->op == M_V2_CRC_FLIP || mi->op == M_V2_CRC_POKE || mi->op == M_V2_CRC_DUP;
	int r;

	if (mi->force != F_BASE || !h || h->version != 2) {
		default_header(&def, 2, mi->force == F_BASE ? F_INET : mi->force);
		h = &def;
	}
	memset(&bo, 0, sizeof(bo));
	bo.crc32c = crc;
	r = pp_build(h, &bo, out, cap, err);
	if (r < 0)
		return r;
	switch (mi->op) {
	case M_V2_CUT:
	case M_V2_CUT_THEN:
	case M_V2_LEN:
	case M_V2_LEN_RAW:
	case M_V2_LEN_ADD:
		return mut_v2_length(m, mi, out, cap, (size_t)r, err);
	case M_V2_APPEND:
	case M_V2_APPEND_CUT:
	case M_V2_APPEND_TLV:
		return mut_v2_append(m, mi, out, cap, (size_t)r, err);
	default:
		break;
	}
	if (crc)
		return mut_v2_crc(m, mi, out, cap, (size_t)r, err);
	mut_v2_poke(mi, out);
	return r;
}

int pp_mutate(const char *name, const struct pp_header *base, uint8_t *out,
	      size_t cap, struct pp_error *err)
{
	const struct pp_mutation *m = pp_mutation_find(name);

	err_clear(err);
	if (!m)
		return pp_error_set(err, PP_R_BUILD, 0, "unknown mutation '%s'", name ? name : "(null)");
	if (!out)
		return pp_error_set(err, PP_R_BUILD, 0, "no output buffer");
	const struct mut_impl *mi = &mut_impls[m - mutations];
	if (m->version == 1)
		return mutate_v1(m, mi, base, out, cap, err);
	return mutate_v2(m, mi, base, out, cap, err);
}
