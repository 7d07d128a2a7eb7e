/* fuzz_mqtt.c - libFuzzer harness for the MQTT codec (lib/mqtt.c).
 *
 * The input is a byte stream as a broker or a client would receive it.
 * Its first byte picks the connection's protocol level (3.1.1 or 5) and a
 * maximum packet size; the rest is cut into packets with mqtt_frame() and
 * each packet is decoded as both levels. Every packet is copied to a
 * buffer of exactly its size, so AddressSanitizer sees any read past it.
 * Checked, aborting on any violation:
 *   - framing: mqtt_frame() answers "need more" for every prefix shorter
 *     than the packet and the same length from there on; a length is
 *     within the bytes given and the maximum; a refusal stays a refusal;
 *   - decoding: the result is 0 or a 5.0 reason code >= 0x80 with a
 *     reason text; a decoded packet has the type of its first byte;
 *     SUBSCRIBE / UNSUBSCRIBE iterators yield exactly n entries;
 *   - re-encoding: a decoded packet encodes (mqtt_encode) to a packet that
 *     decodes again, and whose own encoding is the same bytes (the encoder
 *     only makes a packet canonical once);
 *   - the client helpers: mqtt_parse_connack() on every prefix, the
 *     property decoder in every packet context, UTF-8 and topic checks
 *     (topic matching only on valid filters and names).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mqtt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
	if (!ok)
		abort();
}

static uint8_t *dup_exact(const uint8_t *p, size_t n)
{
	uint8_t *q = malloc(n ? n : 1);

	if (q && n)
		memcpy(q, p, n);
	return q;
}

/* Iterators must agree with the counts decode reported. */
static void walk(const struct mqtt_pkt *p)
{
	size_t pos = 0, n = 0;

	if (p->type == MQTT_SUBSCRIBE) {
		struct mqtt_sub s;

		while (mqtt_subscribe_next(&p->subscribe, &pos, &s)) {
			check(s.qos <= 2);
			mqtt_topic_filter_valid(s.filter.p, s.filter.len);
			n++;
			check(n <= p->subscribe.n);
		}
		check(n == p->subscribe.n && n >= 1);
	} else if (p->type == MQTT_UNSUBSCRIBE) {
		struct mqtt_str f;

		while (mqtt_unsubscribe_next(&p->unsubscribe, &pos, &f)) {
			n++;
			check(n <= p->unsubscribe.n);
		}
		check(n == p->unsubscribe.n && n >= 1);
	}
}

static void user_props(const struct mqtt_props *pr)
{
	struct mqtt_user_prop up;
	size_t pos = 0, n = 0;

	while (mqtt_props_user_next(pr, &pos, &up)) {
		n++;
		check(n <= pr->n_user);
	}
	check(n == pr->n_user);
}

static void props_of(const struct mqtt_pkt *p)
{
	switch (p->type) {
	case MQTT_CONNECT:
		user_props(&p->connect.props);
		if (p->connect.will)
			user_props(&p->connect.will_props);
		break;
	case MQTT_CONNACK:
		user_props(&p->connack.props);
		break;
	case MQTT_PUBLISH:
		user_props(&p->publish.props);
		break;
	case MQTT_PUBACK:
	case MQTT_PUBREC:
	case MQTT_PUBREL:
	case MQTT_PUBCOMP:
		user_props(&p->ack.props);
		break;
	case MQTT_SUBSCRIBE:
		user_props(&p->subscribe.props);
		break;
	case MQTT_SUBACK:
	case MQTT_UNSUBACK:
		user_props(&p->suback.props);
		break;
	case MQTT_UNSUBSCRIBE:
		user_props(&p->unsubscribe.props);
		break;
	case MQTT_DISCONNECT:
	case MQTT_AUTH:
		user_props(&p->disconnect.props);
		break;
	default:
		break;
	}
}

/* encode(decode(x)) decodes, and re-encodes to itself. */
static void roundtrip(const struct mqtt_pkt *p, uint8_t version)
{
	long n1 = mqtt_encode(p, version, NULL, 0);
	uint8_t *b1, *b2;
	struct mqtt_pkt q;
	const char *why = NULL;
	long n2, f;
	int rc;

	check(n1 > 0);
	b1 = malloc((size_t)n1);
	if (!b1)
		return;
	check(mqtt_encode(p, version, b1, (size_t)n1) == n1);
	f = mqtt_frame(b1, (size_t)n1, 0);
	check(f == n1);
	rc = mqtt_decode(b1, (size_t)n1, version, &q, &why);
	check(rc == 0);
	check(q.type == p->type);
	n2 = mqtt_encode(&q, version, NULL, 0);
	check(n2 == n1);
	b2 = malloc((size_t)n2);
	if (b2) {
		check(mqtt_encode(&q, version, b2, (size_t)n2) == n2);
		check(memcmp(b1, b2, (size_t)n1) == 0);
		free(b2);
	}
	free(b1);
}

static void decode_one(const uint8_t *pkt, size_t n, uint8_t version)
{
	struct mqtt_pkt p;
	const char *why = NULL;
	int rc;

	memset(&p, 0xA5, sizeof(p)); /* decode must not rely on a zeroed packet */
	rc = mqtt_decode(pkt, n, version, &p, &why);
	if (rc != 0) {
		check(rc >= 0x80 && rc <= 0xFF);
		check(why != NULL && why[0] != '\0');
		mqtt_reason_name((uint8_t)rc);
		return;
	}
	check((int)p.type == pkt[0] >> 4);
	check(p.type >= MQTT_CONNECT && p.type <= MQTT_AUTH);
	walk(&p);
	if (version == MQTT_V5)
		props_of(&p);
	/* CONNECT carries its own level; the others use the connection's. */
	roundtrip(&p, p.type == MQTT_CONNECT ? p.connect.version : version);
}

static void text_checks(const uint8_t *d, size_t n)
{
	char a[256], b[256];
	size_t cut = n / 2;

	mqtt_utf8_valid(d, n);
	mqtt_topic_name_valid((const char *)d, n);
	mqtt_topic_filter_valid((const char *)d, n);
	if (cut >= sizeof(a) || n - cut >= sizeof(b))
		return;
	memcpy(a, d, cut);
	a[cut] = '\0';
	memcpy(b, d + cut, n - cut);
	b[n - cut] = '\0';
	if (strlen(a) == cut && strlen(b) == n - cut &&
	    mqtt_topic_filter_valid(a, cut) && mqtt_topic_name_valid(b, n - cut))
		mqtt_topic_match(a, b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t maxes[] = { 0, 2, 16, 128, 1024 };
	uint8_t version, other;
	size_t max, off;

	if (size < 1)
		return 0;
	version = (data[0] & 1) ? MQTT_V5 : MQTT_V311;
	other = version == MQTT_V5 ? MQTT_V311 : MQTT_V5;
	max = maxes[(data[0] >> 1) % 5];
	data++;
	size--;

	/* the client helpers on the raw stream, every prefix */
	for (size_t k = 0; k <= size && k <= 64; k++) {
		uint8_t *p = dup_exact(data, k);
		bool sp;
		uint8_t rc;
		long r;

		if (!p)
			return 0;
		r = mqtt_parse_connack(p, k, version, &sp, &rc);
		check(r >= -1 && r <= (long)k);
		free(p);
	}
	for (int ctx = 0; ctx <= MQTT_AUTH; ctx++) {
		struct mqtt_props pr;
		uint8_t *p = dup_exact(data, size);

		if (!p)
			return 0;
		if (mqtt_props_decode(p, size, ctx, &pr, NULL) == 0)
			user_props(&pr);
		free(p);
	}
	text_checks(data, size);

	/* the stream, packet by packet */
	off = 0;
	while (off < size) {
		const uint8_t *s = data + off;
		size_t left = size - off;
		long whole = mqtt_frame(s, left, max);
		uint8_t *pkt;

		check(whole >= MQTT_FRAME_TOO_LARGE && whole <= (long)left);
		if (whole > 0)
			check(max == 0 || (size_t)whole <= max);
		/* every prefix: need more, then the same decision */
		long seen = MQTT_NEED_MORE;

		for (size_t k = 0; k <= left && k <= 8 + (whole > 0 ? (size_t)whole : 0); k++) {
			uint8_t *p = dup_exact(s, k);
			long r;

			if (!p)
				return 0;
			r = mqtt_frame(p, k, max);
			free(p);
			if (whole > 0)
				check(r == (k < (size_t)whole ? MQTT_NEED_MORE : whole));
			else
				check(r == MQTT_NEED_MORE ? seen == MQTT_NEED_MORE : r == whole);
			seen = r;
		}
		if (whole <= 0)
			break;
		pkt = dup_exact(s, (size_t)whole);
		if (!pkt)
			return 0;
		decode_one(pkt, (size_t)whole, version);
		decode_one(pkt, (size_t)whole, other);
		free(pkt);
		off += (size_t)whole;
	}
	return 0;
}
