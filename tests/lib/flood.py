#!/usr/bin/env python3
"""flood.py - checks on `proxygen flood --json` summaries, for the tests.

  flood.py percentiles FILE          the reported percentiles (connections,
                                     and messages when there are any) are
                                     those of the summary's own histograms
  flood.py merged MERGED PART...     MERGED holds the sums of the PARTs'
                                     counts and histograms, and percentiles
                                     that are those of the summed histograms
  flood.py sessions URL              the broker's session records, one line
                                     each: clientId clientIp:clientPort

Percentiles are nearest-rank on the buckets: the rank is ceil(count * p /
100), the value the highest of the bucket that reaches it, at most the
maximum. Prints "ok", or what differs (one line each) and exits 1.
"""
import json
import sys
import urllib.request

PCTS = (("p50", 500000), ("p90", 900000), ("p99", 990000), ("p99_9", 999000))


def percentile(h, ppm):
    if h["count"] == 0:
        return 0
    rank = max(1, -(-h["count"] * ppm // 1000000))
    seen = 0
    for low, high, n in h["buckets"]:
        seen += n
        if seen >= rank:
            return min(high, h["max"])
    return h["max"]


def close(a, b):
    return abs(a - b) <= 1e-8 * max(1.0, abs(a), abs(b))


def check_percentiles(where, reported, h, bad):
    for key, ppm in PCTS:
        want = percentile(h, ppm) / 1000.0
        if not close(reported[key], want):
            bad.append("%s %s: reported %r, histogram says %r" % (where, key, reported[key], want))
    if not close(reported["max"], h["max"] / 1000.0):
        bad.append("%s max: reported %r, histogram max %r" % (where, reported["max"], h["max"]))
    if sum(n for _, _, n in h["buckets"]) != h["count"]:
        bad.append("%s: buckets do not add up to count" % where)


def histograms(d):
    out = [("connack", d["connack_latency_ms"], d["connack_histogram_us"])]
    if d.get("messages"):
        m = d["messages"]
        out.append(("messages", m["latency_ms"], m["latency_histogram_us"]))
    return out


def percentiles(path):
    d = json.load(open(path))
    bad = []
    for where, rep, h in histograms(d):
        check_percentiles(where, rep, h, bad)
    return bad


def sum_hist(hs):
    buckets = {}
    for h in hs:
        for low, high, n in h["buckets"]:
            buckets[(low, high)] = buckets.get((low, high), 0) + n
    counted = [h for h in hs if h["count"]]
    return {
        "count": sum(h["count"] for h in hs),
        "sum": sum(h["sum"] for h in hs),
        "min": min(h["min"] for h in counted) if counted else 0,
        "max": max(h["max"] for h in hs),
        "buckets": [[lo, hi, n] for (lo, hi), n in sorted(buckets.items())],
    }


SUMS = ("attempted", "succeeded", "failed", "dropped", "connacks", "connections")
MSG_SUMS = ("publishers", "subscribers", "published", "acknowledged", "expected",
            "received", "missing", "extra")


def merged(path, parts):
    m = json.load(open(path))
    ps = [json.load(open(p)) for p in parts]
    bad = []
    for k in SUMS:
        if m[k] != sum(p[k] for p in ps):
            bad.append("%s: %r, the parts add up to %r" % (k, m[k], sum(p[k] for p in ps)))
    for k in m["errors"]:
        if m["errors"][k] != sum(p["errors"][k] for p in ps):
            bad.append("errors.%s does not add up" % k)
    if m.get("messages"):
        for k in MSG_SUMS:
            if m["messages"][k] != sum(p["messages"][k] for p in ps):
                bad.append("messages.%s does not add up" % k)
    for i, (where, rep, h) in enumerate(histograms(m)):
        want = sum_hist([histograms(p)[i][2] for p in ps])
        if h != want:
            bad.append("%s histogram is not the sum of the parts'" % where)
        check_percentiles(where, rep, want, bad)
    return bad


def sessions(url):
    for s in json.load(urllib.request.urlopen(url, timeout=10)):
        print("%s %s:%s" % (s["clientId"], s["clientIp"], s["clientPort"]))
    return []


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    bad = {"percentiles": lambda: percentiles(args[0]),
           "merged": lambda: merged(args[0], args[1:]),
           "sessions": lambda: sessions(args[0])}[cmd]()
    if cmd == "sessions":
        return 0
    print("\n".join(bad) if bad else "ok")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
