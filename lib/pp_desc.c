/* pp_desc.c - see pp_desc.h. */
#include "pp_desc.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ---- TLV types ---------------------------------------------------------- */

static const struct pp_tlv_def tlv_defs[] = {
	{ "authority", PP2_TYPE_AUTHORITY, PP_VAL_TEXT, "authority", "NAME",
	  "PP2_TYPE_AUTHORITY (0x02)" },
	{ "alpn", PP2_TYPE_ALPN, PP_VAL_TEXT, "alpn", "PROTO", "PP2_TYPE_ALPN (0x01)" },
	{ "ssl", PP2_TYPE_SSL, PP_VAL_SSL, NULL, NULL,
	  "PP2_TYPE_SSL (0x20): client, verify and sub-TLVs" },
	{ "unique_id", PP2_TYPE_UNIQUE_ID, PP_VAL_TEXT, "unique-id", "ID",
	  "PP2_TYPE_UNIQUE_ID (0x05)" },
	{ "aws", PP2_TYPE_AWS, PP_VAL_AWS_VPCE, "aws-vpce", "ID",
	  "AWS VPC endpoint id (0xEA, sub-type 0x01)" },
	{ "azure", PP2_TYPE_AZURE, PP_VAL_AZURE_LINKID, "azure-linkid", "N",
	  "Azure private endpoint LINKID (0xEE, sub-type 0x01)" },
	{ "gcp", PP2_TYPE_GCP, PP_VAL_GCP_PSC, "gcp-psc", "N",
	  "GCP PSC connection id (0xE0, sub-type 0x01)" },
	{ "netns", PP2_TYPE_NETNS, PP_VAL_TEXT, "netns", "NAME", "PP2_TYPE_NETNS (0x30)" },
	{ "noop", PP2_TYPE_NOOP, PP_VAL_ZEROS, "noop", "N",
	  "PP2_TYPE_NOOP (0x04) of N zero bytes" },
	{ "crc32c", PP2_TYPE_CRC32C, PP_VAL_CRC32C, "crc32c", NULL,
	  "append a PP2_TYPE_CRC32C (0x03) TLV with the checksum" },
};

#define NDEFS (sizeof(tlv_defs) / sizeof(tlv_defs[0]))

const struct pp_tlv_def *pp_tlv_defs(size_t *count)
{
	*count = NDEFS;
	return tlv_defs;
}

const struct pp_tlv_def *pp_tlv_def_by_name(const char *name)
{
	for (size_t i = 0; name && i < NDEFS; i++)
		if (strcasecmp(name, tlv_defs[i].name) == 0)
			return &tlv_defs[i];
	return NULL;
}

const struct pp_tlv_def *pp_tlv_def_by_type(unsigned type)
{
	for (size_t i = 0; i < NDEFS; i++)
		if (tlv_defs[i].type == type)
			return &tlv_defs[i];
	return NULL;
}

const char *pp_tlv_name(unsigned type)
{
	const struct pp_tlv_def *d = pp_tlv_def_by_type(type);

	return d ? d->name : NULL;
}

/* Decimal, or hexadecimal after 0x; digits only, at most max. */
static int number_parse(const char *s, unsigned max, unsigned *out)
{
	unsigned v = 0, base = 10;
	int d;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (base == 16 && (*s | 0x20) >= 'a' && (*s | 0x20) <= 'f')
			d = (*s | 0x20) - 'a' + 10;
		else
			return -1;
		v = v * base + (unsigned)d;
		if (v > max)
			return -1;
	}
	*out = v;
	return 0;
}

int pp_tlv_type_parse(const char *s, uint8_t *type)
{
	const struct pp_tlv_def *d = pp_tlv_def_by_name(s);
	unsigned v;

	if (d) {
		*type = d->type;
		return 0;
	}
	if (!s || number_parse(s, 255, &v) < 0)
		return -1;
	*type = (uint8_t)v;
	return 0;
}

/* ---- SSL sub-TLVs ------------------------------------------------------- */

const struct pp_ssl_sub pp_ssl_subs[PP_SSL_NSUBS] = {
	{ "version", PP2_SUBTYPE_SSL_VERSION, "ssl-version", "V", offsetof(struct pp_ssl, version) },
	{ "cn", PP2_SUBTYPE_SSL_CN, "ssl-cn", "CN", offsetof(struct pp_ssl, cn) },
	{ "cipher", PP2_SUBTYPE_SSL_CIPHER, "ssl-cipher", "C", offsetof(struct pp_ssl, cipher) },
	{ "sig_alg", PP2_SUBTYPE_SSL_SIG_ALG, "ssl-sig-alg", "A", offsetof(struct pp_ssl, sig_alg) },
	{ "key_alg", PP2_SUBTYPE_SSL_KEY_ALG, "ssl-key-alg", "A", offsetof(struct pp_ssl, key_alg) },
};

struct pp_bytes *pp_ssl_field(struct pp_ssl *ssl, size_t i)
{
	return (struct pp_bytes *)((char *)ssl + pp_ssl_subs[i].offset);
}

const struct pp_bytes *pp_ssl_field_c(const struct pp_ssl *ssl, size_t i)
{
	return (const struct pp_bytes *)((const char *)ssl + pp_ssl_subs[i].offset);
}

/* ---- value encoders ------------------------------------------------------ */

static void put_be(uint8_t *p, uint64_t v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

int pp_ssl_encode(const struct pp_ssl *ssl, uint8_t *out, size_t cap)
{
	size_t p = 5;

	if (cap < 5)
		return -1;
	out[0] = ssl->client;
	put_be(out + 1, ssl->verify, 4);
	for (size_t k = 0; k < PP_SSL_NSUBS; k++) {
		const struct pp_bytes *b = pp_ssl_field_c(ssl, k);

		if (!b->ptr)
			continue;
		if (b->len > 65535 || p + 3 + b->len > cap || p + 3 + b->len > 65535)
			return -1;
		out[p] = pp_ssl_subs[k].type;
		put_be(out + p + 1, b->len, 2);
		memcpy(out + p + 3, b->ptr, b->len);
		p += 3 + b->len;
	}
	return (int)p;
}

/* Sub-type 0x01, then n bytes: the custom TLVs of the cloud providers. */
static int sub01(const void *data, size_t n, uint8_t *out, size_t cap)
{
	if (n + 1 > cap || n + 1 > 65535)
		return -1;
	out[0] = 0x01;
	memcpy(out + 1, data, n);
	return (int)(n + 1);
}

int pp_tlv_aws_vpce(const char *id, uint8_t *out, size_t cap)
{
	return sub01(id, strlen(id), out, cap);
}

int pp_tlv_azure_linkid(uint32_t linkid, uint8_t *out, size_t cap)
{
	uint8_t le[4];

	for (size_t i = 0; i < 4; i++)
		le[i] = (uint8_t)(linkid >> (8 * i));
	return sub01(le, sizeof(le), out, cap);
}

int pp_tlv_gcp_psc(uint64_t id, uint8_t *out, size_t cap)
{
	uint8_t be[8];

	put_be(be, id, sizeof(be));
	return sub01(be, sizeof(be), out, cap);
}

/* ---- families, transports, commands by name ------------------------------ */

struct named { const char *name; int value; };

static int named_parse(const struct named *t, size_t n, const char *s, int *out)
{
	for (size_t i = 0; s && i < n; i++)
		if (strcasecmp(s, t[i].name) == 0) {
			*out = t[i].value;
			return 0;
		}
	return -1;
}

/* The first name of each value is the one pp_*_name gives. */
static const struct named fams[] = {
	{ "unspec", PP_FAM_UNSPEC }, { "inet", PP_FAM_INET }, { "inet6", PP_FAM_INET6 },
	{ "unix", PP_FAM_UNIX }, { "unknown", PP_FAM_UNSPEC }, { "inet4", PP_FAM_INET },
	{ "ipv4", PP_FAM_INET }, { "tcp4", PP_FAM_INET }, { "ipv6", PP_FAM_INET6 },
	{ "tcp6", PP_FAM_INET6 },
};
static const struct named protos[] = {
	{ "unspec", PP_PROTO_UNSPEC }, { "stream", PP_PROTO_STREAM }, { "dgram", PP_PROTO_DGRAM },
};
static const struct named cmds[] = { { "local", PP_CMD_LOCAL }, { "proxy", PP_CMD_PROXY } };

/* pp_<x>_parse and pp_<x>_name over table t, whose entries up to `last`
 * are in value order: pp_fam_*, pp_proto_*, pp_cmd_*. */
#define NAMED_ENUM(x, type, t, last)						\
	int pp_##x##_parse(const char *s, type *out)				\
	{									\
		int v;								\
										\
		if (named_parse(t, sizeof(t) / sizeof(t[0]), s, &v) < 0)	\
			return -1;						\
		*out = (type)v;							\
		return 0;							\
	}									\
	const char *pp_##x##_name(type v)					\
	{									\
		return (unsigned)v <= (last) ? t[v].name : "?";			\
	}

NAMED_ENUM(fam, enum pp_fam, fams, PP_FAM_UNIX)
NAMED_ENUM(proto, enum pp_proto, protos, PP_PROTO_DGRAM)
NAMED_ENUM(cmd, enum pp_cmd, cmds, PP_CMD_PROXY)

/* ---- default addresses --------------------------------------------------- */

const struct pp_defaults pp_defaults = {
	.src = { NULL, PP_DEF_SRC4, PP_DEF_SRC6, PP_DEF_SRC_UNIX },
	.dst = { NULL, PP_DEF_DST4, PP_DEF_DST6, PP_DEF_DST_UNIX },
};

/* ---- descriptions --------------------------------------------------------- */

void pp_desc_init(struct pp_desc *d, int version)
{
	memset(d, 0, sizeof(*d));
	d->version = version;
	d->command = PP_CMD_PROXY;
	d->family = PP_FAM_INET;
	d->transport = -1;
}

int pp_desc_add_tlv(struct pp_desc *d, uint8_t type, const void *v, size_t len)
{
	return pp_tlv_append(d->tlv, &d->ntlv, type, v, len);
}

static bool is_v6(const struct sockaddr_storage *ss)
{
	return ss && ss->ss_family == AF_INET6;
}

/* The family whose addresses d writes: its own, or for UNSPEC the given
 * addresses' (INET when none is). */
static enum pp_fam addr_family(const struct pp_desc *d)
{
	const struct sockaddr_storage *given = d->src ? d->src : d->dst;

	if (d->family != PP_FAM_UNSPEC)
		return d->family;
	if (is_v6(d->src) || is_v6(d->dst))
		return PP_FAM_INET6;
	if (given && given->ss_family == AF_UNIX)
		return PP_FAM_UNIX;
	return PP_FAM_INET;
}

/* One address: the given one or the family's default, IPv4-mapped for INET6. */
static int pick_addr(const struct pp_desc *d, enum pp_fam fam, int k,
		     struct sockaddr_storage *ss, struct pp_error *err)
{
	const struct pp_defaults *def = d->defaults ? d->defaults : &pp_defaults;
	const struct sockaddr_storage *given = k ? d->dst : d->src;
	const char *text = k ? def->dst[fam] : def->src[fam];

	if (given)
		*ss = *given;
	else if (!text || pp_sockaddr_parse(text, ss) < 0)
		return pp_error_set(err, PP_R_BUILD, 0, "no default %s address for family %s",
				 k ? "destination" : "source", pp_fam_name(fam));
	if (fam == PP_FAM_INET6)
		pp_addr_map_v6(ss);
	return 0;
}

static int set_addrs(const struct pp_desc *d, struct pp_header *h, struct pp_error *err)
{
	static const int af[] = { AF_UNSPEC, AF_INET, AF_INET6, AF_UNIX };
	enum pp_fam fam = addr_family(d);
	struct sockaddr_storage s, t;

	if (pick_addr(d, fam, 0, &s, err) < 0 || pick_addr(d, fam, 1, &t, err) < 0)
		return -1;
	if (s.ss_family != af[fam] || t.ss_family != af[fam]) {
		if (fam == PP_FAM_INET)
			return pp_error_set(err, PP_R_BUILD, 0, "family inet needs IPv4 addresses");
		return pp_error_set(err, PP_R_BUILD, 0, "family %s needs %s addresses", pp_fam_name(fam),
				 fam == PP_FAM_UNIX ? "UNIX" : "IP");
	}
	return pp_header_set_addrs(h, &s, &t) < 0
		? pp_error_set(err, PP_R_BUILD, 0, "cannot use these addresses in a header") : 0;
}

int pp_desc_header(const struct pp_desc *d, struct pp_header *h, struct pp_build_opts *bo,
		   struct pp_error *err)
{
	if ((unsigned)d->family > PP_FAM_UNIX)
		return pp_error_set(err, PP_R_BUILD, 0, "family %d cannot be encoded", (int)d->family);
	pp_header_init(h, d->version, d->command);
	if ((d->family != PP_FAM_UNSPEC || d->src || d->dst || d->unknown_long) &&
	    set_addrs(d, h, err) < 0)
		return -1;
	h->family = d->family;
	if (d->transport >= 0)
		h->transport = (enum pp_proto)d->transport;
	else
		h->transport = d->family == PP_FAM_UNSPEC ? PP_PROTO_UNSPEC : PP_PROTO_STREAM;
	for (size_t i = 0; i < d->ntlv; i++)
		if (pp_header_add_tlv(h, d->tlv[i].type, d->tlv[i].value.ptr, d->tlv[i].value.len) < 0)
			return pp_error_set(err, PP_R_BUILD, 0, "too many TLVs (max %d)", PP_MAX_TLVS);
	memset(bo, 0, sizeof(*bo));
	bo->crc32c = d->crc32c;
	bo->noop_len = d->noop;
	bo->v1_unknown_long = d->unknown_long;
	return 0;
}

int pp_desc_build(const struct pp_desc *d, uint8_t *out, size_t cap, struct pp_error *err)
{
	struct pp_header h;
	struct pp_build_opts bo;

	if (pp_desc_header(d, &h, &bo, err) < 0)
		return -1;
	return pp_build(&h, &bo, out, cap, err);
}
