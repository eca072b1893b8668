/**
 * birpc (a small bidirectional RPC for JS) over TCP, through the suite's same harness.
 *
 *   node birpc-peer.mjs server | client
 *
 * birpc leaves the channel to the user: here each message is `v8.serialize`d (structured clone, so
 * that bytes travel as bytes) in a frame with a 4-byte length. birpc's options are its defaults
 * (a 60 s timeout per call). Callbacks: birpc cannot pass functions, so the server's `callMe(x)`
 * calls the client's exposed `cb(x)` — the same two round trips.
 *
 * When the package is missing the peer reports it and the suite skips the row.
 */
import type { BirpcReturn, createBirpc as createBirpcType } from "birpc"
import * as Net from "node:net"
import * as V8 from "node:v8"
import { driverOf, fail, HOST, runClient, send, serveControl, type Session, timedAdds } from "./harness.js"

interface ServerFns {
  add(a: number, b: number): number
  callMe(x: number): Promise<number>
  upload(bytes: Uint8Array): number
  list(n: number): Array<[number, number, string]>
}
interface ClientFns {
  cb(x: number): number
}

type CreateBirpc = typeof createBirpcType

/** Length-prefixed frames over a socket. */
const framed = (sock: Net.Socket) => {
  let chunks: Array<Buffer> = []
  let size = 0
  let need = -1
  let listener: ((data: any) => void) | undefined
  sock.on("data", (chunk: Buffer) => {
    chunks.push(chunk)
    size += chunk.length
    while (true) {
      if (need < 0) {
        if (size < 4) return
        if (chunks[0].length < 4) chunks = [Buffer.concat(chunks)]
        need = chunks[0].readUInt32BE(0)
        chunks[0] = chunks[0].subarray(4)
        size -= 4
      }
      if (size < need) return
      const all = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)
      const frame = all.subarray(0, need)
      const rest = all.subarray(need)
      chunks = rest.length > 0 ? [rest] : []
      size = rest.length
      need = -1
      listener?.(frame)
    }
  })
  return {
    post: (data: Buffer) => {
      const header = Buffer.allocUnsafe(4)
      header.writeUInt32BE(data.length, 0)
      sock.cork()
      sock.write(header)
      sock.write(data)
      sock.uncork()
    },
    on: (fn: (data: any) => void) => {
      listener = fn
    },
    serialize: (v: unknown) => V8.serialize(v),
    deserialize: (b: Buffer) => V8.deserialize(b)
  }
}

const load = async (): Promise<CreateBirpc | undefined> => {
  try {
    return (await import("birpc")).createBirpc
  } catch (e) {
    send({ ready: false, skip: `birpc is not installed (npm i -D birpc): ${(e as Error).message.split("\n")[0]}` })
    setTimeout(() => process.exit(0), 50)
    return undefined
  }
}

const server = async () => {
  const createBirpc = await load()
  if (createBirpc === undefined) return
  const srv = Net.createServer({ noDelay: true }, (sock) => {
    sock.on("error", () => sock.destroy())
    const rpc: BirpcReturn<ClientFns, ServerFns> = createBirpc<ClientFns, ServerFns>({
      add: (a, b) => a + b,
      callMe: (x) => rpc.cb(x),
      upload: (bytes) => bytes.length,
      list: (n) => {
        const out = new Array<[number, number, string]>(n)
        for (let i = 0; i < n; i++) out[i] = [i, i + 1, "ab"]
        return out
      }
    }, framed(sock))
    sock.on("close", () => rpc.$close())
  })
  srv.listen({ host: HOST, port: 0, backlog: 4096 }, () => {
    send({ ready: true, port: (srv.address() as Net.AddressInfo).port })
    serveControl({ connections: () => new Promise((r) => srv.getConnections((_, n) => r(n))) })
  })
}

const client = async () => {
  const createBirpc = await load()
  if (createBirpc === undefined) return
  const open = (port: number): Promise<Session> =>
    new Promise((resolve, reject) => {
      const sock = Net.createConnection({ host: HOST, port, noDelay: true })
      sock.once("error", reject)
      sock.once("connect", () => {
        sock.off("error", reject)
        sock.on("error", () => sock.destroy())
        const rpc = createBirpc<ServerFns, ClientFns>({ cb: (x) => x + 1 }, framed(sock))
        sock.on("close", () => rpc.$close(new Error("connection closed")))
        let i = 0
        resolve({
          seq: async (n) => {
            for (let k = 0; k < n; k++, i++) {
              const r = await rpc.add(i, 1)
              if (r !== i + 1) fail("add", r)
            }
          },
          pipelined: async (n) => {
            const all = await Promise.all(Array.from({ length: n }, (_, k) => rpc.add(k, 1)))
            if (all[n - 1] !== n) fail("add", all[n - 1])
          },
          callback: async (n) => {
            for (let k = 0; k < n; k++, i++) {
              const r = await rpc.callMe(i)
              if (r !== i + 1) fail("callMe", r)
            }
          },
          upload: async (bytes) => {
            const r = await rpc.upload(bytes)
            if (r !== bytes.length) fail("upload", r)
          },
          list: async (size) => {
            const r = await rpc.list(size)
            if (!Array.isArray(r) || r.length !== size) fail("list", r)
          },
          loop: (deadline, maxCalls, onCall) => timedAdds((a, b) => rpc.add(a, b), deadline, maxCalls, onCall),
          close: async () => {
            rpc.$close()
            sock.destroy()
          }
        })
      })
    })
  const driver = driverOf(open)
  runClient(driver)
}

if (process.argv[2] === "server") void server()
else void client()
