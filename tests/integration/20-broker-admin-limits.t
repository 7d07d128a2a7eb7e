#!/usr/bin/env bash
# 20-broker-admin-limits.t - the admin API under a slowloris: idle TCP
# connections that send nothing do not keep /healthz waiting.
#   - 64 idle connections from 64 addresses: /healthz is answered while
#     all 64 are still open (they are neither in its way nor closed to
#     make room: admin.idle_timeout is long here);
#   - 64 from one address: admin.max_connections_per_client (8 here) are kept,
#     the other 56 closed at once; /healthz is answered;
#   - admin.idle_timeout: idle connections are closed (default 2 s);
#   - without admin.token, DELETE is refused (403) and GET still works.
# tests/lib/hold.py holds the connections and makes the request.
# shellcheck source=tests/lib/broker.bash
. "$(dirname "$0")/../lib/broker.bash"

[ -x "$BROKER" ] || skip_all "no $BROKER (make bin/ppmq-broker)"
"$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.73", 0))' 2>/dev/null ||
	skip_all "cannot bind 127.0.0.10-127.0.0.73 (the slowloris' addresses)"
plan 12

HOLD=$ROOT/tests/lib/hold.py
hold() { timeout 120 "$PY" "$HOLD" --port "$B_ADMIN" --timeout "$(($(_ms 20) / 1000))" "$@"; }

start_broker slow ADMIN_IDLE_TIMEOUT=60s ADMIN_MAX_CONNECTIONS_PER_CLIENT=8 || exit 1
out=$(hold --count 64 --bind-from 127.0.0.10 --get /healthz)
like "$out" 'open 64*' "64 idle connections from 64 addresses are open"
like "$out" $'*\nget 200\n*' "/healthz answers meanwhile"
like "$out" $'*\nstill open 64' "and all 64 are still open: none was in its way"

out=$(hold --count 64 --bind 127.0.0.9 --closed 56 --get /healthz)
like "$out" $'*\nclosed 56\n*' "64 from one address: 56 closed at once (admin.max_connections_per_client 8)"
like "$out" $'*\nget 200\n*' "/healthz answers meanwhile"
like "$out" $'*\nstill open 8' "8 kept"
stop_broker

start_broker fast || exit 1
out=$(hold --count 16 --bind-from 127.0.0.10 --all-closed)
like "$out" $'*\nall closed' "idle connections are closed (admin.idle_timeout, default 2 s)"
is "$(admin_status /healthz)" 200 "and /healthz answers"
is "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X DELETE \
	"http://127.0.0.1:$B_ADMIN/api/v1/unauthorized-clients")" 403 \
	"without admin.token, DELETE is refused"
is "$(admin_status /api/v1/unauthorized-clients)" 200 "GET still works"
stop_broker

start_broker token ADMIN_TOKEN=s3cret || exit 1
is "$(admin_status /api/v1/sessions)" 401 "with admin.token: no token, 401"

check "brokers exited cleanly, no sanitizer or valgrind report" brokers_clean
done_testing
