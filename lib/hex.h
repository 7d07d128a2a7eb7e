/* hex.h - hexadecimal digits, both ways: what every program that shows
 * or reads bytes as hex text (headers, TLVs, scenarios, reports) shares.
 * Readers of whole hex strings stay with their callers: each accepts its
 * own separators and says what is wrong in its own terms. */
#ifndef PPMQ_HEX_H
#define PPMQ_HEX_H

#include <stddef.h>
#include <stdint.h>

/* Value of the hex digit c (0-9, a-f, A-F), -1 for anything else. */
int hex_digit(int c);

/* n bytes as 2n lower-case hex digits and a NUL into out[2n + 1]. */
void hex_encode(const uint8_t *p, size_t n, char *out);

#endif
