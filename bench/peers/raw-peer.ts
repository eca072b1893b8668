/**
 * The floor: plain Node TCP sockets with JSON lines, through the suite's same harness.
 *
 *   node raw-peer.mjs server | client
 *
 * Client → server: `{"m":"add","a":[i,1]}`, `{"m":"callMe","x":i}`, `{"m":"list","n":1000}`, and
 * `{"m":"upload","n":N}` followed by N raw bytes. Server → client: `{"r":value}`; for `callMe` the
 * server first sends `{"cb":x}` and waits for the client's `{"cr":x+1}` (two round trips, like an
 * RPyC callback). Replies come in order, so the client keeps a FIFO of waiting calls.
 */
import * as Net from "node:net"
import { connectTcp, driverOf, fail, HOST, runClient, send, serveControl, type Session, timedAdds } from "./harness.js"

/** Splits a byte stream into JSON lines, except `raw(n)` bytes handed over whole. */
class LineReader {
  private text = ""
  private rawLeft = 0
  private rawChunks: Array<Buffer> = []
  constructor(
    private readonly onLine: (msg: any) => void,
    private readonly onRaw: (bytes: Buffer) => void
  ) {}
  /** The next `n` bytes are raw (call from `onLine`). */
  raw(n: number): void {
    this.rawLeft = n
  }
  push(chunk: Buffer): void {
    let pos = 0
    while (pos < chunk.length) {
      if (this.rawLeft > 0) {
        const take = Math.min(this.rawLeft, chunk.length - pos)
        this.rawChunks.push(chunk.subarray(pos, pos + take))
        pos += take
        this.rawLeft -= take
        if (this.rawLeft === 0) {
          const bytes = this.rawChunks.length === 1 ? this.rawChunks[0] : Buffer.concat(this.rawChunks)
          this.rawChunks = []
          this.onRaw(bytes)
        }
        continue
      }
      const nl = chunk.indexOf(10, pos)
      if (nl < 0) {
        this.text += chunk.toString("utf8", pos)
        return
      }
      const line = this.text + chunk.toString("utf8", pos, nl)
      this.text = ""
      pos = nl + 1
      this.onLine(JSON.parse(line))
    }
  }
}

const line = (msg: unknown) => JSON.stringify(msg) + "\n"

const server = () => {
  const srv = Net.createServer({ noDelay: true }, (sock) => {
    let callbackPending = false
    const reader = new LineReader((msg) => {
      switch (msg.m) {
        case "add":
          return sock.write(line({ r: msg.a[0] + msg.a[1] }))
        case "callMe":
          callbackPending = true
          return sock.write(line({ cb: msg.x }))
        case "list": {
          const out = new Array(msg.n)
          for (let i = 0; i < msg.n; i++) out[i] = [i, i + 1, "ab"]
          return sock.write(line({ r: out }))
        }
        case "upload":
          return reader.raw(msg.n)
        default:
          if ("cr" in msg && callbackPending) {
            callbackPending = false
            return sock.write(line({ r: msg.cr }))
          }
          sock.destroy()
      }
    }, (bytes) => sock.write(line({ r: bytes.length })))
    sock.on("data", (chunk) => reader.push(chunk))
    sock.on("error", () => sock.destroy())
  })
  srv.listen({ host: HOST, port: 0, backlog: 4096 }, () => {
    send({ ready: true, port: (srv.address() as Net.AddressInfo).port })
    serveControl({ connections: () => new Promise((r) => srv.getConnections((_, n) => r(n))) })
  })
}

const open = async (port: number): Promise<Session> => {
  const sock = await connectTcp(port)
  const waiting: Array<{ resolve: (v: any) => void; reject: (e: Error) => void }> = []
  let closed: Error | undefined
  const reader = new LineReader((msg) => {
    if ("cb" in msg) return sock.write(line({ cr: msg.cb + 1 }))
    waiting.shift()?.resolve(msg.r)
  }, () => undefined)
  sock.on("data", (chunk) => reader.push(chunk))
  const die = (e: Error) => {
    closed = e
    for (const w of waiting.splice(0)) w.reject(e)
  }
  sock.on("error", die)
  sock.on("close", () => die(new Error("connection closed")))
  const call = (msg: unknown): Promise<any> =>
    closed !== undefined ? Promise.reject(closed) : new Promise((resolve, reject) => {
      waiting.push({ resolve, reject })
      sock.write(line(msg))
    })
  let i = 0
  return {
    seq: async (n) => {
      for (let k = 0; k < n; k++, i++) {
        const r = await call({ m: "add", a: [i, 1] })
        if (r !== i + 1) fail("add", r)
      }
    },
    pipelined: async (n) => {
      // the floor of a pipeline: every request in one write
      let text = ""
      const results: Array<Promise<any>> = []
      for (let k = 0; k < n; k++) {
        text += line({ m: "add", a: [k, 1] })
        results.push(new Promise((resolve, reject) => waiting.push({ resolve, reject })))
      }
      sock.write(text)
      const all = await Promise.all(results)
      if (all[n - 1] !== n) fail("add", all[n - 1])
    },
    callback: async (n) => {
      for (let k = 0; k < n; k++, i++) {
        const r = await call({ m: "callMe", x: i })
        if (r !== i + 1) fail("callMe", r)
      }
    },
    upload: async (bytes) => {
      const result = new Promise<any>((resolve, reject) => waiting.push({ resolve, reject }))
      sock.cork()
      sock.write(line({ m: "upload", n: bytes.length }))
      sock.write(bytes)
      sock.uncork()
      const r = await result
      if (r !== bytes.length) fail("upload", r)
    },
    list: async (size) => {
      const r = await call({ m: "list", n: size })
      if (!Array.isArray(r) || r.length !== size) fail("list", r)
    },
    loop: (deadline, maxCalls, onCall) =>
      timedAdds((a, b) => call({ m: "add", a: [a, b] }), deadline, maxCalls, onCall),
    close: async () => {
      sock.destroy()
    }
  }
}

if (process.argv[2] === "server") server()
else runClient(driverOf(open))
