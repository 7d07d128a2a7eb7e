#!/usr/bin/env python3
"""tbmq_api.py - a small HTTP server on loopback that answers like TBMQ's
REST API, from what a ppmq-broker records: the test double of an observer
that must log in.

    tbmq_api.py --admin http://127.0.0.1:ADMIN_PORT --port-file FILE --log FILE
                [--port N] [--user U --password P] [--expire-after N] [--state FILE]

It listens on 127.0.0.1, on --port or a free port (written to --port-file
once it listens), and serves, as TBMQ does (thingsboard/tbmq: AuthController's
login filter, ClientSessionController, UnauthorizedClientController):

    POST /api/auth/login                    JSON {"username", "password"} ->
                                            {"token", "refreshToken"}; 401 otherwise
    POST /api/mqtt/client/credentials       MQTT_BASIC credentials (credentialsValue a
                                            JSON text); the same user again: 400
                                            "Specified credentials are already registered!"
    GET  /api/client-session?clientId=ID    the session: clientIpAdr (no port),
                                            connectionState CONNECTED / DISCONNECTED
    GET  /api/unauthorized/client?clientId=ID   the refused login: ipAddress, reason ...

The GETs need "X-Authorization: Bearer <token>" with a token it issued
(401 otherwise), and they read ppmq-broker's admin API (--admin) for the
data. --expire-after N: the token that serves the Nth authorized GET
expires right after it, once in the server's life (the next request with
it gets TBMQ's 401 "Token has expired"). Every token issued is appended
to FILE.tokens (the test checks that none leaks); every request is one
JSON line in --log: method, path, what the token was (none, valid,
expired, unknown) and the status answered. --state FILE keeps the MQTT
users created across restarts of this server, as TBMQ's database does.
"""
import argparse
import os
import json
import secrets
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.valid = set()
        self.expired = set()
        self.authorized_gets = 0
        self.expired_once = False
        self.mqtt_users = set()
        if args.state and os.path.exists(args.state):
            with open(args.state) as f:
                self.mqtt_users = set(json.load(f))

    def issue(self):
        token = 'tbmq-jwt-' + secrets.token_hex(24)
        with self.lock:
            self.valid.add(token)
            with open(self.args.log + '.tokens', 'a') as f:
                f.write(token + '\n')
        return token

    def check(self, header):
        """'valid', 'expired', 'unknown' or 'none' for an X-Authorization value."""
        if not header:
            return 'none'
        if not header.startswith('Bearer '):
            return 'unknown'
        token = header[len('Bearer '):]
        with self.lock:
            if token in self.expired:
                return 'expired'
            if token not in self.valid:
                return 'unknown'
            self.authorized_gets += 1
            if not self.expired_once and self.authorized_gets == self.args.expire_after:
                self.expired_once = True
                self.valid.discard(token)
                self.expired.add(token)
        return 'valid'


def admin_get(state, path):
    try:
        with urllib.request.urlopen(state.args.admin + path, timeout=5) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, None


def session_of(state, client_id):
    status, s = admin_get(state, '/api/v1/sessions/' + urllib.parse.quote(client_id, safe=''))
    if status != 200:
        return None
    return {'id': s.get('clientId'), 'clientId': s.get('clientId'),
            'sessionId': '00000000-0000-0000-0000-000000000001',
            'connectionState': 'CONNECTED' if s.get('connected') else 'DISCONNECTED',
            'clientType': 'DEVICE', 'nodeId': 'ppmq', 'cleanStart': True,
            'subscriptions': [], 'clientIpAdr': s.get('clientIp')}


def unauthorized_of(state, client_id):
    status, arr = admin_get(state, '/api/v1/unauthorized-clients')
    found = None
    for u in (arr or []) if status == 200 else []:
        if u.get('clientId') == client_id:
            found = u
    if not found:
        return None
    return {'clientId': client_id, 'ipAddress': found.get('clientIp'), 'ts': 1,
            'username': found.get('username'), 'passwordProvided': found.get('passwordProvided'),
            'tlsUsed': found.get('tlsUsed'), 'reason': found.get('reason')}


def error(status, message, code):
    return status, {'status': status, 'message': message, 'errorCode': code, 'timestamp': 0}


class Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, fmt, *args):
        pass

    def answer(self, status, doc, token_state, extra=None):
        body = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        line = {'method': self.command, 'path': self.path, 'token': token_state, 'status': status}
        line.update(extra or {})
        with self.server.state.lock, open(self.server.state.args.log, 'a') as f:
            f.write(json.dumps(line) + '\n')

    def credentials(self, raw):
        """POST /api/mqtt/client/credentials, as an administrator."""
        state = self.server.state
        tok = state.check(self.headers.get('X-Authorization'))
        if tok != 'valid':
            return self.answer(*error(401, 'Authentication failed', 10), tok)
        try:
            doc = json.loads(raw)
            value = json.loads(doc['credentialsValue'])
        except (ValueError, KeyError, TypeError):
            return self.answer(*error(400, 'Invalid request payload', 31), tok)
        seen = {'name': doc.get('name'), 'type': doc.get('credentialsType'),
                'clientType': doc.get('clientType'), 'user': value.get('userName'),
                'password_set': bool(value.get('password')), 'rules': value.get('authRules')}
        if doc.get('credentialsType') != 'MQTT_BASIC' or not value.get('userName'):
            return self.answer(*error(400, 'Invalid request payload', 31), tok, {'credentials': seen})
        with state.lock:
            again = value['userName'] in state.mqtt_users
            state.mqtt_users.add(value['userName'])
            if state.args.state:
                with open(state.args.state, 'w') as f:
                    json.dump(sorted(state.mqtt_users), f)
        if again:
            return self.answer(*error(400, 'Specified credentials are already registered!', 31), tok,
                               {'credentials': seen})
        self.answer(200, dict(doc, id={'id': secrets.token_hex(8)}), tok, {'credentials': seen})

    def do_POST(self):
        state = self.server.state
        length = int(self.headers.get('Content-Length') or 0)
        raw = self.rfile.read(length)
        if self.path == '/api/mqtt/client/credentials':
            return self.credentials(raw)
        if self.path != '/api/auth/login':
            return self.answer(*error(404, 'Not found', 32), 'none')
        if 'application/json' not in (self.headers.get('Content-Type') or ''):
            return self.answer(*error(400, 'Invalid request payload', 31), 'none')
        try:
            creds = json.loads(raw)
        except ValueError:
            return self.answer(*error(400, 'Invalid request payload', 31), 'none')
        if creds.get('username') != state.args.user or creds.get('password') != state.args.password:
            return self.answer(*error(401, 'Invalid username or password', 10), 'login-refused')
        self.answer(200, {'token': state.issue(), 'refreshToken': 'r-' + secrets.token_hex(8)}, 'login')

    def do_GET(self):
        state = self.server.state
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        tok = state.check(self.headers.get('X-Authorization'))
        if tok == 'expired':
            return self.answer(*error(401, 'Token has expired', 11), tok)
        if tok != 'valid':
            return self.answer(*error(401, 'Authentication failed', 10), tok)
        client_id = (query.get('clientId') or [''])[0]
        if url.path == '/api/client-session':
            rec = session_of(state, client_id)
        elif url.path == '/api/unauthorized/client':
            rec = unauthorized_of(state, client_id)
        else:
            rec = None
        if rec is None:
            return self.answer(*error(404, "Requested item wasn't found!", 32), tok)
        self.answer(200, rec, tok)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--admin', required=True)
    ap.add_argument('--port-file', required=True)
    ap.add_argument('--log', required=True)
    ap.add_argument('--user', default='sysadmin@thingsboard.org')
    ap.add_argument('--password', default='sysadmin')
    ap.add_argument('--expire-after', type=int, default=0)
    ap.add_argument('--port', type=int, default=0)
    ap.add_argument('--state')
    args = ap.parse_args()
    server = ThreadingHTTPServer(('127.0.0.1', args.port), Handler)
    server.daemon_threads = True
    server.state = State(args)
    with open(args.port_file + '.tmp', 'w') as f:
        f.write('%d\n' % server.server_address[1])
    os.rename(args.port_file + '.tmp', args.port_file)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == '__main__':
    sys.exit(main())
