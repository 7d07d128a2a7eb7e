# hold.py - idle TCP connections held open (a slowloris on an HTTP port),
# and an HTTP GET made while they are:
#
#   hold.py --port P --count N [--bind ADDR | --bind-from ADDR] [--closed K]
#           [--get PATH] [--all-closed] [--timeout S]
#
# Opens N connections to 127.0.0.1:P, all from ADDR (--bind), or one from
# each of ADDR, ADDR+1, ... (--bind-from), and sends nothing on them.
# Then, in this order, each wait with the deadline --timeout (20 s):
#   --closed K    waits until the server has closed K of them: "closed K"
#   --get PATH    GET http://127.0.0.1:P/PATH from 127.0.0.1: "get STATUS"
#                 (or "get failed WHY"), then, at once, how many of the N
#                 the server has not closed: "still open M"
#   --all-closed  waits until the server has closed every one: "all closed"
# First line: "open N" (connections established). A wait that runs out
# prints "timeout (closed C)" and exits 1.
import argparse, ipaddress, select, socket, sys, time, urllib.request

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--count", type=int, required=True)
ap.add_argument("--bind", default=None)
ap.add_argument("--bind-from", default=None)
ap.add_argument("--closed", type=int, default=None)
ap.add_argument("--get", default=None)
ap.add_argument("--all-closed", action="store_true")
ap.add_argument("--timeout", type=float, default=20.0)
a = ap.parse_args()

def say(s):
    print(s)
    sys.stdout.flush()

socks = []
for i in range(a.count):
    src = a.bind
    if a.bind_from:
        src = str(ipaddress.ip_address(a.bind_from) + i)
    s = socket.create_connection(("127.0.0.1", a.port), timeout=a.timeout,
                                 source_address=(src, 0) if src else None)
    s.setblocking(False)
    socks.append(s)
say("open %d" % len(socks))
closed = set()

def look(wait):
    """Sockets the server closed, noticed within wait seconds."""
    live = [s for s in socks if s not in closed]
    if not live:
        return
    r, _, _ = select.select(live, [], [], wait)
    for s in r:
        try:
            if s.recv(4096) == b"":
                closed.add(s)
        except BlockingIOError:
            pass
        except OSError:
            closed.add(s)

def wait_closed(n):
    deadline = time.time() + a.timeout
    while len(closed) < n:
        if time.time() > deadline:
            say("timeout (closed %d)" % len(closed))
            sys.exit(1)
        look(0.05)   # a poll interval, not a synchronisation

if a.closed is not None:
    wait_closed(a.closed)
    say("closed %d" % len(closed))
if a.get:
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (a.port, a.get),
                                    timeout=a.timeout) as r:
            say("get %d" % r.status)
    except urllib.error.HTTPError as e:
        say("get %d" % e.code)
    except Exception as e:
        say("get failed %s" % e)
    look(0)
    say("still open %d" % (len(socks) - len(closed)))
if a.all_closed:
    wait_closed(len(socks))
    say("all closed")
