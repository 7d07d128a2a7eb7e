/* paho_client.c - a real, independent MQTT client (Eclipse paho.mqtt.c,
 * async API) for the integration tests: connect over tcp/ssl/ws/wss,
 * subscribe, publish, wait for our own message to come back, disconnect.
 *
 *   paho_client --url ws://127.0.0.1:8084/mqtt [--client-id ID]
 *               [--user U --pass P] [--ca FILE | --insecure]
 *               [--topic T] [--message M] [--qos 0|1|2] [--mqtt 3.1.1|5]
 *               [--connect-only] [--timeout MS]
 *
 * Prints one line per step; exits 0 when every step succeeded, 1 on any
 * failure (the line says which step and why), 2 on usage errors.
 */
#include <getopt.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <MQTTAsync.h>

enum step { ST_WAIT = 0, ST_OK, ST_FAIL };

struct state {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	enum step connect, subscribe, publish, message, disconnect;
	int rc;                  /* last failure code */
	char why[256];
	char got_topic[256];
	char *got_payload;
	int got_len;
	const char *want_topic;
};

static struct state st = {
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.cv = PTHREAD_COND_INITIALIZER,
};

static void set_step(enum step *s, enum step v, int rc, const char *why)
{
	pthread_mutex_lock(&st.mu);
	*s = v;
	if (v == ST_FAIL) {
		st.rc = rc;
		snprintf(st.why, sizeof(st.why), "%s", why ? why : "");
	}
	pthread_cond_broadcast(&st.cv);
	pthread_mutex_unlock(&st.mu);
}

/* Wait until *s leaves ST_WAIT or timeout_ms passes. */
static enum step wait_step(enum step *s, int timeout_ms)
{
	struct timespec ts;
	enum step v;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&st.mu);
	while (*s == ST_WAIT) {
		if (pthread_cond_timedwait(&st.cv, &st.mu, &ts) != 0)
			break;
	}
	v = *s;
	pthread_mutex_unlock(&st.mu);
	return v;
}

/* ---- callbacks (paho's thread) -------------------------------------------- */

static void on_conn_lost(void *ctx, char *cause)
{
	(void)ctx;
	printf("connection lost: %s\n", cause ? cause : "(no cause)");
	fflush(stdout);
	set_step(&st.message, ST_FAIL, -1, "connection lost");
}

static int on_message(void *ctx, char *topic, int topic_len, MQTTAsync_message *m)
{
	(void)ctx;
	(void)topic_len;
	pthread_mutex_lock(&st.mu);
	if (st.message == ST_WAIT && strcmp(topic, st.want_topic) == 0) {
		snprintf(st.got_topic, sizeof(st.got_topic), "%s", topic);
		st.got_payload = malloc((size_t)m->payloadlen + 1);
		if (st.got_payload) {
			memcpy(st.got_payload, m->payload, (size_t)m->payloadlen);
			st.got_payload[m->payloadlen] = '\0';
			st.got_len = m->payloadlen;
		}
		st.message = ST_OK;
		pthread_cond_broadcast(&st.cv);
	}
	pthread_mutex_unlock(&st.mu);
	MQTTAsync_freeMessage(&m);
	MQTTAsync_free(topic);
	return 1;
}

static void fail3(enum step *s, MQTTAsync_failureData *r)
{
	set_step(s, ST_FAIL, r ? r->code : -1, r && r->message ? r->message : "failed");
}

static void fail5(enum step *s, MQTTAsync_failureData5 *r)
{
	char why[256];

	snprintf(why, sizeof(why), "%s (reason code %d: %s)",
		 r && r->message ? r->message : "failed", r ? (int)r->reasonCode : -1,
		 r ? MQTTReasonCode_toString(r->reasonCode) : "-");
	set_step(s, ST_FAIL, r ? r->code : -1, why);
}

static void conn_ok(void *c, MQTTAsync_successData *r) { (void)c; (void)r; set_step(&st.connect, ST_OK, 0, NULL); }
static void conn_fail(void *c, MQTTAsync_failureData *r) { (void)c; fail3(&st.connect, r); }
static void conn_ok5(void *c, MQTTAsync_successData5 *r) { (void)c; (void)r; set_step(&st.connect, ST_OK, 0, NULL); }
static void conn_fail5(void *c, MQTTAsync_failureData5 *r) { (void)c; fail5(&st.connect, r); }

static void sub_ok(void *c, MQTTAsync_successData *r)
{
	(void)c;
	/* A refused subscription is a success callback with granted QoS 0x80. */
	if (r && r->alt.qos == 0x80)
		set_step(&st.subscribe, ST_FAIL, 0x80, "subscription refused (0x80)");
	else
		set_step(&st.subscribe, ST_OK, 0, NULL);
}
static void sub_fail(void *c, MQTTAsync_failureData *r) { (void)c; fail3(&st.subscribe, r); }
static void sub_ok5(void *c, MQTTAsync_successData5 *r)
{
	(void)c;
	if (r && r->reasonCode >= 0x80)
		set_step(&st.subscribe, ST_FAIL, (int)r->reasonCode, "subscription refused");
	else
		set_step(&st.subscribe, ST_OK, 0, NULL);
}
static void sub_fail5(void *c, MQTTAsync_failureData5 *r) { (void)c; fail5(&st.subscribe, r); }

static void pub_ok(void *c, MQTTAsync_successData *r) { (void)c; (void)r; set_step(&st.publish, ST_OK, 0, NULL); }
static void pub_fail(void *c, MQTTAsync_failureData *r) { (void)c; fail3(&st.publish, r); }
static void pub_ok5(void *c, MQTTAsync_successData5 *r) { (void)c; (void)r; set_step(&st.publish, ST_OK, 0, NULL); }
static void pub_fail5(void *c, MQTTAsync_failureData5 *r) { (void)c; fail5(&st.publish, r); }

static void disc_ok(void *c, MQTTAsync_successData *r) { (void)c; (void)r; set_step(&st.disconnect, ST_OK, 0, NULL); }
static void disc_fail(void *c, MQTTAsync_failureData *r) { (void)c; fail3(&st.disconnect, r); }
static void disc_ok5(void *c, MQTTAsync_successData5 *r) { (void)c; (void)r; set_step(&st.disconnect, ST_OK, 0, NULL); }
static void disc_fail5(void *c, MQTTAsync_failureData5 *r) { (void)c; fail5(&st.disconnect, r); }

/* ---- main ----------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: paho_client --url URL [options]\n"
		"  --url URL          tcp://H:P, ssl://H:P, ws://H:P/path, wss://H:P/path\n"
		"  --client-id ID     default: paho-<pid>\n"
		"  --user U --pass P  credentials\n"
		"  --ca FILE          verify the server against this CA (ssl, wss)\n"
		"  --insecure         do not verify the server certificate\n"
		"  --topic T          default: ppmq/test/<client id>\n"
		"  --message M        default: hello from <client id>\n"
		"  --qos N            0, 1 (default) or 2\n"
		"  --mqtt V           3.1.1 (default) or 5\n"
		"  --connect-only     connect and disconnect, no publish/subscribe\n"
		"  --timeout MS       per step, default 5000\n");
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "client-id", required_argument, NULL, 'i' },
		{ "user", required_argument, NULL, 'U' },
		{ "pass", required_argument, NULL, 'P' },
		{ "ca", required_argument, NULL, 'C' },
		{ "insecure", no_argument, NULL, 'k' },
		{ "topic", required_argument, NULL, 't' },
		{ "message", required_argument, NULL, 'm' },
		{ "qos", required_argument, NULL, 'q' },
		{ "mqtt", required_argument, NULL, 'V' },
		{ "connect-only", no_argument, NULL, 'c' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *url = NULL, *user = NULL, *pass = NULL, *ca = NULL;
	const char *topic = NULL, *message = NULL;
	char idbuf[64], topicbuf[320], msgbuf[320];
	const char *client_id = NULL;
	bool insecure = false, connect_only = false, v5 = false;
	int qos = 1, timeout_ms = 5000, opt, rc, status = 1;
	MQTTAsync client = NULL;
	MQTTAsync_createOptions copts = MQTTAsync_createOptions_initializer;
	MQTTAsync_connectOptions conn = MQTTAsync_connectOptions_initializer;
	MQTTAsync_connectOptions conn5 = MQTTAsync_connectOptions_initializer5;
	MQTTAsync_SSLOptions ssl = MQTTAsync_SSLOptions_initializer;
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
	MQTTAsync_disconnectOptions dopts = MQTTAsync_disconnectOptions_initializer;
	MQTTAsync_message msg = MQTTAsync_message_initializer;
	MQTTAsync_connectOptions *co;

	while ((opt = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
		switch (opt) {
		case 'u': url = optarg; break;
		case 'i': client_id = optarg; break;
		case 'U': user = optarg; break;
		case 'P': pass = optarg; break;
		case 'C': ca = optarg; break;
		case 'k': insecure = true; break;
		case 't': topic = optarg; break;
		case 'm': message = optarg; break;
		case 'q': qos = atoi(optarg); break;
		case 'V':
			if (strcmp(optarg, "5") == 0 || strcmp(optarg, "5.0") == 0)
				v5 = true;
			else if (strcmp(optarg, "3.1.1") != 0 && strcmp(optarg, "4") != 0) {
				fprintf(stderr, "paho_client: --mqtt: 3.1.1 or 5\n");
				return 2;
			}
			break;
		case 'c': connect_only = true; break;
		case 'T': timeout_ms = atoi(optarg); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!url || optind != argc || qos < 0 || qos > 2 || timeout_ms <= 0) {
		usage(stderr);
		return 2;
	}
	if (!client_id) {
		snprintf(idbuf, sizeof(idbuf), "paho-%ld", (long)getpid());
		client_id = idbuf;
	}
	if (!topic) {
		snprintf(topicbuf, sizeof(topicbuf), "ppmq/test/%s", client_id);
		topic = topicbuf;
	}
	if (!message) {
		snprintf(msgbuf, sizeof(msgbuf), "hello from %s", client_id);
		message = msgbuf;
	}
	st.want_topic = topic;

	if (v5)
		copts.MQTTVersion = MQTTVERSION_5;
	rc = MQTTAsync_createWithOptions(&client, url, client_id,
					 MQTTCLIENT_PERSISTENCE_NONE, NULL, &copts);
	if (rc != MQTTASYNC_SUCCESS) {
		printf("create failed: %s (%d)\n", MQTTAsync_strerror(rc), rc);
		return 1;
	}
	MQTTAsync_setCallbacks(client, NULL, on_conn_lost, on_message, NULL);

	co = v5 ? &conn5 : &conn;
	co->keepAliveInterval = 30;
	co->username = user;
	co->password = pass;
	co->connectTimeout = (timeout_ms + 999) / 1000;
	if (v5) {
		co->cleanstart = 1;
		co->onSuccess5 = conn_ok5;
		co->onFailure5 = conn_fail5;
	} else {
		co->cleansession = 1;
		co->onSuccess = conn_ok;
		co->onFailure = conn_fail;
	}
	if (strncmp(url, "ssl://", 6) == 0 || strncmp(url, "wss://", 6) == 0 ||
	    strncmp(url, "mqtts://", 8) == 0) {
		ssl.trustStore = ca;
		ssl.enableServerCertAuth = insecure ? 0 : 1;
		ssl.verify = insecure ? 0 : 1;
		co->ssl = &ssl;
	}
	rc = MQTTAsync_connect(client, co);
	if (rc != MQTTASYNC_SUCCESS) {
		printf("connect failed to start: %s (%d)\n", MQTTAsync_strerror(rc), rc);
		goto out;
	}
	if (wait_step(&st.connect, timeout_ms + 1000) != ST_OK) {
		printf("connect to %s failed: %s (%d)\n", url,
		       st.connect == ST_WAIT ? "timeout" : st.why, st.rc);
		goto out;
	}
	printf("connected to %s as '%s' (MQTT %s)\n", url, client_id, v5 ? "5" : "3.1.1");

	if (!connect_only) {
		if (v5) {
			ro.onSuccess5 = sub_ok5;
			ro.onFailure5 = sub_fail5;
		} else {
			ro.onSuccess = sub_ok;
			ro.onFailure = sub_fail;
		}
		rc = MQTTAsync_subscribe(client, topic, qos, &ro);
		if (rc != MQTTASYNC_SUCCESS || wait_step(&st.subscribe, timeout_ms) != ST_OK) {
			printf("subscribe '%s' failed: %s\n", topic,
			       rc != MQTTASYNC_SUCCESS ? MQTTAsync_strerror(rc) :
			       st.subscribe == ST_WAIT ? "timeout" : st.why);
			goto out;
		}
		printf("subscribed to '%s' (QoS %d)\n", topic, qos);

		memset(&ro, 0, sizeof(ro));
		ro = (MQTTAsync_responseOptions)MQTTAsync_responseOptions_initializer;
		if (v5) {
			ro.onSuccess5 = pub_ok5;
			ro.onFailure5 = pub_fail5;
		} else {
			ro.onSuccess = pub_ok;
			ro.onFailure = pub_fail;
		}
		msg.payload = (void *)message;
		msg.payloadlen = (int)strlen(message);
		msg.qos = qos;
		rc = MQTTAsync_sendMessage(client, topic, &msg, &ro);
		if (rc != MQTTASYNC_SUCCESS || wait_step(&st.publish, timeout_ms) != ST_OK) {
			printf("publish failed: %s\n",
			       rc != MQTTASYNC_SUCCESS ? MQTTAsync_strerror(rc) :
			       st.publish == ST_WAIT ? "timeout" : st.why);
			goto out;
		}
		printf("published %d bytes to '%s' (QoS %d)\n", msg.payloadlen, topic, qos);

		if (wait_step(&st.message, timeout_ms) != ST_OK) {
			printf("message not received back: %s\n",
			       st.message == ST_WAIT ? "timeout" : st.why);
			goto out;
		}
		if (!st.got_payload || strcmp(st.got_payload, message) != 0) {
			printf("message received back differs: '%s'\n",
			       st.got_payload ? st.got_payload : "(none)");
			goto out;
		}
		printf("received '%s' on '%s'\n", st.got_payload, st.got_topic);
	}

	if (v5) {
		dopts.onSuccess5 = disc_ok5;
		dopts.onFailure5 = disc_fail5;
	} else {
		dopts.onSuccess = disc_ok;
		dopts.onFailure = disc_fail;
	}
	dopts.timeout = timeout_ms;
	rc = MQTTAsync_disconnect(client, &dopts);
	if (rc != MQTTASYNC_SUCCESS || wait_step(&st.disconnect, timeout_ms) != ST_OK) {
		printf("disconnect failed: %s\n",
		       rc != MQTTASYNC_SUCCESS ? MQTTAsync_strerror(rc) :
		       st.disconnect == ST_WAIT ? "timeout" : st.why);
		goto out;
	}
	printf("disconnected\n");
	status = 0;
out:
	fflush(stdout);
	MQTTAsync_destroy(&client);
	free(st.got_payload);
	return status;
}
