/* test_mqtt.c - MQTT codec: framing, known encodings, round trips of every
 * packet in 3.1.1 and 5.0, every refusal the decoder makes, topics. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqtt.h"

/* "10 0f 00 04" -> bytes; spaces ignored. Returns the length. */
static size_t hex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;

	while (*s) {
		unsigned v;

		if (*s == ' ') {
			s++;
			continue;
		}
		assert_true(sscanf(s, "%2x", &v) == 1);
		assert_true(n < cap);
		out[n++] = (uint8_t)v;
		s += 2;
	}
	return n;
}

static int decode_hex(const char *h, uint8_t version, struct mqtt_pkt *p, uint8_t *buf, size_t cap)
{
	size_t n = hex(h, buf, cap);
	const char *why = NULL;
	int rc = mqtt_decode(buf, n, version, p, &why);

	if (rc)
		assert_non_null(why);
	return rc;
}

static void expect_rc(const char *h, uint8_t version, int want)
{
	uint8_t buf[512];
	struct mqtt_pkt p;
	int rc = decode_hex(h, version, &p, buf, sizeof(buf));

	if (rc != want)
		fail_msg("%s (v%u): got 0x%02x, want 0x%02x", h, version, rc, want);
}

static bool str_is(struct mqtt_str s, const char *want)
{
	return mqtt_str_eq(s, want);
}

/* Encode, check the length convention, decode, re-encode: same bytes. */
static size_t roundtrip(const struct mqtt_pkt *in, uint8_t version, struct mqtt_pkt *out,
			uint8_t *buf, size_t cap)
{
	uint8_t again[4096];
	long n = mqtt_encode(in, version, NULL, 0);
	long n2, n3;
	int rc;

	assert_true(n > 0);
	assert_true((size_t)n <= cap);
	/* Too small a buffer: the needed size, like snprintf. */
	assert_int_equal(mqtt_encode(in, version, buf, (size_t)n - 1), n);
	n2 = mqtt_encode(in, version, buf, cap);
	assert_int_equal(n2, n);
	assert_int_equal(mqtt_frame(buf, (size_t)n, 0), n);
	rc = mqtt_decode(buf, (size_t)n, version, out, NULL);
	assert_int_equal(rc, 0);
	n3 = mqtt_encode(out, version, again, sizeof(again));
	assert_int_equal(n3, n);
	assert_memory_equal(again, buf, (size_t)n);
	return (size_t)n;
}

/* ---- framing ----------------------------------------------------------- */

static void test_frame(void **state)
{
	uint8_t b[600] = { 0 };
	(void)state;

	assert_int_equal(mqtt_frame(b, 0, 0), MQTT_NEED_MORE);
	hex("c0", b, sizeof(b));
	assert_int_equal(mqtt_frame(b, 1, 0), MQTT_NEED_MORE);
	hex("c0 00", b, sizeof(b));
	assert_int_equal(mqtt_frame(b, 2, 0), 2);
	/* Two packets back to back: only the first is measured. */
	hex("c0 00 d0 00", b, sizeof(b));
	assert_int_equal(mqtt_frame(b, 4, 0), 2);
	/* 2-byte length 128 = 80 01. */
	hex("30 80", b, sizeof(b));
	assert_int_equal(mqtt_frame(b, 2, 0), MQTT_NEED_MORE);
	hex("30 80 01", b, sizeof(b));
	assert_int_equal(mqtt_frame(b, 3, 0), MQTT_NEED_MORE);
	memset(b + 3, 'x', 128);
	assert_int_equal(mqtt_frame(b, 3 + 127, 0), MQTT_NEED_MORE);
	assert_int_equal(mqtt_frame(b, 3 + 128, 0), 131);
	/* Largest 4-byte length; a fifth continuation byte is malformed. */
	hex("30 ff ff ff 7f", b, sizeof(b));
	assert_int_equal(mqtt_frame(b, 5, 0), MQTT_NEED_MORE);
	hex("30 ff ff ff ff", b, sizeof(b));
	assert_int_equal(mqtt_frame(b, 5, 0), MQTT_FRAME_MALFORMED);
	hex("30 ff ff ff ff 01", b, sizeof(b));
	assert_int_equal(mqtt_frame(b, 6, 0), MQTT_FRAME_MALFORMED);
	/* Maximum packet size counts the whole packet; refused before the body. */
	hex("30 08", b, sizeof(b));
	assert_int_equal(mqtt_frame(b, 2, 10), MQTT_NEED_MORE);
	hex("30 09", b, sizeof(b));
	assert_int_equal(mqtt_frame(b, 2, 10), MQTT_FRAME_TOO_LARGE);
	hex("30 ff ff ff 7f", b, sizeof(b));
	assert_int_equal(mqtt_frame(b, 5, 1024 * 1024), MQTT_FRAME_TOO_LARGE);
}

/* The declared size as soon as the length is read; a CONNECT's level. */
static void test_frame_size_and_level(void **state)
{
	uint8_t b[64] = { 0 };
	size_t n;
	(void)state;

	hex("30 80", b, sizeof(b));
	assert_int_equal(mqtt_frame_size(b, 2), MQTT_NEED_MORE);
	hex("30 80 01", b, sizeof(b));
	assert_int_equal(mqtt_frame_size(b, 3), 131);
	hex("10 ff ff 3f", b, sizeof(b));
	assert_int_equal(mqtt_frame_size(b, 4), 1 + 3 + 1048575);
	hex("30 ff ff ff ff 01", b, sizeof(b));
	assert_int_equal(mqtt_frame_size(b, 6), MQTT_FRAME_MALFORMED);
	/* a 1 MiB MQTT 5 CONNECT, its level read byte by byte */
	n = hex("10 ff ff 3f 00 04 4d 51 54 54 05 02", b, sizeof(b));
	for (size_t i = 0; i < 11; i++)
		assert_int_equal(mqtt_connect_level(b, i), 0);
	assert_int_equal(mqtt_connect_level(b, n), MQTT_V5);
	n = hex("10 0f 00 04 4d 51 54 54 04 02", b, sizeof(b));
	assert_int_equal(mqtt_connect_level(b, n), MQTT_V311);
	n = hex("10 11 00 06 4d 51 49 73 64 70 03", b, sizeof(b));
	assert_int_equal(mqtt_connect_level(b, n), 3);
	/* not a CONNECT, or another protocol name */
	n = hex("30 0f 00 04 4d 51 54 54 05", b, sizeof(b));
	assert_int_equal(mqtt_connect_level(b, n), 0);
	n = hex("10 0f 00 04 4d 51 54 58 05", b, sizeof(b));
	assert_int_equal(mqtt_connect_level(b, n), 0);
}

/* ---- known encodings --------------------------------------------------- */

static void test_known_connect_v311(void **state)
{
	uint8_t want[64], buf[64];
	size_t n = hex("10 0f 00 04 4d 51 54 54 04 02 00 3c 00 03 61 62 63", want, sizeof(want));
	long got = mqtt_build_connect(buf, sizeof(buf), MQTT_V311, "abc", NULL, NULL, 60, true);
	struct mqtt_pkt p;
	(void)state;

	assert_int_equal(got, (long)n);
	assert_memory_equal(buf, want, n);
	assert_int_equal(mqtt_decode(buf, n, 0, &p, NULL), 0);
	assert_int_equal(p.type, MQTT_CONNECT);
	assert_int_equal(p.connect.version, 4);
	assert_true(p.connect.clean);
	assert_int_equal(p.connect.keepalive, 60);
	assert_true(str_is(p.connect.client_id, "abc"));
	assert_false(p.connect.has_username);

	/* With user name and password: flags C2. */
	n = hex("10 19 00 04 4d 51 54 54 04 c2 00 0a 00 01 63 00 04 75 73 65 72 00 04 70 61 73 73",
		want, sizeof(want));
	assert_int_equal(mqtt_build_connect(buf, sizeof(buf), MQTT_V311, "c", "user", "pass", 10, true),
			 (long)n);
	assert_memory_equal(buf, want, n);
	/* Buffer too small: the size it needs. */
	assert_int_equal(mqtt_build_connect(buf, 5, MQTT_V311, "c", "user", "pass", 10, true), (long)n);
	assert_int_equal(mqtt_build_connect(buf, sizeof(buf), 3, "c", NULL, NULL, 10, true), -1);
}

static void test_known_connect_v5(void **state)
{
	/* The 5.0 spec's variable header example (3.1.2.11): level 5, flags
	 * C2, keep alive 10, Session Expiry Interval 10; then client id "c",
	 * user "u", password "p". */
	uint8_t buf[64], out[64];
	struct mqtt_pkt p;
	size_t n = hex("10 19 00 04 4d 51 54 54 05 c2 00 0a 05 11 00 00 00 0a"
		       " 00 01 63 00 01 75 00 01 70", buf, sizeof(buf));
	(void)state;

	assert_int_equal(mqtt_decode(buf, n, 0, &p, NULL), 0);
	assert_int_equal(p.connect.version, 5);
	assert_true(p.connect.clean);
	assert_int_equal(p.connect.keepalive, 10);
	assert_true(MQTT_HAS(&p.connect.props, MQTT_PROP_SESSION_EXPIRY_INTERVAL));
	assert_int_equal(p.connect.props.session_expiry, 10);
	assert_true(str_is(p.connect.username, "u"));
	assert_true(str_is(p.connect.password, "p"));
	assert_int_equal(mqtt_encode(&p, 5, out, sizeof(out)), (long)n);
	assert_memory_equal(out, buf, n);

	/* The client helper, 5.0: empty property block. */
	n = hex("10 10 00 04 4d 51 54 54 05 02 00 3c 00 00 03 61 62 63", buf, sizeof(buf));
	assert_int_equal(mqtt_build_connect(out, sizeof(out), MQTT_V5, "abc", NULL, NULL, 60, true),
			 (long)n);
	assert_memory_equal(out, buf, n);
}

static void test_connack_helper(void **state)
{
	uint8_t b[32];
	bool sp = true;
	uint8_t rc = 99;
	size_t n;
	(void)state;

	n = hex("20 02 00 00", b, sizeof(b));
	assert_int_equal(mqtt_parse_connack(b, n, MQTT_V311, &sp, &rc), 4);
	assert_false(sp);
	assert_int_equal(rc, 0);
	n = hex("20 02 01 00", b, sizeof(b));
	assert_int_equal(mqtt_parse_connack(b, n, MQTT_V311, &sp, &rc), 4);
	assert_true(sp);
	n = hex("20 02 00 05", b, sizeof(b));
	assert_int_equal(mqtt_parse_connack(b, n, MQTT_V311, &sp, &rc), 4);
	assert_int_equal(rc, 5);
	/* Incomplete, at every cut. */
	for (size_t k = 0; k < 4; k++)
		assert_int_equal(mqtt_parse_connack(b, k, MQTT_V311, &sp, &rc), MQTT_NEED_MORE);
	/* Not a CONNACK, seen from the first byte. */
	n = hex("30", b, sizeof(b));
	assert_int_equal(mqtt_parse_connack(b, n, MQTT_V311, &sp, &rc), -1);
	/* Reserved flag bits, bad length, unknown 3.1.1 code. */
	n = hex("20 02 02 00", b, sizeof(b));
	assert_int_equal(mqtt_parse_connack(b, n, MQTT_V311, &sp, &rc), -1);
	n = hex("20 03 00 00 00", b, sizeof(b));
	assert_int_equal(mqtt_parse_connack(b, n, MQTT_V311, &sp, &rc), -1);
	n = hex("20 02 00 06", b, sizeof(b));
	assert_int_equal(mqtt_parse_connack(b, n, MQTT_V311, &sp, &rc), -1);
	/* 5.0: reason code + properties (Assigned Client Identifier "x"). */
	n = hex("20 07 00 86 04 12 00 01 78", b, sizeof(b));
	assert_int_equal(mqtt_parse_connack(b, n, MQTT_V5, &sp, &rc), 9);
	assert_int_equal(rc, 0x86);
	n = hex("20 03 00 00 00 d0 00", b, sizeof(b));
	assert_int_equal(mqtt_parse_connack(b, n, MQTT_V5, NULL, NULL), 5);
	/* 5.0 reason code not allowed in CONNACK. */
	n = hex("20 03 00 04 00", b, sizeof(b));
	assert_int_equal(mqtt_parse_connack(b, n, MQTT_V5, &sp, &rc), -1);
}

static void test_known_small_packets(void **state)
{
	static const struct {
		uint8_t version;
		enum mqtt_type type;
		uint16_t id;
		const char *want;
	} acks[] = {
		{ MQTT_V311, MQTT_PUBACK, 0x1234, "40 02 12 34" },
		{ MQTT_V5, MQTT_PUBREL, 9, "62 02 00 09" },
		{ MQTT_V5, MQTT_PUBREC, 9, "50 02 00 09" },
		{ MQTT_V311, MQTT_PUBCOMP, 9, "70 02 00 09" },
	};
	uint8_t b[64], want[64];
	size_t n;
	struct mqtt_pkt p;
	(void)state;

	n = hex("30 0a 00 03 61 2f 62 68 65 6c 6c 6f", want, sizeof(want));
	assert_int_equal(mqtt_build_publish(b, sizeof(b), MQTT_V311, "a/b", "hello", 5, 0, false, 0),
			 (long)n);
	assert_memory_equal(b, want, n);
	/* QoS 1 + retain: flags 0011; the helper never sets DUP. */
	n = hex("33 07 00 01 74 12 34 68 69", want, sizeof(want));
	assert_int_equal(mqtt_build_publish(b, sizeof(b), MQTT_V311, "t", "hi", 2, 1, true, 0x1234),
			 (long)n);
	assert_memory_equal(b, want, n);
	n = hex("30 06 00 01 74 00 68 69", want, sizeof(want));
	assert_int_equal(mqtt_build_publish(b, sizeof(b), MQTT_V5, "t", "hi", 2, 0, false, 0), (long)n);
	assert_memory_equal(b, want, n);
	n = hex("e0 00", want, sizeof(want));
	assert_int_equal(mqtt_build_disconnect(b, sizeof(b), MQTT_V311, 0x04), (long)n);
	assert_memory_equal(b, want, n);
	assert_int_equal(mqtt_build_disconnect(b, sizeof(b), MQTT_V5, 0), 2);
	n = hex("e0 01 04", want, sizeof(want));
	assert_int_equal(mqtt_build_disconnect(b, sizeof(b), MQTT_V5, 0x04), (long)n);
	assert_memory_equal(b, want, n);
	n = hex("c0 00", want, sizeof(want));
	assert_int_equal(mqtt_build_pingreq(b, sizeof(b)), 2);
	assert_memory_equal(b, want, n);
	/* SUBSCRIBE of one filter: flags 0010; 5.0 adds an empty property block. */
	n = hex("82 08 00 05 00 03 61 2f 23 01", want, sizeof(want));
	assert_int_equal(mqtt_build_subscribe(b, sizeof(b), MQTT_V311, 5, "a/#", 1), (long)n);
	assert_memory_equal(b, want, n);
	n = hex("82 09 00 05 00 00 03 61 2f 23 02", want, sizeof(want));
	assert_int_equal(mqtt_build_subscribe(b, sizeof(b), MQTT_V5, 5, "a/#", 2), (long)n);
	assert_memory_equal(b, want, n);
	/* Acknowledgements: PUBREL alone has flags 0010; 5.0 omits reason code 0. */
	for (size_t i = 0; i < sizeof(acks) / sizeof(acks[0]); i++) {
		n = hex(acks[i].want, want, sizeof(want));
		assert_int_equal(mqtt_build_ack(b, sizeof(b), acks[i].version, acks[i].type, acks[i].id),
				 (long)n);
		assert_memory_equal(b, want, n);
	}
	assert_int_equal(mqtt_build_ack(b, sizeof(b), MQTT_V311, MQTT_SUBACK, 9), -1);

	/* SUBACK from the 3.1.1 spec: granted 0, 2, failure. */
	n = hex("90 05 00 0a 00 02 80", b, sizeof(b));
	assert_int_equal(mqtt_decode(b, n, MQTT_V311, &p, NULL), 0);
	assert_int_equal(p.suback.id, 10);
	assert_int_equal(p.suback.n, 3);
	assert_int_equal(p.suback.rcs[1], 2);
	assert_int_equal(p.suback.rcs[2], 0x80);
	/* 5.0 short forms: PUBACK without reason code, with code only. */
	n = hex("40 02 00 07", b, sizeof(b));
	assert_int_equal(mqtt_decode(b, n, MQTT_V5, &p, NULL), 0);
	assert_int_equal(p.ack.rc, 0);
	n = hex("40 03 00 07 10", b, sizeof(b));
	assert_int_equal(mqtt_decode(b, n, MQTT_V5, &p, NULL), 0);
	assert_int_equal(p.ack.rc, 0x10);
	assert_int_equal(mqtt_encode(&p, MQTT_V5, want, sizeof(want)), 5);
	assert_memory_equal(want, b, 5);
}

/* ---- round trips ------------------------------------------------------- */

static void fill_all_props(struct mqtt_props *pr, int ctx)
{
	static const struct mqtt_user_prop up[2] = {
		{ { "k1", 2 }, { "v1", 2 } }, { { "k2", 2 }, { "", 0 } },
	};

	memset(pr, 0, sizeof(*pr));
	pr->user = up;
	pr->n_user = 2;
	switch (ctx) {
	case MQTT_CONNECT:
		pr->session_expiry = 3600;
		pr->receive_maximum = 10;
		pr->maximum_packet_size = 1000;
		pr->topic_alias_maximum = 5;
		pr->request_problem_info = 0;
		pr->request_response_info = 1;
		pr->auth_method = mqtt_cstr("SCRAM");
		pr->auth_data = mqtt_cstr("\x01\x00\x02");
		pr->auth_data.len = 3;
		pr->present = MQTT_PROP_BIT(0x11) | MQTT_PROP_BIT(0x21) | MQTT_PROP_BIT(0x27) |
			      MQTT_PROP_BIT(0x22) | MQTT_PROP_BIT(0x17) | MQTT_PROP_BIT(0x19) |
			      MQTT_PROP_BIT(0x15) | MQTT_PROP_BIT(0x16);
		break;
	case MQTT_CONNACK:
		pr->session_expiry = 7;
		pr->receive_maximum = 100;
		pr->maximum_qos = 1;
		pr->retain_available = 0;
		pr->maximum_packet_size = 65536;
		pr->assigned_client_id = mqtt_cstr("auto-1");
		pr->topic_alias_maximum = 16;
		pr->reason_string = mqtt_cstr("fine");
		pr->wildcard_sub_available = 1;
		pr->sub_id_available = 1;
		pr->shared_sub_available = 0;
		pr->server_keepalive = 30;
		pr->response_info = mqtt_cstr("resp/");
		pr->server_reference = mqtt_cstr("other:1883");
		pr->auth_method = mqtt_cstr("M");
		pr->auth_data = mqtt_cstr("D");
		pr->present = MQTT_PROP_BIT(0x11) | MQTT_PROP_BIT(0x21) | MQTT_PROP_BIT(0x24) |
			      MQTT_PROP_BIT(0x25) | MQTT_PROP_BIT(0x27) | MQTT_PROP_BIT(0x12) |
			      MQTT_PROP_BIT(0x22) | MQTT_PROP_BIT(0x1F) | MQTT_PROP_BIT(0x28) |
			      MQTT_PROP_BIT(0x29) | MQTT_PROP_BIT(0x2A) | MQTT_PROP_BIT(0x13) |
			      MQTT_PROP_BIT(0x1A) | MQTT_PROP_BIT(0x1C) | MQTT_PROP_BIT(0x15) |
			      MQTT_PROP_BIT(0x16);
		break;
	case MQTT_PUBLISH:
	case MQTT_PROPS_WILL:
		pr->payload_format = 1;
		pr->message_expiry = 60;
		pr->content_type = mqtt_cstr("text/plain");
		pr->response_topic = mqtt_cstr("reply/here");
		pr->correlation_data = mqtt_cstr("\x00\x01");
		pr->correlation_data.len = 2;
		pr->present = MQTT_PROP_BIT(0x01) | MQTT_PROP_BIT(0x02) | MQTT_PROP_BIT(0x03) |
			      MQTT_PROP_BIT(0x08) | MQTT_PROP_BIT(0x09);
		if (ctx == MQTT_PUBLISH) {
			pr->topic_alias = 3;
			pr->sub_ids[0] = 1;
			pr->sub_ids[1] = 268435455;
			pr->n_sub_ids = 2;
			pr->present |= MQTT_PROP_BIT(0x23);
		} else {
			pr->will_delay = 5;
			pr->present |= MQTT_PROP_BIT(0x18);
		}
		break;
	default:
		pr->reason_string = mqtt_cstr("why not");
		pr->present = MQTT_PROP_BIT(0x1F);
		break;
	}
}

static void check_user_props(const struct mqtt_props *pr)
{
	struct mqtt_user_prop u;
	size_t pos = 0;

	assert_int_equal(pr->n_user, 2);
	assert_true(mqtt_props_user_next(pr, &pos, &u));
	assert_true(str_is(u.key, "k1") && str_is(u.val, "v1"));
	assert_true(mqtt_props_user_next(pr, &pos, &u));
	assert_true(str_is(u.key, "k2") && str_is(u.val, ""));
	assert_false(mqtt_props_user_next(pr, &pos, &u));
}

static void test_roundtrip_connect(void **state)
{
	uint8_t buf[1024];
	struct mqtt_pkt in, out;
	(void)state;

	for (uint8_t v = MQTT_V311; v <= MQTT_V5; v++) {
		memset(&in, 0, sizeof(in));
		in.type = MQTT_CONNECT;
		in.connect.version = v;
		in.connect.clean = false;
		in.connect.keepalive = 300;
		in.connect.client_id = mqtt_cstr("client-\xc3\xa9");
		in.connect.will = true;
		in.connect.will_qos = 2;
		in.connect.will_retain = true;
		in.connect.will_topic = mqtt_cstr("last/will");
		in.connect.will_payload = mqtt_cstr("gone");
		in.connect.has_username = true;
		in.connect.username = mqtt_cstr("alice");
		in.connect.has_password = true;
		in.connect.password = mqtt_cstr("s3cret");
		if (v == MQTT_V5) {
			fill_all_props(&in.connect.props, MQTT_CONNECT);
			fill_all_props(&in.connect.will_props, MQTT_PROPS_WILL);
		}
		roundtrip(&in, v, &out, buf, sizeof(buf));
		assert_int_equal(out.connect.version, v);
		assert_false(out.connect.clean);
		assert_int_equal(out.connect.keepalive, 300);
		assert_true(str_is(out.connect.client_id, "client-\xc3\xa9"));
		assert_true(out.connect.will);
		assert_int_equal(out.connect.will_qos, 2);
		assert_true(out.connect.will_retain);
		assert_true(str_is(out.connect.will_topic, "last/will"));
		assert_true(str_is(out.connect.will_payload, "gone"));
		assert_true(str_is(out.connect.username, "alice"));
		assert_true(str_is(out.connect.password, "s3cret"));
		if (v == MQTT_V5) {
			const struct mqtt_props *pr = &out.connect.props;
			const struct mqtt_props *wp = &out.connect.will_props;

			assert_int_equal(pr->present, in.connect.props.present | MQTT_PROP_BIT(0x26));
			assert_int_equal(pr->session_expiry, 3600);
			assert_int_equal(pr->receive_maximum, 10);
			assert_int_equal(pr->maximum_packet_size, 1000);
			assert_int_equal(pr->topic_alias_maximum, 5);
			assert_int_equal(pr->request_problem_info, 0);
			assert_int_equal(pr->request_response_info, 1);
			assert_true(str_is(pr->auth_method, "SCRAM"));
			assert_int_equal(pr->auth_data.len, 3);
			check_user_props(pr);
			assert_int_equal(wp->will_delay, 5);
			assert_int_equal(wp->payload_format, 1);
			assert_int_equal(wp->message_expiry, 60);
			assert_true(str_is(wp->content_type, "text/plain"));
			assert_true(str_is(wp->response_topic, "reply/here"));
			assert_int_equal(wp->correlation_data.len, 2);
			check_user_props(wp);
		}
	}
	/* Password without user name is fine in 5.0. */
	memset(&in, 0, sizeof(in));
	in.type = MQTT_CONNECT;
	in.connect.version = MQTT_V5;
	in.connect.has_password = true;
	in.connect.password = mqtt_cstr("token");
	roundtrip(&in, MQTT_V5, &out, buf, sizeof(buf));
	assert_false(out.connect.has_username);
	assert_true(out.connect.has_password);
}

static void test_roundtrip_connack(void **state)
{
	uint8_t buf[1024];
	struct mqtt_pkt in, out;
	(void)state;

	memset(&in, 0, sizeof(in));
	in.type = MQTT_CONNACK;
	in.connack.session_present = true;
	in.connack.rc = 0;
	assert_int_equal(roundtrip(&in, MQTT_V311, &out, buf, sizeof(buf)), 4);
	assert_true(out.connack.session_present);

	in.connack.session_present = false;
	in.connack.rc = MQTT_RC_NOT_AUTHORIZED;
	fill_all_props(&in.connack.props, MQTT_CONNACK);
	roundtrip(&in, MQTT_V5, &out, buf, sizeof(buf));
	assert_int_equal(out.connack.rc, 0x87);
	assert_int_equal(out.connack.props.present, in.connack.props.present | MQTT_PROP_BIT(0x26));
	assert_int_equal(out.connack.props.server_keepalive, 30);
	assert_int_equal(out.connack.props.maximum_qos, 1);
	assert_int_equal(out.connack.props.retain_available, 0);
	assert_int_equal(out.connack.props.shared_sub_available, 0);
	assert_true(str_is(out.connack.props.assigned_client_id, "auto-1"));
	assert_true(str_is(out.connack.props.server_reference, "other:1883"));
	check_user_props(&out.connack.props);
}

static void test_roundtrip_publish(void **state)
{
	uint8_t buf[1024];
	struct mqtt_pkt in, out;
	(void)state;

	for (uint8_t v = MQTT_V311; v <= MQTT_V5; v++) {
		for (uint8_t q = 0; q <= 2; q++) {
			memset(&in, 0, sizeof(in));
			in.type = MQTT_PUBLISH;
			in.publish.qos = q;
			in.publish.dup = q > 0;
			in.publish.retain = q == 1;
			in.publish.id = q ? (uint16_t)(1000 + q) : 0;
			in.publish.topic = mqtt_cstr("sensors/\xe2\x82\xac/temp");
			in.publish.payload = (const uint8_t *)"\x00\x01\x02";
			in.publish.payload_len = 3;
			if (v == MQTT_V5)
				fill_all_props(&in.publish.props, MQTT_PUBLISH);
			roundtrip(&in, v, &out, buf, sizeof(buf));
			assert_int_equal(out.publish.qos, q);
			assert_int_equal(out.publish.dup, q > 0);
			assert_int_equal(out.publish.retain, q == 1);
			assert_int_equal(out.publish.id, in.publish.id);
			assert_true(str_is(out.publish.topic, "sensors/\xe2\x82\xac/temp"));
			assert_int_equal(out.publish.payload_len, 3);
			assert_memory_equal(out.publish.payload, "\x00\x01\x02", 3);
			if (v == MQTT_V5) {
				assert_int_equal(out.publish.props.n_sub_ids, 2);
				assert_int_equal(out.publish.props.sub_ids[1], 268435455);
				assert_int_equal(out.publish.props.topic_alias, 3);
				assert_int_equal(out.publish.props.message_expiry, 60);
				check_user_props(&out.publish.props);
			}
		}
	}
	/* 5.0: empty topic with a Topic Alias; empty payload. */
	memset(&in, 0, sizeof(in));
	in.type = MQTT_PUBLISH;
	in.publish.topic = mqtt_cstr("");
	in.publish.props.topic_alias = 1;
	MQTT_PROP_SET(&in.publish.props, MQTT_PROP_TOPIC_ALIAS);
	roundtrip(&in, MQTT_V5, &out, buf, sizeof(buf));
	assert_int_equal(out.publish.topic.len, 0);
	assert_int_equal(out.publish.payload_len, 0);
}

static void test_roundtrip_acks(void **state)
{
	static const enum mqtt_type types[] = { MQTT_PUBACK, MQTT_PUBREC, MQTT_PUBREL, MQTT_PUBCOMP };
	uint8_t buf[256];
	struct mqtt_pkt in, out;
	(void)state;

	for (size_t i = 0; i < 4; i++) {
		memset(&in, 0, sizeof(in));
		in.type = types[i];
		in.ack.id = 0xBEEF;
		assert_int_equal(roundtrip(&in, MQTT_V311, &out, buf, sizeof(buf)), 4);
		assert_int_equal(buf[0], types[i] == MQTT_PUBREL ? 0x62 : types[i] << 4);
		assert_int_equal(out.type, types[i]);
		assert_int_equal(out.ack.id, 0xBEEF);
		/* 5.0 with code 0 and no properties: the short form. */
		assert_int_equal(roundtrip(&in, MQTT_V5, &out, buf, sizeof(buf)), 4);
		in.ack.rc = types[i] == MQTT_PUBREL || types[i] == MQTT_PUBCOMP ? 0x92 : 0x97;
		assert_int_equal(roundtrip(&in, MQTT_V5, &out, buf, sizeof(buf)), 5);
		assert_int_equal(out.ack.rc, in.ack.rc);
		fill_all_props(&in.ack.props, types[i]);
		roundtrip(&in, MQTT_V5, &out, buf, sizeof(buf));
		assert_true(str_is(out.ack.props.reason_string, "why not"));
		check_user_props(&out.ack.props);
	}
}

static void test_roundtrip_subscribe(void **state)
{
	struct mqtt_sub subs[3] = {
		{ { "a/+/c", 5 }, 0, false, false, 0 },
		{ { "#", 1 }, 2, true, true, 2 },
		{ { "x/y", 3 }, 1, false, true, 1 },
	};
	struct mqtt_str filters[2] = { { "a/+/c", 5 }, { "#", 1 } };
	uint8_t buf[512];
	struct mqtt_pkt in, out;
	struct mqtt_sub e;
	struct mqtt_str f;
	size_t pos;
	(void)state;

	for (uint8_t v = MQTT_V311; v <= MQTT_V5; v++) {
		memset(&in, 0, sizeof(in));
		in.type = MQTT_SUBSCRIBE;
		in.subscribe.id = 7;
		in.subscribe.n = 3;
		in.subscribe.subs = subs;
		if (v == MQTT_V5) {
			in.subscribe.props.sub_ids[0] = 42;
			in.subscribe.props.n_sub_ids = 1;
		}
		roundtrip(&in, v, &out, buf, sizeof(buf));
		assert_int_equal(buf[0], 0x82);
		assert_int_equal(out.subscribe.id, 7);
		assert_int_equal(out.subscribe.n, 3);
		pos = 0;
		for (size_t i = 0; i < 3; i++) {
			assert_true(mqtt_subscribe_next(&out.subscribe, &pos, &e));
			assert_memory_equal(e.filter.p, subs[i].filter.p, subs[i].filter.len);
			assert_int_equal(e.qos, subs[i].qos);
			assert_int_equal(e.no_local, v == MQTT_V5 && subs[i].no_local);
			assert_int_equal(e.retain_as_published, v == MQTT_V5 && subs[i].retain_as_published);
			assert_int_equal(e.retain_handling, v == MQTT_V5 ? subs[i].retain_handling : 0);
		}
		assert_false(mqtt_subscribe_next(&out.subscribe, &pos, &e));
		if (v == MQTT_V5)
			assert_int_equal(out.subscribe.props.sub_ids[0], 42);

		memset(&in, 0, sizeof(in));
		in.type = MQTT_UNSUBSCRIBE;
		in.unsubscribe.id = 8;
		in.unsubscribe.n = 2;
		in.unsubscribe.filters = filters;
		roundtrip(&in, v, &out, buf, sizeof(buf));
		assert_int_equal(buf[0], 0xA2);
		assert_int_equal(out.unsubscribe.n, 2);
		pos = 0;
		assert_true(mqtt_unsubscribe_next(&out.unsubscribe, &pos, &f));
		assert_true(str_is(f, "a/+/c"));
		assert_true(mqtt_unsubscribe_next(&out.unsubscribe, &pos, &f));
		assert_true(str_is(f, "#"));
		assert_false(mqtt_unsubscribe_next(&out.unsubscribe, &pos, &f));

		memset(&in, 0, sizeof(in));
		in.type = MQTT_SUBACK;
		in.suback.id = 7;
		in.suback.n = 3;
		in.suback.rcs = (const uint8_t *)"\x00\x02\x80";
		roundtrip(&in, v, &out, buf, sizeof(buf));
		assert_int_equal(out.suback.n, 3);
		assert_int_equal(out.suback.rcs[2], 0x80);

		memset(&in, 0, sizeof(in));
		in.type = MQTT_UNSUBACK;
		in.suback.id = 8;
		in.suback.n = v == MQTT_V5 ? 2 : 0;
		in.suback.rcs = (const uint8_t *)"\x00\x11";
		assert_int_equal(roundtrip(&in, v, &out, buf, sizeof(buf)), v == MQTT_V5 ? 7 : 4);
		assert_int_equal(out.suback.id, 8);
		if (v == MQTT_V5)
			assert_int_equal(out.suback.rcs[1], 0x11);
	}
}

static void test_roundtrip_misc(void **state)
{
	uint8_t buf[256];
	struct mqtt_pkt in, out;
	(void)state;

	for (uint8_t v = MQTT_V311; v <= MQTT_V5; v++) {
		memset(&in, 0, sizeof(in));
		in.type = MQTT_PINGREQ;
		assert_int_equal(roundtrip(&in, v, &out, buf, sizeof(buf)), 2);
		in.type = MQTT_PINGRESP;
		assert_int_equal(roundtrip(&in, v, &out, buf, sizeof(buf)), 2);
		assert_int_equal(buf[0], 0xD0);
		in.type = MQTT_DISCONNECT;
		assert_int_equal(roundtrip(&in, v, &out, buf, sizeof(buf)), 2);
	}
	memset(&in, 0, sizeof(in));
	in.type = MQTT_DISCONNECT;
	in.disconnect.rc = MQTT_RC_SESSION_TAKEN_OVER;
	assert_int_equal(roundtrip(&in, MQTT_V5, &out, buf, sizeof(buf)), 3);
	assert_int_equal(out.disconnect.rc, 0x8E);
	in.disconnect.props.session_expiry = 0;
	MQTT_PROP_SET(&in.disconnect.props, MQTT_PROP_SESSION_EXPIRY_INTERVAL);
	in.disconnect.props.server_reference = mqtt_cstr("elsewhere");
	MQTT_PROP_SET(&in.disconnect.props, MQTT_PROP_SERVER_REFERENCE);
	roundtrip(&in, MQTT_V5, &out, buf, sizeof(buf));
	assert_true(str_is(out.disconnect.props.server_reference, "elsewhere"));

	memset(&in, 0, sizeof(in));
	in.type = MQTT_AUTH;
	in.disconnect.rc = MQTT_RC_CONTINUE_AUTHENTICATION;
	in.disconnect.props.auth_method = mqtt_cstr("SCRAM");
	MQTT_PROP_SET(&in.disconnect.props, MQTT_PROP_AUTHENTICATION_METHOD);
	roundtrip(&in, MQTT_V5, &out, buf, sizeof(buf));
	assert_int_equal(out.type, MQTT_AUTH);
	assert_int_equal(out.disconnect.rc, 0x18);

	/* Encoder refusals. */
	memset(&in, 0, sizeof(in));
	in.type = MQTT_PUBLISH;
	in.publish.qos = 3;
	in.publish.topic = mqtt_cstr("t");
	assert_int_equal(mqtt_encode(&in, MQTT_V311, buf, sizeof(buf)), -1);
	in.publish.qos = 0;
	in.publish.topic.len = 70000;
	assert_int_equal(mqtt_encode(&in, MQTT_V311, buf, sizeof(buf)), -1);
	memset(&in, 0, sizeof(in));
	in.type = (enum mqtt_type)0;
	assert_int_equal(mqtt_encode(&in, MQTT_V311, buf, sizeof(buf)), -1);
}

/* ---- refusals ---------------------------------------------------------- */

static void test_malformed_header(void **state)
{
	(void)state;
	/* Remaining length disagrees with the bytes given. */
	expect_rc("c0 01", MQTT_V311, MQTT_RC_MALFORMED_PACKET);
	expect_rc("c0 00 00", MQTT_V311, MQTT_RC_MALFORMED_PACKET);
	expect_rc("c0 ff ff ff ff 01", MQTT_V311, MQTT_RC_MALFORMED_PACKET);
	/* Reserved packet type 0, 15 in 3.1.1. */
	expect_rc("00 00", MQTT_V311, MQTT_RC_MALFORMED_PACKET);
	expect_rc("f0 00", MQTT_V311, MQTT_RC_MALFORMED_PACKET);
	/* Reserved flag bits. */
	expect_rc("c1 00", MQTT_V311, MQTT_RC_MALFORMED_PACKET);
	expect_rc("e8 00", MQTT_V5, MQTT_RC_MALFORMED_PACKET);
	expect_rc("60 02 00 01", MQTT_V311, MQTT_RC_MALFORMED_PACKET);       /* PUBREL needs 0010 */
	expect_rc("80 06 00 01 00 01 61 00", MQTT_V311, MQTT_RC_MALFORMED_PACKET); /* SUBSCRIBE */
	expect_rc("a0 05 00 01 00 01 61", MQTT_V311, MQTT_RC_MALFORMED_PACKET);    /* UNSUBSCRIBE */
	expect_rc("42 02 00 01", MQTT_V311, MQTT_RC_MALFORMED_PACKET);       /* PUBACK needs 0000 */
	expect_rc("11 00", MQTT_V311, MQTT_RC_MALFORMED_PACKET);             /* CONNECT */
	/* Lengths that do not fit the packet type. */
	expect_rc("c0 01 00", MQTT_V311, MQTT_RC_MALFORMED_PACKET);
	expect_rc("e0 01 00", MQTT_V311, MQTT_RC_MALFORMED_PACKET);
	expect_rc("40 03 00 01 00", MQTT_V311, MQTT_RC_MALFORMED_PACKET);
	expect_rc("40 01 00", MQTT_V311, MQTT_RC_MALFORMED_PACKET);
	expect_rc("b0 03 00 01 00", MQTT_V311, MQTT_RC_MALFORMED_PACKET);    /* 3.1.1 UNSUBACK */
}

static void test_malformed_connect(void **state)
{
	uint8_t buf[256];
	struct mqtt_pkt p;
	(void)state;

	/* Protocol name other than MQTT: version 0 => no CONNACK. */
	assert_int_equal(decode_hex("10 0f 00 04 4d 51 54 58 04 02 00 3c 00 03 61 62 63", 0, &p,
				    buf, sizeof(buf)), MQTT_RC_MALFORMED_PACKET);
	assert_int_equal(p.connect.version, 0);
	/* MQTT 3.1 (MQIsdp, level 3): unsupported version, reported as 3. */
	assert_int_equal(decode_hex("10 11 00 06 4d 51 49 73 64 70 03 02 00 3c 00 03 61 62 63", 0,
				    &p, buf, sizeof(buf)), MQTT_RC_UNSUPPORTED_PROTOCOL_VERSION);
	assert_int_equal(p.connect.version, 3);
	/* MQIsdp with level 4 is neither. */
	expect_rc("10 11 00 06 4d 51 49 73 64 70 04 02 00 3c 00 03 61 62 63", 0,
		  MQTT_RC_MALFORMED_PACKET);
	/* Level 6. */
	assert_int_equal(decode_hex("10 0f 00 04 4d 51 54 54 06 02 00 3c 00 03 61 62 63", 0, &p,
				    buf, sizeof(buf)), MQTT_RC_UNSUPPORTED_PROTOCOL_VERSION);
	assert_int_equal(p.connect.version, 6);
	/* Reserved connect flag. */
	expect_rc("10 0f 00 04 4d 51 54 54 04 03 00 3c 00 03 61 62 63", 0, MQTT_RC_MALFORMED_PACKET);
	/* Will QoS / retain without will flag; will QoS 3. */
	expect_rc("10 0f 00 04 4d 51 54 54 04 0a 00 3c 00 03 61 62 63", 0, MQTT_RC_MALFORMED_PACKET);
	expect_rc("10 0f 00 04 4d 51 54 54 04 22 00 3c 00 03 61 62 63", 0, MQTT_RC_MALFORMED_PACKET);
	expect_rc("10 0f 00 04 4d 51 54 54 04 1e 00 3c 00 03 61 62 63", 0, MQTT_RC_MALFORMED_PACKET);
	/* 3.1.1: password without user name. */
	expect_rc("10 12 00 04 4d 51 54 54 04 42 00 3c 00 03 61 62 63 00 01 70", 0,
		  MQTT_RC_PROTOCOL_ERROR);
	/* Client id: U+0000, a surrogate (ED A0 80), an overlong '/' (C0 AF). */
	expect_rc("10 0f 00 04 4d 51 54 54 04 02 00 3c 00 03 61 00 63", 0, MQTT_RC_MALFORMED_PACKET);
	expect_rc("10 0f 00 04 4d 51 54 54 04 02 00 3c 00 03 ed a0 80", 0, MQTT_RC_MALFORMED_PACKET);
	expect_rc("10 0e 00 04 4d 51 54 54 04 02 00 3c 00 02 c0 af", 0, MQTT_RC_MALFORMED_PACKET);
	/* Client id longer than the packet; trailing bytes. */
	expect_rc("10 0f 00 04 4d 51 54 54 04 02 00 3c 00 04 61 62 63", 0, MQTT_RC_MALFORMED_PACKET);
	expect_rc("10 10 00 04 4d 51 54 54 04 02 00 3c 00 03 61 62 63 00", 0, MQTT_RC_MALFORMED_PACKET);
	/* Will topic with a wildcard: Topic Name invalid. */
	expect_rc("10 15 00 04 4d 51 54 54 04 06 00 3c 00 01 63 00 03 61 2f 23 00 01 78", 0,
		  MQTT_RC_TOPIC_NAME_INVALID);
	/* User flag set but no user name. */
	expect_rc("10 0f 00 04 4d 51 54 54 04 82 00 3c 00 03 61 62 63", 0, MQTT_RC_MALFORMED_PACKET);
	/* 5.0 properties: unknown id 0x05, one not allowed in CONNECT (0x12
	 * Assigned Client Identifier), a duplicate, Receive Maximum 0,
	 * Maximum Packet Size 0, Request Problem Information 2, property
	 * block longer than the packet, Authentication Data without method. */
	expect_rc("10 12 00 04 4d 51 54 54 05 02 00 3c 02 05 00 00 03 61 62 63", 0,
		  MQTT_RC_MALFORMED_PACKET);
	expect_rc("10 11 00 04 4d 51 54 54 05 02 00 3c 04 12 00 01 78 00 00", 0,
		  MQTT_RC_MALFORMED_PACKET);
	expect_rc("10 17 00 04 4d 51 54 54 05 02 00 3c 0a 11 00 00 00 01 11 00 00 00 02 00 00", 0,
		  MQTT_RC_PROTOCOL_ERROR);
	expect_rc("10 10 00 04 4d 51 54 54 05 02 00 3c 03 21 00 00 00 00", 0, MQTT_RC_PROTOCOL_ERROR);
	expect_rc("10 12 00 04 4d 51 54 54 05 02 00 3c 05 27 00 00 00 00 00 00", 0,
		  MQTT_RC_PROTOCOL_ERROR);
	expect_rc("10 0f 00 04 4d 51 54 54 05 02 00 3c 02 17 02 00 00", 0, MQTT_RC_PROTOCOL_ERROR);
	expect_rc("10 0d 00 04 4d 51 54 54 05 02 00 3c 09 00 00", 0, MQTT_RC_MALFORMED_PACKET);
	expect_rc("10 10 00 04 4d 51 54 54 05 02 00 3c 03 16 00 00 00 00", 0, MQTT_RC_PROTOCOL_ERROR);
	/* Will property only allowed in PUBLISH (0x23 Topic Alias). */
	expect_rc("10 17 00 04 4d 51 54 54 05 06 00 3c 00 00 01 63 03 23 00 01 00 01 74 00 00", 0,
		  MQTT_RC_MALFORMED_PACKET);
	/* User property with invalid UTF-8 in its value. */
	expect_rc("10 15 00 04 4d 51 54 54 05 02 00 3c 07 26 00 01 6b 00 01 ff 00 01 63", 0,
		  MQTT_RC_MALFORMED_PACKET);
	/* Property id as a 5-byte variable integer. */
	expect_rc("10 12 00 04 4d 51 54 54 05 02 00 3c 05 ff ff ff ff 01 00 00", 0,
		  MQTT_RC_MALFORMED_PACKET);
}

static void test_malformed_publish(void **state)
{
	(void)state;
	/* QoS 3. */
	expect_rc("36 05 00 01 74 00 01", MQTT_V311, MQTT_RC_MALFORMED_PACKET);
	/* DUP on QoS 0. */
	expect_rc("38 03 00 01 74", MQTT_V311, MQTT_RC_PROTOCOL_ERROR);
	/* Packet id 0 at QoS 1. */
	expect_rc("32 05 00 01 74 00 00", MQTT_V311, MQTT_RC_PROTOCOL_ERROR);
	/* Wildcards in the topic name. */
	expect_rc("30 05 00 03 61 2f 2b", MQTT_V311, MQTT_RC_TOPIC_NAME_INVALID);
	expect_rc("30 03 00 01 23", MQTT_V311, MQTT_RC_TOPIC_NAME_INVALID);
	expect_rc("30 04 00 01 23 00", MQTT_V5, MQTT_RC_TOPIC_NAME_INVALID);
	/* Empty topic: 3.1.1 never; 5.0 only with a Topic Alias. */
	expect_rc("30 02 00 00", MQTT_V311, MQTT_RC_TOPIC_NAME_INVALID);
	expect_rc("30 03 00 00 00", MQTT_V5, MQTT_RC_PROTOCOL_ERROR);
	expect_rc("30 06 00 00 03 23 00 01", MQTT_V5, 0);
	/* Topic Alias 0. */
	expect_rc("30 07 00 01 74 03 23 00 00", MQTT_V5, MQTT_RC_TOPIC_ALIAS_INVALID);
	/* Bad UTF-8 in the topic: lone continuation byte, U+0000, 5-byte form. */
	expect_rc("30 03 00 01 80", MQTT_V311, MQTT_RC_MALFORMED_PACKET);
	expect_rc("30 04 00 02 61 00", MQTT_V311, MQTT_RC_MALFORMED_PACKET);
	expect_rc("30 07 00 05 f8 88 80 80 80", MQTT_V311, MQTT_RC_MALFORMED_PACKET);
	/* Topic length past the packet; QoS 1 without packet id. */
	expect_rc("30 03 00 05 74", MQTT_V311, MQTT_RC_MALFORMED_PACKET);
	expect_rc("32 03 00 01 74", MQTT_V311, MQTT_RC_MALFORMED_PACKET);
	/* 5.0 properties in PUBLISH: one only allowed in CONNACK (0x24),
	 * Payload Format Indicator 2, duplicate Message Expiry, Subscription
	 * Identifier 0; repeated Subscription Identifiers are fine. */
	expect_rc("30 06 00 01 74 02 24 01", MQTT_V5, MQTT_RC_MALFORMED_PACKET);
	expect_rc("30 06 00 01 74 02 01 02", MQTT_V5, MQTT_RC_PROTOCOL_ERROR);
	expect_rc("30 0e 00 01 74 0a 02 00 00 00 01 02 00 00 00 01", MQTT_V5, MQTT_RC_PROTOCOL_ERROR);
	expect_rc("30 06 00 01 74 02 0b 00", MQTT_V5, MQTT_RC_PROTOCOL_ERROR);
	expect_rc("30 08 00 01 74 04 0b 01 0b 02", MQTT_V5, 0);
	/* Property block runs past the packet. */
	expect_rc("30 05 00 01 74 05 01", MQTT_V5, MQTT_RC_MALFORMED_PACKET);
	/* Content Type with bad UTF-8 (surrogate). */
	expect_rc("30 0a 00 01 74 06 03 00 03 ed b0 80", MQTT_V5, MQTT_RC_MALFORMED_PACKET);
}

static void test_malformed_other(void **state)
{
	(void)state;
	/* Packet id 0 in acks, SUBSCRIBE, UNSUBSCRIBE, SUBACK. */
	expect_rc("40 02 00 00", MQTT_V311, MQTT_RC_PROTOCOL_ERROR);
	expect_rc("62 02 00 00", MQTT_V5, MQTT_RC_PROTOCOL_ERROR);
	expect_rc("82 06 00 00 00 01 61 00", MQTT_V311, MQTT_RC_PROTOCOL_ERROR);
	expect_rc("a2 05 00 00 00 01 61", MQTT_V311, MQTT_RC_PROTOCOL_ERROR);
	expect_rc("90 03 00 00 00", MQTT_V311, MQTT_RC_PROTOCOL_ERROR);
	/* SUBSCRIBE: no entries; QoS 3; reserved option bits (3.1.1: bit 2
	 * is No Local in 5.0 only); 5.0 bits 6-7; retain handling 3; missing
	 * options byte; bad UTF-8 filter; two Subscription Identifiers. */
	expect_rc("82 02 00 01", MQTT_V311, MQTT_RC_PROTOCOL_ERROR);
	expect_rc("82 03 00 01 00", MQTT_V5, MQTT_RC_PROTOCOL_ERROR);
	expect_rc("82 06 00 01 00 01 61 03", MQTT_V311, MQTT_RC_MALFORMED_PACKET);
	expect_rc("82 06 00 01 00 01 61 04", MQTT_V311, MQTT_RC_MALFORMED_PACKET);
	expect_rc("82 07 00 01 00 00 01 61 04", MQTT_V5, 0);
	expect_rc("82 07 00 01 00 00 01 61 40", MQTT_V5, MQTT_RC_MALFORMED_PACKET);
	expect_rc("82 07 00 01 00 00 01 61 30", MQTT_V5, MQTT_RC_PROTOCOL_ERROR);
	expect_rc("82 05 00 01 00 01 61", MQTT_V311, MQTT_RC_MALFORMED_PACKET);
	expect_rc("82 06 00 01 00 01 c3 00", MQTT_V311, MQTT_RC_MALFORMED_PACKET);
	expect_rc("82 0b 00 01 04 0b 01 0b 02 00 01 61 00", MQTT_V5, MQTT_RC_PROTOCOL_ERROR);
	/* Filter syntax is the engine's business (SUBACK 0x80 / 0x8F). */
	expect_rc("82 07 00 01 00 02 61 23 00", MQTT_V311, 0);
	/* UNSUBSCRIBE without filters. */
	expect_rc("a2 02 00 01", MQTT_V311, MQTT_RC_PROTOCOL_ERROR);
	/* 5.0 reason codes not allowed in the packet. */
	expect_rc("40 03 00 01 92", MQTT_V5, MQTT_RC_MALFORMED_PACKET);
	expect_rc("62 03 00 01 10", MQTT_V5, MQTT_RC_MALFORMED_PACKET);
	expect_rc("e0 01 01", MQTT_V5, MQTT_RC_MALFORMED_PACKET);
	expect_rc("f0 01 01", MQTT_V5, MQTT_RC_MALFORMED_PACKET);
	expect_rc("90 04 00 01 00 03", MQTT_V5, MQTT_RC_MALFORMED_PACKET);
	expect_rc("90 03 00 01 8f", MQTT_V311, MQTT_RC_MALFORMED_PACKET);
	expect_rc("b0 04 00 01 00 02", MQTT_V5, MQTT_RC_MALFORMED_PACKET);
	/* 5.0 properties not allowed in the packet: Session Expiry in PUBACK,
	 * Topic Alias in DISCONNECT, Reason String in SUBSCRIBE. */
	expect_rc("40 09 00 01 00 05 11 00 00 00 01", MQTT_V5, MQTT_RC_MALFORMED_PACKET);
	expect_rc("e0 05 00 03 23 00 01", MQTT_V5, MQTT_RC_MALFORMED_PACKET);
	expect_rc("82 0a 00 01 04 1f 00 01 78 00 01 61 00", MQTT_V5, MQTT_RC_MALFORMED_PACKET);
	/* Fine in 5.0, refused in 3.1.1. */
	expect_rc("e0 01 04", MQTT_V5, 0);
	expect_rc("e0 01 04", MQTT_V311, MQTT_RC_MALFORMED_PACKET);
	expect_rc("f0 00", MQTT_V5, 0);
	expect_rc("40 04 00 01 10 00", MQTT_V5, 0);
	expect_rc("40 05 00 01 10 00 00", MQTT_V5, MQTT_RC_MALFORMED_PACKET);
}

/* ---- properties, text, topics ------------------------------------------ */

static void test_props_decode(void **state)
{
	uint8_t raw[64];
	struct mqtt_props pr;
	const char *why = NULL;
	size_t n;
	(void)state;

	/* Will Delay Interval: will only. */
	n = hex("18 00 00 00 05", raw, sizeof(raw));
	assert_int_equal(mqtt_props_decode(raw, n, MQTT_PROPS_WILL, &pr, &why), 0);
	assert_int_equal(pr.will_delay, 5);
	assert_int_equal(mqtt_props_decode(raw, n, MQTT_PUBLISH, &pr, &why), MQTT_RC_MALFORMED_PACKET);
	assert_non_null(why);
	/* Truncated u32. */
	n = hex("02 00 00", raw, sizeof(raw));
	assert_int_equal(mqtt_props_decode(raw, n, MQTT_PUBLISH, &pr, NULL), MQTT_RC_MALFORMED_PACKET);
	/* More Subscription Identifiers than kept: validated, extras dropped. */
	memset(raw, 0, sizeof(raw));
	for (n = 0; n < 2 * (MQTT_MAX_SUB_IDS + 2); n += 2) {
		raw[n] = 0x0B;
		raw[n + 1] = (uint8_t)(n / 2 + 1);
	}
	assert_int_equal(mqtt_props_decode(raw, n, MQTT_PUBLISH, &pr, NULL), 0);
	assert_int_equal(pr.n_sub_ids, MQTT_MAX_SUB_IDS);
	assert_int_equal(pr.sub_ids[MQTT_MAX_SUB_IDS - 1], MQTT_MAX_SUB_IDS);
	/* Names. */
	assert_string_equal(mqtt_reason_name(0x81), "Malformed Packet");
	assert_string_equal(mqtt_reason_name(0x8E), "Session taken over");
	assert_string_equal(mqtt_reason_name(0x03), "unknown");
	assert_string_equal(mqtt_connack_name(4, 4), "Connection Refused, bad user name or password");
	assert_string_equal(mqtt_connack_name(5, 0x86), "Bad User Name or Password");
	assert_string_equal(mqtt_type_name(MQTT_PUBREL), "PUBREL");
	assert_string_equal(mqtt_type_name(0), "RESERVED");
	assert_string_equal(mqtt_type_name(99), "RESERVED");
}

static void test_utf8(void **state)
{
	(void)state;
	assert_true(mqtt_utf8_valid("", 0));
	assert_true(mqtt_utf8_valid("plain/ascii", 11));
	assert_true(mqtt_utf8_valid("\xc3\xa9", 2));            /* U+00E9 */
	assert_true(mqtt_utf8_valid("\xe2\x82\xac", 3));        /* U+20AC */
	assert_true(mqtt_utf8_valid("\xef\xbf\xbf", 3));        /* U+FFFF (non-character: allowed) */
	assert_true(mqtt_utf8_valid("\xf0\x9f\x98\x80", 4));    /* U+1F600 */
	assert_true(mqtt_utf8_valid("\xf4\x8f\xbf\xbf", 4));    /* U+10FFFF */
	assert_false(mqtt_utf8_valid("a\0b", 3));               /* U+0000 */
	assert_false(mqtt_utf8_valid("\xc0\x80", 2));           /* overlong U+0000 */
	assert_false(mqtt_utf8_valid("\xc1\xbf", 2));           /* overlong */
	assert_false(mqtt_utf8_valid("\xe0\x80\xaf", 3));       /* overlong */
	assert_false(mqtt_utf8_valid("\xf0\x80\x80\xaf", 4));   /* overlong */
	assert_false(mqtt_utf8_valid("\xed\xa0\x80", 3));       /* U+D800 */
	assert_false(mqtt_utf8_valid("\xed\xbf\xbf", 3));       /* U+DFFF */
	assert_false(mqtt_utf8_valid("\xf4\x90\x80\x80", 4));   /* > U+10FFFF */
	assert_false(mqtt_utf8_valid("\xf5\x80\x80\x80", 4));
	assert_false(mqtt_utf8_valid("\x80", 1));
	assert_false(mqtt_utf8_valid("\xc3", 1));               /* truncated */
	assert_false(mqtt_utf8_valid("\xe2\x82", 2));
	assert_false(mqtt_utf8_valid("\xe2\x28\xa1", 3));       /* bad continuation */
	assert_false(mqtt_utf8_valid("\xff", 1));
}

static void test_topic_valid(void **state)
{
	static const struct { const char *s; bool name, filter; } t[] = {
		{ "a/b/c", true, true },
		{ "/", true, true },
		{ "a//b", true, true },
		{ "$SYS/x", true, true },
		{ " ", true, true },
		{ "#", false, true },
		{ "+", false, true },
		{ "a/#", false, true },
		{ "+/+/#", false, true },
		{ "a/+/c", false, true },
		{ "/+", false, true },
		{ "+/", false, true },
		{ "a#", false, false },
		{ "a/#/c", false, false },
		{ "a/b#", false, false },
		{ "a+", false, false },
		{ "a/+b/c", false, false },
		{ "##", false, false },
		{ "", false, false },
	};
	char big[70000];
	(void)state;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		size_t n = strlen(t[i].s);

		if (mqtt_topic_name_valid(t[i].s, n) != t[i].name)
			fail_msg("name '%s'", t[i].s);
		if (mqtt_topic_filter_valid(t[i].s, n) != t[i].filter)
			fail_msg("filter '%s'", t[i].s);
	}
	assert_false(mqtt_topic_name_valid("a\xed\xa0\x80", 4));
	assert_false(mqtt_topic_filter_valid("a/\0", 3));
	memset(big, 'a', sizeof(big));
	assert_true(mqtt_topic_name_valid(big, 65535));
	assert_false(mqtt_topic_name_valid(big, 65536));
	assert_false(mqtt_topic_filter_valid(big, 65536));
}

static void test_topic_match(void **state)
{
	static const struct { const char *f, *t; bool m; } t[] = {
		{ "a/b/c", "a/b/c", true },
		{ "a/b/c", "a/b", false },
		{ "a/b", "a/b/c", false },
		{ "a/b/c", "a/b/d", false },
		{ "A/b", "a/b", false },
		{ "#", "a", true },
		{ "#", "a/b/c", true },
		{ "#", "/", true },
		{ "a/#", "a", true },            /* parent level */
		{ "a/#", "a/b", true },
		{ "a/#", "a/b/c", true },
		{ "a/#", "ab", false },
		{ "a/#", "b/a", false },
		{ "+", "a", true },
		{ "+", "a/b", false },
		{ "+", "/a", false },
		{ "+/+", "/a", true },
		{ "/+", "/a", true },
		{ "+/+", "/", true },
		{ "+", "", true },
		{ "a/+/c", "a/b/c", true },
		{ "a/+/c", "a//c", true },
		{ "a/+/c", "a/b/d", false },
		{ "a/+", "a", false },
		{ "a/+", "a/", true },
		{ "a/+/#", "a/b", true },
		{ "a/+/#", "a/b/c/d", true },
		{ "a/+/#", "a", false },
		{ "+/b/#", "x/b", true },
		{ "a/b/", "a/b/", true },
		{ "a/b/", "a/b", false },
		/* $-topics: no first-level wildcard match. */
		{ "#", "$SYS/x", false },
		{ "+/x", "$SYS/x", false },
		{ "+", "$SYS", false },
		{ "$SYS/#", "$SYS/x", true },
		{ "$SYS/#", "$SYS", true },
		{ "$SYS/+", "$SYS/x", true },
		{ "a/#", "a/$x", true },
		{ "a/+", "a/$x", true },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (mqtt_topic_match(t[i].f, t[i].t) != t[i].m)
			fail_msg("match('%s', '%s') != %d", t[i].f, t[i].t, t[i].m);
}

/* Every prefix of valid packets is "need more" to the framer and every
 * truncation of a body is refused by the decoder (no overreads under
 * ASan/valgrind). */
static void test_truncations(void **state)
{
	uint8_t buf[1024], cut[1024];
	struct mqtt_pkt in, out;
	long n;
	(void)state;

	memset(&in, 0, sizeof(in));
	in.type = MQTT_CONNECT;
	in.connect.version = MQTT_V5;
	in.connect.client_id = mqtt_cstr("cid");
	in.connect.will = true;
	in.connect.will_topic = mqtt_cstr("w");
	in.connect.will_payload = mqtt_cstr("p");
	in.connect.has_username = true;
	in.connect.username = mqtt_cstr("u");
	fill_all_props(&in.connect.props, MQTT_CONNECT);
	fill_all_props(&in.connect.will_props, MQTT_PROPS_WILL);
	n = mqtt_encode(&in, MQTT_V5, buf, sizeof(buf));
	assert_true(n > 0 && (size_t)n < sizeof(buf));
	for (long k = 0; k < n; k++)
		assert_int_equal(mqtt_frame(buf, (size_t)k, 0), MQTT_NEED_MORE);
	/* Shorten the body and fix the remaining length (2 bytes here). */
	assert_true(n - 3 >= 128 && n - 3 < 16384);
	for (long body = 0; body < n - 3; body++) {
		cut[0] = buf[0];
		cut[1] = (uint8_t)(0x80 | (body & 0x7F));
		cut[2] = (uint8_t)(body >> 7);
		memcpy(cut + 3, buf + 3, (size_t)body);
		assert_int_not_equal(mqtt_decode(cut, (size_t)(3 + body), 0, &out, NULL), 0);
	}
	assert_int_equal(mqtt_decode(buf, (size_t)n, 0, &out, NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frame),
		cmocka_unit_test(test_frame_size_and_level),
		cmocka_unit_test(test_known_connect_v311),
		cmocka_unit_test(test_known_connect_v5),
		cmocka_unit_test(test_connack_helper),
		cmocka_unit_test(test_known_small_packets),
		cmocka_unit_test(test_roundtrip_connect),
		cmocka_unit_test(test_roundtrip_connack),
		cmocka_unit_test(test_roundtrip_publish),
		cmocka_unit_test(test_roundtrip_acks),
		cmocka_unit_test(test_roundtrip_subscribe),
		cmocka_unit_test(test_roundtrip_misc),
		cmocka_unit_test(test_malformed_header),
		cmocka_unit_test(test_malformed_connect),
		cmocka_unit_test(test_malformed_publish),
		cmocka_unit_test(test_malformed_other),
		cmocka_unit_test(test_props_decode),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_topic_valid),
		cmocka_unit_test(test_topic_match),
		cmocka_unit_test(test_truncations),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
