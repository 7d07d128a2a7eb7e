# probe.py - one raw connection: optional bytes first (a PROXY header,
# in pieces), then TLS / WebSocket as asked, then MQTT bytes (a CONNECT by
# default, or given hex), and report what came back:
#   "connack RC" | "closed" | "reset" | "timeout" | "tls-fail WHY"
#   | "ws-fail STATUS" | "data HEX" | "open"
# The pauses it makes (--delay, --stall, --hold) are the behaviour under
# test (a header in pieces, a header that stalls, a client that stays),
# never a synchronisation with the broker.
import argparse, base64, os, select, socket, ssl, struct, sys, time

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--host", default="127.0.0.1")
ap.add_argument("--bind", default=None)
ap.add_argument("--transport", default="tcp")
ap.add_argument("--ca", default=None)
ap.add_argument("--path", default="/mqtt")
ap.add_argument("--subprotocol", default="mqtt")
ap.add_argument("--pre-hex", default="", help="raw bytes first (PROXY header)")
ap.add_argument("--split", type=int, default=0)
ap.add_argument("--delay", type=float, default=0.0, help="seconds between pieces")
ap.add_argument("--stall", type=float, default=0.0, help="seconds after the pre bytes")
ap.add_argument("--inner-hex", default="", help="bytes after TLS, before the upgrade")
ap.add_argument("--mqtt-hex", default=None, help="MQTT bytes instead of a CONNECT")
ap.add_argument("--client-id", default="probe")
ap.add_argument("--user", default=None)
ap.add_argument("--password", default=None)
ap.add_argument("--keepalive", type=int, default=60)
ap.add_argument("--no-connect", action="store_true")
ap.add_argument("--timeout", type=float, default=4.0)
ap.add_argument("--then-hex", default=None, help="after CONNACK 0, send these bytes and report")
ap.add_argument("--then-frame", default=None, help="ws: after CONNACK 0, send a frame OPCODE:HEX and report the first frame back")
ap.add_argument("--half-close", action="store_true", help="shut down writing after the CONNECT")
ap.add_argument("--then-publish", type=int, default=None, help="after CONNACK 0, PUBLISH this many payload bytes and report")
ap.add_argument("--hold", type=float, default=0.0, help="after CONNACK 0, stay connected this long")
a = ap.parse_args()

def s_(b): return struct.pack(">H", len(b)) + b
def varint(n):
    out = b""
    while True:
        d = n % 128; n //= 128
        out += bytes([d | (0x80 if n else 0)])
        if not n: return out

def connect_pkt():
    flags = 0x02
    payload = s_(a.client_id.encode())
    if a.user is not None:
        flags |= 0x80; payload += s_(a.user.encode())
    if a.password is not None:
        flags |= 0x40; payload += s_(a.password.encode())
    vh = s_(b"MQTT") + bytes([4, flags]) + struct.pack(">H", a.keepalive)
    body = vh + payload
    return bytes([0x10]) + varint(len(body)) + body

def out(msg, code):
    print(msg); sys.stdout.flush(); os._exit(code)

deadline = time.time() + a.timeout
def left(): return max(0.01, deadline - time.time())

try:
    sock = socket.create_connection((a.host, a.port), timeout=a.timeout,
                                    source_address=(a.bind, 0) if a.bind else None)
except OSError as e:
    out("refused %s" % e, 1)
sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

pre = bytes.fromhex(a.pre_hex)
if pre:
    pieces = [pre] if a.split <= 0 else [pre[i:i + a.split] for i in range(0, len(pre), a.split)]
    for i, p in enumerate(pieces):
        try:
            sock.sendall(p)
        except BrokenPipeError:
            out("closed (while sending the first bytes)", 1)
        except ConnectionResetError:
            out("reset", 1)
        if a.delay and i + 1 < len(pieces): time.sleep(a.delay)  # behaviour: a pause between pieces
if a.stall: time.sleep(a.stall)  # behaviour: a header that stalls

def peer_state(s):
    """After the pre bytes: did the server close already?"""
    r, _, _ = select.select([s], [], [], 0)
    if r:
        try:
            d = s.recv(1, socket.MSG_PEEK)
            if d == b"": return "closed"
        except ConnectionResetError:
            return "reset"
    return None

st = peer_state(sock)
if st: out(st, 1)

conn = sock
if a.transport in ("tls", "wss", "ssl"):
    ctx = ssl.create_default_context(cafile=a.ca) if a.ca else ssl._create_unverified_context()
    if a.ca: ctx.check_hostname = False
    try:
        sock.settimeout(left())
        conn = ctx.wrap_socket(sock, server_hostname="localhost")
    except ssl.SSLError as e:
        out("tls-fail %s" % e.reason, 1)
    except (ConnectionResetError, BrokenPipeError):
        out("reset", 1)
    except socket.timeout:
        out("timeout", 1)
    except OSError as e:
        out("tls-fail %s" % e, 1)

ws = a.transport in ("ws", "wss")
rbuf = b""
if a.inner_hex:
    try:
        conn.sendall(bytes.fromhex(a.inner_hex))
    except (BrokenPipeError, ConnectionResetError):
        out("reset", 1)

def recv_some():
    conn.settimeout(left())
    try:
        d = conn.recv(65536)
    except socket.timeout:
        out("timeout", 1)
    except ConnectionResetError:
        out("reset", 1)
    except ssl.SSLError as e:
        out("closed (tls %s)" % e.reason, 1)
    if not d:
        out("closed", 1)
    return d

if ws:
    key = base64.b64encode(os.urandom(16)).decode()
    req = ("GET %s HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
           "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
           "Sec-WebSocket-Version: 13\r\n" % (a.path, key))
    if a.subprotocol: req += "Sec-WebSocket-Protocol: %s\r\n" % a.subprotocol
    req += "\r\n"
    try:
        conn.sendall(req.encode())
    except (BrokenPipeError, ConnectionResetError):
        out("reset", 1)
    while b"\r\n\r\n" not in rbuf:
        rbuf += recv_some()
    head, rbuf = rbuf.split(b"\r\n\r\n", 1)
    status = head.split(b" ")[1].decode()
    if status != "101": out("ws-fail %s" % status, 1)

def send_frame(op, b):
    m = os.urandom(4)
    hdr = bytes([0x80 | op])
    n = len(b)
    if n < 126: hdr += bytes([0x80 | n])
    elif n < 65536: hdr += bytes([0x80 | 126]) + struct.pack(">H", n)
    else: hdr += bytes([0x80 | 127]) + struct.pack(">Q", n)
    try:
        conn.sendall(hdr + m + bytes(x ^ m[i % 4] for i, x in enumerate(b)))
    except (BrokenPipeError, ConnectionResetError):
        out("reset", 1)

def send_mqtt(b):
    if ws:
        m = os.urandom(4)
        hdr = bytes([0x82])
        n = len(b)
        if n < 126: hdr += bytes([0x80 | n])
        elif n < 65536: hdr += bytes([0x80 | 126]) + struct.pack(">H", n)
        else: hdr += bytes([0x80 | 127]) + struct.pack(">Q", n)
        b = hdr + m + bytes(x ^ m[i % 4] for i, x in enumerate(b))
    try:
        conn.sendall(b)
    except (BrokenPipeError, ConnectionResetError):
        out("reset", 1)

def recv_mqtt(n):
    """At least n bytes of MQTT stream (WebSocket payloads joined)."""
    global rbuf
    data = b""
    while True:
        if ws:
            while len(rbuf) >= 2:
                if rbuf[1] & 0x80: out("masked server frame", 1)
                ln = rbuf[1] & 0x7f; off = 2
                if ln == 126:
                    if len(rbuf) < 4: break
                    ln = struct.unpack(">H", rbuf[2:4])[0]; off = 4
                elif ln == 127:
                    if len(rbuf) < 10: break
                    ln = struct.unpack(">Q", rbuf[2:10])[0]; off = 10
                if len(rbuf) < off + ln: break
                op = rbuf[0] & 0x0f
                if op == 0x8:
                    if len(data) >= n: return data  # what came before the close
                    out("closed (ws close)", 1)
                if op in (0x0, 0x2): data += rbuf[off:off + ln]
                rbuf = rbuf[off + ln:]
        else:
            data += rbuf; rbuf = b""
        if len(data) >= n: return data
        rbuf += recv_some()

if a.no_connect:
    # Nothing to send: still open at the deadline?
    try:
        conn.settimeout(left())
        d = conn.recv(1)
        out("closed" if not d else "data " + d.hex(), 1)
    except socket.timeout:
        out("open", 0)
    except ConnectionResetError:
        out("reset", 1)

if a.mqtt_hex is not None:
    send_mqtt(bytes.fromhex(a.mqtt_hex))
    d = recv_mqtt(1)
    out("data " + d.hex(), 1)

send_mqtt(connect_pkt())
if a.half_close:
    conn.shutdown(socket.SHUT_WR)
d = recv_mqtt(4)
if d[0] != 0x20: out("data " + d.hex(), 1)
rc = d[3]
if rc == 0 and a.hold:
    print("connack 0 (holding %.1f s)" % a.hold); sys.stdout.flush()
    time.sleep(a.hold)  # behaviour: a client that stays connected
if rc == 0 and a.then_publish is not None:
    t = b"t/big"
    body = struct.pack(">H", len(t)) + t + b"x" * a.then_publish
    a.then_hex = (bytes([0x30]) + varint(len(body)) + body).hex()
if rc == 0 and a.then_frame is not None:
    op, _, hx = a.then_frame.partition(":")
    send_frame(int(op, 0), bytes.fromhex(hx))
    while True:
        while len(rbuf) < 2:
            rbuf += recv_some()
        ln = rbuf[1] & 0x7f
        if ln >= 126: out("frame-too-long", 1)
        while len(rbuf) < 2 + ln:
            rbuf += recv_some()
        op2 = rbuf[0] & 0x0f
        if op2 in (0x0, 0x2):   # MQTT data: skip
            rbuf = rbuf[2 + ln:]
            continue
        out("frame %d %s" % (op2, rbuf[2:2 + ln].hex()), 0)
if rc != 0 or a.then_hex is None:
    out("connack %d" % rc, 0 if rc == 0 else 1)
send_mqtt(bytes.fromhex(a.then_hex))
try:
    d = recv_mqtt(1)
    out("after: data " + d.hex(), 1)
except SystemExit:
    raise
