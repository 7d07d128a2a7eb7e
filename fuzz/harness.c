/* harness.c - see harness.h. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fz_check(int ok, const char *file, int line)
{
	if (ok)
		return;
	fprintf(stderr, "%s:%d: check failed\n", file, line);
	abort();
}

/* What a buffer of len bytes has room for: a power of two, so that
 * appending many small pieces costs no more than copying them twice. */
static size_t room(size_t len)
{
	size_t cap = 64;

	while (cap < len)
		cap *= 2;
	return cap;
}

void fz_append(uint8_t **buf, size_t *len, const void *p, size_t n)
{
	if (n == 0)
		return;
	if (!*buf || room(*len) < *len + n) {
		uint8_t *nb = realloc(*buf, room(*len + n));

		check(nb != NULL);
		*buf = nb;
	}
	memcpy(*buf + *len, p, n);
	*len += n;
}

/* May a server send this packet type at this level? */
static bool server_sends(int type, uint8_t version)
{
	switch (type) {
	case MQTT_CONNACK: case MQTT_PUBLISH: case MQTT_PUBACK: case MQTT_PUBREC:
	case MQTT_PUBREL: case MQTT_PUBCOMP: case MQTT_SUBACK: case MQTT_UNSUBACK:
	case MQTT_PINGRESP:
		return true;
	case MQTT_DISCONNECT: case MQTT_AUTH:
		return version == MQTT_V5;
	default:
		return false;
	}
}

void fz_rx_packet(struct fz_rx *rx, const uint8_t *b, size_t n, struct mqtt_pkt *p)
{
	int type = b[0] >> 4;

	check(n >= 2 && !rx->ended);
	if (rx->version == 0) {
		check(type == MQTT_CONNACK);
		rx->version = b[1] == 2 ? MQTT_V311 : MQTT_V5;
	} else {
		check(type != MQTT_CONNACK);
	}
	check(server_sends(type, rx->version));
	check(mqtt_decode(b, n, rx->version, p, NULL) == 0);
	rx->ended = (type == MQTT_CONNACK && p->connack.rc != 0) || type == MQTT_DISCONNECT;
}
