#!/usr/bin/env python3
# subscribe_bench.py - subscriptions at scale in ppmq-broker, for
# scripts/bench (section e) or alone:
#
#   bench/subscribe_bench.py --broker bin/ppmq-broker [--filters 100000] [--seconds 3] [--json FILE]
#   bench/subscribe_bench.py --port 1883 ...       a broker already running (limits raised)
#
# Measures, on loopback:
#   1. one SUBSCRIBE of N filters (`idle/<i>/x`, ~1.4 MB for 100,000): the
#      time from its last byte to its SUBACK, and the CONNACK latency of a
#      second client that connects at that moment;
#   2. the PUBLISH rate from one publisher to one subscriber (QoS 0, 16-byte
#      payloads, pipelined for --seconds), first with no other
#      subscription, then while one idle client holds those N
#      subscriptions; their ratio is the slowdown the idle subscriptions
#      cause.
# With --broker it starts the broker itself (limits raised so that the
# SUBSCRIBE is accepted: MQTT_MAX_FILTERS_PER_SUBSCRIBE and friends; a
# broker without these keys ignores them) and stops it. Every step has a
# deadline (--deadline, 180 s): a broker that stalls is reported, not
# waited for. Prints one JSON object (also to --json FILE).
import argparse, json, os, select, socket, subprocess, sys, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "lib"))
from mqttc import Client, CONNACK, SUBACK, free_port, publish_packet, subscribe_race  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--broker")
ap.add_argument("--port", type=int)
ap.add_argument("--filters", type=int, default=100000)
ap.add_argument("--seconds", type=float, default=3.0)
ap.add_argument("--deadline", type=float, default=180.0)
ap.add_argument("--json")
a = ap.parse_args()


def start_broker(path):
    port = free_port()
    env = dict(os.environ, LOG_LEVEL="warn", LISTENER_TCP_ENABLED="true",
               LISTENER_TCP_BIND_ADDRESS="127.0.0.1", LISTENER_TCP_BIND_PORT=str(port),
               LISTENER_SSL_ENABLED="false", LISTENER_WS_ENABLED="false", LISTENER_WSS_ENABLED="false",
               ADMIN_ENABLED="false", MQTT_MAX_PACKET_SIZE=str(16 << 20),
               MQTT_MAX_FILTERS_PER_SUBSCRIBE=str(a.filters * 2),
               MQTT_MAX_SUBSCRIPTIONS_PER_CLIENT=str(a.filters * 2))
    for k in [k for k in env if k.startswith("MQTT_") and "PROXY" in k]:
        del env[k]
    proc = subprocess.Popen([path], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    end = time.monotonic() + 20
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return proc, port
        except OSError:
            if proc.poll() is not None:
                break
            select.select([], [], [], 0.05)
    proc.kill()
    sys.exit("subscribe_bench: the broker did not start")


def big_subscribe(port):
    """(the subscriber, SUBACK ms, the other client's CONNACK ms), from the
    SUBSCRIBE's last byte."""
    t0, got, sub, _ = subscribe_race(port, a.filters, a.deadline, prefix="idle")
    ms = lambda k: round((got[k].t - t0) * 1000, 1) if k in got else None  # noqa: E731
    return sub, ms(SUBACK), ms(CONNACK)


def cpu_s(pid):
    """utime + stime of a process, seconds."""
    with open("/proc/%d/stat" % pid) as f:
        v = f.read().rsplit(")", 1)[1].split()
    return (int(v[11]) + int(v[12])) / os.sysconf("SC_CLK_TCK")


def client(port, cid):
    """Connected, or one more try: a broker that has just been held up
    may refuse the first one."""
    try:
        return Client(port, cid)
    except (OSError, RuntimeError):
        select.select([], [], [], 2.0)
        return Client(port, cid)


def publish_rate(port, tag, pid):
    """(messages per second from one publisher to one subscriber, the
    broker's CPU microseconds per message or None)."""
    sub = client(port, "rate-sub-" + tag)
    sub.subscribe([("bench/t", 0)])
    pub = client(port, "rate-pub-" + tag)
    c0 = cpu_s(pid) if pid else None
    one = publish_packet("bench/t", b"p" * 16)
    size = len(one)           # what the subscriber gets: the same bytes
    batch = one * 100
    sent, got, t0 = 0, 0, time.monotonic()
    sub.sock.setblocking(False)
    t_last = t0
    while time.monotonic() - t0 < a.seconds or got < sent:
        if time.monotonic() - t0 < a.seconds:
            pub.send(batch)
            sent += 100 * size
        elif time.monotonic() - t0 > a.deadline:
            break
        r, _, _ = select.select([sub.sock], [], [], 0 if time.monotonic() - t0 < a.seconds else 1)
        if r:
            try:
                data = sub.sock.recv(1 << 20)
            except BlockingIOError:
                data = b""
            got += len(data)
            t_last = time.monotonic()
    msgs = got // size
    cpu = round((cpu_s(pid) - c0) * 1e6 / msgs, 2) if pid and msgs else None
    return round(msgs / (t_last - t0)), cpu


def step(res, name, fn, *args):
    """Run one measurement; a failure is reported in res, not fatal."""
    try:
        return fn(*args)
    except (OSError, RuntimeError) as e:
        res.setdefault("errors", []).append("%s: %s" % (name, e))
        return None


def main():
    proc, port = (None, a.port)
    if a.broker:
        proc, port = start_broker(a.broker)
    res = {"filters": a.filters}
    try:
        pid = proc.pid if proc else None
        base = step(res, "publish rate", publish_rate, port, "base", pid)
        big = step(res, "subscribe", big_subscribe, port)
        idle = step(res, "publish rate with idle subscriptions", publish_rate, port, "idle", pid)
        if big:
            res["subscribe_to_suback_ms"], res["connack_during_subscribe_ms"] = big[1], big[2]
        for k, v in (("no_idle", base), ("idle", idle)):
            res["publish_rate_%s_per_s" % k] = v[0] if v else None
            res["broker_cpu_us_per_msg_%s" % k] = v[1] if v else None
        if base and idle and idle[0]:
            res["slowdown_with_idle_subscriptions"] = round(base[0] / idle[0], 2)
        if base and idle and base[1] and idle[1]:
            res["cpu_ratio_with_idle_subscriptions"] = round(idle[1] / base[1], 2)
        if big:
            big[0].drop()
    finally:
        if proc:
            proc.terminate()
            proc.wait(10)
    out = json.dumps(res, indent=2)
    print(out)
    if a.json:
        with open(a.json, "w") as f:
            f.write(out + "\n")


main()
