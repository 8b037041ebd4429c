// A configurable js-libp2p peer for shoal's interoperability tests and
// benchmarks. Run it as
//
//   node --import ./polyfill.mjs peer.mjs <command> [options]
//
// (the polyfill gives Node 20 the Promise.withResolvers that js-libp2p 3.x
// needs; peer.mjs also imports it first, so `node peer.mjs` works too). Every line on stdout is one JSON object with an "event" field;
// diagnostics go to stderr. Every run is bounded in time: after --timeout
// seconds the program prints {"event":"error","name":"Timeout",...} and
// exits 3. Exit codes: 0 success, 1 the operation failed (an error event
// says why), 2 bad usage, 3 timeout.
//
// Commands (see README.md and `peer.mjs help`):
//   listen    serve echo, perf, ping and identify until killed or timeout
//   genid     print a fresh (or --seed derived) identity, then exit
//   ping      dial --addr and ping it --count times
//   identify  dial --addr and print what the remote said in identify
//   echo      --streams concurrent /shoal/echo/1.0.0 streams of --bytes each
//   perf      one /perf/1.0.0 stream: --upload bytes up, --download bytes down
//   conns     --count connections (dial, upgrade, one ping, close),
//             --concurrency at a time
//   idle      stay connected --seconds, report whether the connection lived
//
// Byte pattern (echo, perf, both directions): the byte at offset i of a
// payload is (i + start) mod 251, where start is 0 for perf (offset 0 is the
// first byte after perf's 8-byte header on upload, the first byte of the
// reply on download) and the stream's index 0..N-1 for echo. 251 is prime,
// so a lost, repeated or reordered chunk of any power-of-two size shows.

import './polyfill.mjs' // first: evaluated before the libp2p modules below
import { parseArgs } from 'node:util'
import { performance } from 'node:perf_hooks'
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { multiaddr } from '@multiformats/multiaddr'
import {
  generateKeyPair, generateKeyPairFromSeed, privateKeyToProtobuf, publicKeyToProtobuf
} from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'

export const ECHO_PROTOCOL = '/shoal/echo/1.0.0'
export const PERF_PROTOCOL = '/perf/1.0.0'
export const PING_PROTOCOL = '/ipfs/ping/1.0.0'

// ---------------------------------------------------------------- output

function out (obj) {
  process.stdout.write(JSON.stringify(obj) + '\n')
}

function warn (msg) {
  process.stderr.write(`peer: ${msg}\n`)
}

function errorInfo (err) {
  const info = { name: err?.name ?? 'Error', message: err?.message ?? String(err) }
  if (err?.code != null) info.code = err.code
  if (Array.isArray(err?.errors) && err.errors.length > 0) {
    info.errors = err.errors.map(e => ({ name: e?.name, message: e?.message }))
  }
  return info
}

let exiting = false
async function finish (code, node) {
  if (exiting) return
  exiting = true
  if (node != null) {
    // stop politely, but never hang on it
    await Promise.race([
      node.stop().catch(() => {}),
      new Promise(resolve => setTimeout(resolve, 2000).unref())
    ])
  }
  process.exit(code)
}

class UsageError extends Error {
  constructor (msg) { super(msg); this.name = 'UsageError' }
}

// ---------------------------------------------------------------- options

const optionSpec = {
  timeout: { type: 'string' }, // seconds, whole run
  host: { type: 'string' }, // listen host (listen), default 127.0.0.1
  port: { type: 'string' }, // listen port (listen), default 0 = any
  listen: { type: 'string', multiple: true }, // listen multiaddrs (any command)
  seed: { type: 'string' }, // 64 hex chars: Ed25519 seed of our identity
  addr: { type: 'string' }, // remote multiaddr, with /p2p/<id>
  count: { type: 'string' },
  interval: { type: 'string' }, // ms between pings (ping)
  'same-stream': { type: 'boolean' }, // ping: all pings on one stream
  streams: { type: 'string' },
  bytes: { type: 'string' },
  upload: { type: 'string' },
  download: { type: 'string' },
  concurrency: { type: 'string' },
  seconds: { type: 'string' },
  'ping-interval': { type: 'string' }, // ms, js connection monitor
  'no-monitor': { type: 'boolean' }, // disable the connection monitor
  'no-verify': { type: 'boolean' }, // skip byte-for-byte checks
  optimistic: { type: 'boolean' }, // negotiateFully: false on new streams
  identify: { type: 'boolean' }, // conns: run identify on each connection
  'max-streams': { type: 'string' }, // listen: per-protocol stream limits
  'default-limits': { type: 'boolean' }, // listen: keep js's inbound rate limits
  linger: { type: 'string' }, // seconds to stay connected after the work
  stdin: { type: 'boolean' }, // exit 0 when stdin reaches EOF
  help: { type: 'boolean' }
}

function num (opts, name, dflt, { min = 0, integer = true } = {}) {
  const v = opts[name]
  if (v == null) return dflt
  const n = Number(v)
  if (!Number.isFinite(n) || n < min || (integer && !Number.isInteger(n))) {
    throw new UsageError(`--${name} wants a number >= ${min}, got "${v}"`)
  }
  return n
}

function needAddr (opts) {
  if (opts.addr == null) throw new UsageError('--addr MULTIADDR is required')
  let ma
  try {
    ma = multiaddr(opts.addr)
  } catch (err) {
    throw new UsageError(`--addr: ${err.message}`)
  }
  if (ma.getComponents().find(c => c.name === 'p2p') == null) {
    throw new UsageError('--addr must end in /p2p/<peer id>')
  }
  return ma
}

// ---------------------------------------------------------------- bytes

const PATTERN_MOD = 251
const CHUNK = 64 * 1024
const PATTERN = new Uint8Array(PATTERN_MOD * 1024) // 257,024 bytes
for (let i = 0; i < PATTERN.length; i++) PATTERN[i] = i % PATTERN_MOD

// the Uint8Arrays inside a received chunk (Uint8Array or Uint8ArrayList)
function * pieces (chunk) {
  if (chunk instanceof Uint8Array) yield chunk
  else yield * chunk
}

// offset of the first byte of buf that breaks the pattern, or -1;
// off is the stream offset of buf[0] plus the pattern start
function patternMismatch (buf, off) {
  let i = 0
  while (i < buf.length) {
    const n = Math.min(buf.length - i, PATTERN.length - PATTERN_MOD)
    const s = (off + i) % PATTERN_MOD
    const got = buf.subarray(i, i + n)
    if (Buffer.compare(got, PATTERN.subarray(s, s + n)) !== 0) {
      for (let j = 0; j < n; j++) {
        if (got[j] !== PATTERN[s + j]) return i + j
      }
    }
    i += n
  }
  return -1
}

// send `total` pattern bytes starting at pattern offset `start`, with
// back-pressure
async function sendPattern (stream, total, start = 0, signal) {
  let off = 0
  while (off < total) {
    const n = Math.min(CHUNK, total - off)
    const s = (start + off) % PATTERN_MOD
    if (!stream.send(PATTERN.subarray(s, s + n))) {
      await stream.onDrain({ signal })
    }
    off += n
  }
}

// read to EOF, counting and (unless verify is false) checking the pattern;
// returns { bytes, mismatchAt (-1 if none), firstByteAt (ms) }
async function readPattern (stream, start, verify, maxBytes = Infinity) {
  let bytes = 0
  let mismatchAt = -1
  let firstByteAt = null
  for await (const chunk of stream) {
    if (firstByteAt == null) firstByteAt = performance.now()
    for (const buf of pieces(chunk)) {
      if (verify && mismatchAt < 0) {
        const m = patternMismatch(buf, start + bytes)
        if (m >= 0) mismatchAt = bytes + m
      }
      bytes += buf.length
    }
    if (bytes > maxBytes) break
  }
  return { bytes, mismatchAt, firstByteAt }
}

// one ping round trip on an open /ipfs/ping/1.0.0 stream; returns ms
async function pingRoundTrip (stream) {
  const data = crypto.getRandomValues(new Uint8Array(32))
  const got = []
  let have = 0
  const { promise, resolve, reject } = Promise.withResolvers()
  const onMessage = (evt) => {
    for (const buf of pieces(evt.data)) { got.push(buf); have += buf.length }
    if (have >= 32) resolve()
  }
  const onClose = (evt) => reject(evt.error ?? new Error('ping stream closed before the pong'))
  stream.addEventListener('message', onMessage)
  stream.addEventListener('close', onClose)
  const t0 = performance.now()
  try {
    stream.send(data)
    await promise
  } finally {
    stream.removeEventListener('message', onMessage)
    stream.removeEventListener('close', onClose)
  }
  const rtt = performance.now() - t0
  const echoed = Buffer.concat(got)
  if (echoed.length !== 32 || Buffer.compare(echoed, data) !== 0) {
    throw new Error(`ping: wrong pong (${echoed.length} bytes)`)
  }
  return rtt
}

// ---------------------------------------------------------------- node

function hexBytes (hex, len, what) {
  if (!/^[0-9a-fA-F]*$/.test(hex) || hex.length !== len * 2) {
    throw new UsageError(`${what} wants ${len * 2} hex digits`)
  }
  return Uint8Array.from(Buffer.from(hex, 'hex'))
}

async function makeKey (opts) {
  if (opts.seed != null) {
    return generateKeyPairFromSeed('Ed25519', hexBytes(opts.seed, 32, '--seed'))
  }
  return generateKeyPair('Ed25519')
}

// best effort: our own address on a TCP connection (js keeps no localAddr on
// a Connection; this reads libp2p's internal socket, null when it can't)
function localAddrOf (conn) {
  const s = conn?.maConn?.socket
  if (s?.localAddress == null || s.localPort == null) return null
  const fam = s.localFamily === 'IPv6' || s.localAddress.includes(':') ? 'ip6' : 'ip4'
  return `/${fam}/${s.localAddress}/tcp/${s.localPort}`
}

function connInfo (conn) {
  return {
    id: conn.id,
    direction: conn.direction,
    peerId: conn.remotePeer.toString(),
    remoteAddr: conn.remoteAddr.toString(),
    localAddr: localAddrOf(conn),
    encryption: conn.encryption,
    multiplexer: conn.multiplexer
  }
}

function identifyInfo (r) {
  return {
    peerId: r.peerId.toString(),
    protocols: [...r.protocols].sort(),
    listenAddrs: r.listenAddrs.map(String),
    observedAddr: r.observedAddr?.toString() ?? null,
    agentVersion: r.agentVersion ?? null,
    protocolVersion: r.protocolVersion ?? null,
    connectionId: r.connection?.id ?? null,
    remoteAddr: r.connection?.remoteAddr?.toString() ?? null,
    localAddr: localAddrOf(r.connection)
  }
}

// a multiaddr's text without its /p2p/<id> part
function withoutPeer (ma) {
  const s = ma.toString()
  const i = s.indexOf('/p2p/')
  return i < 0 ? s : s.slice(0, i)
}

// build a started node; `events` prints connection and identify events
async function makeNode (opts, {
  listen = [], withIdentify = true, withPing = true, events = true, server = false
} = {}) {
  const privateKey = await makeKey(opts)
  const services = {}
  if (withIdentify) services.identify = identify()
  if (withPing) services.ping = ping()

  // inbound connections that never finished their upgrade (for instance a
  // dialer that expected another peer id and gave up during Noise)
  const pendingInbound = new Map()
  const connectionGater = {
    denyInboundConnection: (maConn) => {
      const key = withoutPeer(maConn.remoteAddr)
      pendingInbound.set(key, maConn)
      maConn.addEventListener('close', (evt) => {
        if (pendingInbound.get(key) === maConn) {
          pendingInbound.delete(key)
          if (events) {
            out({
              event: 'inbound_failed',
              remoteAddr: key,
              error: evt.error != null ? errorInfo(evt.error) : null
            })
          }
        }
      })
      return false
    }
  }

  const connectionManager = { maxConnections: 1024 }
  if (server && !opts['default-limits']) {
    // js's defaults refuse a host that opens more than 5 connections a
    // second and queue more than 10 pending upgrades: tests and benchmarks
    // dial far faster from loopback, so loopback is allow-listed
    connectionManager.allow = ['/ip4/127.0.0.0/ipcidr/8', '/ip6/::1/ipcidr/128']
  }

  const node = await createLibp2p({
    privateKey,
    addresses: { listen },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services,
    connectionGater,
    connectionManager,
    connectionMonitor: {
      enabled: !opts['no-monitor'],
      pingInterval: num(opts, 'ping-interval', 10000, { min: 1 })
    }
  })

  node.addEventListener('connection:open', (evt) => {
    pendingInbound.delete(withoutPeer(evt.detail.remoteAddr))
    if (events) out({ event: 'connection', ...connInfo(evt.detail) })
  })
  node.addEventListener('connection:close', (evt) => {
    if (events) {
      const c = evt.detail
      out({
        event: 'disconnect',
        ...connInfo(c),
        openMs: Math.round(Date.now() - c.timeline.open)
      })
    }
  })
  node.addEventListener('peer:identify', (evt) => {
    if (events) out({ event: 'identify', ...identifyInfo(evt.detail) })
  })
  return node
}

function listenAddrs (opts) {
  if (opts.listen != null) return opts.listen
  if (opts.port == null && opts.host == null) return []
  const host = opts.host ?? '127.0.0.1'
  const fam = host.includes(':') ? 'ip6' : 'ip4'
  return [`/${fam}/${host}/tcp/${num(opts, 'port', 0)}`]
}

function sleep (ms) {
  return new Promise(resolve => setTimeout(resolve, ms))
}

async function linger (opts) {
  const s = num(opts, 'linger', 0, { integer: false })
  if (s > 0) await sleep(s * 1000)
}

// ---------------------------------------------------------------- handlers

function streamError (protocol, conn, err) {
  out({ event: 'stream_error', protocol, peerId: conn.remotePeer.toString(), error: errorInfo(err) })
}

// echo every byte back until the remote closes its write side, then close
function echoHandler (stream, conn) {
  (async () => {
    let bytes = 0
    for await (const chunk of stream) {
      bytes += chunk.byteLength
      if (!stream.send(chunk)) await stream.onDrain()
    }
    await stream.close()
    out({ event: 'echo_served', peerId: conn.remotePeer.toString(), bytes })
  })().catch(err => {
    streamError(ECHO_PROTOCOL, conn, err)
    stream.abort(err)
  })
}

// perf server: read the u64 (bytes wanted back), then everything to EOF,
// then send the wanted bytes and close
function perfHandler (verify) {
  return (stream, conn) => {
    (async () => {
      const t0 = performance.now()
      const header = new Uint8Array(8)
      let headerLen = 0
      let uploaded = 0
      let mismatchAt = -1
      for await (const chunk of stream) {
        for (let buf of pieces(chunk)) {
          if (headerLen < 8) {
            const take = Math.min(8 - headerLen, buf.length)
            header.set(buf.subarray(0, take), headerLen)
            headerLen += take
            buf = buf.subarray(take)
          }
          if (buf.length === 0) continue
          if (verify && mismatchAt < 0) {
            const m = patternMismatch(buf, uploaded)
            if (m >= 0) mismatchAt = uploaded + m
          }
          uploaded += buf.length
        }
      }
      if (headerLen < 8) throw new Error(`perf: stream ended after ${headerLen} of the 8 header bytes`)
      const want = new DataView(header.buffer).getBigUint64(0)
      if (want > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`perf: ${want} bytes requested`)
      const tUp = performance.now()
      await sendPattern(stream, Number(want))
      await stream.close()
      const t1 = performance.now()
      out({
        event: 'perf_served',
        peerId: conn.remotePeer.toString(),
        uploaded,
        uploadOk: verify ? mismatchAt < 0 : null,
        uploadMismatchAt: mismatchAt >= 0 ? mismatchAt : undefined,
        sent: Number(want),
        uploadSeconds: (tUp - t0) / 1000,
        downloadSeconds: (t1 - tUp) / 1000
      })
    })().catch(err => {
      streamError(PERF_PROTOCOL, conn, err)
      stream.abort(err)
    })
  }
}

// ---------------------------------------------------------------- commands

async function cmdGenid (opts) {
  const key = await makeKey(opts)
  out({
    event: 'identity',
    peerId: peerIdFromPrivateKey(key).toString(),
    privateKey: Buffer.from(privateKeyToProtobuf(key)).toString('hex'),
    publicKey: Buffer.from(publicKeyToProtobuf(key.publicKey)).toString('hex')
  })
  return finish(0)
}

async function cmdListen (opts) {
  const listen = listenAddrs(opts)
  if (listen.length === 0) listen.push('/ip4/127.0.0.1/tcp/0')
  const node = await makeNode(opts, { listen, server: true })
  const maxStreams = num(opts, 'max-streams', 1024, { min: 1 })
  const limits = { maxInboundStreams: maxStreams, maxOutboundStreams: maxStreams }
  await node.handle(ECHO_PROTOCOL, echoHandler, limits)
  await node.handle(PERF_PROTOCOL, perfHandler(!opts['no-verify']), limits)
  out({
    event: 'listening',
    peerId: node.peerId.toString(),
    addrs: node.getMultiaddrs().map(String),
    protocols: node.getProtocols().sort()
  })
  const stop = () => finish(0, node)
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
  await new Promise(() => {}) // until a signal, --stdin EOF or --timeout
}

async function dialOrFail (node, ma) {
  const t0 = performance.now()
  const conn = await node.dial(ma)
  return { conn, dialMs: performance.now() - t0 }
}

async function cmdPing (opts) {
  const ma = needAddr(opts)
  const count = num(opts, 'count', 1, { min: 1 })
  const interval = num(opts, 'interval', 0)
  const node = await makeNode(opts, { listen: listenAddrs(opts) })
  const { conn, dialMs } = await dialOrFail(node, ma)
  const rtts = []
  let stream = null
  if (opts['same-stream']) {
    stream = await conn.newStream(PING_PROTOCOL, { negotiateFully: !opts.optimistic })
  }
  for (let i = 0; i < count; i++) {
    if (i > 0 && interval > 0) await sleep(interval)
    const rtt = stream != null
      ? await pingRoundTrip(stream)
      : await node.services.ping.ping(ma) // js's own client: one stream per ping
    rtts.push(rtt)
    out({ event: 'ping', seq: i, rttMs: rtt })
  }
  if (stream != null) await stream.close()
  await linger(opts)
  out({ event: 'ping_done', peerId: conn.remotePeer.toString(), count, dialMs, rttMs: rtts })
  return finish(0, node)
}

async function cmdIdentify (opts) {
  const ma = needAddr(opts)
  const node = await makeNode(opts, { listen: listenAddrs(opts), events: false })
  // identify runs by itself on every new connection: catch its event
  const results = new Map()
  const waiters = new Map()
  node.addEventListener('peer:identify', (evt) => {
    const id = evt.detail.connection?.id
    results.set(id, evt.detail)
    waiters.get(id)?.(evt.detail)
  })
  const { conn, dialMs } = await dialOrFail(node, ma)
  out({ event: 'connection', ...connInfo(conn), dialMs })
  const r = results.get(conn.id) ?? await new Promise(resolve => waiters.set(conn.id, resolve))
  out({ event: 'identify', ...identifyInfo(r) })
  await linger(opts)
  return finish(0, node)
}

async function cmdEcho (opts) {
  const ma = needAddr(opts)
  const streams = num(opts, 'streams', 1, { min: 1 })
  const bytes = num(opts, 'bytes', 1024)
  const verify = !opts['no-verify']
  const node = await makeNode(opts, { listen: listenAddrs(opts), events: false })
  const { conn, dialMs } = await dialOrFail(node, ma)
  const t0 = performance.now()
  const results = await Promise.allSettled(Array.from({ length: streams }, async (_, k) => {
    const stream = await conn.newStream(ECHO_PROTOCOL, {
      maxOutboundStreams: streams + 16, negotiateFully: !opts.optimistic
    })
    const [, got] = await Promise.all([
      sendPattern(stream, bytes, k).then(() => stream.close()),
      readPattern(stream, k, verify, bytes)
    ])
    if (got.bytes !== bytes) throw new Error(`stream ${k}: ${got.bytes} of ${bytes} bytes came back`)
    if (got.mismatchAt >= 0) throw new Error(`stream ${k}: byte ${got.mismatchAt} differs`)
  }))
  const seconds = (performance.now() - t0) / 1000
  const failed = results.filter(r => r.status === 'rejected')
  for (const f of failed.slice(0, 5)) warn(`echo: ${f.reason?.message ?? f.reason}`)
  await linger(opts)
  out({
    event: 'echo',
    peerId: conn.remotePeer.toString(),
    streams,
    bytesPerStream: bytes,
    ok: streams - failed.length,
    failed: failed.length,
    errors: failed.slice(0, 5).map(f => errorInfo(f.reason)),
    verified: verify,
    dialMs,
    seconds
  })
  return finish(failed.length === 0 ? 0 : 1, node)
}

async function cmdPerf (opts) {
  const ma = needAddr(opts)
  const upload = num(opts, 'upload', 0)
  const download = num(opts, 'download', 0)
  const verify = !opts['no-verify']
  const node = await makeNode(opts, { listen: listenAddrs(opts), events: false })
  const { conn, dialMs } = await dialOrFail(node, ma)
  const t0 = performance.now()
  const stream = await conn.newStream(PERF_PROTOCOL, { negotiateFully: !opts.optimistic })
  const header = new Uint8Array(8)
  new DataView(header.buffer).setBigUint64(0, BigInt(download))
  const [, got] = await Promise.all([
    (async () => {
      if (!stream.send(header)) await stream.onDrain()
      await sendPattern(stream, upload)
      await stream.close()
    })(),
    readPattern(stream, 0, verify, download)
  ])
  const t1 = performance.now()
  const seconds = (t1 - t0) / 1000
  const ok = got.bytes === download && got.mismatchAt < 0
  const result = {
    event: 'perf',
    peerId: conn.remotePeer.toString(),
    upload,
    download,
    received: got.bytes,
    ok,
    verified: verify,
    mismatchAt: got.mismatchAt >= 0 ? got.mismatchAt : undefined,
    dialMs,
    seconds,
    // upload phase: until the first reply byte (or the end if none wanted)
    uploadSeconds: ((got.firstByteAt ?? t1) - t0) / 1000,
    downloadSeconds: got.firstByteAt != null ? (t1 - got.firstByteAt) / 1000 : 0,
    bitsPerSecond: (upload + download) * 8 / seconds,
    mibPerSecond: (upload + download) / 1048576 / seconds
  }
  out(result)
  if (!ok) warn(`perf: received ${got.bytes} of ${download} bytes, mismatch at ${got.mismatchAt}`)
  await linger(opts)
  return finish(ok ? 0 : 1, node)
}

async function cmdConns (opts) {
  const ma = needAddr(opts)
  const count = num(opts, 'count', 100, { min: 1 })
  const concurrency = Math.min(num(opts, 'concurrency', 16, { min: 1 }), count)
  // one node per slot: js coalesces concurrent dials to the same peer into
  // one, so a single node cannot have 16 dials in flight to one listener
  const nodes = []
  for (let i = 0; i < concurrency; i++) {
    nodes.push(await makeNode({ ...opts, seed: undefined, 'no-monitor': true }, {
      withIdentify: !!opts.identify, events: false
    }))
  }
  let next = 0
  const latencies = []
  const errors = []
  const t0 = performance.now()
  await Promise.all(nodes.map(async (node) => {
    while (next < count) {
      next++
      const s = performance.now()
      let conn
      try {
        conn = await node.dial(ma)
        const stream = await conn.newStream(PING_PROTOCOL)
        await pingRoundTrip(stream)
        await stream.close()
        await conn.close()
        latencies.push(performance.now() - s)
      } catch (err) {
        conn?.abort(err)
        errors.push(err)
      }
    }
  }))
  const seconds = (performance.now() - t0) / 1000
  latencies.sort((a, b) => a - b)
  const pct = (p) => latencies.length === 0 ? null : latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]
  for (const e of errors.slice(0, 5)) warn(`conns: ${e.name}: ${e.message}`)
  out({
    event: 'conns',
    count,
    concurrency,
    ok: latencies.length,
    failed: errors.length,
    errors: errors.slice(0, 5).map(errorInfo),
    identify: !!opts.identify,
    seconds,
    perSecond: latencies.length / seconds,
    latencyMs: { p50: pct(0.5), p90: pct(0.9), p99: pct(0.99), max: latencies.at(-1) ?? null }
  })
  await Promise.all(nodes.map(n => Promise.race([n.stop().catch(() => {}), sleep(2000)])))
  return finish(errors.length === 0 ? 0 : 1)
}

async function cmdIdle (opts) {
  const ma = needAddr(opts)
  const seconds = num(opts, 'seconds', 30, { integer: false })
  const node = await makeNode(opts, { listen: listenAddrs(opts) })
  const { conn, dialMs } = await dialOrFail(node, ma)
  // count the connection monitor's pings on this connection
  let monitorPings = 0
  const newStream = conn.newStream.bind(conn)
  conn.newStream = (protocols, options) => {
    if (protocols === PING_PROTOCOL || (Array.isArray(protocols) && protocols.includes(PING_PROTOCOL))) {
      monitorPings++
    }
    return newStream(protocols, options)
  }
  let closedAfter = null
  const t0 = performance.now()
  node.addEventListener('connection:close', (evt) => {
    if (evt.detail.id === conn.id && closedAfter == null) closedAfter = (performance.now() - t0) / 1000
  })
  await sleep(seconds * 1000)
  let finalPingMs = null
  let finalPingError = null
  if (closedAfter == null) {
    try {
      const stream = await newStream(PING_PROTOCOL)
      finalPingMs = await pingRoundTrip(stream)
      await stream.close()
    } catch (err) {
      finalPingError = errorInfo(err)
    }
  }
  const survived = closedAfter == null && conn.status === 'open' && finalPingMs != null
  out({
    event: 'idle',
    peerId: conn.remotePeer.toString(),
    seconds,
    survived,
    closedAfter,
    status: conn.status,
    monitorPings,
    lastMonitorRttMs: conn.rtt ?? null,
    finalPingMs,
    finalPingError,
    dialMs
  })
  return finish(survived ? 0 : 1, node)
}

const HELP = `usage: node --import ./polyfill.mjs peer.mjs <command> [options]
commands:
  listen   [--port P] [--host H] [--listen MA]... [--max-streams N] [--default-limits]
  genid    [--seed HEX64]
  ping     --addr MA [--count N] [--interval MS] [--same-stream]
  identify --addr MA
  echo     --addr MA [--streams N] [--bytes B]
  perf     --addr MA [--upload B] [--download B]
  conns    --addr MA [--count N] [--concurrency C] [--identify]
  idle     --addr MA [--seconds S]
common: --timeout S (default 60) --seed HEX64 --listen MA --linger S --stdin
        --ping-interval MS (default 10000) --no-monitor --no-verify --optimistic
stdout: one JSON object per line; exit 0 ok, 1 failed, 2 usage, 3 timeout`

const commands = {
  listen: cmdListen,
  genid: cmdGenid,
  ping: cmdPing,
  identify: cmdIdentify,
  echo: cmdEcho,
  perf: cmdPerf,
  conns: cmdConns,
  idle: cmdIdle
}

async function main () {
  let parsed
  try {
    parsed = parseArgs({ options: optionSpec, allowPositionals: true, strict: true })
  } catch (err) {
    warn(err.message)
    warn(HELP)
    return finish(2)
  }
  const opts = parsed.values
  const name = parsed.positionals[0]
  if (opts.help || name === 'help' || name == null) {
    process.stdout.write(HELP + '\n')
    return finish(name == null && !opts.help ? 2 : 0)
  }
  const cmd = commands[name]
  if (cmd == null || parsed.positionals.length > 1) {
    warn(`unknown command "${parsed.positionals.join(' ')}"`)
    warn(HELP)
    return finish(2)
  }
  let timeout
  try {
    const minimum = name === 'idle' ? num(opts, 'seconds', 30, { integer: false }) + 30 : 60
    timeout = num(opts, 'timeout', minimum, { integer: false })
  } catch (err) {
    warn(err.message)
    return finish(2)
  }
  setTimeout(() => {
    out({ event: 'error', name: 'Timeout', message: `${name}: no result after ${timeout} s` })
    warn(`${name}: timed out after ${timeout} s`)
    process.exit(3)
  }, timeout * 1000).unref()
  if (opts.stdin) {
    process.stdin.on('end', () => finish(0))
    process.stdin.on('error', () => finish(0))
    process.stdin.resume()
  }
  // keep the process alive until a command finishes, even if its promise
  // chain waits on nothing the event loop counts
  setInterval(() => {}, 1 << 30)
  try {
    await cmd(opts)
  } catch (err) {
    const code = err instanceof UsageError ? 2 : 1
    out({ event: 'error', ...errorInfo(err) })
    warn(`${name}: ${err.name}: ${err.message}`)
    if (Array.isArray(err.errors)) for (const e of err.errors) warn(`  ${e?.name}: ${e?.message}`)
    return finish(code)
  }
}

main()
