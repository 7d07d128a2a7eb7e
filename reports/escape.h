/* escape.h - writing arbitrary text safely into each report format.
 *
 * Report strings come from scenarios, profiles and brokers: they may hold
 * quotes, markup, control bytes and invalid UTF-8. Every writer goes
 * through one of these; none writes a report string directly.
 *
 * Common rules: valid UTF-8 passes through; an invalid byte becomes
 * U+FFFD; a control character (C0 other than tab / newline / CR, DEL, C1)
 * that the format cannot carry becomes the visible text "\xNN". A NULL
 * string writes nothing (YAML: ~).
 */
#ifndef PPMQ_ESCAPE_H
#define PPMQ_ESCAPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Length (1..4) of the valid UTF-8 sequence at s (n bytes available) and
 * its code point in *cp; 0 when invalid (overlong, surrogate, > U+10FFFF,
 * truncated, stray continuation byte). */
size_t esc_utf8_char(const unsigned char *s, size_t n, unsigned *cp);

/* malloc'd copy of s with invalid UTF-8 replaced by U+FFFD (NULL -> NULL;
 * NULL with *oom set when out of memory). */
char *esc_utf8_clean(const char *s, bool *oom);

/* XML 1.0 character data (attr = false) or attribute value in double
 * quotes (attr = true: tab, newline and CR become character references
 * so that they survive attribute normalisation). */
void esc_xml(FILE *f, const char *s, bool attr);

/* HTML text or double-quoted attribute value; controls shown as
 * <span class="ctl">\xNN</span> when markup is allowed (!attr). */
void esc_html(FILE *f, const char *s, bool attr);

/* A YAML double-quoted scalar, quotes included, in the subset that TAP
 * harnesses read (TAP::Parser::YAMLish: \\ \" \t \n \r \xNN only). */
void esc_yaml(FILE *f, const char *s);

/* One line of a TAP description: '#' and '\' escaped with '\', line
 * breaks and controls shown as "\xNN", so no text can end the line or
 * start a directive. */
void esc_tap(FILE *f, const char *s);

#endif
