/* flood_report.c - a `proxygen flood` summary (struct fl_result): as text,
 * as JSON, read back from JSON, merged with another; CPU readings; and
 * `proxygen flood --merge`.
 *
 * The JSON carries every count and both latency histograms bucket by
 * bucket, so that summaries of shards merge exactly: counts add up, and
 * percentiles come from the merged histograms, never from averaged
 * percentiles. One table of fields serves the writer, the reader and the
 * merge, so the three cannot drift apart.
 */
#include "flood.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "opts.h"

#define CMD "flood"
#define SUMMARY_FORMAT 1

const char *const fl_kind_names[FK_COUNT] = {
	"ok", "refused", "closed", "reset", "timeout", "connack!=0", "suback-refused",
	"protocol", "tls", "ws", "local", "unfinished",
};
const char *const fl_kind_keys[FK_COUNT] = {
	"ok", "refused", "closed", "reset", "timeout", "connack_nonzero", "suback_refused",
	"protocol", "tls", "ws", "local", "unfinished",
};

/* ---- the fields ------------------------------------------------------------------------ */

enum ftype { FT_U64, FT_I64, FT_INT, FT_DBL, FT_STR };
enum fmerge { FM_SUM, FM_MAX, FM_FIRST };
/* Where a field is: the top level, "messages": {...} (publish loads),
 * "cpu": {...} (this process's). */
enum fwhere { FW_TOP, FW_MSG, FW_CPU };

struct field {
	const char *key;
	uint8_t where, type, merge;
	size_t off, size;
};

#define FIELD(w, k, t, m, member) \
	{ k, w, t, m, offsetof(struct fl_result, member), sizeof(((struct fl_result *)0)->member) }

/* In output order. */
static const struct field fields[] = {
	FIELD(FW_TOP, "target", FT_STR, FM_FIRST, target),
	FIELD(FW_TOP, "transport", FT_STR, FM_FIRST, transport),
	FIELD(FW_TOP, "header", FT_STR, FM_FIRST, header),
	FIELD(FW_TOP, "mqtt", FT_STR, FM_FIRST, mqtt),
	FIELD(FW_TOP, "connections", FT_U64, FM_SUM, connections),
	FIELD(FW_TOP, "concurrency", FT_U64, FM_SUM, concurrency),
	FIELD(FW_TOP, "rate_limit", FT_DBL, FM_SUM, rate_limit),
	FIELD(FW_TOP, "hold_ms", FT_I64, FM_FIRST, hold_ms),
	FIELD(FW_TOP, "duration_s", FT_U64, FM_FIRST, duration_s),
	FIELD(FW_TOP, "seed", FT_U64, FM_FIRST, seed),
	FIELD(FW_TOP, "threads", FT_U64, FM_SUM, threads),
	FIELD(FW_TOP, "attempted", FT_U64, FM_SUM, attempted),
	FIELD(FW_TOP, "dropped", FT_U64, FM_SUM, dropped),
	FIELD(FW_TOP, "connacks", FT_U64, FM_SUM, connacks),
	FIELD(FW_TOP, "tls_handshakes", FT_U64, FM_SUM, tls_handshakes),
	FIELD(FW_TOP, "tls_resumed", FT_U64, FM_SUM, tls_resumed),
	FIELD(FW_TOP, "elapsed_s", FT_DBL, FM_MAX, elapsed_s),
	FIELD(FW_TOP, "connack_span_s", FT_DBL, FM_MAX, connack_span_s),
	FIELD(FW_TOP, "connections_per_s", FT_DBL, FM_SUM, connections_per_s),
	FIELD(FW_MSG, "qos", FT_INT, FM_FIRST, msg.qos),
	FIELD(FW_MSG, "payload_size", FT_U64, FM_FIRST, msg.payload_size),
	FIELD(FW_MSG, "topics", FT_U64, FM_FIRST, msg.topics),
	FIELD(FW_MSG, "publishers", FT_U64, FM_SUM, publishers),
	FIELD(FW_MSG, "subscribers", FT_U64, FM_SUM, subscribers),
	FIELD(FW_MSG, "per_publisher", FT_U64, FM_FIRST, msg.messages),
	FIELD(FW_MSG, "publish_rate_limit", FT_DBL, FM_SUM, publish_rate_limit),
	FIELD(FW_MSG, "published", FT_U64, FM_SUM, published),
	FIELD(FW_MSG, "acknowledged", FT_U64, FM_SUM, acknowledged),
	FIELD(FW_MSG, "expected", FT_U64, FM_SUM, expected),
	FIELD(FW_MSG, "received", FT_U64, FM_SUM, received),
	FIELD(FW_MSG, "missing", FT_U64, FM_SUM, missing_msgs),
	FIELD(FW_MSG, "extra", FT_U64, FM_SUM, extra_msgs),
	FIELD(FW_MSG, "publish_span_s", FT_DBL, FM_MAX, publish_span_s),
	FIELD(FW_MSG, "published_per_s", FT_DBL, FM_SUM, published_per_s),
	FIELD(FW_MSG, "received_per_s", FT_DBL, FM_SUM, received_per_s),
	FIELD(FW_CPU, "user_s", FT_DBL, FM_SUM, cpu_user_s),
	FIELD(FW_CPU, "system_s", FT_DBL, FM_SUM, cpu_system_s),
};

#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

static void *at(const struct fl_result *r, const struct field *fd)
{
	return (char *)r + fd->off;
}

static json_t *field_json(const struct fl_result *r, const struct field *fd)
{
	void *p = at(r, fd);

	switch (fd->type) {
	case FT_U64: return json_integer((json_int_t)*(uint64_t *)p);
	case FT_I64: return json_integer((json_int_t)*(int64_t *)p);
	case FT_INT: return json_integer(*(int *)p);
	case FT_DBL: return json_real(*(double *)p);
	default: return json_string((const char *)p);
	}
}

static void put_fields(json_t *o, const struct fl_result *r, enum fwhere w)
{
	for (size_t i = 0; i < NFIELDS; i++)
		if (fields[i].where == w)
			json_object_set_new(o, fields[i].key, field_json(r, &fields[i]));
}

static int get_fields(const json_t *o, struct fl_result *r, enum fwhere w, struct perr *e)
{
	const struct field *t = fields;

	for (size_t i = 0; i < NFIELDS; i++) {
		const json_t *v = json_object_get(o, t[i].key);
		void *p = at(r, &t[i]);

		if (t[i].where != w)
			continue;
		if (t[i].type == FT_STR ? !json_is_string(v) : !json_is_number(v))
			return perr_set(e, "'%s' missing or not a %s", t[i].key,
					t[i].type == FT_STR ? "string" : "number");
		if (t[i].type == FT_U64)
			*(uint64_t *)p = (uint64_t)json_integer_value(v);
		else if (t[i].type == FT_I64)
			*(int64_t *)p = json_integer_value(v);
		else if (t[i].type == FT_INT)
			*(int *)p = (int)json_integer_value(v);
		else if (t[i].type == FT_DBL)
			*(double *)p = json_number_value(v);
		else
			snprintf(p, t[i].size, "%s", json_string_value(v));
	}
	return 0;
}

static void merge_fields(struct fl_result *a, const struct fl_result *b)
{
	const struct field *t = fields;

	for (size_t i = 0; i < NFIELDS; i++) {
		void *pa = at(a, &t[i]), *pb = at(b, &t[i]);

		if (t[i].merge == FM_FIRST)
			continue;
		if (t[i].type == FT_U64)
			*(uint64_t *)pa = t[i].merge == FM_SUM ? *(uint64_t *)pa + *(uint64_t *)pb :
					  *(uint64_t *)pa > *(uint64_t *)pb ? *(uint64_t *)pa : *(uint64_t *)pb;
		else if (t[i].type == FT_DBL)
			*(double *)pa = t[i].merge == FM_SUM ? *(double *)pa + *(double *)pb :
					*(double *)pa > *(double *)pb ? *(double *)pa : *(double *)pb;
	}
}

/* ---- derived figures --------------------------------------------------------------------- */

void fl_result_init(struct fl_result *r)
{
	memset(r, 0, sizeof(*r));
	hist_init(&r->connack_us);
	hist_init(&r->latency_us);
	snprintf(r->stopped_by, sizeof(r->stopped_by), "done");
}

static uint64_t failed(const struct fl_result *r)
{
	uint64_t n = 0;

	for (int k = 1; k < FK_COUNT; k++)
		n += r->count[k];
	return n;
}

int fl_result_exit(const struct fl_result *r)
{
	if (r->missing[0] || strcmp(r->stopped_by, "done") != 0)
		return PG_EXIT_FAIL;
	if (r->count[FK_OK] != r->connections || r->dropped)
		return PG_EXIT_FAIL;
	if (r->publish && (r->acknowledged != r->publishers * r->msg.messages ||
			   r->missing_msgs || r->extra_msgs))
		return PG_EXIT_FAIL;
	return PG_EXIT_OK;
}

static double cpu_s(const struct fl_result *r)
{
	return r->cpu_user_s + r->cpu_system_s;
}

/* Messages that went through the generator: each publish, each arrival. */
static uint64_t msgs(const struct fl_result *r)
{
	return r->published + r->received;
}

/* Microseconds of CPU per unit; 0 without units. */
static double per_us(double s, uint64_t units)
{
	return units ? s * 1e6 / (double)units : 0.0;
}

static double ms(uint64_t us)
{
	return (double)us / 1000.0;
}

static const double pcts[] = { 50, 90, 99, 99.9 };
static const char *const pct_keys[] = { "p50", "p90", "p99", "p99_9" };
static const char *const pct_names[] = { "p50", "p90", "p99", "p99.9" };
#define NPCTS (sizeof(pcts) / sizeof(pcts[0]))

/* ---- text -------------------------------------------------------------------------------- */

static void print_latency(FILE *out, const char *label, const struct hist *h, const char *what)
{
	fprintf(out, "%-17s", label);
	for (size_t i = 0; i < NPCTS; i++)
		fprintf(out, "%s %.3f ms, ", pct_names[i], ms(hist_percentile(h, pcts[i])));
	fprintf(out, "max %.3f ms (%s)\n", ms(h->max), what);
}

static void print_run(const struct fl_result *r, FILE *out)
{
	fprintf(out, "target:          %s (%s), MQTT %s, header %s", r->target, r->transport,
		r->mqtt, r->header);
	if (r->src_cidr[0])
		fprintf(out, ", sources %s (seed %" PRIu64 ")", r->src_cidr, r->seed);
	fputc('\n', out);
	if (r->merged)
		fprintf(out, "merged:          %" PRIu64 " summaries%s%s%s%s\n", r->merged,
			r->shards ? " of a load in shards" : "",
			r->missing[0] ? "; MISSING shards " : "", r->missing,
			r->shards && !r->missing[0] ? ", all of them" : "");
	else if (r->shards)
		fprintf(out, "shard:           %" PRIu64 " of %" PRIu64 " (from 0): %" PRIu64
			" of the load's %" PRIu64 " connections\n", r->shard, r->shards,
			r->connections, r->load_connections);
	if (r->threads > 1)
		fprintf(out, "threads:         %" PRIu64 " event loops%s\n", r->threads,
			r->merged ? " in all" : "");
}

static void print_connections(const struct fl_result *r, FILE *out)
{
	const char *end = strcmp(r->stopped_by, "done") == 0 ? "all done" :
			  strcmp(r->stopped_by, "signal") == 0 ? "interrupted" :
			  "cut short by --duration";

	fprintf(out, "connections:     %" PRIu64 " attempted, %" PRIu64 " succeeded (CONNACK 0), %"
		PRIu64 " failed, of %" PRIu64 " asked\n", r->attempted, r->count[FK_OK], failed(r),
		r->connections);
	if (r->hold_ms > 0 || r->publish)
		fprintf(out, "held:            %s, %" PRIu64 " dropped by the peer\n",
			r->publish ? "to the end of the publish load" : "--hold", r->dropped);
	fprintf(out, "rate:            %.1f connections/s (%" PRIu64 " CONNACKs in %.3f s)\n",
		r->connections_per_s, r->connacks, r->connack_span_s);
	if (r->tls_handshakes)
		fprintf(out, "tls:             %" PRIu64 " handshakes, %" PRIu64 " of them resumed\n",
			r->tls_handshakes, r->tls_resumed);
	fprintf(out, "elapsed:         %.3f s (%s)\n", r->elapsed_s, end);
	print_latency(out, "connack latency:", &r->connack_us, "connect to CONNACK");
}

static void print_messages(const struct fl_result *r, FILE *out)
{
	if (!r->publish)
		return;
	fprintf(out, "messages:        QoS %d, %" PRIu64 "-byte payloads, %" PRIu64 " topic%s: %"
		PRIu64 " publishers x %" PRIu64 ", %" PRIu64 " published, %" PRIu64
		" acknowledged\n", r->msg.qos, r->msg.payload_size, r->msg.topics,
		r->msg.topics == 1 ? "" : "s", r->publishers, r->msg.messages, r->published,
		r->acknowledged);
	fprintf(out, "received:        %" PRIu64 " subscribers: %" PRIu64 " of %" PRIu64
		" expected (%" PRIu64 " missing, %" PRIu64 " extra)\n", r->subscribers, r->received,
		r->expected, r->missing_msgs, r->extra_msgs);
	fprintf(out, "throughput:      %.1f messages/s published, %.1f received (publishing "
		"took %.3f s)\n", r->published_per_s, r->received_per_s, r->publish_span_s);
	print_latency(out, "latency:", &r->latency_us, "publish to arrival");
}

static void print_cpu(const struct fl_result *r, FILE *out)
{
	fprintf(out, "cpu:             proxygen %.3f s (user %.3f, system %.3f): %.1f us/connection",
		cpu_s(r), r->cpu_user_s, r->cpu_system_s, per_us(cpu_s(r), r->attempted));
	if (msgs(r))
		fprintf(out, ", %.2f us/message", per_us(cpu_s(r), msgs(r)));
	fputc('\n', out);
	if (!r->broker_pid)
		return;
	fprintf(out, "broker cpu:      pid %ld: %.3f s: %.1f us/connection", r->broker_pid,
		r->broker_cpu_s, per_us(r->broker_cpu_s, r->attempted));
	if (msgs(r))
		fprintf(out, ", %.2f us/message", per_us(r->broker_cpu_s, msgs(r)));
	if (r->broker_cpu_s > 0)
		fprintf(out, "; proxygen / broker %.2f", cpu_s(r) / r->broker_cpu_s);
	fputc('\n', out);
}

static void print_errors(const struct fl_result *r, FILE *out)
{
	bool first = true;

	fprintf(out, "errors:         ");
	for (int k = 1; k < FK_COUNT; k++) {
		if ((k == FK_TLS || k == FK_WS) && strcmp(r->transport, "tcp") == 0 && !r->count[k])
			continue;
		if (k == FK_SUBACK && !r->subscribers && !r->count[k])
			continue;
		fprintf(out, "%s %s %" PRIu64, first ? "" : ",", fl_kind_names[k], r->count[k]);
		first = false;
	}
	fputc('\n', out);
	for (int k = 1; k < FK_COUNT; k++)
		if (r->count[k])
			fprintf(out, "  first %s: %s\n", fl_kind_names[k], r->first_err[k]);
	if (r->dropped)
		fprintf(out, "  first dropped: %s\n", r->first_drop);
}

void fl_print_text(const struct fl_result *r, FILE *out)
{
	print_run(r, out);
	print_connections(r, out);
	print_messages(r, out);
	print_cpu(r, out);
	print_errors(r, out);
}

/* ---- JSON -------------------------------------------------------------------------------- */

static json_t *latency_json(const struct hist *h)
{
	json_t *o = json_object();

	for (size_t i = 0; i < NPCTS; i++)
		json_object_set_new(o, pct_keys[i], json_real(ms(hist_percentile(h, pcts[i]))));
	json_object_set_new(o, "max", json_real(ms(h->max)));
	json_object_set_new(o, "mean", json_real(hist_mean(h) / 1000.0));
	return o;
}

/* The histogram itself: non-empty buckets as [low, high, count], in us. */
static json_t *hist_json(const struct hist *h)
{
	json_t *o = json_object(), *b = json_array();

	json_object_set_new(o, "count", json_integer((json_int_t)h->count));
	json_object_set_new(o, "sum", json_integer((json_int_t)h->sum));
	json_object_set_new(o, "min", json_integer((json_int_t)h->min));
	json_object_set_new(o, "max", json_integer((json_int_t)h->max));
	for (size_t i = 0; i < HIST_NBUCKETS; i++)
		if (h->b[i])
			json_array_append_new(b, json_pack("[I, I, I]", (json_int_t)hist_low(i),
							   (json_int_t)hist_high(i),
							   (json_int_t)h->b[i]));
	json_object_set_new(o, "buckets", b);
	return o;
}

static json_t *messages_json(const struct fl_result *r)
{
	json_t *o = json_object();

	put_fields(o, r, FW_MSG);
	json_object_set_new(o, "latency_ms", latency_json(&r->latency_us));
	json_object_set_new(o, "latency_histogram_us", hist_json(&r->latency_us));
	return o;
}

static json_t *cpu_json(const struct fl_result *r)
{
	json_t *o = json_object(), *b;

	put_fields(o, r, FW_CPU);
	json_object_set_new(o, "total_s", json_real(cpu_s(r)));
	json_object_set_new(o, "us_per_connection", json_real(per_us(cpu_s(r), r->attempted)));
	json_object_set_new(o, "us_per_message",
			    msgs(r) ? json_real(per_us(cpu_s(r), msgs(r))) : json_null());
	if (!r->broker_pid)
		return o;
	b = json_object();
	json_object_set_new(b, "pid", json_integer(r->broker_pid));
	json_object_set_new(b, "cpu_s", json_real(r->broker_cpu_s));
	json_object_set_new(b, "us_per_connection",
			    json_real(per_us(r->broker_cpu_s, r->attempted)));
	json_object_set_new(b, "us_per_message",
			    msgs(r) ? json_real(per_us(r->broker_cpu_s, msgs(r))) : json_null());
	json_object_set_new(b, "proxygen_to_broker",
			    r->broker_cpu_s > 0 ? json_real(cpu_s(r) / r->broker_cpu_s) : json_null());
	json_object_set_new(o, "broker", b);
	return o;
}

/* "shard" (one shard's summary) or "merged" (a merge of them). */
static void shard_json(json_t *o, const struct fl_result *r)
{
	json_t *m, *list;
	const char *p = r->missing;

	if (!r->merged) {
		json_object_set_new(o, "shard", !r->shards ? json_null() :
				    json_pack("{s:I, s:I, s:I}", "index", (json_int_t)r->shard,
					      "count", (json_int_t)r->shards, "load_connections",
					      (json_int_t)r->load_connections));
		return;
	}
	list = json_array();
	while (*p) {
		char *end;
		unsigned long long v = strtoull(p, &end, 10);

		if (end == p)
			break;
		json_array_append_new(list, json_integer((json_int_t)v));
		p = end + strspn(end, ", ");
	}
	m = json_pack("{s:I, s:I, s:o}", "summaries", (json_int_t)r->merged, "shards",
		      (json_int_t)r->shards, "missing_shards", list);
	json_object_set_new(o, "merged", m);
}

static json_t *errors_json(const struct fl_result *r, json_t **first)
{
	json_t *errs = json_object();

	*first = json_object();
	for (int k = 1; k < FK_COUNT; k++) {
		json_object_set_new(errs, fl_kind_keys[k], json_integer((json_int_t)r->count[k]));
		if (r->first_err[k][0])
			json_object_set_new(*first, fl_kind_keys[k], json_string(r->first_err[k]));
	}
	if (r->first_drop[0])
		json_object_set_new(*first, "dropped", json_string(r->first_drop));
	return errs;
}

void fl_print_json(const struct fl_result *r, FILE *out)
{
	json_t *o = json_object(), *first, *errs;

	json_object_set_new(o, "summary", json_string("proxygen flood"));
	json_object_set_new(o, "format", json_integer(SUMMARY_FORMAT));
	put_fields(o, r, FW_TOP);
	json_object_set_new(o, "src_cidr", r->src_cidr[0] ? json_string(r->src_cidr) : json_null());
	shard_json(o, r);
	json_object_set_new(o, "succeeded", json_integer((json_int_t)r->count[FK_OK]));
	json_object_set_new(o, "failed", json_integer((json_int_t)failed(r)));
	json_object_set_new(o, "connack_latency_ms", latency_json(&r->connack_us));
	json_object_set_new(o, "connack_histogram_us", hist_json(&r->connack_us));
	json_object_set_new(o, "messages", r->publish ? messages_json(r) : json_null());
	json_object_set_new(o, "cpu", cpu_json(r));
	errs = errors_json(r, &first);
	json_object_set_new(o, "errors", errs);
	json_object_set_new(o, "first_errors", first);
	json_object_set_new(o, "stopped_by", json_string(r->stopped_by));
	json_object_set_new(o, "exit", json_integer(r->exit_code));
	json_dumpf(o, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9));
	fputc('\n', out);
	json_decref(o);
}

/* ---- reading back ------------------------------------------------------------------------- */

static int read_hist(json_t *o, struct hist *h, struct perr *e)
{
	json_int_t count, sum, min, max;
	json_t *b, *v;
	size_t i;

	if (json_unpack(o, "{s:I, s:I, s:I, s:I, s:o}", "count", &count, "sum", &sum, "min", &min,
			"max", &max, "buckets", &b) < 0 || !json_is_array(b))
		return perr_set(e, "not a histogram (count, sum, min, max, buckets)");
	hist_init(h);
	json_array_foreach(b, i, v) {
		json_int_t lo, hi, n;

		if (json_unpack(v, "[I, I, I]", &lo, &hi, &n) < 0 || lo < 0 || hi < 0 || n < 0)
			return perr_set(e, "bucket %zu is not [low, high, count]", i);
		if (hist_add_bucket(h, (uint64_t)lo, (uint64_t)hi, (uint64_t)n, e) < 0)
			return -1;
	}
	if ((json_int_t)h->count != count)
		return perr_set(e, "the buckets hold %" PRIu64 " values, count says %lld", h->count,
				(long long)count);
	h->sum = (uint64_t)sum;
	h->min = (uint64_t)min;
	h->max = (uint64_t)max;
	return 0;
}

static int read_messages(const json_t *m, struct fl_result *r, struct perr *e)
{
	if (json_is_null(m))
		return 0;
	if (!json_is_object(m))
		return perr_set(e, "'messages' is neither null nor an object");
	r->publish = true;
	if (get_fields(m, r, FW_MSG, e) < 0 ||
	    read_hist(json_object_get(m, "latency_histogram_us"), &r->latency_us, e) < 0)
		return perr_wrap(e, "messages");
	return 0;
}

static int read_cpu(const json_t *c, struct fl_result *r, struct perr *e)
{
	const json_t *b = json_object_get(c, "broker");
	json_int_t pid;

	if (!json_is_object(c) || get_fields(c, r, FW_CPU, e) < 0)
		return perr_wrap(e, "cpu");
	if (!b)
		return 0;
	if (json_unpack((json_t *)b, "{s:I, s:F}", "pid", &pid, "cpu_s", &r->broker_cpu_s) < 0)
		return perr_set(e, "cpu: broker: no pid and cpu_s");
	r->broker_pid = (long)pid;
	return 0;
}

static int read_errors(const json_t *o, struct fl_result *r, struct perr *e)
{
	const json_t *errs = json_object_get(o, "errors"), *first = json_object_get(o, "first_errors");
	const json_t *v;

	if (!json_is_object(errs))
		return perr_set(e, "no 'errors' object");
	for (int k = 1; k < FK_COUNT; k++) {
		v = json_object_get(errs, fl_kind_keys[k]);
		r->count[k] = json_is_integer(v) ? (uint64_t)json_integer_value(v) : 0;
		v = json_object_get(first, fl_kind_keys[k]);
		if (json_is_string(v))
			snprintf(r->first_err[k], FL_FIRST_LEN, "%s", json_string_value(v));
	}
	v = json_object_get(first, "dropped");
	if (json_is_string(v))
		snprintf(r->first_drop, FL_FIRST_LEN, "%s", json_string_value(v));
	return 0;
}

static int read_summary(const json_t *o, struct fl_result *r, struct perr *e)
{
	const json_t *shard = json_object_get(o, "shard"), *v;
	json_int_t i = 0, n = 0, lc = 0;

	if (!json_is_object(o) || !json_is_string(json_object_get(o, "summary")) ||
	    strcmp(json_string_value(json_object_get(o, "summary")), "proxygen flood") != 0)
		return perr_set(e, "not a proxygen flood --json summary");
	if (json_integer_value(json_object_get(o, "format")) != SUMMARY_FORMAT)
		return perr_set(e, "summary format is not %d", SUMMARY_FORMAT);
	if (json_is_object(json_object_get(o, "merged")))
		return perr_set(e, "already a merge: give the summaries it was made of");
	if (get_fields(o, r, FW_TOP, e) < 0 ||
	    read_hist(json_object_get(o, "connack_histogram_us"), &r->connack_us, e) < 0 ||
	    read_messages(json_object_get(o, "messages"), r, e) < 0 ||
	    read_cpu(json_object_get(o, "cpu"), r, e) < 0 || read_errors(o, r, e) < 0)
		return -1;
	if (json_is_object(shard) &&
	    json_unpack((json_t *)shard, "{s:I, s:I, s:I}", "index", &i, "count", &n,
			"load_connections", &lc) < 0)
		return perr_set(e, "'shard' is not {index, count, load_connections}");
	r->shard = (uint64_t)i;
	r->shards = (uint64_t)n;
	r->load_connections = (uint64_t)lc;
	v = json_object_get(o, "succeeded");
	r->count[FK_OK] = json_is_integer(v) ? (uint64_t)json_integer_value(v) : 0;
	v = json_object_get(o, "src_cidr");
	if (json_is_string(v))
		snprintf(r->src_cidr, sizeof(r->src_cidr), "%s", json_string_value(v));
	v = json_object_get(o, "stopped_by");
	snprintf(r->stopped_by, sizeof(r->stopped_by), "%s",
		 json_is_string(v) ? json_string_value(v) : "?");
	return 0;
}

int fl_result_read(const char *path, struct fl_result *r, struct perr *e)
{
	json_error_t je;
	json_t *o = json_load_file(path, 0, &je);
	int rc;

	fl_result_init(r);
	if (!o)
		return perr_set(e, "%s:%d: %s", path, je.line, je.text);
	rc = read_summary(o, r, e);
	json_decref(o);
	if (rc < 0)
		return perr_wrap(e, "%s", path);
	r->exit_code = fl_result_exit(r);
	return 0;
}

/* ---- merging ------------------------------------------------------------------------------- */

void fl_result_merge(struct fl_result *a, const struct fl_result *b)
{
	merge_fields(a, b);
	hist_merge(&a->connack_us, &b->connack_us);
	hist_merge(&a->latency_us, &b->latency_us);
	for (int k = 0; k < FK_COUNT; k++) {
		a->count[k] += b->count[k];
		if (!a->first_err[k][0])
			memcpy(a->first_err[k], b->first_err[k], FL_FIRST_LEN);
	}
	if (!a->first_drop[0])
		memcpy(a->first_drop, b->first_drop, FL_FIRST_LEN);
	a->publish |= b->publish;
	/* The shards read one broker over overlapping intervals: keep the
	 * longest reading per process (several processes: their sum). */
	if (b->broker_pid && a->broker_pid == b->broker_pid) {
		if (b->broker_cpu_s > a->broker_cpu_s)
			a->broker_cpu_s = b->broker_cpu_s;
	} else if (b->broker_pid && a->broker_pid) {
		a->broker_pid = -1;
		a->broker_cpu_s += b->broker_cpu_s;
	} else if (b->broker_pid) {
		a->broker_pid = b->broker_pid;
		a->broker_cpu_s = b->broker_cpu_s;
	}
	if (strcmp(a->stopped_by, "done") == 0)
		memcpy(a->stopped_by, b->stopped_by, sizeof(a->stopped_by));
	a->merged = (a->merged ? a->merged : 1) + 1;
}

/* ---- CPU ----------------------------------------------------------------------------------- */

void fl_cpu_self(double *user_s, double *system_s)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	*user_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
	*system_s = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

int fl_cpu_pid(long pid, double *total_s, struct perr *e)
{
	char path[64], buf[1024];
	unsigned long long ut, st;
	const char *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return perr_errno(e, "%ld: cannot read %s (the broker must run on this machine)",
				  pid, path);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* after the command name in parentheses: fields 3 on; utime and stime are 14, 15 */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
			 &ut, &st) != 2)
		return perr_set(e, "%ld: %s has no utime and stime", pid, path);
	*total_s = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
	return 0;
}

/* ---- --merge ------------------------------------------------------------------------------- */

struct merge {
	struct fl_result *all, *one;
	const char **shard_file;       /* per shard index: the file it came from */
	bool sharded;
};

/* One more summary: of the same kind as the first, no shard twice. */
static int merge_one(struct merge *m, const char *path, const char *first, struct perr *e)
{
	struct fl_result *r = m->one;

	if (fl_result_read(path, r, e) < 0)
		return -1;
	if (!m->all->merged && path == first) {
		m->sharded = r->shards > 0;
		if (m->sharded && !(m->shard_file = calloc(r->shards, sizeof(*m->shard_file))))
			return perr_set(e, "out of memory");
	} else if (m->sharded != (r->shards > 0) || (m->sharded && r->shards != m->all->shards)) {
		return perr_set(e, "%s: %s, but %s: %s", path,
				r->shards ? "a shard" : "not a shard", first,
				m->sharded ? "a shard of another split" : "not a shard");
	}
	if (m->sharded) {
		if (m->shard_file[r->shard])
			return perr_set(e, "%s: shard %" PRIu64 " of %" PRIu64 " again (also %s)", path,
					r->shard, r->shards, m->shard_file[r->shard]);
		m->shard_file[r->shard] = path;
	}
	if (path == first)
		memcpy(m->all, r, sizeof(*r));
	else
		fl_result_merge(m->all, r);
	return 0;
}

/* The shards no file gave, as "1, 4, 5" (cut short with "..."). */
static void note_missing(struct merge *m)
{
	struct fl_result *a = m->all;
	size_t len = 0;

	a->merged = a->merged ? a->merged : 1;
	if (!m->sharded)
		return;
	for (uint64_t i = 0; i < a->shards; i++) {
		if (m->shard_file[i])
			continue;
		if (len + 24 >= sizeof(a->missing)) {
			snprintf(a->missing + len, sizeof(a->missing) - len, "...");
			break;
		}
		len += (size_t)snprintf(a->missing + len, sizeof(a->missing) - len, "%s%" PRIu64,
					len ? ", " : "", i);
	}
}

static int merge_args(int argc, char **argv, void (*usage)(FILE *f), bool *json)
{
	static const struct option lo[] = {
		{ "merge", no_argument, NULL, 'm' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int c;

	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			return OPTS_DONE;
		}
		if (c == 'j')
			*json = true;
		else if (c != 'm')
			return opts_usage_error(CMD, "--merge takes summaries and --json only, not '%s'",
						argv[optind - 1]);
	}
	if (optind >= argc)
		return opts_usage_error(CMD, "--merge needs the summaries (FILE... written by "
					"--json)");
	return 0;
}

int fl_cmd_merge(int argc, char **argv, void (*usage)(FILE *f))
{
	struct merge m;
	struct perr e;
	bool json = false;
	int rc = merge_args(argc, argv, usage, &json), first;

	if (rc)
		return rc == OPTS_DONE ? PG_EXIT_OK : rc;
	first = optind;
	memset(&m, 0, sizeof(m));
	m.all = malloc(sizeof(*m.all));
	m.one = malloc(sizeof(*m.one));
	if (!m.all || !m.one) {
		rc = opts_usage_error(CMD, "out of memory");
		goto out;
	}
	fl_result_init(m.all);
	for (int i = first; i < argc; i++)
		if (merge_one(&m, argv[i], argv[first], &e) < 0) {
			rc = opts_usage_error(CMD, "--merge: %s", e.msg);
			goto out;
		}
	note_missing(&m);
	if (m.all->missing[0])
		fprintf(stderr, "proxygen flood: --merge: shards %s of %" PRIu64 " missing\n",
			m.all->missing, m.all->shards);
	m.all->exit_code = fl_result_exit(m.all);
	if (json)
		fl_print_json(m.all, stdout);
	else
		fl_print_text(m.all, stdout);
	rc = m.all->exit_code;
out:
	free(m.all);
	free(m.one);
	free(m.shard_file);
	return rc;
}
