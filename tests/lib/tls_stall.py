# tls_stall.py PORT N [TIMEOUT]: N TLS handshakes stalled after the
# ClientHello (the server's answer is read and thrown away, never
# answered), then waits until the server has closed them all.
# Prints "stalled N", then "closed N" (or "timeout (closed C)", exit 1).
# client_hello() is also used by bench/soak.py.
import resource, selectors, socket, ssl, sys, time


_ctx = None


def client_hello():
    """The first bytes of a TLS client (one that verifies nothing): its
    ClientHello, made in memory (one context for every call)."""
    global _ctx
    if _ctx is None:
        _ctx = ssl.create_default_context()
        _ctx.check_hostname = False
        _ctx.verify_mode = ssl.CERT_NONE
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    hello = _ctx.wrap_bio(inc, out, server_hostname="localhost")
    try:
        hello.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def main():
    port, n = int(sys.argv[1]), int(sys.argv[2])
    tmo = float(sys.argv[3]) if len(sys.argv) > 3 else 60.0
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    sel = selectors.DefaultSelector()
    for i in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(client_hello())
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    print("stalled %d" % n, flush=True)
    left = n
    deadline = time.time() + tmo
    while left and time.time() < deadline:
        for key, _ in sel.select(timeout=0.2):
            try:
                d = key.fileobj.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                d = b""
            if not d:
                sel.unregister(key.fileobj)
                key.fileobj.close()
                left -= 1
    if left:
        print("timeout (closed %d)" % (n - left), flush=True)
        sys.exit(1)
    print("closed %d" % n, flush=True)


if __name__ == "__main__":
    main()
