/* pp.h - HAProxy PROXY protocol (v1 text, v2 binary) codec.
 *
 * Three parts:
 *   - an incremental parser: feed it every byte received so far; it says
 *     "need more", "header of N bytes" or "invalid, because ...". It never
 *     looks past the header, never reads past the buffer, allocates nothing;
 *   - a builder for v1 and v2 headers (all families, TLVs, CRC32C);
 *   - a catalog of named malformations, each with the verdict a strict
 *     receiver must reach.
 *
 * Reference: haproxy doc/proxy-protocol.txt.
 */
#ifndef PPMQ_PP_H
#define PPMQ_PP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "pp_addr.h" /* pp_sockaddr_parse, pp_addr_str, pp_addr_port */

#define PP_V1_MAX_LEN     107 /* whole v1 line, CRLF included */
#define PP_V2_SIG_LEN     12
#define PP_V2_FIXED_LEN   16  /* signature + ver/cmd + fam/proto + length */
#define PP_V2_MAX_LEN     (PP_V2_FIXED_LEN + 65535)
#define PP_MAX_TLVS       32  /* top-level TLVs kept per header */
#define PP_UNIX_PATH_LEN  108

extern const uint8_t pp_v2_sig[PP_V2_SIG_LEN];

/* ---- result and reason codes ------------------------------------------- */

/* pp_parse() returns > 0 (header length), PP_NEED_MORE or PP_INVALID. */
#define PP_NEED_MORE 0
#define PP_INVALID   (-1)

/* Why a header is invalid. Stable: names (pp_reason_name) appear in logs,
 * metrics labels and reports. */
enum pp_reason {
	PP_R_OK = 0,
	PP_R_NOT_PROXY,        /* first bytes are neither "PROXY " nor the v2 signature */
	PP_R_TOO_LARGE,        /* header longer than the configured maximum */
	/* v1 */
	PP_R_V1_TOO_LONG,      /* no CRLF within 107 bytes */
	PP_R_V1_BAD_PROTO,     /* not TCP4 / TCP6 / UNKNOWN */
	PP_R_V1_BAD_SPACING,   /* missing, double, leading or trailing space, tab */
	PP_R_V1_BAD_EOL,       /* LF without CR, CR without LF, NUL or control byte */
	PP_R_V1_BAD_SRC_ADDR,
	PP_R_V1_BAD_DST_ADDR,
	PP_R_V1_BAD_SRC_PORT,
	PP_R_V1_BAD_DST_PORT,
	PP_R_V1_FIELD_COUNT,   /* too few or too many fields */
	PP_R_V1_FAMILY_MISMATCH, /* TCP4 with IPv6 address or the reverse */
	/* v2 */
	PP_R_V2_BAD_SIG,       /* "\r\n\r\n\0\r\nQUIT\n" prefix damaged */
	PP_R_V2_BAD_VERSION,   /* high nibble of byte 13 != 2 */
	PP_R_V2_BAD_COMMAND,   /* low nibble of byte 13 not LOCAL/PROXY */
	PP_R_V2_BAD_FAMILY,    /* high nibble of byte 14 > 3 */
	PP_R_V2_BAD_TRANSPORT, /* low nibble of byte 14 > 2 */
	PP_R_V2_SHORT_ADDR,    /* length smaller than the family's address block */
	PP_R_V2_TLV_TRUNCATED, /* TLV header or value runs past the length */
	PP_R_V2_SSL_TRUNCATED, /* SSL TLV too short or sub-TLV runs past it */
	PP_R_V2_BAD_CRC_LEN,   /* CRC32C TLV with length != 4 */
	PP_R_V2_CRC_MISMATCH,
	PP_R_V2_DUP_TLV,       /* CRC32C given twice */
	PP_R_V2_TOO_MANY_TLVS, /* more than PP_MAX_TLVS top-level TLVs */
	PP_R_V2_BAD_UNIX_PATH, /* UNIX address without a NUL terminator */
	/* added after the first list; appended so that values above stay put */
	PP_R_VERSION_DISABLED, /* a v1 (v2) header while opts.allow_v1 (allow_v2) is false */
	PP_R_V2_BAD_UNIQUE_ID, /* UNIQUE_ID TLV longer than 128 bytes */
	PP_R_BUILD,            /* pp_build/pp_mutate: input cannot be encoded, or no room */
	PP_R_COUNT
};

/* Where and why a header was refused: what a log line needs. */
struct pp_error {
	enum pp_reason reason;
	size_t offset;    /* byte offset in the header where it went wrong */
	char msg[160];    /* human-readable, e.g. "v1: source port '070' has a leading zero" */
};

/* Fill *e (may be NULL) with reason r at offset off and the message;
 * returns PP_INVALID. For the codec and the layers over it (pp_desc). */
int pp_error_set(struct pp_error *e, enum pp_reason r, size_t off, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

const char *pp_reason_name(enum pp_reason r);   /* "v1-bad-src-port" */
const char *pp_reason_text(enum pp_reason r);   /* one-line description */

/* ---- parsed header ----------------------------------------------------- */

enum pp_cmd   { PP_CMD_LOCAL = 0, PP_CMD_PROXY = 1 };
enum pp_fam   { PP_FAM_UNSPEC = 0, PP_FAM_INET = 1, PP_FAM_INET6 = 2, PP_FAM_UNIX = 3 };
enum pp_proto { PP_PROTO_UNSPEC = 0, PP_PROTO_STREAM = 1, PP_PROTO_DGRAM = 2 };

enum pp_tlv_type {
	PP2_TYPE_ALPN = 0x01,
	PP2_TYPE_AUTHORITY = 0x02,
	PP2_TYPE_CRC32C = 0x03,
	PP2_TYPE_NOOP = 0x04,
	PP2_TYPE_UNIQUE_ID = 0x05,
	PP2_TYPE_SSL = 0x20,
	PP2_SUBTYPE_SSL_VERSION = 0x21,
	PP2_SUBTYPE_SSL_CN = 0x22,
	PP2_SUBTYPE_SSL_CIPHER = 0x23,
	PP2_SUBTYPE_SSL_SIG_ALG = 0x24,
	PP2_SUBTYPE_SSL_KEY_ALG = 0x25,
	PP2_TYPE_NETNS = 0x30,
	PP2_TYPE_GCP = 0xE0,   /* sub-type 0x01: PSC connection id, u64 BE */
	PP2_TYPE_AWS = 0xEA,   /* sub-type 0x01: VPC endpoint id, ASCII */
	PP2_TYPE_AZURE = 0xEE, /* sub-type 0x01: private endpoint LINKID, u32 LE */
	PP2_TYPE_MIN_CUSTOM = 0xE0,
	PP2_TYPE_MAX_CUSTOM = 0xEF,
};

#define PP2_CLIENT_SSL       0x01
#define PP2_CLIENT_CERT_CONN 0x02
#define PP2_CLIENT_CERT_SESS 0x04

/* A byte string inside the caller's buffer (not NUL-terminated). */
struct pp_bytes {
	const uint8_t *ptr; /* NULL when absent */
	size_t len;
};

struct pp_tlv {
	uint8_t type;
	struct pp_bytes value;
};

struct pp_ssl {
	bool present;
	uint8_t client;     /* PP2_CLIENT_* bits */
	uint32_t verify;    /* 0 = client certificate verified */
	struct pp_bytes version, cn, cipher, sig_alg, key_alg;
};

/* Everything a header says. Byte strings point into the buffer given to
 * pp_parse(): copy what must outlive it. */
struct pp_header {
	int version;               /* 1 or 2 */
	enum pp_cmd command;       /* v1 is always PROXY */
	enum pp_fam family;        /* v1 UNKNOWN => PP_FAM_UNSPEC */
	enum pp_proto transport;   /* v1 => STREAM (or UNSPEC for UNKNOWN) */
	/* INET/INET6: sockaddr_in / sockaddr_in6 with port; UNIX: sockaddr_un;
	 * LOCAL, UNSPEC, v1 UNKNOWN: ss_family == AF_UNSPEC. */
	struct sockaddr_storage src, dst;
	size_t len;                /* total header length in bytes */

	/* v2 TLVs: the well-known ones decoded ... */
	struct pp_bytes alpn, authority, unique_id, netns;
	struct pp_bytes aws_vpce_id;   /* 0xEA sub-type 0x01 */
	bool has_azure_linkid;
	uint32_t azure_linkid;         /* 0xEE sub-type 0x01 */
	bool has_gcp_psc_id;
	uint64_t gcp_psc_id;           /* 0xE0 sub-type 0x01 */
	bool has_crc32c;
	uint32_t crc32c;               /* as sent (verified unless disabled) */
	size_t noop_bytes;             /* total NOOP padding */
	struct pp_ssl ssl;
	/* ... and every top-level TLV in wire order (unknown ones too) in
	 * tlv[0..ntlv). Last, so that pp_parse clears everything before it
	 * at once; it leaves the entries from ntlv on as they were. */
	size_t ntlv;
	struct pp_tlv tlv[PP_MAX_TLVS];
};

struct pp_parse_opts {
	size_t max_len;      /* refuse longer headers; default 4096, max PP_V2_MAX_LEN */
	bool allow_v1;       /* default true */
	bool allow_v2;       /* default true */
	bool verify_crc32c;  /* default true */
};

void pp_parse_opts_init(struct pp_parse_opts *o);

/* Parse the bytes received so far.
 * Returns the header length (> 0) and fills *h; or PP_NEED_MORE when buf
 * is a valid prefix of a header (call again with more bytes); or
 * PP_INVALID and fills *err. Decides as early as the bytes allow: a prefix
 * that cannot become a valid header is PP_INVALID at once.
 * o may be NULL (defaults); err may be NULL. */
int pp_parse(const uint8_t *buf, size_t len, const struct pp_parse_opts *o,
	     struct pp_header *h, struct pp_error *err);

/* Early answer on the first bytes: can this be a PROXY header at all? */
enum pp_detect {
	PP_DETECT_MORE = 0, /* too few bytes to say */
	PP_DETECT_V1,       /* starts with "PROXY" (the 5 bytes the spec uses) */
	PP_DETECT_V2,       /* starts like the v2 signature */
	PP_DETECT_NONE,     /* cannot be a header: "missing header" */
};
enum pp_detect pp_detect(const uint8_t *buf, size_t len);

/* ---- building ---------------------------------------------------------- */

/* What to build. Reuses pp_header's fields: version, command, family,
 * transport, src, dst, and tlv[0..ntlv) written in order (byte strings
 * from the caller). Fields ignored by the builder: len, the decoded TLV
 * fields (pp_desc.h encodes their values: pp_ssl_encode, pp_tlv_aws_vpce,
 * pp_tlv_azure_linkid, pp_tlv_gcp_psc; append them to tlv[]). */
struct pp_build_opts {
	bool crc32c;          /* v2: append a CRC32C TLV and fill it in */
	size_t noop_len;      /* v2: append a NOOP TLV of this many zero bytes (0 = none) */
	bool v1_unknown_long; /* v1 UNKNOWN: also write addresses and ports */
};

/* Build into out (cap bytes). Returns the length, or -1 with *err set
 * (bad input or buffer too small). o may be NULL. */
int pp_build(const struct pp_header *h, const struct pp_build_opts *o,
	     uint8_t *out, size_t cap, struct pp_error *err);

/* Helpers to fill a pp_header for building. */
void pp_header_init(struct pp_header *h, int version, enum pp_cmd cmd);
/* Set src/dst and the family from them (both must be the same family). */
int pp_header_set_addrs(struct pp_header *h, const struct sockaddr_storage *src,
			const struct sockaddr_storage *dst);
/* Append a TLV (value copied by reference). Returns 0 or -1 when full. */
int pp_header_add_tlv(struct pp_header *h, uint8_t type, const void *v, size_t len);
/* The same on any tlv[PP_MAX_TLVS] holding *n: 0, or -1 when full, when
 * len is over 65535 or when there is a length but no value. */
int pp_tlv_append(struct pp_tlv *tlv, size_t *n, uint8_t type, const void *v, size_t len);

/* CRC32C (Castagnoli), as the v2 CRC32C TLV uses it (lib/pp_crc32c.c):
 * the CPU's crc32 instruction when pp_crc32c_hw_available() (x86-64 with
 * SSE4.2, decided at run time), slicing-by-8 tables otherwise.
 * pp_crc32c_table always takes the tables. Chaining:
 * crc(a + b) == pp_crc32c(crc(a), b). */
uint32_t pp_crc32c(uint32_t crc, const void *data, size_t len);
uint32_t pp_crc32c_table(uint32_t crc, const void *data, size_t len);
/* The CRC32C of len bytes with the 4 at offset at (at + 4 <= len) read as
 * zeros: how a v2 header's CRC32C TLV counts its own value. */
uint32_t pp_crc32c_zeroed(const void *data, size_t len, size_t at);
bool pp_crc32c_hw_available(void);

/* ---- malformations ----------------------------------------------------- */

/* What a strict receiver must do with the mutated header. */
enum pp_verdict {
	PP_VERDICT_REJECT,      /* invalid: close without answering */
	PP_VERDICT_INCOMPLETE,  /* never completes: wait, then time out and close */
	PP_VERDICT_NOT_PROXY,   /* not a PROXY header at all: "missing header" */
	PP_VERDICT_LIMIT,       /* valid as the spec words it, refused by this parser's own
				 * limit: a receiver may take it or refuse it */
};
const char *pp_verdict_name(enum pp_verdict v); /* "reject", "incomplete", "not-proxy", "limit" */

struct pp_mutation {
	const char *name;          /* stable id, e.g. "v2-bad-version" */
	int version;               /* 1 or 2: which header it damages */
	const char *desc;          /* one line */
	enum pp_verdict verdict;
	enum pp_reason reason;     /* what pp_parse reports (PP_R_OK for INCOMPLETE) */
};

/* The whole catalog, in a stable order. */
const struct pp_mutation *pp_mutations(size_t *count);
const struct pp_mutation *pp_mutation_find(const char *name);

/* Default addresses: documentation prefixes (RFC 5737, RFC 3849), so that
 * nothing real is named by accident. pp_mutate's default headers use them,
 * and so do header descriptions (pp_desc.h's pp_defaults). */
#define PP_DEF_SRC4     "192.0.2.1:40000"
#define PP_DEF_DST4     "198.51.100.1:1883"
#define PP_DEF_SRC6     "[2001:db8::1]:40000"
#define PP_DEF_DST6     "[2001:db8::2]:1883"
#define PP_DEF_SRC_UNIX "unix:/run/client.sock"
#define PP_DEF_DST_UNIX "unix:/run/ppmq.sock"

/* Build `base` (as pp_build would), then apply the named malformation.
 * base may be NULL: a default header PP_DEF_SRC4 -> PP_DEF_DST4 (TCP4)
 * of the mutation's version is used. Returns the length or -1 (unknown
 * name, or does not fit). */
int pp_mutate(const char *name, const struct pp_header *base, uint8_t *out,
	      size_t cap, struct pp_error *err);

#endif
