/* test_conform_observer.c - reading what a broker recorded: URL and regex
 * templates, JSON paths and array selection on documents shaped like
 * ppmq-broker's, TBMQ's, EMQX's and RabbitMQ's, log-line extraction with
 * named and numbered groups, and whole queries against a log file and a
 * small HTTP server on a loopback port. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "login.h"
#include "observer.h"

/* ---- templates ---------------------------------------------------------- */

static void test_template(void **state)
{
	struct obs_vars v = { .client_id = "dev 1/a.b", .listener = "wss" };
	char out[128];

	(void)state;
	assert_int_equal(obs_template("http://h/s/{client_id}?l={listener}", &v, OBS_ESC_URL, out, sizeof(out)),
			 (int)strlen("http://h/s/dev%201%2Fa.b?l=wss"));
	assert_string_equal(out, "http://h/s/dev%201%2Fa.b?l=wss");
	obs_template("as {client_id} x{2,3}", &v, OBS_ESC_REGEX, out, sizeof(out));
	assert_string_equal(out, "as dev 1/a\\.b x{2,3}"); /* unknown braces kept */
	obs_template("{client_id}{client_id}", &v, OBS_ESC_NONE, out, sizeof(out));
	assert_string_equal(out, "dev 1/a.bdev 1/a.b");
	v.client_id = "a(b)[c]*+?^$|\\";
	obs_template("{client_id}", &v, OBS_ESC_REGEX, out, sizeof(out));
	assert_string_equal(out, "a\\(b\\)\\[c\\]\\*\\+\\?\\^\\$\\|\\\\");
	/* does not fit */
	assert_int_equal(obs_template("0123456789{client_id}", &v, OBS_ESC_NONE, out, 12), -1);
	assert_int_equal(obs_template("", &v, OBS_ESC_NONE, out, sizeof(out)), 0);
	assert_string_equal(out, "");
}

/* ---- JSON --------------------------------------------------------------- */

static const char tbmq_doc[] =
	"{\"data\": [\n"
	"  {\"clientId\": \"other\", \"ipAddress\": \"10.0.0.1\"},\n"
	"  {\"clientId\": \"dev-1\", \"ipAddress\": \"203.0.113.5\", \"ts\": 1},\n"
	"  {\"clientId\": 42, \"ipAddress\": \"10.0.0.42\"},\n"
	"  {\"clientId\": \"dev-1\", \"ipAddress\": \"203.0.113.6\", \"ts\": 2}\n"
	"], \"totalElements\": 4}";

static void test_json_path(void **state)
{
	json_error_t je;
	json_t *doc = json_loads("{\"a\": {\"b\": [10, {\"c\": \"x\"}]}, \"n\": null}", 0, &je);
	json_t *v;

	(void)state;
	assert_non_null(doc);
	assert_ptr_equal(obs_json_path(doc, NULL), doc);
	assert_ptr_equal(obs_json_path(doc, ""), doc);
	v = obs_json_path(doc, "a.b.0");
	assert_true(json_is_integer(v));
	assert_int_equal(json_integer_value(v), 10);
	v = obs_json_path(doc, "a.b.1.c");
	assert_string_equal(json_string_value(v), "x");
	assert_null(obs_json_path(doc, "a.b.2"));
	assert_null(obs_json_path(doc, "a.b.x"));
	assert_null(obs_json_path(doc, "a.b.-1"));
	assert_null(obs_json_path(doc, "a.zz"));
	assert_null(obs_json_path(doc, "a..b"));
	assert_null(obs_json_path(doc, "a.b.0.deeper"));
	assert_true(json_is_null(obs_json_path(doc, "n")));
	json_decref(doc);
}

static void test_json_select(void **state)
{
	json_error_t je;
	json_t *doc = json_loads(tbmq_doc, 0, &je), *r, *arr;

	(void)state;
	assert_non_null(doc);
	/* last matching element wins */
	r = obs_json_select(doc, "data", "clientId", "dev-1");
	assert_non_null(r);
	assert_string_equal(json_string_value(json_object_get(r, "ipAddress")), "203.0.113.6");
	/* numbers match their text */
	r = obs_json_select(doc, "data", "clientId", "42");
	assert_non_null(r);
	assert_string_equal(json_string_value(json_object_get(r, "ipAddress")), "10.0.0.42");
	assert_null(obs_json_select(doc, "data", "clientId", "nobody"));
	assert_null(obs_json_select(doc, "totalElements", "clientId", "dev-1")); /* not an array */
	assert_ptr_equal(obs_json_select(doc, NULL, NULL, "dev-1"), doc);     /* no select: the document */
	/* the document itself is the array */
	arr = json_object_get(doc, "data");
	r = obs_json_select(arr, NULL, "clientId", "other");
	assert_non_null(r);
	assert_string_equal(json_string_value(json_object_get(r, "ipAddress")), "10.0.0.1");
	json_decref(doc);
}

static void test_from_json_shapes(void **state)
{
	struct profile_observer o;
	struct expect_record rec;
	struct perr e;
	char ex[512];

	(void)state;
	/* ppmq-broker: one object */
	memset(&o, 0, sizeof(o));
	o.role = "sessions";
	o.ip_field = "clientIp";
	o.port_field = "clientPort";
	o.peer_ip_field = "peerIp";
	o.peer_port_field = "peerPort";
	o.connected_field = "connected";
	assert_int_equal(obs_from_json(&o, "{\"clientId\":\"c1\",\"clientIp\":\"203.0.113.9\",\"clientPort\":50001,"
				       "\"peerIp\":\"127.0.0.7\",\"peerPort\":41000,\"connected\":true}",
				       "c1", &rec, ex, sizeof(ex), &e), 0);
	assert_true(rec.found);
	assert_string_equal(rec.ip, "203.0.113.9");
	assert_true(rec.has_port);
	assert_int_equal(rec.port, 50001);
	assert_true(rec.has_peer_ip);
	assert_string_equal(rec.peer_ip, "127.0.0.7");
	assert_true(rec.has_peer_port);
	assert_int_equal(rec.peer_port, 41000);
	assert_int_equal(rec.connected, 1);
	assert_non_null(strstr(ex, "\"clientIp\":\"203.0.113.9\""));

	/* port as a string, connected false, missing peer */
	assert_int_equal(obs_from_json(&o, "{\"clientIp\":\"::1\",\"clientPort\":\"1883\",\"connected\":false}",
				       "c1", &rec, NULL, 0, &e), 0);
	assert_int_equal(rec.port, 1883);
	assert_int_equal(rec.connected, 0);
	assert_false(rec.has_peer_ip);
	assert_false(rec.has_peer_port);
	/* a port that is not a number is no port */
	assert_int_equal(obs_from_json(&o, "{\"clientIp\":\"::1\",\"clientPort\":\"x1\"}", "c1", &rec, NULL, 0, &e), 0);
	assert_false(rec.has_port);
	/* JSON null: no record */
	assert_int_equal(obs_from_json(&o, "null", "c1", &rec, ex, sizeof(ex), &e), 0);
	assert_false(rec.found);
	assert_string_equal(ex, "");
	/* not JSON */
	assert_int_equal(obs_from_json(&o, "<html>", "c1", &rec, NULL, 0, &e), -1);
	assert_non_null(strstr(e.msg, "not JSON"));

	/* TBMQ unauthorized clients: a page with data[] */
	memset(&o, 0, sizeof(o));
	o.role = "unauthorized";
	o.array_field = "data";
	o.match_field = "clientId";
	o.ip_field = "ipAddress";
	assert_int_equal(obs_from_json(&o, tbmq_doc, "dev-1", &rec, ex, sizeof(ex), &e), 0);
	assert_true(rec.found);
	assert_string_equal(rec.ip, "203.0.113.6");
	assert_non_null(strstr(ex, "\"ts\":2"));
	assert_int_equal(obs_from_json(&o, tbmq_doc, "absent", &rec, NULL, 0, &e), 0);
	assert_false(rec.found);

	/* RabbitMQ: an array at the top, the id nested */
	memset(&o, 0, sizeof(o));
	o.role = "sessions";
	o.match_field = "client_properties.client_id";
	o.ip_field = "peer_host";
	o.port_field = "peer_port";
	assert_int_equal(obs_from_json(&o, "[{\"peer_host\":\"10.1.1.1\",\"peer_port\":5,\"client_properties\":{\"client_id\":\"x\"}},"
				       " {\"peer_host\":\"198.51.100.77\",\"peer_port\":6,\"client_properties\":{\"client_id\":\"mq-1\"}}]",
				       "mq-1", &rec, NULL, 0, &e), 0);
	assert_true(rec.found);
	assert_string_equal(rec.ip, "198.51.100.77");
	assert_int_equal(rec.port, 6);

	/* EMQX: one object, snake_case */
	memset(&o, 0, sizeof(o));
	o.role = "sessions";
	o.ip_field = "ip_address";
	o.port_field = "port";
	o.connected_field = "connected";
	assert_int_equal(obs_from_json(&o, "{\"clientid\":\"e\",\"ip_address\":\"2001:db8::5\",\"port\":61000,\"connected\":true}",
				       "e", &rec, NULL, 0, &e), 0);
	assert_string_equal(rec.ip, "2001:db8::5");
	assert_int_equal(rec.port, 61000);
	assert_int_equal(rec.connected, 1);
}

/* TBMQ's session DTO: the address without a port, the state a string. */
static void test_from_json_tbmq_session(void **state)
{
	static const char doc[] =
		"{\"clientId\":\"t1\",\"connectionState\":\"CONNECTED\",\"clientIpAdr\":\"203.0.113.70\"}";
	struct profile_observer o = { .role = "sessions", .ip_field = "clientIpAdr",
				 .connected_field = "connectionState", .connected_value = "CONNECTED" };
	struct expect_record rec;
	struct perr e;

	(void)state;
	assert_int_equal(obs_from_json(&o, doc, "t1", &rec, NULL, 0, &e), 0);
	assert_true(rec.found);
	assert_string_equal(rec.ip, "203.0.113.70");
	assert_int_equal(rec.connected, 1);
	/* no port field: the port is hidden (its check skipped), not missing */
	assert_true(rec.port_hidden);
	assert_false(rec.has_port);
	assert_int_equal(obs_from_json(&o, "{\"connectionState\":\"DISCONNECTED\",\"clientIpAdr\":\"::1\"}",
				       "t1", &rec, NULL, 0, &e), 0);
	assert_int_equal(rec.connected, 0);
	/* a state that is not a scalar says nothing */
	assert_int_equal(obs_from_json(&o, "{\"connectionState\":{},\"clientIpAdr\":\"::1\"}", "t1", &rec, NULL,
				       0, &e), 0);
	assert_int_equal(rec.connected, -1);
	/* without connected_value, a string is no boolean: unknown */
	o.connected_value = NULL;
	assert_int_equal(obs_from_json(&o, doc, "t1", &rec, NULL, 0, &e), 0);
	assert_int_equal(rec.connected, -1);
	/* a boolean compared with a value: its text */
	o.connected_value = "true";
	assert_int_equal(obs_from_json(&o, "{\"connectionState\":true,\"clientIpAdr\":\"::1\"}", "t1", &rec, NULL,
				       0, &e), 0);
	assert_int_equal(rec.connected, 1);
}

/* ---- log regexes -------------------------------------------------------- */

/* Template values for one client on the tcp listener. */
#define V(id) (&(struct obs_vars){ .client_id = (id), .listener = "tcp" })

static const char mosquitto_log[] =
	"1700000000: New connection from 127.0.0.7:41000 on port 1883.\n"
	"1700000000: New client connected from 203.0.113.1:50000 as other-client (p2, c1, k60).\n"
	"1700000001: New client connected from 203.0.113.2:50001 as dev.1 (p2, c1, k60).\n"
	"1700000002: New client connected from 203.0.113.3:50002 as devX1 (p2, c1, k60).\n"
	"1700000003: New client connected from 2001:db8::9:50003 as dev.1 (p2, c1, k60).\n"
	"no newline at the end: New client connected from 203.0.113.4:50004 as tail";

static void test_log_named_groups(void **state)
{
	struct obs_regex re;
	struct expect_record rec;
	struct perr e;
	char ex[256];

	(void)state;
	assert_int_equal(obs_regex_compile(&re, "New client connected from (?<ip>[0-9a-fA-F.:]+):(?<port>[0-9]+) as {client_id} ", V("dev.1"), NULL, NULL, &e), 0);
	assert_int_equal(re.ip_group, 1);
	assert_int_equal(re.port_group, 2);
	obs_from_log(&re, mosquitto_log, strlen(mosquitto_log), &rec, ex, sizeof(ex));
	assert_true(rec.found);
	/* the last matching line wins; "devX1" does not match "dev.1" */
	assert_string_equal(rec.ip, "2001:db8::9");
	assert_int_equal(rec.port, 50003);
	assert_non_null(strstr(ex, "1700000003"));
	obs_regex_free(&re);

	/* a line without a trailing newline */
	assert_int_equal(obs_regex_compile(&re, "from (?P<ip>[0-9.]+):(?P<port>[0-9]+) as {client_id}$", V("tail"), NULL, NULL, &e), 0);
	obs_from_log(&re, mosquitto_log, strlen(mosquitto_log), &rec, NULL, 0);
	assert_true(rec.found);
	assert_string_equal(rec.ip, "203.0.113.4");
	obs_regex_free(&re);

	/* absent client */
	assert_int_equal(obs_regex_compile(&re, "from (?<ip>[0-9.]+):[0-9]+ as {client_id} ", V("nobody"), NULL, NULL, &e), 0);
	assert_int_equal(re.port_group, -1);
	obs_from_log(&re, mosquitto_log, strlen(mosquitto_log), &rec, ex, sizeof(ex));
	assert_false(rec.found);
	assert_false(rec.has_port);
	obs_regex_free(&re);
}

static void test_log_numbered_groups(void **state)
{
	struct obs_regex re;
	struct expect_record rec;
	struct perr e;

	(void)state;
	/* ( inside a bracket expression is no group; ip is group 2 */
	assert_int_equal(obs_regex_compile(&re, "^([0-9]+): New client connected from ([0-9a-f.:(]+):([0-9]+) as {client_id} ", V("other-client"), "2", "3", &e), 0);
	assert_int_equal(re.ip_group, 2);
	assert_int_equal(re.port_group, 3);
	obs_from_log(&re, mosquitto_log, strlen(mosquitto_log), &rec, NULL, 0);
	assert_true(rec.found);
	assert_string_equal(rec.ip, "203.0.113.1");
	assert_int_equal(rec.port, 50000);
	obs_regex_free(&re);

	/* a named group mixed with plain ones keeps POSIX numbering */
	assert_int_equal(obs_regex_compile(&re, "(New) client connected from (?<ip>[0-9.]+):([0-9]+) as {client_id} ", V("other-client"), NULL, "3", &e), 0);
	assert_int_equal(re.ip_group, 2);
	assert_int_equal(re.port_group, 3);
	obs_regex_free(&re);

	/* {listener} is filled in too */
	assert_int_equal(obs_regex_compile(&re, "^{listener} (?<ip>[0-9.]+) {client_id}$", V("c"), NULL, NULL, &e), 0);
	{
		static const char text[] = "ws 10.0.0.1 c\ntcp 10.0.0.2 c\nudp 10.0.0.3 c\n";

		obs_from_log(&re, text, strlen(text), &rec, NULL, 0);
	}
	assert_true(rec.found);
	assert_string_equal(rec.ip, "10.0.0.2");
	obs_regex_free(&re);

	/* errors */
	assert_int_equal(obs_regex_compile(&re, "from ([0-9.]+) as {client_id}", V("x"), NULL, NULL, &e), -1);
	assert_non_null(strstr(e.msg, "no ip group"));
	assert_int_equal(obs_regex_compile(&re, "from ([0-9.]+) as {client_id}", V("x"), "4", NULL, &e), -1);
	assert_non_null(strstr(e.msg, "group 4 does not exist"));
	assert_int_equal(obs_regex_compile(&re, "from (?<ip>[0-9.]+) as {client_id}", V("x"), "addr", NULL, &e), -1);
	assert_non_null(strstr(e.msg, "no group named 'addr'"));
	assert_int_equal(obs_regex_compile(&re, "from (?:x) {client_id}", V("x"), NULL, NULL, &e), -1);
	assert_non_null(strstr(e.msg, "(?<name>"));
	assert_int_equal(obs_regex_compile(&re, "from ((?<ip>x) {client_id}", V("x"), NULL, NULL, &e), -1);
	assert_non_null(strstr(e.msg, "regex"));
	assert_false(re.compiled);
}

/* ---- whole queries: a log file ----------------------------------------- */

static void test_query_log_file(void **state)
{
	char path[] = "/tmp/ppmq-test-obs-XXXXXX";
	int fd = mkstemp(path);
	struct profile_observer o;
	struct obs_vars v = { .client_id = "dev.1", .listener = "tcp" };
	struct expect_record rec;
	struct perr e;
	char ex[256];

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, mosquitto_log, strlen(mosquitto_log)), (ssize_t)strlen(mosquitto_log));
	close(fd);
	memset(&o, 0, sizeof(o));
	o.type = PROFILE_OBS_LOG;
	o.role = "sessions";
	o.file = path;
	o.regex = "connected from (?<ip>[0-9a-f.:]+):(?<port>[0-9]+) as {client_id} ";
	o.retry_ms = 0;
	assert_int_equal(obs_query(&o, &v, &rec, ex, sizeof(ex), &e), 0);
	assert_true(rec.found);
	assert_string_equal(rec.ip, "2001:db8::9");
	v.client_id = "never-connected";
	o.retry_ms = 120; /* retried until the deadline, then not found */
	assert_int_equal(obs_query(&o, &v, &rec, ex, sizeof(ex), &e), 0);
	assert_false(rec.found);
	unlink(path);
	assert_int_equal(obs_query(&o, &v, &rec, ex, sizeof(ex), &e), -1);
	assert_non_null(strstr(e.msg, path));
}

/* ---- whole queries: HTTP ------------------------------------------------ */

struct canned {
	int status;
	const char *body;
	const char *headers;     /* extra answer header lines ("Name: v\r\n"), or NULL */
};

struct http_srv {
	int fd;
	uint16_t port;
	pthread_t th;
	const struct canned *answers;
	size_t nanswers;
	char last_request[2048];
	char requests[8][2048];  /* the first eight, in order */
	size_t served;
};

static void *serve(void *arg)
{
	struct http_srv *s = arg;
	size_t i;

	for (i = 0; i < s->nanswers; i++) {
		int c = accept(s->fd, NULL, NULL);
		char req[2048], resp[4096];
		size_t n = 0;
		ssize_t r;

		if (c < 0)
			break;
		while (n < sizeof(req) - 1 && (r = read(c, req + n, sizeof(req) - 1 - n)) > 0) {
			n += (size_t)r;
			req[n] = '\0';
			if (strstr(req, "\r\n\r\n"))
				break;
		}
		/* the body of a POST, when it came after the headers */
		if (strstr(req, "Content-Length: ") && strstr(req, "\r\n\r\n")) {
			long want = strtol(strstr(req, "Content-Length: ") + 16, NULL, 10);
			size_t head = (size_t)(strstr(req, "\r\n\r\n") + 4 - req);

			while (n < head + (size_t)want && n < sizeof(req) - 1 &&
			       (r = read(c, req + n, sizeof(req) - 1 - n)) > 0)
				n += (size_t)r;
		}
		req[n] = '\0';
		memcpy(s->last_request, req, n + 1);
		if (i < 8)
			memcpy(s->requests[i], req, n + 1);
		snprintf(resp, sizeof(resp),
			 "HTTP/1.1 %d X\r\n%sContent-Type: application/json\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n\r\n%s",
			 s->answers[i].status, s->answers[i].headers ? s->answers[i].headers : "",
			 strlen(s->answers[i].body), s->answers[i].body);
		if (write(c, resp, strlen(resp)) < 0)
			break;
		close(c);
		s->served++;
	}
	return NULL;
}

static void srv_start(struct http_srv *s, const struct canned *a, size_t n)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);

	memset(s, 0, sizeof(*s));
	s->answers = a;
	s->nanswers = n;
	s->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(s->fd >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(s->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(s->fd, 8), 0);
	assert_int_equal(getsockname(s->fd, (struct sockaddr *)&sa, &sl), 0);
	s->port = ntohs(sa.sin_port);
	assert_int_equal(pthread_create(&s->th, NULL, serve, s), 0);
}

static void srv_stop(struct http_srv *s)
{
	pthread_join(s->th, NULL);
	close(s->fd);
}

static void test_query_http(void **state)
{
	static const struct canned answers[] = {
		{ 404, "{\"error\":\"no such session\"}", NULL },  /* not there yet ... */
		{ 200, "{\"clientId\":\"dev 1\",\"clientIp\":\"203.0.113.50\",\"clientPort\":50050}", NULL },
		{ 500, "oops", NULL },
		{ 200, "not json", NULL },
	};
	struct http_srv s;
	struct profile_observer o;
	struct obs_vars v = { .client_id = "dev 1", .listener = "ws" };
	struct expect_record rec;
	struct perr e;
	char url[256], ex[512];

	(void)state;
	srv_start(&s, answers, 4);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/api/v1/sessions/{client_id}?l={listener}", s.port);
	memset(&o, 0, sizeof(o));
	o.type = PROFILE_OBS_HTTP;
	o.role = "sessions";
	o.url = url;
	o.bearer = "s3cret";
	o.ip_field = "clientIp";
	o.port_field = "clientPort";
	o.retry_ms = 2000;
	/* ... so the query asks again, and finds it. */
	assert_int_equal(obs_query(&o, &v, &rec, ex, sizeof(ex), &e), 0);
	assert_true(rec.found);
	assert_string_equal(rec.ip, "203.0.113.50");
	assert_int_equal(rec.port, 50050);
	assert_non_null(strstr(s.last_request, "GET /api/v1/sessions/dev%201?l=ws HTTP/1.1"));
	assert_non_null(strstr(s.last_request, "Authorization: Bearer s3cret"));
	/* a server error is an observer failure, not "no record" */
	assert_int_equal(obs_query(&o, &v, &rec, ex, sizeof(ex), &e), -1);
	assert_non_null(strstr(e.msg, "HTTP 500"));
	assert_int_equal(obs_query(&o, &v, &rec, ex, sizeof(ex), &e), -1);
	assert_non_null(strstr(e.msg, "not JSON"));
	srv_stop(&s);
	assert_int_equal(s.served, 4);
	/* nobody listening any more */
	assert_int_equal(obs_query(&o, &v, &rec, ex, sizeof(ex), &e), -1);
	assert_non_null(strstr(e.msg, "GET http://127.0.0.1"));
}

static void test_query_http_basic_auth(void **state)
{
	static const struct canned answers[] = {
		{ 200, "[{\"clientId\":\"u1\",\"ipAddress\":\"198.51.100.3\"}]", NULL },
	};
	struct http_srv s;
	struct profile_observer o;
	struct obs_vars v = { .client_id = "u1", .listener = "tcp" };
	struct expect_record rec;
	struct perr e;
	struct profile_kv hdr = { "X-Extra", "yes" };
	char url[128];

	(void)state;
	srv_start(&s, answers, 1);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/u", s.port);
	memset(&o, 0, sizeof(o));
	o.type = PROFILE_OBS_HTTP;
	o.role = "unauthorized";
	o.url = url;
	o.basic_user = "admin";
	o.basic_pass = "pw";
	o.headers = &hdr;
	o.nheaders = 1;
	o.match_field = "clientId";
	o.ip_field = "ipAddress";
	assert_int_equal(obs_query(&o, &v, &rec, NULL, 0, &e), 0);
	assert_true(rec.found);
	assert_string_equal(rec.ip, "198.51.100.3");
	assert_non_null(strstr(s.last_request, "Authorization: Basic YWRtaW46cHc="));
	assert_non_null(strstr(s.last_request, "X-Extra: yes"));
	srv_stop(&s);
}

/* ---- observers that log in ------------------------------------------------ */

/* A login as TBMQ wants it: JSON credentials, the token in the answer's
 * "token", sent back as "X-Authorization: Bearer <token>". */
static void tbmq_login(struct profile_login *g, char *url, size_t cap, uint16_t port)
{
	static struct profile_kv fields[] = { { "username", "sysadmin@thingsboard.org" }, { "password", "s3cr&t" } };

	memset(g, 0, sizeof(*g));
	snprintf(url, cap, "http://127.0.0.1:%u/api/auth/login", port);
	g->method = "POST";
	g->url = url;
	g->body = PROFILE_BODY_JSON;
	g->fields = fields;
	g->nfields = 2;
	g->token_field = "token";
	g->header = "X-Authorization";
	g->scheme = "Bearer";
	pthread_mutex_init(&g->mu, NULL);
}

/* A test server with canned answers, a TBMQ-like login on it, and an
 * http observer of path that logs in with it. */
struct login_fx {
	struct http_srv s;
	struct profile_login g;
	struct profile_observer o;
	struct expect_record rec;
	struct perr e;
	char url[128], login_url[128];
};

static void login_fx_start(struct login_fx *f, const struct canned *a, size_t n, const char *path)
{
	srv_start(&f->s, a, n);
	tbmq_login(&f->g, f->login_url, sizeof(f->login_url), f->s.port);
	snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%u%s", f->s.port, path);
	memset(&f->o, 0, sizeof(f->o));
	f->o.type = PROFILE_OBS_HTTP;
	f->o.role = "sessions";
	f->o.url = f->url;
	f->o.login = &f->g;
}

static void login_fx_stop(struct login_fx *f, size_t served)
{
	srv_stop(&f->s);
	assert_int_equal(f->s.served, served);
	pthread_mutex_destroy(&f->g.mu);
}

static void test_login_renews_on_401(void **state)
{
	static const struct canned answers[] = {
		{ 200, "{\"token\":\"tok-1\",\"refreshToken\":\"r-1\"}", NULL },
		{ 200, "{\"clientId\":\"c1\",\"clientIpAdr\":\"203.0.113.80\"}", NULL },
		{ 401, "{\"message\":\"Token has expired\",\"errorCode\":11}", NULL },
		{ 200, "{\"token\":\"tok-2\"}", NULL },
		{ 200, "{\"clientId\":\"c1\",\"clientIpAdr\":\"203.0.113.81\"}", NULL },
		{ 401, "{\"message\":\"Token has expired\"}", NULL },
		{ 200, "{\"token\":\"tok-3\"}", NULL },
		{ 401, "{\"message\":\"no\"}", NULL },
	};
	struct obs_vars v = { .client_id = "c1", .listener = "tcp" };
	struct login_fx f;

	(void)state;
	login_fx_start(&f, answers, 8, "/api/client-session?clientId={client_id}");
	f.o.ip_field = "clientIpAdr";
	/* no token yet: the first query logs in */
	assert_int_equal(obs_query(&f.o, &v, &f.rec, NULL, 0, &f.e), 0);
	assert_string_equal(f.rec.ip, "203.0.113.80");
	assert_non_null(strstr(f.s.requests[0], "POST /api/auth/login HTTP/1.1"));
	assert_non_null(strstr(f.s.requests[0], "Content-Type: application/json"));
	assert_non_null(strstr(f.s.requests[0], "{\"username\":\"sysadmin@thingsboard.org\",\"password\":\"s3cr&t\"}"));
	assert_non_null(strstr(f.s.requests[1], "GET /api/client-session?clientId=c1 HTTP/1.1"));
	assert_non_null(strstr(f.s.requests[1], "X-Authorization: Bearer tok-1\r\n"));
	/* expired: log in again once, ask again with the new token */
	assert_int_equal(obs_query(&f.o, &v, &f.rec, NULL, 0, &f.e), 0);
	assert_string_equal(f.rec.ip, "203.0.113.81");
	assert_non_null(strstr(f.s.requests[3], "POST /api/auth/login"));
	assert_non_null(strstr(f.s.requests[4], "X-Authorization: Bearer tok-2\r\n"));
	assert_int_equal(f.g.gen, 2);
	/* refused again with a fresh token: an observer error, no token in it */
	assert_int_equal(obs_query(&f.o, &v, &f.rec, NULL, 0, &f.e), -1);
	assert_non_null(strstr(f.e.msg, "HTTP 401 with a token just received"));
	assert_null(strstr(f.e.msg, "tok-"));
	login_fx_stop(&f, 8);
}

static void test_login_refused_and_header_token(void **state)
{
	static const struct canned answers[] = {
		{ 401, "{\"status\":401,\"message\":\"Invalid username or password\",\"errorCode\":10}", NULL },
		{ 200, "{\"no\":\"token\"}", NULL },
		{ 200, "{}", "X-Auth-Token: tok-h\r\n" },
		{ 200, "[{\"id\":\"c2\",\"ip\":\"198.51.100.9\"}]", NULL },
	};
	static struct profile_kv form[] = { { "user", "a b" }, { "pass", "p&w=" } };
	struct obs_vars v = { .client_id = "c2", .listener = "tcp" };
	struct login_fx f;
	struct profile p;

	(void)state;
	login_fx_start(&f, answers, 4, "/c");
	memset(&p, 0, sizeof(p));
	p.logins[0] = &f.g;
	p.nlogins = 1;
	/* refused: its own words, not the body as such */
	assert_int_equal(login_all(&p, "test", &f.e), -1);
	assert_non_null(strstr(f.e.msg, "observer log-in: POST http://127.0.0.1:"));
	assert_non_null(strstr(f.e.msg, "HTTP 401 (Invalid username or password)"));
	/* accepted, but the token is not where the profile says */
	assert_int_equal(login_all(&p, "test", &f.e), -1);
	assert_non_null(strstr(f.e.msg, "no token at 'token'"));
	assert_int_equal(f.g.gen, 0);
	/* a form, the token in a header, sent bare in Authorization */
	f.g.body = PROFILE_BODY_FORM;
	f.g.fields = form;
	f.g.token_field = NULL;
	f.g.token_header = "x-auth-token";
	f.g.header = "Authorization";
	f.g.scheme = "";
	assert_int_equal(login_all(&p, "test", &f.e), 0);
	assert_non_null(strstr(f.s.requests[2], "Content-Type: application/x-www-form-urlencoded"));
	assert_non_null(strstr(f.s.requests[2], "user=a%20b&pass=p%26w%3D"));
	f.o.match_field = "id";
	f.o.ip_field = "ip";
	assert_int_equal(obs_query(&f.o, &v, &f.rec, NULL, 0, &f.e), 0);
	assert_string_equal(f.rec.ip, "198.51.100.9");
	assert_non_null(strstr(f.s.requests[3], "Authorization: tok-h\r\n"));
	login_fx_stop(&f, 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_template),
		cmocka_unit_test(test_json_path),
		cmocka_unit_test(test_json_select),
		cmocka_unit_test(test_from_json_shapes),
		cmocka_unit_test(test_from_json_tbmq_session),
		cmocka_unit_test(test_log_named_groups),
		cmocka_unit_test(test_log_numbered_groups),
		cmocka_unit_test(test_query_log_file),
		cmocka_unit_test(test_query_http),
		cmocka_unit_test(test_query_http_basic_auth),
		cmocka_unit_test(test_login_renews_on_401),
		cmocka_unit_test(test_login_refused_and_header_token),
	};
	int rc;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
