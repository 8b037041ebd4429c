import { webcrypto } from 'node:crypto'

// Loaded before anything else: `node --import ./polyfill.mjs peer.mjs ...`.
// js-libp2p 3.x calls Promise.withResolvers(), which Node.js only has from
// version 22 on; Node 20 (our Debian machines) and 18 lack it.
if (typeof Promise.withResolvers !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    value: function withResolvers () {
      let resolve
      let reject
      const promise = new this((res, rej) => {
        resolve = res
        reject = rej
      })
      return { promise, resolve, reject }
    }
  })
}

// Node 18 (Debian bookworm's own nodejs package) also lacks a global
// CustomEvent (it came in Node 19); js-libp2p dispatches them everywhere.
if (typeof globalThis.CustomEvent !== 'function') {
  globalThis.CustomEvent = class CustomEvent extends Event {
    #detail
    constructor (type, options = {}) {
      super(type, options)
      this.#detail = options?.detail ?? null
    }

    get detail () { return this.#detail }
  }
}

// ... and a global `crypto` (Web Crypto; global from Node 19 on), which
// js-libp2p uses for getRandomValues.
if (globalThis.crypto == null) {
  Object.defineProperty(globalThis, 'crypto', {
    configurable: true, enumerable: true, writable: true, value: webcrypto
  })
}
