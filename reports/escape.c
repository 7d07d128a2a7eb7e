/* escape.c - see escape.h. */
#include "escape.h"

#include <stdlib.h>
#include <string.h>

#define REPLACEMENT "\xef\xbf\xbd"   /* U+FFFD in UTF-8 */

size_t esc_utf8_char(const unsigned char *s, size_t n, unsigned *cp)
{
	unsigned c, min;
	size_t len;

	if (n == 0)
		return 0;
	c = s[0];
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		c &= 0x1f;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		c &= 0x0f;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		c &= 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

/* Next character of *p: its code point (U+FFFD for an invalid byte) and
 * how many bytes it took, *p advanced past it. */
static unsigned next_char(const char **p, size_t *len)
{
	const unsigned char *s = (const unsigned char *)*p;
	size_t avail = strnlen(*p, 4);
	unsigned cp = 0;
	size_t n = esc_utf8_char(s, avail, &cp);

	if (n == 0) {
		cp = 0xfffd;
		n = 1;
		*len = 0;           /* 0: not a copyable sequence */
	} else {
		*len = n;
	}
	*p += n;
	return cp;
}

/* Control characters no report format should carry as they are. */
static bool is_ctl(unsigned cp)
{
	return (cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') ||
	       (cp >= 0x7f && cp <= 0x9f);
}

/* Code points that are valid UTF-8 but not text anywhere we write. */
static bool is_nonchar(unsigned cp)
{
	return cp == 0xfffe || cp == 0xffff || cp == 0xfeff ||
	       cp == 0x2028 || cp == 0x2029;
}

static void put_seq(FILE *f, const char *start, size_t len, unsigned cp)
{
	if (len == 0 || is_nonchar(cp))
		fputs(REPLACEMENT, f);
	else
		fwrite(start, 1, len, f);
}

char *esc_utf8_clean(const char *s, bool *oom)
{
	const char *p = s;
	char *out, *o;

	*oom = false;
	if (!s)
		return NULL;
	/* Each invalid byte (1) becomes 3 bytes at most. */
	out = malloc(strlen(s) * 3 + 1);
	if (!out) {
		*oom = true;
		return NULL;
	}
	o = out;
	while (*p) {
		const char *start = p;
		size_t len;

		(void)next_char(&p, &len);
		if (len == 0) {
			memcpy(o, REPLACEMENT, 3);
			o += 3;
		} else {
			memcpy(o, start, len);
			o += len;
		}
	}
	*o = '\0';
	return out;
}

void esc_xml(FILE *f, const char *s, bool attr)
{
	const char *p = s;

	if (!s)
		return;
	while (*p) {
		const char *start = p;
		size_t len;
		unsigned cp = next_char(&p, &len);

		switch (cp) {
		case '<': fputs("&lt;", f); continue;
		case '>': fputs("&gt;", f); continue;
		case '&': fputs("&amp;", f); continue;
		case '"': fputs(attr ? "&quot;" : "\"", f); continue;
		case '\'': fputs(attr ? "&apos;" : "'", f); continue;
		case '\t': fputs(attr ? "&#9;" : "\t", f); continue;
		case '\n': fputs(attr ? "&#10;" : "\n", f); continue;
		case '\r': fputs("&#13;", f); continue;
		default: break;
		}
		if (is_ctl(cp))
			fprintf(f, "\\x%02x", cp);
		else
			put_seq(f, start, len, cp);
	}
}

void esc_html(FILE *f, const char *s, bool attr)
{
	const char *p = s;

	if (!s)
		return;
	while (*p) {
		const char *start = p;
		size_t len;
		unsigned cp = next_char(&p, &len);

		switch (cp) {
		case '<': fputs("&lt;", f); continue;
		case '>': fputs("&gt;", f); continue;
		case '&': fputs("&amp;", f); continue;
		case '"': fputs("&quot;", f); continue;
		case '\'': fputs("&#39;", f); continue;
		case '\r': fputs(attr ? "&#13;" : "\\r", f); continue;
		default: break;
		}
		if (is_ctl(cp)) {
			if (attr)
				fprintf(f, "\\x%02x", cp);
			else
				fprintf(f, "<span class=\"ctl\">\\x%02x</span>", cp);
		} else {
			put_seq(f, start, len, cp);
		}
	}
}

void esc_yaml(FILE *f, const char *s)
{
	const char *p = s;

	if (!s) {
		fputs("~", f);
		return;
	}
	putc('"', f);
	while (*p) {
		const char *start = p;
		size_t len;
		unsigned cp = next_char(&p, &len);

		switch (cp) {
		case '"': fputs("\\\"", f); continue;
		case '\\': fputs("\\\\", f); continue;
		case '\t': fputs("\\t", f); continue;
		case '\n': fputs("\\n", f); continue;
		case '\r': fputs("\\r", f); continue;
		default: break;
		}
		/* \xNN means byte NN to YAMLish but U+00NN to YAML proper:
		 * both agree below 0x80 only, so C1 controls are replaced. */
		if (cp < 0x80 && is_ctl(cp))
			fprintf(f, "\\x%02x", cp);
		else if (is_ctl(cp))
			fputs(REPLACEMENT, f);
		else
			put_seq(f, start, len, cp);
	}
	putc('"', f);
}

void esc_tap(FILE *f, const char *s)
{
	const char *p = s;

	if (!s)
		return;
	while (*p) {
		const char *start = p;
		size_t len;
		unsigned cp = next_char(&p, &len);

		if (cp == '#' || cp == '\\') {
			putc('\\', f);
			putc((int)cp, f);
		} else if (cp == '\t') {
			putc(' ', f);
		} else if (cp < 0x20 || is_ctl(cp)) {
			fprintf(f, "\\x%02x", cp);
		} else {
			put_seq(f, start, len, cp);
		}
	}
}
