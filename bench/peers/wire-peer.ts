/**
 * The floor of the RPyC exchange itself: RPyC frames (wire v5) over plain Node sockets, made and
 * parsed with the library's wire codec (`Channel`, `Message`), and nothing else: no connection
 * engine, no object table, no netrefs, no policy, no Effect. It speaks only what the suite's `add`
 * paths send, so it shows what the same bytes cost a Node process before any RPyC logic runs.
 *
 *   node wire-peer.mjs server | client
 *
 * The client asks for the root, calls `root.add(i, 1)` by CALLATTR and, closing, says CLOSE and ends
 * its side at once, as RPyC's client does. The server answers GETROOT with one id, CALLATTR `add`
 * with the sum, and, for Python's client (which fetches `root.add` by GETATTR once and then CALLs
 * it), GETATTR with a bound method's id and CALL of `add`'s id with the sum; builtin name_packs
 * spare Python any INSPECT (PROTOCOL.md §3.3). Any other request (a DEL, say) gets None; it hangs up
 * on CLOSE or on a frame it cannot read (so a client probing for wire v6 learns 5). Callbacks,
 * uploads and lists are n/a.
 */
import * as Net from "node:net"
import * as Channel from "../../src/internal/wire/Channel.js"
import * as Message from "../../src/internal/wire/Message.js"
import { connectTcp, driverOf, fail, HOST, runClient, send, serveControl, type Session, timedAdds } from "./harness.js"

const { CALL, CALLATTR, CLOSE, GETATTR, GETROOT } = Message.Handler
const { LOCAL_REF, REMOTE_REF, TUPLE, VALUE } = Message.Label
const MAX_FRAME = 1 << 20

const frame = (msg: Message.MsgType, seq: number, args: unknown): Uint8Array =>
  Channel.encodeFrame(Message.encodePayload(5, msg, seq, args))

/** A boxed value (PROTOCOL.md §3.3) as a plain one; a reference stays its id. */
const unbox = (boxed: unknown): unknown => {
  const [label, value] = boxed as [number, unknown]
  return label === TUPLE ? (value as Array<unknown>).map(unbox) : value
}

/** The server's root as RPyC names an object: (class name, class id, instance id). */
const ROOT_ID = ["builtins.object", 1, 1]
/** What GETATTR of the root's `add` gives, and of any other name (never called on these paths). */
const ADD_ID = ["builtins.method", 2, 2]
const OTHER_ID = ["builtins.method", 2, 3]

const server = () => {
  const srv = Net.createServer({ noDelay: true }, (sock) => {
    const decoder = new Channel.FrameDecoder({ maxFrameSize: MAX_FRAME })
    const reply = (seq: number, value: unknown) => sock.write(frame(Message.MsgType.REPLY, seq, value))
    sock.on("data", (chunk) => {
      try {
        for (const payload of decoder.push(chunk)) {
          const { args, seq } = Message.decodePayload(5, payload)
          const [handler, boxed] = args as [number, unknown]
          if (handler === CLOSE) return sock.destroy()
          if (handler === GETROOT) reply(seq, [REMOTE_REF, ROOT_ID])
          else if (handler === CALLATTR) {
            const [, name, [a, b]] = unbox(boxed) as [unknown, string, [number, number]]
            if (name !== "add") throw new Error(`no ${name}`)
            reply(seq, [VALUE, a + b])
          } else if (handler === GETATTR) {
            const [, name] = unbox(boxed) as [unknown, string]
            reply(seq, [REMOTE_REF, name === "add" ? ADD_ID : OTHER_ID])
          } else if (handler === CALL) {
            const [target, [a, b]] = unbox(boxed) as [Array<unknown>, [number, number]]
            if (target[2] !== ADD_ID[2]) throw new Error("only add is callable")
            reply(seq, [VALUE, a + b])
          } else reply(seq, [VALUE, null])
        }
      } catch {
        sock.destroy()
      }
    })
    sock.on("end", () => sock.end())
    sock.on("error", () => sock.destroy())
  })
  srv.listen({ host: HOST, port: 0, backlog: 4096 }, () => {
    send({ ready: true, port: (srv.address() as Net.AddressInfo).port })
    serveControl({ connections: () => new Promise((r) => srv.getConnections((_, n) => r(n))) })
  })
}

const open = async (port: number): Promise<Session> => {
  const sock = await connectTcp(port, { allowHalfOpen: true })
  const decoder = new Channel.FrameDecoder({ maxFrameSize: MAX_FRAME })
  const waiting = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>()
  let closed: Error | undefined
  let nextSeq = 1
  sock.on("data", (chunk) => {
    for (const payload of decoder.push(chunk)) {
      const { args, msg, seq } = Message.decodePayload(5, payload)
      const w = waiting.get(seq)
      if (w === undefined) continue
      waiting.delete(seq)
      if (msg === Message.MsgType.REPLY) w.resolve((args as [number, unknown])[1])
      else w.reject(new Error(`exception ${String(args).slice(0, 80)}`))
    }
  })
  const die = (e: Error) => {
    closed = e
    for (const w of waiting.values()) w.reject(e)
    waiting.clear()
  }
  sock.on("error", die)
  sock.on("close", () => die(new Error("connection closed")))
  const request = (handler: number, args: unknown): Promise<any> => {
    if (closed !== undefined) return Promise.reject(closed)
    const seq = nextSeq++
    return new Promise((resolve, reject) => {
      waiting.set(seq, { resolve, reject })
      sock.write(frame(Message.MsgType.REQUEST, seq, [handler, args]))
    })
  }
  // boxed as RPyC boxes them: a tuple of plain values is one value
  const root = await request(GETROOT, [VALUE, []])
  const addArgs = (a: number, b: number) => [TUPLE, [[LOCAL_REF, root], [VALUE, "add"], [VALUE, [a, b]], [VALUE, []]]]
  const add = (a: number, b: number) => request(CALLATTR, addArgs(a, b))
  let i = 0
  return {
    seq: async (n) => {
      for (let k = 0; k < n; k++, i++) {
        const r = await add(i, 1)
        if (r !== i + 1) fail("add", r)
      }
    },
    pipelined: async (n) => {
      const results: Array<Promise<any>> = []
      sock.cork()
      for (let k = 0; k < n; k++) results.push(add(k, 1))
      sock.uncork()
      const all = await Promise.all(results)
      if (all[n - 1] !== n) fail("add", all[n - 1])
    },
    callback: undefined,
    upload: () => Promise.reject(new Error("n/a: the wire floor answers add only")),
    list: () => Promise.reject(new Error("n/a: the wire floor answers add only")),
    loop: (deadline, maxCalls, onCall) => timedAdds(add, deadline, maxCalls, onCall),
    close: async () => {
      // RPyC's close: CLOSE without waiting for an answer, and our side of the socket ends
      if (closed === undefined) sock.end(frame(Message.MsgType.REQUEST, nextSeq++, [CLOSE, [VALUE, []]]))
    }
  }
}

if (process.argv[2] === "server") server()
else runClient(driverOf(open))
