/* pp_desc.h - header descriptions: the words people and files use for a
 * PROXY header, and the pp_header they describe.
 *
 *   - TLV types by name ("alpn", "unique_id", "aws" ...) and back, with how
 *     each value is written and the proxygen option that writes it: one
 *     table (pp_tlv_defs) behind proxygen's options and help, the scenario
 *     loader and --tlv NAME=VALUE. A new TLV type is one row there;
 *   - value encoders: the SSL TLV with its sub-TLVs (whose names are a
 *     table too), the AWS, Azure and GCP sub-type 0x01 values;
 *   - families, transports and commands by name;
 *   - the default addresses of each family (PP_DEF_* in pp.h);
 *   - struct pp_desc: a header by parameters, addresses optional, made
 *     into a pp_header (pp_desc_header) or bytes (pp_desc_build).
 *
 * With pp.c and pp_addr.c a leaf: libc only. Failures are reasons in a
 * struct pp_error, or -1 where there is one reason only.
 */
#ifndef PPMQ_PP_DESC_H
#define PPMQ_PP_DESC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "pp.h"

/* ---- TLV types ---------------------------------------------------------- */

/* How a TLV's value is written. */
enum pp_val {
	PP_VAL_TEXT = 0,     /* the bytes as given */
	PP_VAL_SSL,          /* client, verify, then sub-TLVs: pp_ssl_encode */
	PP_VAL_AWS_VPCE,     /* sub-type 0x01, then the endpoint id: pp_tlv_aws_vpce */
	PP_VAL_AZURE_LINKID, /* sub-type 0x01, then a u32 little-endian: pp_tlv_azure_linkid */
	PP_VAL_GCP_PSC,      /* sub-type 0x01, then a u64 big-endian: pp_tlv_gcp_psc */
	PP_VAL_ZEROS,        /* N zero bytes (NOOP padding) */
	PP_VAL_CRC32C,       /* filled in by the builder (pp_build_opts.crc32c) */
};

struct pp_tlv_def {
	const char *name;    /* "unique_id": scenario files, --tlv NAME=VALUE */
	uint8_t type;        /* PP2_TYPE_* */
	enum pp_val val;
	const char *option;  /* proxygen's option for it ("unique-id"), NULL: none */
	const char *arg;     /* the option's value in help texts ("ID"), NULL: a flag */
	const char *help;    /* one line: what the option writes */
};

/* Every named TLV type, in the order help texts list them. */
const struct pp_tlv_def *pp_tlv_defs(size_t *count);
/* By name (any case), by type code; NULL when there is none. */
const struct pp_tlv_def *pp_tlv_def_by_name(const char *name);
const struct pp_tlv_def *pp_tlv_def_by_type(unsigned type);
/* "alpn" for 0x01; NULL for a type without a name. */
const char *pp_tlv_name(unsigned type);
/* A TLV type given as a name or a number 0..255 (decimal, or 0x hex).
 * Returns 0, or -1 when it is neither. */
int pp_tlv_type_parse(const char *s, uint8_t *type);

/* ---- SSL sub-TLVs ------------------------------------------------------- */

#define PP_SSL_NSUBS 5

struct pp_ssl_sub {
	const char *name;    /* "sig_alg": scenario files */
	uint8_t type;        /* PP2_SUBTYPE_SSL_* */
	const char *option;  /* proxygen's option ("ssl-sig-alg") */
	const char *arg;     /* its value in help texts ("A") */
	size_t offset;       /* of its struct pp_bytes in struct pp_ssl */
};

/* VERSION, CN, CIPHER, SIG_ALG, KEY_ALG: the order pp_ssl_encode writes. */
extern const struct pp_ssl_sub pp_ssl_subs[PP_SSL_NSUBS];

/* The field of ssl that sub-TLV i (index in pp_ssl_subs) fills. */
struct pp_bytes *pp_ssl_field(struct pp_ssl *ssl, size_t i);
const struct pp_bytes *pp_ssl_field_c(const struct pp_ssl *ssl, size_t i);

/* ---- value encoders ------------------------------------------------------ */

/* Each writes a TLV value into out[cap] and returns its length, or -1
 * when it does not fit. */

/* Client byte, verify (u32 big-endian), then a sub-TLV for every field of
 * ssl that is set (ptr not NULL). */
int pp_ssl_encode(const struct pp_ssl *ssl, uint8_t *out, size_t cap);
/* AWS (0xEA): sub-type 0x01, then the VPC endpoint id as it is. */
int pp_tlv_aws_vpce(const char *id, uint8_t *out, size_t cap);
/* Azure (0xEE): sub-type 0x01, then the private endpoint LINKID, u32 LE. */
int pp_tlv_azure_linkid(uint32_t linkid, uint8_t *out, size_t cap);
/* GCP (0xE0): sub-type 0x01, then the PSC connection id, u64 BE. */
int pp_tlv_gcp_psc(uint64_t id, uint8_t *out, size_t cap);

/* ---- families, transports, commands by name ------------------------------ */

/* inet (also inet4, ipv4, tcp4), inet6 (ipv6, tcp6), unix, unspec
 * (unknown); any case. 0 or -1. */
int pp_fam_parse(const char *s, enum pp_fam *f);
const char *pp_fam_name(enum pp_fam f);        /* "inet" ...; "?" out of range */
/* stream, dgram, unspec; any case. 0 or -1. */
int pp_proto_parse(const char *s, enum pp_proto *p);
const char *pp_proto_name(enum pp_proto p);
/* proxy, local; any case. 0 or -1. */
int pp_cmd_parse(const char *s, enum pp_cmd *c);
const char *pp_cmd_name(enum pp_cmd c);

/* ---- default addresses --------------------------------------------------- */

/* Source and destination text of each family (pp_sockaddr_parse syntax),
 * indexed by enum pp_fam; NULL for UNSPEC. */
struct pp_defaults {
	const char *src[PP_FAM_UNIX + 1];
	const char *dst[PP_FAM_UNIX + 1];
};

/* PP_DEF_* of pp.h: what pp_mutate builds on, and scenarios. */
extern const struct pp_defaults pp_defaults;

/* ---- descriptions --------------------------------------------------------- */

struct pp_desc {
	int version;              /* 1 or 2 */
	enum pp_cmd command;
	enum pp_fam family;       /* the family written; v1: INET is TCP4, INET6 TCP6,
				   * anything else UNKNOWN */
	int transport;            /* enum pp_proto, or -1: STREAM (UNSPEC with family UNSPEC) */
	/* Addresses; NULL: the family's default. INET6 writes IPv4 addresses
	 * IPv4-mapped. Family UNSPEC has none unless one is given or
	 * unknown_long asks for them (then of the given one's family, else
	 * INET). */
	const struct sockaddr_storage *src, *dst;
	const struct pp_defaults *defaults; /* NULL: pp_defaults */
	bool unknown_long;        /* v1 UNKNOWN with the addresses */
	struct pp_tlv tlv[PP_MAX_TLVS]; /* written in order; values by reference */
	size_t ntlv;
	bool crc32c;              /* a CRC32C TLV last, with the checksum */
	size_t noop;              /* a NOOP TLV of this many zero bytes after tlv[] (0: none) */
};

/* Version, PROXY, family INET, transport -1, nothing else. */
void pp_desc_init(struct pp_desc *d, int version);
/* Append a TLV (value by reference): pp_tlv_append. */
int pp_desc_add_tlv(struct pp_desc *d, uint8_t type, const void *v, size_t len);

/* The header and build options d describes. 0, or -1 with *err
 * ("family inet needs IPv4 addresses" ...). err may be NULL. */
int pp_desc_header(const struct pp_desc *d, struct pp_header *h, struct pp_build_opts *bo,
		   struct pp_error *err);
/* The same, built into out[cap]: the length, or -1 with *err. */
int pp_desc_build(const struct pp_desc *d, uint8_t *out, size_t cap, struct pp_error *err);

#endif
