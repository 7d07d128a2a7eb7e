/* dump.c - see dump.h. */
#include "dump.h"

#include <string.h>

#include "hex.h"

int dump_fmt_parse(const char *s, enum dump_fmt *f, struct perr *e)
{
	if (strcmp(s, "raw") == 0)
		*f = DUMP_RAW;
	else if (strcmp(s, "hex") == 0)
		*f = DUMP_HEX;
	else if (strcmp(s, "c") == 0)
		*f = DUMP_C;
	else if (strcmp(s, "base64") == 0)
		*f = DUMP_BASE64;
	else
		return perr_set(e, "expected raw, hex, c or base64");
	return 0;
}

char *dump_hex_str(const uint8_t *buf, size_t len, char *s, size_t cap)
{
	if (cap == 0)
		return s;
	/* As many whole bytes as fit before the NUL. */
	hex_encode(buf, len < (cap - 1) / 2 ? len : (cap - 1) / 2, s);
	return s;
}

char *dump_printable(const uint8_t *buf, size_t len, char *s, size_t cap)
{
	size_t o = 0;

	if (cap == 0)
		return s;
	if (len < 6 || memcmp(buf, "PROXY ", 6) != 0)
		return dump_hex_str(buf, len, s, cap);
	for (size_t i = 0; i < len && o + 5 < cap; i++) {
		unsigned char c = buf[i];

		if (c == '\r') {
			s[o++] = '\\';
			s[o++] = 'r';
		} else if (c == '\n') {
			s[o++] = '\\';
			s[o++] = 'n';
		} else if (c < 0x20 || c > 0x7e || c == '\\') {
			s[o++] = '\\';
			s[o++] = 'x';
			hex_encode(&c, 1, s + o);
			o += 2;
		} else {
			s[o++] = (char)c;
		}
	}
	s[o] = '\0';
	return s;
}

static int write_base64(FILE *out, const uint8_t *buf, size_t len)
{
	static const char t[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)buf[i] << 16;
		size_t n = len - i < 3 ? len - i : 3;
		char q[4];

		if (n > 1)
			v |= (uint32_t)buf[i + 1] << 8;
		if (n > 2)
			v |= buf[i + 2];
		q[0] = t[(v >> 18) & 63];
		q[1] = t[(v >> 12) & 63];
		q[2] = n > 1 ? t[(v >> 6) & 63] : '=';
		q[3] = n > 2 ? t[v & 63] : '=';
		if (fwrite(q, 1, 4, out) != 4)
			return -1;
	}
	return fputc('\n', out) == EOF ? -1 : 0;
}

int dump_write(FILE *out, enum dump_fmt f, const uint8_t *buf, size_t len)
{
	switch (f) {
	case DUMP_RAW:
		if (len && fwrite(buf, 1, len, out) != len)
			return -1;
		break;
	case DUMP_HEX:
		for (size_t i = 0; i < len; i++)
			if (fprintf(out, "%02x", buf[i]) < 0)
				return -1;
		if (fputc('\n', out) == EOF)
			return -1;
		break;
	case DUMP_C:
		fprintf(out, "static const unsigned char proxy_header[%zu] = {", len);
		for (size_t i = 0; i < len; i++)
			fprintf(out, "%s0x%02x,", i % 12 ? " " : "\n\t", buf[i]);
		if (fprintf(out, "\n};\n") < 0)
			return -1;
		break;
	case DUMP_BASE64:
		if (write_base64(out, buf, len) < 0)
			return -1;
		break;
	}
	return fflush(out) == EOF ? -1 : 0;
}
