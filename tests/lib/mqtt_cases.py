# mqtt_cases.py - MQTT cases against a broker, each printing what it saw
# as key=value lines for a TAP script to check (tests/integration/
# 20-broker-subscribe.t, 20-broker-timers.t). Times are measured here, by
# the client, with time.monotonic(); the pauses made here are the
# behaviour under test (a client that comes back after 1.8 s, a
# subscriber that acknowledges 1.9 s late), never a synchronisation.
#
#   mqtt_cases.py CASE --port PORT [--n N] [--size BYTES] [--qos Q]
#                 [--sessions S] [--hold SECONDS] [--slow K]
#
# CASE: big-subscribe, limits, will-delay, session-expiry, message-expiry,
# keepalive; for the memory limits (20-broker-memory.t): offline-subscribe,
# offline-fill, stalled-subscriber, retained-limit, sessions-limit, served;
# for the ACL and shared subscriptions (20-broker-policy.t): policy, shared.
# --slow multiplies every deadline (PPMQ_TEST_SLOW).
import argparse, os, struct, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mqttc import (Client, Will, CONNACK, PUBLISH, PUBACK, SUBACK, DISCONNECT, MESSAGE_EXPIRY,
                   SESSION_EXPIRY, WILL_DELAY, RECEIVE_MAX, subscribe_race, parse_props,
                   subscribe_packet)

ap = argparse.ArgumentParser()
ap.add_argument("case")
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--n", type=int, default=100000)
ap.add_argument("--size", type=int, default=1024)
ap.add_argument("--qos", type=int, default=1)
ap.add_argument("--sessions", type=int, default=4)
ap.add_argument("--hold", type=float, default=60.0)
ap.add_argument("--slow", type=int, default=1)
a = ap.parse_args()
D = 10.0 * a.slow          # a generous deadline for anything to arrive


def say(k, v):
    print("%s=%s" % (k, v))
    sys.stdout.flush()


def ms(t0, t1):
    return int(round((t1 - t0) * 1000))


def until(t):
    """Wait until monotonic time t: the pause under test."""
    while True:
        left = t - time.monotonic()
        if left <= 0:
            return
        time.sleep(left)


# ---- a second client's CONNACK while a huge SUBSCRIBE is applied ------------

def big_subscribe():
    """A subscribes to N filters in one packet; B connects once the broker
    has all of it but the last byte, and sends its CONNECT with that byte.
    B's CONNACK must not wait for A's SUBACK."""
    t0, got, A, B = subscribe_race(a.port, a.n, 6 * D)
    if CONNACK in got:
        say("connack_ms", ms(t0, got[CONNACK].t))
        say("connack_rc", got[CONNACK].body[1])
    if SUBACK in got:
        rcs = A.suback(got[SUBACK])
        say("suback_ms", ms(t0, got[SUBACK].t))
        say("granted", sum(1 for x in rcs if x == 0))
        say("codes", len(rcs))
    if len(got) == 2:
        say("connack_first", int(got[CONNACK].t <= got[SUBACK].t))
    # Both still work.
    B.subscribe([("big/7/x", 0)])
    B.publish("big/7/x", b"after")
    p = A.recv(D)
    say("delivered", int(p not in (None, "eof") and p.type == PUBLISH and A.parse_publish(p)[3] == b"after"))


# ---- the limits: too many filters, too many subscriptions -------------------

def limits():
    c = Client(a.port, "lim5")
    say("too_many", ",".join("%x" % x for x in sorted(set(c.subscribe([("l/%d" % i, 0) for i in range(a.n + 1)])))))
    say("at_limit", ",".join("%x" % x for x in c.subscribe([("m/%d" % i, 1) for i in range(a.n)])))
    say("over_limit", ",".join("%x" % x for x in c.subscribe([("m/x", 0), ("m/0", 0)])))
    c3 = Client(a.port, "lim3", version=4)
    say("too_many_v3", ",".join("%x" % x for x in sorted(set(c3.subscribe([("l/%d" % i, 0) for i in range(a.n + 1)])))))


# ---- timers ------------------------------------------------------------------

def watcher(topic, cid="watch"):
    w = Client(a.port, cid)
    assert w.subscribe([(topic, 1)]) == [1]
    return w


def next_publish(c, deadline):
    p = c.recv(deadline)
    if p in (None, "eof") or p.type != PUBLISH:
        return None, None
    topic, pid, props, payload, qos, _ = c.parse_publish(p)
    if qos:
        c.ack(PUBACK, pid)
    return p, payload


def staggered_ends(w, prefix, props, will_props):
    """Three clients with a will each, gone without DISCONNECT a third of a
    second apart (a clock that counts whole seconds would be caught
    early by at least one); the watcher w collects the wills. Returns
    (earliest, latest) delay from each loss to its will, in ms, and how
    many came."""
    gone = {}
    clients = [Client(a.port, "%s-%d" % (prefix, i), props=props,
                      will=Will("%s/%d" % (prefix, i), b"%d" % i, qos=1, props=will_props))
               for i in range(3)]
    t0 = time.monotonic()
    for i, c in enumerate(clients):
        until(t0 + i / 3.0)
        gone[b"%d" % i] = time.monotonic()
        c.drop()
    delays = []
    for _ in range(3):
        p, payload = next_publish(w, D)
        if p is None or payload not in gone:
            break
        delays.append(ms(gone[payload], p.t))
    return (min(delays), max(delays), len(delays)) if delays else (-1, -1, 0)


def back_after(c, cid, leave, secs, expiry):
    """c leaves (leave(c)), its client id comes back secs later (clean
    start 0, Session Expiry expiry) and goes again. Returns (the leaving
    time, whether the session was there)."""
    t0 = time.monotonic()
    leave(c)
    until(t0 + secs)
    c = Client(a.port, cid, clean=False, props={SESSION_EXPIRY: expiry})
    present = c.session_present()
    c.disconnect()
    return t0, int(present)


def will_delay():
    """Will Delay 2 s: the will comes 2 s after the connection is lost,
    not sooner; and not at all when the client is back within 1.8 s."""
    w = watcher("wd/#")
    first, last, n = staggered_ends(w, "wd", {SESSION_EXPIRY: 60}, {WILL_DELAY: 2})
    say("will_ms_min", first)
    say("will_ms_max", last)
    say("wills", n)

    c = Client(a.port, "wd-back", props={SESSION_EXPIRY: 60},
               will=Will("wd/back", b"will-back", qos=1, props={WILL_DELAY: 2}))
    t0, present = back_after(c, "wd-back", Client.drop, 1.8, 60)
    say("back_session_present", present)
    # A later sign: a marker published after the delay would have ended.
    until(t0 + 2.5)
    m = Client(a.port, "wd-marker")
    m.publish("wd/back", b"marker", qos=1)
    p, payload = next_publish(w, D)
    say("after_return", payload.decode() if p else "none")


def session_expiry():
    """Session Expiry 2 s: the session ends 2 s after the connection, not
    sooner (its will, delayed 60 s, goes out when it ends); a client back
    after 1.8 s still finds it."""
    w = watcher("se/#")
    first, last, n = staggered_ends(w, "se", {SESSION_EXPIRY: 2}, {WILL_DELAY: 60})
    say("end_ms_min", first)
    say("end_ms_max", last)
    say("ends", n)

    c = Client(a.port, "se-back", props={SESSION_EXPIRY: 2})
    c.subscribe([("se/keep", 1)])
    say("present_after_1800", back_after(c, "se-back", Client.disconnect, 1.8, 0)[1])


def message_expiry():
    """Message Expiry 2 s for a message waiting in the broker: still sent
    1.9 s after it was published (with 1 s left), one with 1 s is not."""
    s = Client(a.port, "me-sub", props={RECEIVE_MAX: 1})
    assert s.subscribe([("me/t", 1)]) == [1]
    p = Client(a.port, "me-pub")
    p.publish("me/t", b"m1", qos=1)
    t0 = time.monotonic()
    p.publish("me/t", b"m2", qos=1, props={MESSAGE_EXPIRY: 2})
    p.publish("me/t", b"m3", qos=1, props={MESSAGE_EXPIRY: 1})
    p.publish("me/t", b"m4", qos=1)
    first = s.recv(D)
    topic, pid, _, payload, _, _ = s.parse_publish(first)
    say("first", payload.decode())
    until(t0 + 1.9)
    s.ack(PUBACK, pid)                     # m2 may go now: the window is 1
    q, payload = next_publish(s, D)
    say("second", payload.decode() if q else "none")
    say("second_expiry", s.parse_publish(q)[2].get(MESSAGE_EXPIRY, -1) if q else -1)
    q, payload = next_publish(s, D)
    say("third", payload.decode() if q else "none")


def keepalive():
    """Keep Alive 2 s and silence: the broker closes 3 s (1.5 x 2 s) after
    the CONNECT, not sooner, with DISCONNECT 0x8D."""
    c = Client(a.port, "ka", keepalive=2)
    t0 = c.t_connect
    p = c.recv(D)
    rc = p.body[0] if p not in (None, "eof") and p.type == DISCONNECT and p.body else -1
    if p not in (None, "eof"):
        p2 = c.recv(D)
        say("closed", int(p2 == "eof"))
    say("disconnect_rc", "%x" % rc if rc >= 0 else "none")
    say("close_ms", ms(t0, p.t) if p not in (None, "eof") else -1)


# ---- memory limits ------------------------------------------------------------

def publish_all(pub, topic_fmt, n, size, qos=1, retain=False):
    """n messages of size bytes; at QoS 1 each acknowledged before the
    next. Returns the PUBACK reason codes as "code:count,..."."""
    codes, body = {}, b"m" * size
    for i in range(n):
        pub.publish(topic_fmt % i, body, qos=qos, retain=retain)
        if qos:
            p = pub.expect(PUBACK, D)
            rc = p.body[2] if len(p.body) > 2 else 0
            codes[rc] = codes.get(rc, 0) + 1
    return ",".join("%x:%d" % (k, codes[k]) for k in sorted(codes))


def offline_subscribe():
    """S persistent sessions subscribed to off/# at QoS 1, then gone."""
    for s in range(a.sessions):
        c = Client(a.port, "off-%d" % s, clean=False, props={SESSION_EXPIRY: 600})
        assert c.subscribe([("off/#", 1)]) == [1]
        c.disconnect()
    say("subscribed", a.sessions)


def offline_fill():
    """N messages of SIZE bytes at QoS 1 for the offline sessions."""
    say("acks", publish_all(Client(a.port, "off-pub"), "off/%d", a.n, a.size))


def stalled_subscriber():
    """A subscriber at QoS Q that stops reading (the behaviour under
    test), N messages of SIZE bytes published to it; it stays, unread,
    for HOLD seconds after saying held=1."""
    sub = Client(a.port, "stall-sub")
    assert sub.subscribe([("stall/#", a.qos)]) == [a.qos]
    pub = Client(a.port, "stall-pub")
    say("acks", publish_all(pub, "stall/%d", a.n, a.size, qos=a.qos))
    # After the broker has handled every one of them (same connection).
    pub.publish("stall-none", b"x", qos=1)
    pub.expect(PUBACK, D)
    say("held", 1)
    until(time.monotonic() + a.hold * a.slow)


def retained_limit():
    """N retained messages on N topics; then a subscriber to all of them
    counts what was kept, up to a marker published after its SUBACK."""
    pub = Client(a.port, "ret-pub")
    say("acks", publish_all(pub, "ret/%d", a.n, 10, retain=True))
    sub = Client(a.port, "ret-sub")
    assert sub.subscribe([("ret/#", 1)]) == [1]
    pub.publish("ret/marker", b"end", qos=1)
    pub.expect(PUBACK, D)
    got = 0
    while True:
        p, payload = next_publish(sub, D)
        if p is None or payload == b"end":
            break
        got += 1
    say("retained", got)


def sessions_limit():
    """N persistent sessions left offline, then one more client of each
    version, then the first session back."""
    for s in range(a.n):
        c = Client(a.port, "kept-%d" % s, clean=False, props={SESSION_EXPIRY: 600})
        c.disconnect()
    say("new_v5", "%x" % Client(a.port, "new-5").connack_rc())
    say("new_v3", "%x" % Client(a.port, "new-3", version=4).connack_rc())
    say("kept_back", "%x" % Client(a.port, "kept-0", clean=False,
                                  props={SESSION_EXPIRY: 600}).connack_rc())


def served():
    """A normal client: CONNACK, and its own QoS 1 message back."""
    c = Client(a.port, "served-%d" % os.getpid())
    assert c.subscribe([("served/%d" % os.getpid(), 1)]) == [1]
    c.publish("served/%d" % os.getpid(), b"hello", qos=1)
    got = set()
    while len(got) < 2:
        p = c.recv(D)
        if p in (None, "eof"):
            break
        if p.type == PUBACK:
            got.add("ack")
        elif p.type == PUBLISH:
            _, pid, _, payload, _, _ = c.parse_publish(p)
            c.ack(PUBACK, pid)
            if payload == b"hello":
                got.add("msg")
    say("connack", c.connack_rc())
    say("served", int(len(got) == 2))


# ---- an ACL behind a proxy (20-broker-policy.t) --------------------------------
# The broker trusts the proxies 127.0.0.7 and 127.0.0.8 and its ACL refuses
# 203.0.113.128/25 and 127.0.0.8 (the second proxy's own address); topics:
# sensors/# for alice only, no admin/# subscriptions.

def proxied(cid, src, proxy="127.0.0.7", version=5, user=None):
    hdr = ("PROXY TCP4 %s 198.51.100.1 40000 1883\r\n" % src).encode()
    return Client(a.port, cid, version=version, bind=proxy, header=hdr, user=user, deadline=D)


def rc_of(cid, src, proxy="127.0.0.7", version=5):
    return "%x" % proxied(cid, src, proxy, version).connack_rc()


def puback_rc(c, topic):
    pid = c.publish(topic, b"x", qos=1)
    p = c.expect(PUBACK, D)
    assert struct.unpack_from(">H", p.body, 0)[0] == pid
    return "%x" % (p.body[2] if len(p.body) > 2 else 0)


def policy():
    say("blocked_via_trusted", rc_of("pol-b5", "203.0.113.200"))
    say("blocked_via_trusted_v3", rc_of("pol-b3", "203.0.113.129", version=4))
    say("allowed_via_trusted", rc_of("pol-a", "192.0.2.10"))
    say("allowed_via_blocked_proxy", rc_of("pol-ap", "192.0.2.11", proxy="127.0.0.8"))
    say("blocked_via_blocked_proxy", rc_of("pol-bp", "203.0.113.201", proxy="127.0.0.8"))
    sub = proxied("pol-sub", "192.0.2.12")
    say("sub_sensors", ",".join("%x" % x for x in sub.subscribe([("sensors/#", 1)])))
    say("sub_admin", ",".join("%x" % x for x in sub.subscribe([("admin/#", 0), ("#", 0), ("other/#", 0)])))
    say("sub_admin_v3", ",".join("%x" % x for x in proxied("pol-s3", "192.0.2.13", version=4).subscribe([("admin/x", 0)])))
    say("pub_bob", puback_rc(proxied("pol-bob", "192.0.2.14", user="bob"), "sensors/1"))
    say("pub_alice", puback_rc(proxied("pol-alice", "192.0.2.15", user="alice"), "sensors/1"))
    # The subscriber got alice's message and not bob's: bob's came first.
    got = []
    while True:
        p = sub.recv(D if not got else 0.5 * a.slow)
        if p in (None, "eof") or p.type != PUBLISH:
            break
        topic, pid, _, payload, qos, _ = sub.parse_publish(p)
        sub.ack(PUBACK, pid)
        got.append(topic)
    say("delivered", ",".join(got))


# ---- shared subscriptions ------------------------------------------------------

def shared():
    pub = Client(a.port, "sh-pub", version=4)
    pub.publish("r/kept", b"retained", retain=True)
    m1 = Client(a.port, "sh-m1")
    props, _ = parse_props(m1.connack.body, 2)
    say("shared_available", props.get(0x2A, "absent"))
    say("sub_m1", ",".join("%x" % x for x in m1.subscribe([("$share/g/r/#", 0)])))
    pub.publish("r/marker", b"marker")
    p = m1.recv(D)
    say("first_after_subscribe", m1.parse_publish(p)[3].decode() if p not in (None, "eof") else "none")
    m2 = Client(a.port, "sh-m2", version=4)
    say("sub_m2", ",".join("%x" % x for x in m2.subscribe([("$share/g/r/#", 0)])))
    other = Client(a.port, "sh-h")
    other.subscribe([("$share/h/r/+", 0)])
    for i in range(10):
        pub.publish("r/n", b"%d" % i)
    counts, total = {m1: 0, m2: 0}, 0
    # Ten messages between the two; the other group's member sees all ten.
    seen = 0
    while seen < 10:
        p = other.recv(D)
        if p in (None, "eof"):
            break
        seen += 1
    for m in (m1, m2):
        while counts[m1] + counts[m2] < 10:
            p = m.recv(0.5 * a.slow if counts[m] else D)
            if p in (None, "eof"):
                break
            counts[m] += 1
    say("split", "%d,%d" % (counts[m1], counts[m2]))
    say("other_group", seen)
    say("bad_share", ",".join("%x" % x for x in m1.subscribe([("$share//x", 0), ("$share/+/x", 0), ("$share/g", 0)])))
    say("bad_share_v3", ",".join("%x" % x for x in m2.subscribe([("$share/#/x", 0)])))
    m1.send(subscribe_packet(99, [("$share/g/nl", 4)]))    # 4: No Local
    p = m1.recv(D)
    say("no_local_shared", "%x" % p.body[0] if p not in (None, "eof") and p.type == DISCONNECT else "none")


{"big-subscribe": big_subscribe, "limits": limits, "will-delay": will_delay,
 "session-expiry": session_expiry, "message-expiry": message_expiry,
 "keepalive": keepalive, "offline-subscribe": offline_subscribe,
 "offline-fill": offline_fill, "stalled-subscriber": stalled_subscriber,
 "retained-limit": retained_limit, "sessions-limit": sessions_limit,
 "served": served, "policy": policy, "shared": shared}[a.case]()
