# mqttc.py - a small MQTT 3.1.1 / 5.0 client over plain TCP, for tests and
# benchmarks that need what paho does not show: the exact packets, reason
# codes and properties, the moment each packet arrives (time.monotonic()),
# a SUBSCRIBE of any size, a connection dropped without DISCONNECT.
#
#   c = Client(port, "id", version=5, keepalive=60, clean=True,
#              props={SESSION_EXPIRY: 60}, will=Will("t", b"x", qos=1, props={WILL_DELAY: 2}))
#   c.subscribe([("a/#", 1)]) -> SUBACK reason codes
#   c.publish("a/b", b"x", qos=1, props={MESSAGE_EXPIRY: 2})
#   p = c.recv(deadline)       -> Packet(type, flags, body, t) or None (timeout)
#   c.drop()                   close without DISCONNECT (the will goes out)
#   subscribe_race(port, n, deadline)   a huge SUBSCRIBE and another client's CONNACK
#   free_port()                a loopback TCP port the kernel reports free
#
# Every wait has a deadline (seconds from now); none sleeps to let
# something happen. Used by tests/lib/scale.py and bench/subscribe_bench.py.
import fcntl, select, socket, struct, termios, time

CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP = 1, 2, 3, 4, 5, 6, 7
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP, DISCONNECT = 8, 9, 10, 11, 12, 13, 14

# 5.0 properties used here: id -> (name, encoding)
MESSAGE_EXPIRY, SUBSCRIPTION_ID, SESSION_EXPIRY, WILL_DELAY, RECEIVE_MAX = 0x02, 0x0B, 0x11, 0x18, 0x21
_PROPS = {
    0x01: "u8", 0x02: "u32", 0x03: "str", 0x08: "str", 0x09: "bin", 0x0B: "var",
    0x11: "u32", 0x12: "str", 0x13: "u16", 0x15: "str", 0x16: "bin", 0x17: "u8",
    0x18: "u32", 0x19: "u8", 0x1A: "str", 0x1C: "str", 0x1F: "str", 0x21: "u16",
    0x22: "u16", 0x23: "u16", 0x24: "u8", 0x25: "u8", 0x26: "pair", 0x27: "u32",
    0x28: "u8", 0x29: "u8", 0x2A: "u8",
}


def varint(n):
    out = b""
    while True:
        d, n = n % 128, n // 128
        out += bytes([d | (0x80 if n else 0)])
        if not n:
            return out


def s16(b):
    if isinstance(b, str):
        b = b.encode()
    return struct.pack(">H", len(b)) + b


def read_varint(b, pos):
    """(value, position after it), or None when b ends first."""
    v, mult = 0, 1
    while pos < len(b):
        d = b[pos]
        pos += 1
        v += (d & 0x7F) * mult
        mult *= 128
        if not d & 0x80:
            return v, pos
    return None


def props_bytes(props):
    out = b""
    for pid, v in (props or {}).items():
        kind = _PROPS[pid]
        out += bytes([pid])
        if kind == "u8":
            out += bytes([v])
        elif kind == "u16":
            out += struct.pack(">H", v)
        elif kind == "u32":
            out += struct.pack(">I", v)
        elif kind == "var":
            out += varint(v)
        else:
            out += s16(v)
    return varint(len(out)) + out


def parse_props(b, pos):
    """Returns (dict, new pos); repeated ids (subscription ids) give lists."""
    ln, pos = read_varint(b, pos)
    end, props = pos + ln, {}
    while pos < end:
        pid = b[pos]
        pos += 1
        kind = _PROPS[pid]
        if kind == "u8":
            v, pos = b[pos], pos + 1
        elif kind == "u16":
            v, pos = struct.unpack_from(">H", b, pos)[0], pos + 2
        elif kind == "u32":
            v, pos = struct.unpack_from(">I", b, pos)[0], pos + 4
        elif kind == "var":
            v, pos = read_varint(b, pos)
        elif kind == "pair":
            l1 = struct.unpack_from(">H", b, pos)[0]
            l2 = struct.unpack_from(">H", b, pos + 2 + l1)[0]
            v, pos = (b[pos + 2:pos + 2 + l1], b[pos + 4 + l1:pos + 4 + l1 + l2]), pos + 4 + l1 + l2
        else:
            ln2 = struct.unpack_from(">H", b, pos)[0]
            v, pos = b[pos + 2:pos + 2 + ln2], pos + 2 + ln2
        if pid == SUBSCRIPTION_ID:
            props.setdefault(pid, []).append(v)
        else:
            props[pid] = v
    return props, end


def packet(ptype, flags, body):
    return bytes([ptype << 4 | flags]) + varint(len(body)) + body


class Will:
    def __init__(self, topic, payload, qos=0, retain=False, props=None):
        self.topic, self.payload, self.qos, self.retain, self.props = topic, payload, qos, retain, props


class Packet:
    def __init__(self, ptype, flags, body, t):
        self.type, self.flags, self.body, self.t = ptype, flags, body, t

    def __repr__(self):
        return "Packet(%d, %d bytes)" % (self.type, len(self.body))


def connect_packet(client_id, version=5, keepalive=60, clean=True, props=None, will=None, user=None):
    flags = 0x02 if clean else 0
    payload = s16(client_id)
    if will:
        flags |= 0x04 | will.qos << 3 | (0x20 if will.retain else 0)
        payload += (props_bytes(will.props) if version == 5 else b"") + s16(will.topic) + s16(will.payload)
    if user:
        flags |= 0x80
        payload += s16(user)
    vh = s16(b"MQTT") + bytes([version, flags]) + struct.pack(">H", keepalive)
    if version == 5:
        vh += props_bytes(props)
    return packet(CONNECT, 0, vh + payload)


def subscribe_packet(pid, entries, version=5, props=None):
    """entries: [(filter, options byte)]; options = QoS | 4 no-local | 8 RAP | rh << 4."""
    body = struct.pack(">H", pid) + (props_bytes(props) if version == 5 else b"")
    body += b"".join(s16(f) + bytes([o]) for f, o in entries)
    return packet(SUBSCRIBE, 2, body)


def publish_packet(topic, payload, qos=0, retain=False, pid=0, version=5, props=None):
    body = s16(topic) + (struct.pack(">H", pid) if qos else b"")
    body += (props_bytes(props) if version == 5 else b"") + payload
    return packet(PUBLISH, qos << 1 | (1 if retain else 0), body)


class Client:
    def __init__(self, port, client_id, version=5, keepalive=60, clean=True, props=None, will=None,
                 host="127.0.0.1", deadline=10.0, connect=True, bind=None, header=b"", user=None):
        """bind: the local address to connect from (a proxy's); header: bytes
        sent before the CONNECT (a PROXY header); user: a user name."""
        self.version = version
        self.buf = b""
        self.next_id = 0
        self.sock = socket.create_connection((host, port), timeout=deadline,
                                             source_address=(bind, 0) if bind else None)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.connack = None
        if connect:
            self.t_connect = time.monotonic()
            self.send(header + connect_packet(client_id, version, keepalive, clean, props, will, user))
            self.connack = self.expect(CONNACK, deadline)

    # ---- raw I/O ------------------------------------------------------------
    def send(self, data):
        self.sock.sendall(data)

    def recv(self, deadline):
        """The next packet within deadline seconds, or None; "eof" when the
        broker closed the connection."""
        end = time.monotonic() + deadline
        while True:
            p = self._take()
            if p:
                return p
            left = end - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(1 << 20)
            except socket.timeout:
                return None
            except (ConnectionResetError, BrokenPipeError):
                return "eof"
            if not data:
                return "eof"
            self.buf += data

    def _take(self):
        b = self.buf
        r = read_varint(b, 1)
        if r is None:
            return None
        ln, pos = r
        if len(b) < pos + ln:
            return None
        p = Packet(b[0] >> 4, b[0] & 15, b[pos:pos + ln], time.monotonic())
        self.buf = b[pos + ln:]
        return p

    def expect(self, ptype, deadline):
        p = self.recv(deadline)
        if p is None or p == "eof" or p.type != ptype:
            raise RuntimeError("expected packet type %d, got %r" % (ptype, p))
        return p

    def drop(self):
        """Gone without DISCONNECT: the will is due."""
        self.sock.close()

    # ---- packets ------------------------------------------------------------
    def pid(self):
        self.next_id = self.next_id % 65535 + 1
        return self.next_id

    def subscribe(self, entries, props=None, deadline=10.0):
        """entries: [(filter, qos or options byte)]. Returns the reason codes."""
        self.send(subscribe_packet(self.pid(), entries, self.version, props))
        return self.suback(self.expect(SUBACK, deadline))

    def suback(self, p):
        pos = 2
        if self.version == 5:
            _, pos = parse_props(p.body, pos)
        return list(p.body[pos:])

    def publish(self, topic, payload, qos=0, retain=False, props=None):
        pid = self.pid() if qos else 0
        self.send(publish_packet(topic, payload, qos, retain, pid, self.version, props))
        return pid

    def ack(self, ptype, pid):
        self.send(packet(ptype, 2 if ptype == PUBREL else 0, struct.pack(">H", pid)))

    def disconnect(self, rc=0, props=None):
        body = bytes([rc]) + props_bytes(props) if self.version == 5 and (rc or props) else b""
        self.send(packet(DISCONNECT, 0, body))
        self.sock.close()

    def parse_publish(self, p):
        """(topic, packet id, props, payload, qos, retain) of a PUBLISH."""
        b, qos = p.body, (p.flags >> 1) & 3
        tl = struct.unpack_from(">H", b, 0)[0]
        topic, pos, pid, props = b[2:2 + tl].decode(), 2 + tl, 0, {}
        if qos:
            pid, pos = struct.unpack_from(">H", b, pos)[0], pos + 2
        if self.version == 5:
            props, pos = parse_props(b, pos)
        return topic, pid, props, b[pos:], qos, bool(p.flags & 1)

    def session_present(self):
        return bool(self.connack.body[0] & 1)

    def connack_rc(self):
        return self.connack.body[1]


def free_port():
    """A loopback TCP port the kernel reports free."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def outq(sock):
    """Bytes not yet acknowledged by the peer's kernel."""
    return struct.unpack("i", fcntl.ioctl(sock, termios.TIOCOUTQ, b"\0\0\0\0"))[0]


def subscribe_race(port, n, deadline, prefix="big"):
    """Client A subscribes to n filters ("PREFIX/<i>/x") in one packet:
    everything but its last byte is sent and has left this host's queue
    (the broker has it), then the last byte and, at once, the CONNECT of
    client B (connected beforehand). Returns (t0, got, A, B): t0 the
    moment of the last byte, got {CONNACK: packet, SUBACK: packet} for
    what came within deadline seconds, each with its arrival time (.t),
    taken as it comes on either socket."""
    a = Client(port, prefix + "-a")
    b = Client(port, prefix + "-b", connect=False)
    pkt = subscribe_packet(1, [("%s/%d/x" % (prefix, i), 0) for i in range(n)])
    a.send(pkt[:-1])
    end = time.monotonic() + deadline
    while outq(a.sock) and time.monotonic() < end:
        select.select([], [], [], 0.01)   # a poll: the kernel drains the queue
    t0 = time.monotonic()
    a.send(pkt[-1:])
    b.send(connect_packet(prefix + "-b"))
    got, end = {}, t0 + deadline
    while len(got) < 2 and time.monotonic() < end:
        r, _, _ = select.select([a.sock, b.sock], [], [], max(0, end - time.monotonic()))
        for c, want in ((a, SUBACK), (b, CONNACK)):
            if c.sock in r and want not in got:
                p = c.recv(0.001)
                if p not in (None, "eof") and p.type == want:
                    got[want] = p
    return t0, got, a, b
