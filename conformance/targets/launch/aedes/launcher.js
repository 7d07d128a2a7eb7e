// launcher.js - aedes as a ppmq-conform target: a TCP and a WebSocket MQTT
// listener made by aedes-server-factory with `trustProxy: true` (PROXY
// headers decoded by aedes-protocol-decoder), and a small HTTP API that shows
// what aedes recorded for each client (client.connDetails).
//
//   node launcher.js            (or: npm start)
//
// Environment:
//   AEDES_HOST          bind address of every listener (default 127.0.0.1)
//   AEDES_TCP_PORT      MQTT over TCP (default: a free port)
//   AEDES_WS_PORT       MQTT over WebSocket, any path (default: a free port)
//   AEDES_ADMIN_PORT    the HTTP API below (default: a free port)
//   AEDES_USERNAME, AEDES_PASSWORD   the one accepted login (default
//                       ppmq / ppmq-secret); anything else is refused
//   AEDES_TRUST_PROXY   1 (default) or 0: aedes-server-factory's trustProxy
//   AEDES_DECODER_GUARD 1: catch what aedes-protocol-decoder throws and close
//                       that connection. Default 0, aedes as shipped: some
//                       headers make the decoder throw in a stream callback,
//                       which ends the whole process (see docs/brokers.md).
//   AEDES_NO_INSTALL    1: do not run `npm ci` when node_modules is missing
//
// HTTP API (JSON):
//   GET /healthz                 200 {"status": "ok", ...ports} once listening
//   GET /clients                 every known client (connected or not)
//   GET /clients/{id}            {"clientId", "connected", "username",
//                                 "listener", "connDetails"}, 404 if unknown
//   GET /unauthorized            refused logins, oldest first
//   GET /unauthorized/{id}       the last refused login of that client id
//   DELETE /unauthorized         clears that list
// connDetails is aedes' own record: ipAddress, port, ipFamily,
// serverIpAddress, serverPort, isProxy (0 none, 1 v1, 2 v2), isWebsocket,
// isTls (the raw bytes after the header and TLS details are left out).
//
// It prints "aedes-launcher: ready tcp=P ws=P admin=P" when every listener
// is up, and stops on SIGTERM / SIGINT.
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const HERE = path.dirname(fileURLToPath(import.meta.url))
const ME = 'aedes-launcher'
const MAX_RECORDS = 10000

function log (msg) {
  process.stdout.write(`${ME}: ${msg}\n`)
}

function die (msg, code = 1) {
  process.stderr.write(`${ME}: ${msg}\n`)
  process.exit(code)
}

// The dependencies are pinned by package-lock.json; install them on first
// use. A lock directory keeps two launchers from installing at once.
function ensureModules () {
  const need = ['aedes', 'aedes-server-factory', 'aedes-protocol-decoder']
  const present = () => need.every((m) => fs.existsSync(path.join(HERE, 'node_modules', m, 'package.json')))
  if (present()) return
  if (process.env.AEDES_NO_INSTALL === '1') {
    die(`node_modules is missing in ${HERE} (run: npm ci --prefix ${HERE})`, 4)
  }
  const lock = path.join(HERE, '.install-lock')
  const deadline = Date.now() + 180000
  for (;;) {
    try {
      fs.mkdirSync(lock)
      break
    } catch (e) {
      if (e.code !== 'EEXIST') die(`cannot create ${lock}: ${e.message}`)
      if (Date.now() > deadline) die(`${lock} is held for too long (remove it if no install runs)`)
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200)
    }
  }
  try {
    if (!present()) {
      log(`installing dependencies: npm ci in ${HERE}`)
      const r = spawnSync('npm', ['ci', '--no-audit', '--no-fund', '--omit=dev'], {
        cwd: HERE,
        stdio: ['ignore', 'inherit', 'inherit'],
        timeout: 170000
      })
      if (r.error || r.status !== 0) {
        die(`npm ci failed (${r.error ? r.error.message : 'status ' + r.status}); is the npm registry reachable?`, 4)
      }
    }
  } finally {
    fs.rmdirSync(lock)
  }
}

function portFromEnv (name) {
  const v = process.env[name]
  if (v === undefined || v === '') return 0
  const n = Number(v)
  if (!Number.isInteger(n) || n < 0 || n > 65535) die(`${name}: '${v}' is not a port`, 2)
  return n
}

function listen (server, port, host) {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.removeListener('error', reject)
      resolve(server.address().port)
    })
  })
}

// What connDetails shows, without the buffers it may carry.
function details (cd) {
  if (!cd) return null
  const out = {}
  for (const k of ['ipAddress', 'port', 'ipFamily', 'serverIpAddress', 'serverPort',
    'isProxy', 'isWebsocket', 'isTls', 'certAuthorized']) {
    if (cd[k] !== undefined) out[k] = cd[k]
  }
  return out
}

// A Map bounded to MAX_RECORDS entries, oldest dropped first.
function remember (map, key, value) {
  map.delete(key)
  map.set(key, value)
  if (map.size > MAX_RECORDS) map.delete(map.keys().next().value)
}

async function main () {
  ensureModules()
  const { Aedes } = await import('aedes')
  const { createServer } = (await import('aedes-server-factory')).default ||
    await import('aedes-server-factory')
  const { protocolDecoder } = (await import('aedes-protocol-decoder')).default ||
    await import('aedes-protocol-decoder')

  const host = process.env.AEDES_HOST || '127.0.0.1'
  const user = process.env.AEDES_USERNAME || 'ppmq'
  const pass = process.env.AEDES_PASSWORD || 'ppmq-secret'
  const trustProxy = (process.env.AEDES_TRUST_PROXY || '1') !== '0'
  const guard = process.env.AEDES_DECODER_GUARD === '1'
  let decoderErrors = 0
  const clients = new Map() // client id -> record
  const refused = [] // refused logins, oldest first

  const broker = await Aedes.createBroker({
    authenticate (client, username, password, cb) {
      const ok = username === user && password !== undefined && password !== null &&
        password.toString() === pass
      if (!ok) {
        refused.push({
          clientId: client.id,
          username: username === undefined ? null : username,
          passwordProvided: password !== undefined && password !== null,
          listener: client.connDetails && client.connDetails.isWebsocket ? 'ws' : 'tcp',
          connDetails: details(client.connDetails),
          ts: new Date().toISOString()
        })
        if (refused.length > MAX_RECORDS) refused.shift()
        const err = new Error('bad user name or password')
        err.returnCode = username === undefined ? 5 : 4
        return cb(err, false)
      }
      cb(null, true)
    }
  })
  broker.on('client', (client) => {
    remember(clients, client.id, {
      clientId: client.id,
      connected: true,
      username: user,
      listener: client.connDetails && client.connDetails.isWebsocket ? 'ws' : 'tcp',
      connDetails: details(client.connDetails),
      connectedAt: new Date().toISOString()
    })
  })
  broker.on('clientDisconnect', (client) => {
    const r = clients.get(client.id)
    if (r) {
      r.connected = false
      r.disconnectedAt = new Date().toISOString()
    }
  })
  // Bad input from a client is that client's problem, never the launcher's.
  broker.on('clientError', () => {})
  broker.on('connectionError', () => {})
  broker.on('error', () => {})

  const factoryOpts = { trustProxy }
  if (guard) {
    // The factory calls the decoder from a 'readable' handler: an exception
    // there is uncaught. Caught here, it closes only that connection; aedes
    // then sees a destroyed socket and drops the client.
    factoryOpts.protocolDecoder = (conn, buffer, req) => {
      try {
        return protocolDecoder(conn, buffer, req)
      } catch (e) {
        decoderErrors++
        log(`decoder error, connection closed: ${e && e.name}: ${e && e.message}`)
        const sock = conn.socket || conn
        sock.destroy()
        return { isProxy: 0, isWebsocket: false, isTls: false, data: Buffer.alloc(0) }
      }
    }
  }
  const tcp = createServer(broker, factoryOpts)
  const ws = createServer(broker, { ...factoryOpts, ws: true })
  const ports = {}
  ports.tcp = await listen(tcp, portFromEnv('AEDES_TCP_PORT'), host)
  ports.ws = await listen(ws, portFromEnv('AEDES_WS_PORT'), host)

  const admin = http.createServer((req, res) => {
    const send = (code, body) => {
      const text = JSON.stringify(body)
      res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
      res.end(text)
    }
    let url
    try {
      url = new URL(req.url, 'http://x')
    } catch {
      return send(400, { error: 'bad url' })
    }
    const parts = url.pathname.split('/').filter(Boolean).map((p) => {
      try { return decodeURIComponent(p) } catch { return p }
    })
    if (req.method === 'GET' && url.pathname === '/healthz') {
      return send(200, { status: 'ok', aedes: broker.version, trustProxy, decoderGuard: guard, decoderErrors, ...ports })
    }
    if (parts[0] === 'clients' && req.method === 'GET') {
      if (parts.length === 1) return send(200, [...clients.values()])
      if (parts.length === 2) {
        const r = clients.get(parts[1])
        return r ? send(200, r) : send(404, { error: 'no such client' })
      }
    }
    if (parts[0] === 'unauthorized') {
      if (req.method === 'DELETE' && parts.length === 1) {
        refused.length = 0
        return send(200, [])
      }
      if (req.method === 'GET' && parts.length === 1) return send(200, refused)
      if (req.method === 'GET' && parts.length === 2) {
        for (let i = refused.length - 1; i >= 0; i--) {
          if (refused[i].clientId === parts[1]) return send(200, refused[i])
        }
        return send(404, { error: 'no refused login for this client id' })
      }
    }
    send(404, { error: 'not found' })
  })
  ports.admin = await listen(admin, portFromEnv('AEDES_ADMIN_PORT'), host)

  let stopping = false
  const stop = (sig) => {
    if (stopping) return
    stopping = true
    log(`${sig}: stopping`)
    // Bounded: whatever is still open after 2 s is dropped with the process.
    setTimeout(() => process.exit(0), 2000).unref()
    for (const s of [tcp, ws, admin]) {
      s.close()
      if (s.closeAllConnections) s.closeAllConnections()
    }
    broker.close(() => process.exit(0))
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
  process.on('SIGHUP', () => stop('SIGHUP'))

  log(`ready tcp=${ports.tcp} ws=${ports.ws} admin=${ports.admin} host=${host} ` +
    `aedes=${broker.version} trustProxy=${trustProxy} decoderGuard=${guard} pid=${process.pid}`)
}

main().catch((e) => die(e && e.stack ? e.stack : String(e)))
