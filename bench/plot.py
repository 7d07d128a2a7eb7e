#!/usr/bin/env python3
"""bench/plot.py - the figures of docs/benchmarks.md, drawn from a results.json
of scripts/bench as plain SVG (the standard library only).

    python3 bench/plot.py bench/out/results.json OUTDIR

writes OUTDIR/bench-accept.svg (connections/s per configuration, the
machine's ceiling as a dashed line), OUTDIR/bench-throughput.svg (messages/s
received per load and broker, the relay's ceiling of each load as a dashed
line), OUTDIR/bench-cpu.svg (CPU per message, broker, relay and generator),
OUTDIR/bench-transports.svg and bench-transports-cpu.svg (connections/s and
broker CPU per connection over tcp, tls, ws and wss, log scale) and
OUTDIR/bench-latency.svg (latency percentiles at a fixed message rate, log
scale). Bars are medians; dots are the single rounds, hollow for a round
that failed (left out of the median).
"""
import json
import math
import os
import sys
from xml.sax.saxutils import escape

COLORS = {"ppmq-none": "#3b6ea8", "ppmq-v1": "#6f9fd8", "ppmq-v2": "#9cc3ef",
          "mosquitto-none": "#c8733a", "relay-none": "#999999", "proxygen": "#555555"}
LABELS = {"ppmq-none": "ppmq-broker, no header", "ppmq-v1": "ppmq-broker, PROXY v1",
          "ppmq-v2": "ppmq-broker, PROXY v2", "mosquitto-none": "mosquitto, no header",
          "relay-none": "sink --relay", "proxygen": "proxygen (generator)"}
RELAY = "ceiling (sink --relay)"
W, H = 760, 360
LEFT, RIGHT, TOP, BOTTOM = 70, 20, 60, 76


def nice_max(v):
    """The smallest round figure (1, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 times a
    power of ten) at or above v: an axis of five even steps."""
    if v <= 0:
        return 1.0
    p = 1.0
    while p * 10 <= v:
        p *= 10
    while p > v:
        p /= 10
    for m in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if p * m >= v:
            return p * m
    return p * 10


def fmt(v):
    if v >= 1e6:
        return "%.3gM" % (v / 1e6)
    if v >= 1e3:
        return "%.3gk" % (v / 1e3)
    return "%.3g" % v


class Svg:
    def __init__(self, title, subtitle, note=None):
        self.parts = [
            '<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
            'viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">' % (W, H, W, H),
            '<rect width="100%" height="100%" fill="white"/>',
            '<text x="%d" y="18" font-size="14" font-weight="bold">%s</text>' % (LEFT, escape(title)),
            '<text x="%d" y="34" fill="#555">%s</text>' % (LEFT, escape(subtitle)),
        ]
        if note:
            self.parts.append('<text x="%d" y="48" fill="#b00">%s</text>' % (LEFT, escape(note)))

    def add(self, s):
        self.parts.append(s)

    def text(self, x, y, s, anchor="middle", extra=""):
        self.add('<text x="%.1f" y="%.1f" text-anchor="%s"%s>%s</text>'
                 % (x, y, anchor, extra, escape(s)))

    def done(self):
        return "\n".join(self.parts + ["</svg>", ""])


def axis(svg, top, ylabel):
    """The y axis and grid from 0 to top; returns the value -> y mapping."""
    y0, y1 = H - BOTTOM, TOP

    def y(v):
        return y0 - (y0 - y1) * min(v, top) / top

    for i in range(6):
        v = top * i / 5
        svg.add('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/>' % (LEFT, W - RIGHT, y(v), y(v)))
        svg.text(LEFT - 6, y(v) + 4, fmt(v), "end")
    svg.add('<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="#333"/>' % (LEFT, W - RIGHT, y0, y0))
    svg.add('<text transform="translate(16,%d) rotate(-90)" text-anchor="middle">%s</text>'
            % ((y0 + y1) // 2, escape(ylabel)))
    return y


def log_axis(svg, lo, hi, ylabel):
    """A log10 y axis from the power of ten at or below lo to the one at or
    above hi, lines at 1, 2 and 5 times each; returns the value -> y mapping."""
    y0, y1 = H - BOTTOM, TOP
    a = math.floor(math.log10(lo))
    b = max(math.ceil(math.log10(hi)), a + 1)

    def y(v):
        lv = math.log10(max(v, 10.0 ** a))
        return y0 - (y0 - y1) * (min(lv, b) - a) / (b - a)

    for e in range(a, b + 1):
        for m in (1, 2, 5):
            v = m * 10.0 ** e
            if v > 10.0 ** b:
                break
            svg.add('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="%s"/>'
                    % (LEFT, W - RIGHT, y(v), y(v), "#ccc" if m == 1 else "#eee"))
            svg.text(LEFT - 6, y(v) + 4, fmt(v), "end")
    svg.add('<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="#333"/>' % (LEFT, W - RIGHT, y0, y0))
    svg.add('<text transform="translate(16,%d) rotate(-90)" text-anchor="middle">%s</text>'
            % ((y0 + y1) // 2, escape(ylabel + " (log scale)")))
    return y


def legend(svg, series):
    x = LEFT
    for s in series:
        if s == RELAY:
            svg.add('<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="#b00" stroke-dasharray="5,3"/>'
                    % (x, x + 10, H - 13, H - 13))
        else:
            svg.add('<rect x="%d" y="%d" width="10" height="10" fill="%s"/>' % (x, H - 18, COLORS[s]))
        label = LABELS.get(s, s)
        svg.text(x + 14, H - 9, label, "start")
        x += 24 + 6 * len(label)


def group_marks(svg, y, top, gw, marks):
    """A dashed line across each group at its mark (marks: {group index:
    value}), with the value; a mark above the axis is drawn at its top."""
    for gi, v in marks.items():
        x0 = LEFT + gi * gw + gw * 0.06
        yy = y(min(v, top))
        svg.add('<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#b00" stroke-dasharray="5,3"/>'
                % (x0, x0 + gw * 0.88, yy, yy))
        svg.text(LEFT + gi * gw + gw / 2, max(yy - 3, TOP - 2), ("↑ " if v > top else "") + fmt(v),
                 "middle", ' fill="#b00" font-size="10"')


def grouped_bars(title, subtitle, ylabel, groups, series, ref=None, marks=None, log=False):
    """groups: [(label, {series: (median, [(round value, ok)])})]; ref: (value, label);
    marks: {group index: value}, a ceiling per group (RELAY); log: a log10 axis."""
    failed = any(not ok for _, g in groups for m, pts in g.values() for _, ok in pts)
    svg = Svg(title, subtitle, "hollow red: a round that failed (lost messages), not in the median"
              if failed else None)
    vals = [v for _, g in groups for m, pts in g.values() for v in [m] + [p[0] for p in pts]]
    if ref:
        vals.append(ref[0])
    if log:
        pos = [v for v in vals if v > 0] or [1]
        top = 10.0 ** max(math.ceil(math.log10(max(pos))), math.floor(math.log10(min(pos))) + 1)
        y = log_axis(svg, min(pos), max(pos), ylabel)
    else:
        top = nice_max(max(vals or [1]) * 1.05)
        y = axis(svg, top, ylabel)
    gw = (W - LEFT - RIGHT) / max(len(groups), 1)
    bw = min(40.0, gw * 0.8 / max(len(series), 1))
    if marks:
        group_marks(svg, y, top, gw, marks)
    for gi, (label, g) in enumerate(groups):
        here = [s for s in series if s in g]
        gx = LEFT + gi * gw + (gw - bw * len(here)) / 2
        for si, s in enumerate(here):
            m, pts = g[s]
            x = gx + si * bw
            svg.add('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s: %s</title></rect>'
                    % (x + 1, y(m), bw - 2, y(0) - y(m), COLORS[s], escape(LABELS[s]), fmt(round(m, 2))))
            for v, ok in pts:
                svg.add('<circle cx="%.1f" cy="%.1f" r="%s"/>' % (
                    x + bw / 2, y(v), '2" fill="#222' if ok else '3" fill="none" stroke="#b00'))
        for li, line in enumerate(label.split("\n")):
            svg.text(LEFT + gi * gw + gw / 2, H - BOTTOM + 14 + 12 * li, line)
    if ref:
        svg.add('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#b00" stroke-dasharray="6,4"/>'
                % (LEFT, W - RIGHT, y(ref[0]), y(ref[0])))
        svg.text(W - RIGHT - 4, y(ref[0]) - 4, "%s: %s" % (ref[1], "{:,.0f}".format(ref[0])), "end",
                 ' fill="#b00"')
    legend(svg, series + ([RELAY] if marks else []))
    return svg.done()


def accept_chart(res, sub):
    acc = res.get("accept", {})
    series = [s for s in ("ppmq-none", "ppmq-v1", "ppmq-v2", "mosquitto-none") if s in acc]
    groups = [(LABELS[s].replace(", ", "\n"),
               {s: (acc[s]["median_connections_per_s"],
                    [(r["connections_per_s"], r["exit"] == 0) for r in acc[s]["runs"]])})
              for s in series]
    sink = acc.get("sink-none")
    ref = (sink["median_connections_per_s"], "ceiling (bench/sink.c)") if sink else None
    p = res.get("parameters", {})
    return grouped_bars("Accept rate, CONNECT to CONNACK",
                        "%s; %s rounds x %s connections, concurrency %s" % (
                            sub, p.get("rounds"), p.get("connections_per_run"), p.get("concurrency")),
                        "connections/s", groups, series, ref)


def msg_groups(res, key, with_generator=False):
    th = res.get("throughput", {})
    groups, seen = [], set()
    for v in th.values():
        g = (v["qos"], v["publishers"], v["payload_bytes"])
        if g in seen:
            continue
        seen.add(g)
        label = "QoS %d\n%d pub\n%s" % (g[0], g[1], "%d KB" % (g[2] // 1024) if g[2] % 1024 == 0
                                          else "%d B" % g[2])
        cells = {}
        for cfg, w in th.items():
            if (w["qos"], w["publishers"], w["payload_bytes"]) != g:
                continue
            if key == "received":
                cells[w["broker"]] = (w["median_received_per_s"],
                                      [(r["received_per_s"], r["exit"] == 0) for r in w["runs"]])
            else:
                cells[w["broker"]] = (w["broker_us_per_message"],
                                      [(r["broker_us_per_message"] or 0, r["exit"] == 0)
                                       for r in w["runs"]])
                if with_generator and w["broker"] == "ppmq-none":
                    cells["proxygen"] = (w["proxygen_us_per_message"],
                                         [(r["proxygen_us_per_message"], r["exit"] == 0)
                                          for r in w["runs"]])
        groups.append((label, cells))
    return groups


def relay_marks(groups):
    """The relay's medians taken out of the groups, as {group index: value}."""
    return {gi: g.pop("relay-none")[0] for gi, (_, g) in enumerate(groups) if "relay-none" in g}


def transport_charts(res, sub):
    """Connections/s and broker CPU per connection over tcp (the accept
    figures) and each transport measured, log scale."""
    tr = res.get("transports", {})
    acc = res.get("accept", {})
    series = [s for s in ("ppmq-none", "ppmq-v2", "mosquitto-none")
              if s in acc or any(v["broker"] == s for v in tr.values())]
    tp = res.get("transport_parameters", {})
    n = tp.get("connections_per_run", {})
    sub2 = "%s; %s rounds; per run: tls (both) %s, ws %s, wss %s; tcp: from (a)" % (
        sub, tp.get("rounds"), n.get("tls"), n.get("ws"), n.get("wss"))
    figs = {}
    for name, key, rkey, title, ylabel in (
            ("bench-transports.svg", "median_connections_per_s", "connections_per_s",
             "Accept rate over tcp, tls (full and resumed), ws and wss", "connections/s"),
            ("bench-transports-cpu.svg", "broker_cpu_us_per_connection", None,
             "Broker CPU per connection over tcp, tls (full and resumed), ws and wss", "µs per connection")):
        groups = []
        for t in ("tcp", "tls", "tls-resume", "ws", "wss"):
            cells = {}
            for s in series:
                v = acc.get(s) if t == "tcp" else tr.get("%s.%s" % (s, t))
                if v and v.get(key):
                    cells[s] = (v[key], [(r[rkey], r["exit"] == 0) for r in v["runs"]] if rkey else [])
            if cells:
                groups.append((t, cells))
        figs[name] = grouped_bars(title, sub2, ylabel, groups, series, log=True)
    return figs


def latency_chart(res, sub):
    """Latency percentiles at the fixed rate, per broker and the relay, log scale."""
    lat = res["latency"]
    lp = res.get("latency_parameters", {})
    series = [s for s in ("ppmq-none", "ppmq-v2", "mosquitto-none", "relay-none") if s in lat]
    groups = [(label, {s: (lat[s]["median_latency_%s_ms" % k],
                           [(r["latency_%s_ms" % k] or 0, r["exit"] == 0) for r in lat[s]["runs"]])
                       for s in series})
              for label, k in (("p50", "p50"), ("p99", "p99"), ("p99.9", "p99_9"))]
    return grouped_bars(
        "Latency, publish to arrival, at %s messages/s" % "{:,}".format(lp.get("rate_per_s", 0)),
        "%s; %s publishers x %s B, QoS %s, %s messages per run, %s rounds" % (
            sub, lp.get("publishers"), lp.get("payload_bytes"), lp.get("qos"),
            lp.get("messages_per_run"), lp.get("rounds")),
        "ms", groups, series, log=True)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: plot.py RESULTS.json OUTDIR")
    try:
        with open(sys.argv[1]) as fh:
            res = json.load(fh)
    except (OSError, ValueError) as e:
        sys.exit("plot.py: %s: %s" % (sys.argv[1], e))
    if not isinstance(res, dict) or not res.get("accept"):
        sys.exit("plot.py: %s: not a results.json of scripts/bench (no \"accept\" figures)" % sys.argv[1])
    out = sys.argv[2]
    m = res.get("machine", {})
    sub = "%s, %s CPUs, Linux %s" % ((res.get("when") or "")[:10], m.get("cpus"), m.get("kernel"))
    figs = {"bench-accept.svg": accept_chart(res, sub)}
    if res.get("throughput"):
        tp = res.get("throughput_parameters", {})
        series = [s for s in ("ppmq-none", "ppmq-v2", "mosquitto-none")
                  if any(v["broker"] == s for v in res["throughput"].values())]
        sub2 = "%s; %s messages per run, one subscriber per publisher, %s rounds" % (
            sub, tp.get("messages_per_run"), tp.get("rounds"))
        groups = msg_groups(res, "received")
        figs["bench-throughput.svg"] = grouped_bars(
            "Messages/s received, as fast as acknowledgements allow", sub2, "messages/s",
            groups, series, marks=relay_marks(groups))
        relay = ["relay-none"] if any(v["broker"] == "relay-none" for v in res["throughput"].values()) else []
        figs["bench-cpu.svg"] = grouped_bars(
            "CPU per message: each broker, the relay, and the generator driving ppmq-broker", sub2,
            "µs per message", msg_groups(res, "cpu", True), series + relay + ["proxygen"])
    if res.get("transports"):
        figs.update(transport_charts(res, sub))
    if res.get("latency"):
        figs["bench-latency.svg"] = latency_chart(res, sub)
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as e:
        sys.exit("plot.py: %s" % e)
    for name, text in figs.items():
        try:
            with open(os.path.join(out, name), "w") as fh:
                fh.write(text)
        except OSError as e:
            sys.exit("plot.py: %s" % e)
        print("written: %s" % os.path.join(out, name))


if __name__ == "__main__":
    main()
