// js-to-js check of peer.mjs: starts `peer.mjs listen` and runs every client
// command against it, checking what both sides print. Proves the js half of
// the interop tests before shoal is involved.
//
//   node selftest.mjs [--quick]     (--quick skips the 30 s idle check)
//
// Prints one line per check and ends with "N passed, N failed"; exits 0 only
// if all passed. Bounded: every child has a --timeout, and the whole run
// gives up after 180 s.

import { spawn } from 'node:child_process'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'

const here = dirname(fileURLToPath(import.meta.url))
const PEER = join(here, 'peer.mjs')
const POLYFILL = join(here, 'polyfill.mjs')
const quick = process.argv.includes('--quick')
const MiB = 1024 * 1024

setTimeout(() => {
  console.error('selftest: gave up after 180 s')
  process.exit(1)
}, 180_000).unref()

function args (cmd, opts) {
  return ['--import', POLYFILL, PEER, cmd, ...opts]
}

// run a client command to completion: { code, events, stderr }
function run (cmd, opts) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args(cmd, opts), { stdio: ['ignore', 'pipe', 'pipe'] })
    const events = []
    let stderr = ''
    createInterface({ input: child.stdout }).on('line', (l) => {
      try { events.push(JSON.parse(l)) } catch { events.push({ event: 'unparsed', line: l }) }
    })
    child.stderr.on('data', (d) => { stderr += d })
    child.on('close', (code) => resolve({ code, events, stderr }))
  })
}

// a long-running listener; events accumulate in .events
function startListener (opts) {
  const child = spawn(process.execPath, args('listen', ['--stdin', ...opts]), {
    stdio: ['pipe', 'pipe', 'inherit']
  })
  const l = { child, events: [], waiters: [] }
  createInterface({ input: child.stdout }).on('line', (line) => {
    let e
    try { e = JSON.parse(line) } catch { return }
    l.events.push(e)
    l.waiters = l.waiters.filter(w => !w(e))
  })
  // resolves with the first event (already seen or to come) matching pred
  l.waitFor = (pred, ms = 10_000) => new Promise((resolve, reject) => {
    const seen = l.events.find(pred)
    if (seen) return resolve(seen)
    const t = setTimeout(() => reject(new Error('listener: event not seen')), ms)
    l.waiters.push((e) => {
      if (!pred(e)) return false
      clearTimeout(t)
      resolve(e)
      return true
    })
  })
  l.stop = () => child.stdin.end()
  return l
}

let passed = 0
let failed = 0
async function check (name, fn) {
  const t0 = Date.now()
  try {
    const note = await fn()
    passed++
    console.log(`ok   ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)${note ? ': ' + note : ''}`)
  } catch (err) {
    failed++
    console.log(`FAIL ${name}: ${err.message}`)
  }
}

function assert (cond, msg) {
  if (!cond) throw new Error(msg)
}

function one (r, event) {
  const e = r.events.find(x => x.event === event)
  assert(e != null, `no "${event}" line (exit ${r.code}): ${r.stderr.trim().split('\n').pop() ?? ''}`)
  return e
}

const strip = (a) => a.replace(/\/p2p\/.*$/, '')

const listener = startListener(['--port', '0', '--timeout', '170'])
const listening = await listener.waitFor(e => e.event === 'listening')
const addr = listening.addrs[0]
const peerId = listening.peerId

await check('listen prints its addresses and protocols', () => {
  assert(addr.startsWith('/ip4/127.0.0.1/tcp/') && addr.endsWith(`/p2p/${peerId}`), `addr ${addr}`)
  for (const p of ['/ipfs/id/1.0.0', '/ipfs/ping/1.0.0', '/perf/1.0.0', '/shoal/echo/1.0.0']) {
    assert(listening.protocols.includes(p), `missing ${p}`)
  }
})

await check('ping x3', async () => {
  const r = await run('ping', ['--addr', addr, '--count', '3'])
  assert(r.code === 0, `exit ${r.code}`)
  const pings = r.events.filter(e => e.event === 'ping')
  assert(pings.length === 3, `${pings.length} pings`)
  return pings.map(p => p.rttMs.toFixed(1) + ' ms').join(', ')
})

await check('ping x3 on one stream', async () => {
  const r = await run('ping', ['--addr', addr, '--count', '3', '--same-stream'])
  assert(r.code === 0, `exit ${r.code}`)
  assert(r.events.filter(e => e.event === 'ping').length === 3, 'not 3 pings')
})

await check('identify, both ways', async () => {
  const r = await run('identify', ['--addr', addr, '--listen', '/ip4/127.0.0.1/tcp/0', '--linger', '0.5'])
  assert(r.code === 0, `exit ${r.code}`)
  const id = one(r, 'identify')
  assert(id.peerId === peerId, 'wrong peer id')
  for (const p of listening.protocols) assert(id.protocols.includes(p), `missing ${p}`)
  assert(JSON.stringify(id.listenAddrs) === JSON.stringify(listening.addrs.map(strip)),
    `listenAddrs ${id.listenAddrs}`)
  assert(id.localAddr != null && strip(id.observedAddr) === id.localAddr,
    `observedAddr ${id.observedAddr} vs our ${id.localAddr}`)
  // the listener's view of us
  const ours = await listener.waitFor(e => e.event === 'identify' && e.connectionId != null &&
    e.remoteAddr != null && strip(e.remoteAddr) === id.localAddr)
  assert(ours.listenAddrs.length === 1 && ours.listenAddrs[0].startsWith('/ip4/127.0.0.1/tcp/'),
    `listener saw listenAddrs ${ours.listenAddrs}`)
  assert(strip(ours.observedAddr) === strip(addr), `listener was told it is ${ours.observedAddr}`)
  return `observed ${id.observedAddr}`
})

await check('echo: 100 concurrent streams x 1 MiB', async () => {
  const r = await run('echo', ['--addr', addr, '--streams', '100', '--bytes', String(MiB)])
  const e = one(r, 'echo')
  assert(r.code === 0 && e.ok === 100, `ok ${e.ok}, failed ${e.failed}: ${JSON.stringify(e.errors)}`)
  return `${e.seconds.toFixed(2)} s`
})

await check('echo with optimistic protocol select', async () => {
  const r = await run('echo', ['--addr', addr, '--streams', '10', '--bytes', '100000', '--optimistic'])
  assert(r.code === 0 && one(r, 'echo').ok === 10, `exit ${r.code}`)
})

await check('perf: 64 MiB each way, byte for byte', async () => {
  const r = await run('perf', ['--addr', addr, '--upload', String(64 * MiB), '--download', String(64 * MiB)])
  const e = one(r, 'perf')
  assert(r.code === 0 && e.ok && e.received === 64 * MiB, `perf ${JSON.stringify(e)}`)
  const served = await listener.waitFor(x => x.event === 'perf_served' && x.uploaded === 64 * MiB)
  assert(served.uploadOk === true && served.sent === 64 * MiB, `served ${JSON.stringify(served)}`)
  return `${e.seconds.toFixed(2)} s, ${(e.bitsPerSecond / 1e9).toFixed(2)} Gbit/s`
})

await check('perf: upload only and download only', async () => {
  for (const [up, down] of [[MiB + 7, 0], [0, MiB + 13], [0, 0]]) {
    const r = await run('perf', ['--addr', addr, '--upload', String(up), '--download', String(down)])
    assert(r.code === 0 && one(r, 'perf').ok, `up ${up} down ${down}: exit ${r.code}`)
  }
})

await check('dial naming the wrong peer id fails on both sides', async () => {
  const other = one(await run('genid', []), 'identity').peerId
  const before = listener.events.filter(e => e.event === 'inbound_failed').length
  const r = await run('ping', ['--addr', `${strip(addr)}/p2p/${other}`])
  assert(r.code === 1, `exit ${r.code}`)
  const err = one(r, 'error')
  assert(/identity key|peer/i.test(err.message), `error ${err.name}: ${err.message}`)
  await listener.waitFor(e => e.event === 'inbound_failed' &&
    listener.events.filter(x => x.event === 'inbound_failed').length > before)
  assert(!listener.events.some(e => e.event === 'connection' && e.peerId === other), 'listener connected')
  return `${err.name}`
})

await check('conns: 200 connections, 16 at a time', async () => {
  const r = await run('conns', ['--addr', addr, '--count', '200', '--concurrency', '16'])
  const e = one(r, 'conns')
  assert(r.code === 0 && e.ok === 200, `ok ${e.ok}: ${JSON.stringify(e.errors)}`)
  return `${e.perSecond.toFixed(0)}/s`
})

await check('timeout: a peer that never answers', async () => {
  const sockets = []
  const server = createServer((s) => sockets.push(s)) // accepts, says nothing
  await new Promise(resolve => server.listen(0, '127.0.0.1', resolve))
  const port = server.address().port
  const t0 = Date.now()
  const r = await run('ping', ['--addr', `/ip4/127.0.0.1/tcp/${port}/p2p/${peerId}`, '--timeout', '1'])
  server.close()
  for (const s of sockets) s.destroy()
  assert(r.code === 3, `exit ${r.code}`)
  assert(Date.now() - t0 < 5000, 'took too long')
})

await check('usage errors exit 2', async () => {
  assert((await run('ping', [])).code === 2, 'ping without --addr')
  assert((await run('nonsense', [])).code === 2, 'unknown command')
})

if (!quick) {
  await check('idle: 30 s with js pinging every 10 s', async () => {
    const r = await run('idle', ['--addr', addr, '--seconds', '30'])
    const e = one(r, 'idle')
    assert(r.code === 0 && e.survived && e.monitorPings >= 2, JSON.stringify(e))
    return `${e.monitorPings} monitor pings`
  })
}

listener.stop()
console.log(`${passed} passed, ${failed} failed`)
process.exit(failed === 0 ? 0 : 1)
