# sweep.py PORT TIMEOUT [payload] < "NAME HEX" lines: all at once (a thread
# each): connect from 127.0.0.7, send the header (and, with "payload", the
# bytes "mut-NAME"), half-close, read until the peer closes. Prints
# "NAME<TAB>what came back" per line.
import socket, sys, threading
port, tmo = int(sys.argv[1]), float(sys.argv[2])
with_payload = len(sys.argv) > 3 and sys.argv[3] == 'payload'
jobs = [l.split() for l in sys.stdin if l.strip()]
res = {}
def one(name, hexs):
    back = b''
    try:
        c = socket.create_connection(('127.0.0.1', port), tmo, ('127.0.0.7', 0))
        c.settimeout(tmo)
        c.sendall(bytes.fromhex(hexs) + (b'mut-' + name.encode() if with_payload else b''))
        c.shutdown(socket.SHUT_WR)
        while True:
            b = c.recv(4096)
            if not b:
                break
            back += b
    except OSError as e:
        back += b'<%s>' % type(e).__name__.encode()
    res[name] = back.decode(errors='replace').replace('\n', ' ').strip()
ts = [threading.Thread(target=one, args=(n, h)) for n, h in jobs]
for t in ts:
    t.start()
for t in ts:
    t.join()
for n, _ in jobs:
    print('%s\t%s' % (n, res.get(n, '')))
