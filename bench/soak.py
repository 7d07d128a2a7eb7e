#!/usr/bin/env python3
# soak.py - ppmq-broker under the attacks of docs/robustness.md, one after
# the other, each bounded in count and time (make soak):
#
#   bench/soak.py --broker bin/ppmq-broker --proxygen bin/proxygen \
#       [--only NAME,...] [--scale F] [--json FILE] [--markdown FILE]
#
# The broker runs with its defaults (every listener, PROXY in strict mode,
# the trusted proxies 127.0.0.0/8, the test certificates of build/certs).
# During each attack a normal client connects every 100 ms (a PROXY
# header, CONNECT, CONNACK, DISCONNECT) and its CONNACK latency is kept;
# the broker's resident size and open files are read every 100 ms from
# /proc. After the attack its clients go away (or the broker closes them)
# and the broker must be back at its baseline open files and within 10%
# of its baseline resident size: the last column says whether it is.
#
# Attacks (with --scale 1):
#   slowloris-L   600 connections on listener L: 200 drip the header one
#                 byte every 500 ms, 200 say nothing, 200 send a whole
#                 header and half of what comes next (a ClientHello, an
#                 HTTP upgrade, a CONNECT) and stall
#   churn         20,000 proxied connect / CONNECT / DISCONNECT cycles,
#                 200 at once (proxygen flood)
#   subscribe-bomb  one SUBSCRIBE of 60,000 filters (~0.8 MB)
#   slow-consumers  10 QoS 1 subscribers that never read, 10,000 QoS 1
#                 messages of 2 KB published to them
#   offline-fill  4 offline sessions (QoS 1, expiry 300 s) and 2,000
#                 messages of 32 KB published to them; then the sessions
#                 are taken over with a clean start
#   connect-stalls  500 connections that send a header and 256 KB of a
#                 CONNECT declaring 1 MB, then stall
#   admin-flood   300 idle connections to the admin API (from 127.0.0.3)
#                 and 2,000 requests (/healthz, from 127.0.0.4) from 10
#                 threads
#
# Only loopback. Prints one line per attack; --json writes every figure,
# --markdown replaces the table between the soak markers of FILE.
import argparse, json, os, platform, re, resource, select, socket, subprocess, sys, threading, time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "lib"))
from mqttc import (CONNACK, PUBACK, SUBACK, SESSION_EXPIRY, Client, connect_packet, free_port,  # noqa: E402
                   publish_packet, subscribe_packet, varint, s16)
from tls_stall import client_hello  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
LISTENERS = ("tcp", "ssl", "ws", "wss")
ATTACKS = ["slowloris-tcp", "slowloris-ssl", "slowloris-ws", "slowloris-wss", "churn",
           "subscribe-bomb", "slow-consumers", "offline-fill", "connect-stalls", "admin-flood"]

ap = argparse.ArgumentParser(description="ppmq-broker under bounded attacks")
ap.add_argument("--broker", default=os.path.join(ROOT, "bin", "ppmq-broker"))
ap.add_argument("--proxygen", default=os.path.join(ROOT, "bin", "proxygen"))
ap.add_argument("--certs", default=os.path.join(ROOT, "build", "certs"))
ap.add_argument("--only", default="", help="comma list of attacks")
ap.add_argument("--scale", type=float, default=1.0, help="multiply every count")
ap.add_argument("--json")
ap.add_argument("--markdown")
a = ap.parse_args()


def n(x):
    return max(1, int(x * a.scale))


def wait_until(cond, secs, step=0.05):
    end = time.monotonic() + secs
    while time.monotonic() < end:
        if cond():
            return True
        select.select([], [], [], step)
    return cond()


# ---- the broker -----------------------------------------------------------------------------

class Broker:
    def __init__(self):
        self.port = {k: free_port() for k in LISTENERS + ("admin",)}
        env = {k: v for k, v in os.environ.items()
               if not re.match(r"^(LISTENER|MQTT|ADMIN|SECURITY|SESSIONS|LOG)_", k)}
        env.update(LOG_LEVEL="warn", MQTT_PROXY_PROTOCOL_ENABLED="true",
                   MQTT_PROXY_TRUSTED_PROXIES="127.0.0.0/8", SECURITY_ALLOW_ANONYMOUS="true",
                   ADMIN_BIND_ADDRESS="127.0.0.1", ADMIN_BIND_PORT=str(self.port["admin"]))
        for L in LISTENERS:
            U = L.upper()
            env.update({"LISTENER_%s_ENABLED" % U: "true", "LISTENER_%s_BIND_ADDRESS" % U: "127.0.0.1",
                        "LISTENER_%s_BIND_PORT" % U: str(self.port[L])})
            if L in ("ssl", "wss"):
                env.update({"LISTENER_%s_PEM_CERT" % U: os.path.join(a.certs, "server.pem"),
                            "LISTENER_%s_PEM_KEY" % U: os.path.join(a.certs, "server.key")})
        self.log = open(os.path.join(OUT, "soak-broker.log"), "w")
        self.proc = subprocess.Popen([a.broker], env=env, stdout=self.log, stderr=subprocess.STDOUT)
        if not wait_until(self.healthy, 20):
            self.proc.kill()
            sys.exit("soak: the broker did not start (see %s)" % self.log.name)

    def healthy(self):
        try:
            return urllib.request.urlopen(self.url("/healthz"), timeout=1).status == 200
        except OSError:
            return False

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port["admin"], path)

    def rss_kb(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))

    def fds(self):
        return len(os.listdir("/proc/%d/fd" % self.proc.pid))

    def cpu_s(self):
        with open("/proc/%d/stat" % self.proc.pid) as f:
            v = f.read().rsplit(")", 1)[1].split()
        return (int(v[11]) + int(v[12])) / os.sysconf("SC_CLK_TCK")

    def dropped(self):
        """Messages the broker dropped at a limit so far (/metrics)."""
        try:
            m = urllib.request.urlopen(self.url("/metrics"), timeout=5).read().decode()
        except OSError:
            return None
        return sum(int(float(x)) for x in re.findall(r"^ppmq_messages_dropped_total\{[^}]*\} (\S+)$", m, re.M))

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def header(i=0):
    return b"PROXY TCP4 203.0.113.%d 198.51.100.1 %d 1883\r\n" % (1 + i % 250, 10000 + i % 50000)


def hclient(port, cid, version=4, clean=True, props=None, rcvbuf=0, deadline=10.0):
    """A client behind a proxy: the header, then CONNECT, CONNACK."""
    c = Client(port, cid, version=version, connect=False, deadline=deadline)
    if rcvbuf:
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    c.send(header(hash(cid) & 0xffff) + connect_packet(cid, version, 60, clean, props))
    c.connack = c.expect(CONNACK, deadline)
    return c


# ---- what runs beside every attack ------------------------------------------------------------

class Watch:
    """The normal client and the /proc samples, on threads of their own."""

    def __init__(self, b):
        self.b, self.stop_ev = b, threading.Event()
        self.lat, self.fail, self.rss, self.fd, self.hz = [], 0, [], [], []
        self.th = [threading.Thread(target=self.probe, daemon=True),
                   threading.Thread(target=self.sample, daemon=True)]
        self.cpu0 = b.cpu_s()
        for t in self.th:
            t.start()

    def probe(self):
        k = 0
        while not self.stop_ev.is_set():
            t0 = time.monotonic()
            try:
                c = hclient(self.b.port["tcp"], "normal-%d" % k, deadline=5.0)
                self.lat.append((c.connack.t - t0) * 1000)
                c.disconnect()
            except (OSError, RuntimeError):
                self.fail += 1
            try:
                h0 = time.monotonic()
                urllib.request.urlopen(self.b.url("/healthz"), timeout=5).read()
                self.hz.append((time.monotonic() - h0) * 1000)
            except OSError:
                pass
            k += 1
            self.stop_ev.wait(max(0, 0.1 - (time.monotonic() - t0)))

    def sample(self):
        while not self.stop_ev.is_set() and self.b.alive():
            try:
                self.rss.append(self.b.rss_kb())
                self.fd.append(self.b.fds())
            except (OSError, AttributeError):
                pass
            self.stop_ev.wait(0.1)

    def end(self):
        self.stop_ev.set()
        for t in self.th:
            t.join(10)
        return self.b.cpu_s() - self.cpu0


def pct(v, p):
    if not v:
        return None
    v = sorted(v)
    return round(v[min(len(v) - 1, int(len(v) * p / 100))], 1)


# ---- the attacks -----------------------------------------------------------------------------

def stalled_next_stage(listener):
    """Half of what comes after the header on this listener."""
    if listener in ("ssl", "wss"):
        hello = client_hello()
        return hello[:len(hello) // 2]
    if listener == "ws":
        return b"GET /mqtt HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
    return connect_packet("stall", 4)[:8]


def open_many(port, count, first=b"", source=None):
    socks = []
    for _ in range(count):
        try:
            s = socket.create_connection(("127.0.0.1", port), 5,
                                         source_address=(source, 0) if source else None)
            s.setblocking(False)
            if first:
                s.send(first)
            socks.append(s)
        except OSError:
            break
    return socks


def still_open(socks):
    """The sockets the broker has not closed yet (a read says EOF or
    reset when it has)."""
    left = []
    for s in socks:
        try:
            if s.recv(65536) == b"":
                s.close()
                continue
        except BlockingIOError:
            pass
        except OSError:
            s.close()
            continue
        left.append(s)
    return left


def slowloris(b, listener):
    each = n(200)
    port = b.port[listener]
    hdr = header(7)
    drip = open_many(port, each)
    silent = open_many(port, each)
    stall = open_many(port, each, hdr + stalled_next_stage(listener))
    opened = len(drip) + len(silent) + len(stall)
    pos, end = 0, time.monotonic() + 30
    socks = drip + silent + stall
    while socks and time.monotonic() < end:
        if pos < len(hdr):
            for s in drip:
                try:
                    s.send(hdr[pos:pos + 1])
                except OSError:
                    pass
            pos += 1
        select.select([], [], [], 0.5)
        drip, silent, stall = still_open(drip), still_open(silent), still_open(stall)
        socks = drip + silent + stall
    for s in socks:
        s.close()
    return {"offered": "%d connections" % opened, "closed_by_broker": opened - len(socks),
            "still_open_after_30s": len(socks)}


def flood(b, total, prefix):
    return subprocess.run([a.proxygen, "flood", "--target", "127.0.0.1:%d" % b.port["tcp"],
                           "--connections", str(total), "--concurrency", "200", "--v2",
                           "--src-cidr", "10.0.0.0/8", "--seed", "1", "--client-prefix", prefix,
                           "--duration", "60", "--quiet", "--json"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)


def churn(b):
    total = n(20000)
    r = flood(b, total, "churn-")
    try:
        d = json.loads(r.stdout)
    except ValueError:
        return {"offered": "%d cycles" % total, "error": r.stderr.decode()[:200]}
    ok = d.get("connacks", d.get("ok", d.get("succeeded")))
    return {"offered": "%d cycles" % total, "connacks": ok, "flood_exit": r.returncode}


def subscribe_bomb(b):
    filters = n(60000)
    c = hclient(b.port["tcp"], "bomb")
    pkt = subscribe_packet(1, [("bomb/%d/x" % i, 0) for i in range(filters)], 4)
    t0 = time.monotonic()
    c.send(pkt)
    p = c.recv(60)
    ms = round((time.monotonic() - t0) * 1000, 1)
    if p is None:
        answer = "nothing within 60 s"
    elif p == "eof":
        answer = "closed"
    elif p.type == SUBACK:
        codes = list(p.body[2:])
        answer = "SUBACK, %d granted, %d refused" % (sum(x < 0x80 for x in codes), sum(x >= 0x80 for x in codes))
    else:
        answer = "packet type %d" % p.type
    try:
        c.disconnect()
    except OSError:
        pass
    return {"offered": "%d filters, %d bytes" % (filters, len(pkt)), "answer": answer, "answer_ms": ms}


def publish_all(pub, topic, count, size, deadline=60):
    """QoS 1 publishes, at most 100 unacknowledged; the PUBACKs counted."""
    payload, acked, sent = b"x" * size, 0, 0
    end = time.monotonic() + deadline
    while acked < count and time.monotonic() < end:
        while sent < count and sent - acked < 100:
            pub.publish(topic, payload, qos=1)
            sent += 1
        p = pub.recv(max(0.01, end - time.monotonic()))
        if p in (None, "eof"):
            break
        acked += p.type == PUBACK
    return acked


def slow_consumers(b):
    subs, count, size = n(10), n(10000), 2048
    readers = []
    for i in range(subs):
        c = hclient(b.port["tcp"], "slow-%d" % i, rcvbuf=4096)
        c.subscribe([("slow/t", 1)])
        readers.append(c)
    pub = hclient(b.port["tcp"], "slow-pub")
    acked = publish_all(pub, "slow/t", count, size)
    pub.disconnect()
    for c in readers:
        c.sock.close()
    return {"offered": "%d x %d B to %d stalled subscribers" % (count, size, subs), "puback": acked}


def offline_fill(b):
    sessions, count, size = 4, n(2000), 32768
    for i in range(sessions):
        c = hclient(b.port["tcp"], "off-%d" % i, version=5, clean=False, props={SESSION_EXPIRY: 300})
        c.subscribe([("off/t", 1)])
        c.disconnect()
    pub = hclient(b.port["tcp"], "off-pub")
    acked = publish_all(pub, "off/t", count, size)
    pub.disconnect()
    for i in range(sessions):
        hclient(b.port["tcp"], "off-%d" % i, version=5, clean=True).disconnect()
    return {"offered": "%d x %d B to %d offline sessions" % (count, size, sessions), "puback": acked}


def connect_stalls(b):
    count, declared, sent = n(500), 1000000, 256 * 1024
    body = (b"\x00\x04MQTT\x04\x02\x00\x3c" + s16("stall") + b"\x00" * declared)[:sent]
    first = bytes([0x10]) + varint(declared)
    socks = []
    for i in range(count):
        try:
            s = socket.create_connection(("127.0.0.1", b.port["tcp"]), 5)
            s.sendall(header(i) + first)
            s.setblocking(False)
            try:
                s.send(body)
            except OSError:
                pass
            socks.append(s)
        except OSError:
            break
    opened = len(socks)
    end = time.monotonic() + 20
    while socks and time.monotonic() < end:
        select.select([], [], [], 0.5)
        socks = still_open(socks)
    for s in socks:
        s.close()
    return {"offered": "%d connections x %d KB of a 1 MB CONNECT" % (opened, sent // 1024),
            "closed_by_broker": opened - len(socks), "still_open_after_20s": len(socks)}


def admin_flood(b):
    idle, requests = n(300), n(2000)
    # the idle ones from one address, the requests from another, the
    # normal client's /healthz from a third (127.0.0.1)
    socks = open_many(b.port["admin"], idle, source="127.0.0.3")
    done, errors = [0], [0]

    def worker(k):
        for _ in range(requests // 10):
            try:
                s = socket.create_connection(("127.0.0.1", b.port["admin"]), 10,
                                             source_address=("127.0.0.4", 0))
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                s.settimeout(10)
                ok = s.recv(64).startswith(b"HTTP/1.1 200")
                s.close()
                done[0] += ok
                errors[0] += not ok
            except OSError:
                errors[0] += 1
    th = [threading.Thread(target=worker, args=(k,)) for k in range(10)]
    for t in th:
        t.start()
    for t in th:
        t.join(120)
    for s in socks:
        s.close()
    return {"offered": "%d idle + %d requests" % (len(socks), requests), "answered": done[0],
            "failed": errors[0]}


RUN = {"churn": churn, "subscribe-bomb": subscribe_bomb, "slow-consumers": slow_consumers,
       "offline-fill": offline_fill, "connect-stalls": connect_stalls, "admin-flood": admin_flood}
for _L in LISTENERS:
    RUN["slowloris-" + _L] = (lambda L: lambda b: slowloris(b, L))(_L)


# ---- the run ---------------------------------------------------------------------------------

def one(b, name, base):
    d0 = b.dropped()
    w = Watch(b)
    try:
        what = RUN[name](b)
    except (OSError, RuntimeError, subprocess.SubprocessError) as e:
        what = {"error": str(e)[:200]}
    cpu = w.end()
    res = {"attack": name, **what, "broker_cpu_s": round(cpu, 2)}
    res["alive"] = b.alive()
    if not res["alive"]:
        return res
    d1 = b.dropped()
    if d0 is not None and d1 is not None and d1 > d0:
        res["messages_dropped_at_a_limit"] = d1 - d0
    back = wait_until(lambda: b.fds() <= base["fds"], 15, 0.1)
    # freed memory goes back to the system within a second of the last
    # close (reclaim); give it three
    wait_until(lambda: b.rss_kb() <= base["rss_kb"] * 1.10, 3, 0.1)
    rss_after = b.rss_kb()
    res.update(rss_peak_kb=max(w.rss or [0]), fds_peak=max(w.fd or [0]), fds_after=b.fds(),
               rss_after_kb=rss_after, fds_back=back,
               rss_within_10pct=rss_after <= base["rss_kb"] * 1.10,
               connack_ms={"n": len(w.lat), "failed": w.fail, "p50": pct(w.lat, 50),
                           "p99": pct(w.lat, 99), "max": pct(w.lat, 100)},
               healthz_ms={"n": len(w.hz), "p99": pct(w.hz, 99), "max": pct(w.hz, 100)})
    res["bounded"] = back and res["rss_within_10pct"] and w.fail == 0
    return res


def markdown(doc, base, machine):
    rows = ["| attack | offered | broker RSS peak / after (baseline %.1f MB) | open files peak / after (baseline %d) | broker CPU | normal client's CONNACK p50 / p99 / max (failed) | outcome | back to baseline |"
            % (base["rss_kb"] / 1024, base["fds"]),
            "|---|---|---|---|---|---|---|---|"]
    for r in doc["attacks"]:
        if not r.get("alive", True):
            rows.append("| %s | %s | the broker died | | | | | no |" % (r["attack"], r.get("offered", "")))
            continue
        c = r.get("connack_ms", {})
        outcome = ", ".join("%s %s" % (k.replace("_", " "), v) for k, v in r.items()
                            if k in ("closed_by_broker", "still_open_after_30s", "still_open_after_20s",
                                     "connacks", "answer", "answer_ms", "puback", "answered", "failed", "error",
                                     "messages_dropped_at_a_limit"))
        rows.append("| %s | %s | %.1f / %.1f MB | %d / %d | %.2f s | %s / %s / %s ms (%d) | %s | %s |" % (
            r["attack"], r.get("offered", ""), r["rss_peak_kb"] / 1024, r["rss_after_kb"] / 1024,
            r["fds_peak"], r["fds_after"], r["broker_cpu_s"], c.get("p50"), c.get("p99"), c.get("max"),
            c.get("failed", 0), outcome,
            "yes" if r["bounded"] else "**no**: " + ", ".join(
                x for x, ok in (("open files", r["fds_back"]), ("RSS", r["rss_within_10pct"]),
                                ("normal clients failed", not c.get("failed"))) if not ok)))
    head = "Measured %s on %s (`make soak`, scale %g).\n\n" % (doc["date"], machine, a.scale)
    return head + "\n".join(rows) + "\n"


def main():
    global OUT
    OUT = os.path.join(ROOT, "bench", "out")
    os.makedirs(OUT, exist_ok=True)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    names = [x for x in a.only.split(",") if x] or ATTACKS
    for x in names:
        if x not in RUN:
            sys.exit("soak: no attack '%s' (attacks: %s)" % (x, ", ".join(ATTACKS)))
    b = Broker()
    try:
        # The baseline is a broker in its steady state: TLS contexts made,
        # the admin API answered, its session records (sessions.max_kept,
        # 10,000) full, as after its first clients.
        w = Watch(b)
        flood(b, 10000, "warm-")
        wait_until(lambda: len(w.lat) >= 10, 10)
        w.end()
        base = {"rss_kb": b.rss_kb(), "fds": b.fds()}
        doc = {"date": time.strftime("%Y-%m-%d"), "baseline": base, "attacks": []}
        print("soak: baseline %.1f MB, %d open files" % (base["rss_kb"] / 1024, base["fds"]))
        for x in names:
            r = one(b, x, base)
            doc["attacks"].append(r)
            print("soak: %-15s %s" % (x, json.dumps({k: v for k, v in r.items() if k != "attack"})))
            if not r["alive"]:
                break
    finally:
        b.stop()
    machine = "%s, %d cores, %s" % (platform.node() or "this machine", os.cpu_count(), platform.release())
    if a.json:
        with open(a.json, "w") as f:
            json.dump(doc, f, indent=1)
    if a.markdown:
        text = open(a.markdown).read()
        table = markdown(doc, base, machine)
        new, k = re.subn(r"(<!-- soak:begin -->\n).*?(<!-- soak:end -->)",
                         lambda m: m.group(1) + table + m.group(2), text, flags=re.S)
        if not k:
            sys.exit("soak: %s has no <!-- soak:begin --> / <!-- soak:end --> markers" % a.markdown)
        with open(a.markdown, "w") as f:
            f.write(new)
    return 0 if all(r.get("bounded") for r in doc["attacks"]) else 1


sys.exit(main())
