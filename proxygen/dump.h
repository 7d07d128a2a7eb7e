/* dump.h - bytes for people and other programs: raw, hex, a C array,
 * base64. Used by `proxygen header --format` and by `send -v`. */
#ifndef PROXYGEN_DUMP_H
#define PROXYGEN_DUMP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "err.h"

enum dump_fmt { DUMP_RAW = 0, DUMP_HEX, DUMP_C, DUMP_BASE64 };

/* "raw" | "hex" | "c" | "base64" -> *f; 0 or -1 with *e set. */
int dump_fmt_parse(const char *s, enum dump_fmt *f, struct perr *e);

/* Write buf in format f to out: raw as is; hex as one lowercase line;
 * c as an array definition; base64 (RFC 4648, padded) as one line.
 * Returns 0, or -1 when the write failed. */
int dump_write(FILE *out, enum dump_fmt f, const uint8_t *buf, size_t len);

/* Lowercase hex of buf into s[cap] (truncated, always NUL-terminated);
 * returns s. */
char *dump_hex_str(const uint8_t *buf, size_t len, char *s, size_t cap);

/* Printable form for logs: v1 headers as text with \r\n escaped, anything
 * else as hex. Returns s. */
char *dump_printable(const uint8_t *buf, size_t len, char *s, size_t cap);

#endif
